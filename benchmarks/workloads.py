"""Deterministic workloads: the seeds gold questions, a corpus of N real documents built from
the evaluation packs, and large synthetic collections made by repeating real chunks.

The packs live in ../shared/benchmarks beside the repository (QA_BENCH_PACKS overrides)."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from evals.runner import load_gold
from index.embedding.embedders import Embedder
from index.indexer import EXTRACTION_VERSION, LEXICAL_COMMIT_DOCS
from index.storing.lexical import LexicalIndex
from index.storing.lexical_writer import LexicalWriter, chunk_words
from index.storing.store import ChunkStore, FileRecord
from index.types import ArticleInfo, Chunk
from qa.core.settings import SEEDS_DIR

ROOT = Path(__file__).resolve().parents[1]
SEEDS_GOLD = ROOT / "evals" / "gold" / "seeds.jsonl"
PACKS = Path(os.environ.get("QA_BENCH_PACKS", ROOT.parent / "shared" / "benchmarks"))
PACK_NAMES = ("squad2_dev_sample", "multihop_rag_evidence_only")
NOISE = 0.02  # how far a repeated chunk's vector moves from the original (unit vectors)


def seeds_questions(limit: int | None = None) -> list[dict[str, Any]]:
    """Seeds gold questions asked on their own (follow-ups included, as plain questions)."""
    rows = load_gold(SEEDS_GOLD)
    return rows[:limit] if limit else rows


def pack_documents() -> list[Path]:
    docs = sorted(SEEDS_DIR.glob("*.txt"))
    for name in PACK_NAMES:
        docs += sorted((PACKS / name / "docs").glob("*.txt"))
    return docs


def pack_questions(n: int) -> list[str]:
    questions: list[str] = []
    for name in PACK_NAMES:
        gold = PACKS / name / "questions.jsonl"
        if gold.exists():
            questions += [r["question"] for r in load_gold(gold)]
    questions += [r["question"] for r in seeds_questions()]
    return questions[:n]


def build_corpus(folder: Path, documents: int) -> Path:
    """`documents` real articles: seeds and pack documents, then dated re-issues of them
    (a distinct first line, so each file has its own content hash) up to the count."""
    sources = pack_documents()
    if not sources:
        raise SystemExit(f"no documents found under {PACKS} or {SEEDS_DIR}")
    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.txt"))) == documents:
        return folder
    for i in range(documents):
        src = sources[i % len(sources)]
        text = src.read_text(encoding="utf-8", errors="replace")
        if i >= len(sources):
            text = f"Re-issue {i // len(sources)} of this report.\n\n{text}"
        (folder / f"{i:05d}_{src.name}").write_text(text, encoding="utf-8")
    return folder


def base_chunks(embedder: Embedder) -> tuple[list[Chunk], np.ndarray]:
    """Chunks of every seeds and pack document, with their embeddings (cached on disk)."""
    from index.chunking.chunks import chunk_article
    from index.indexer import embedding_text
    from index.reading.loaders import load_article

    chunks: list[Chunk] = []
    for path in pack_documents():
        chunks += chunk_article(load_article(path), chunk_words=90)
    cache = ROOT / ".bench-cache" / f"base-{embedder.name}-{len(chunks)}.npy"
    if cache.exists():
        vectors = np.load(cache)
    else:
        vectors = embedder.embed([embedding_text(c) for c in chunks])
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, vectors)
    return chunks, vectors


def median_day(chunks: list[Chunk]) -> str:
    """The median publication day of the dated chunks ("2023-10-21")."""
    days = sorted(c.published[:10] for c in chunks if c.published[:10].count("-") == 2)
    return days[len(days) // 2] if days else "1970-01-01"


def _copy(chunk: Chunk, copy: int) -> Chunk:
    """Copy `copy` of a real chunk: its own id, and its own file (so files can be updated
    and deleted one by one, as in a real collection)."""
    if not copy:
        return replace(chunk, id=f"{chunk.id}-0")
    article = replace(chunk.article, path=f"{chunk.path}#copy-{copy}")
    return replace(chunk, id=f"{chunk.id}-{copy}", article=article)


def _file_record(chunk: Chunk, chunks_in_file: int) -> FileRecord:
    # The record names the file only: no syndication group, so copies are not grouped.
    a = chunk.article
    return FileRecord(
        article=ArticleInfo(a.source, a.path, a.title, a.outlet, a.published),
        file_sha256=hashlib.sha256(chunk.path.encode()).hexdigest(),
        chunks=chunks_in_file,
        extraction=EXTRACTION_VERSION,
    )


def fill_to(store: ChunkStore, chunks: list[Chunk], vectors: np.ndarray, size: int) -> None:
    """Grow the collection to `size` chunks: copy r of chunk c gets id `c.id-r`, a file of its
    own with a file record, and c's vector moved by seeded noise, so the index is not full of
    identical points."""
    per_file = Counter(c.path for c in chunks)
    have = store.count()
    rng = np.random.default_rng(have)
    batch_chunks: list[Chunk] = []
    batch_vectors: list[np.ndarray] = []

    def write() -> None:
        store.add_chunks(batch_chunks, np.stack(batch_vectors))
        firsts = {c.path: c for c in reversed(batch_chunks)}
        store.put_files([_file_record(c, per_file[c.path.split("#")[0]]) for c in firsts.values()])
        batch_chunks.clear()
        batch_vectors.clear()

    for n in range(have, size):
        copy, base = divmod(n, len(chunks))
        vector = vectors[base]
        if copy:
            vector = vector + rng.normal(0, NOISE, vector.shape).astype(np.float32)
            vector = vector / np.linalg.norm(vector)
        batch_chunks.append(_copy(chunks[base], copy))
        batch_vectors.append(vector)
        if len(batch_chunks) == 5000:
            write()
    if batch_chunks:
        write()


def fill_lexical_to(folder: Path, chunks: list[Chunk], size: int) -> None:
    """The BM25 index of the same synthetic collection, written as `qa index` would (a commit
    every LEXICAL_COMMIT_DOCS chunks); each real chunk is split into words once."""
    writer = LexicalWriter(folder)
    have = LexicalIndex(folder).live_docs
    words = [chunk_words(c) for c in chunks]
    by_file: dict[str, list[tuple[str, list[str]]]] = {}
    for n in range(have, size):
        copy, base = divmod(n, len(chunks))
        chunk = _copy(chunks[base], copy)
        by_file.setdefault(chunk.path, []).append((chunk.id, words[base]))
        if n + 1 == size or (n + 1) % len(chunks) == 0:  # a copy is complete
            for path, docs in by_file.items():
                writer.add_words(path, hashlib.sha256(path.encode()).hexdigest(), docs)
            by_file.clear()
            if writer.staged_docs >= LEXICAL_COMMIT_DOCS:
                writer.commit()
    writer.commit()


def machine() -> dict[str, Any]:
    import platform

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }


def dump(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)

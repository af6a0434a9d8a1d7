"""`python -m benchmarks.lexical_choice [--size N]`: the candidates for a persistent BM25 index,
measured on one synthetic collection (real chunks repeated, as in the retrieval benchmark).

- ours: index/storing/lexical.py (segments of memory-mapped postings, Lucene BM25);
- SQLite FTS5 with its bm25() ranking, in one shared database file;
- Chroma's own sparse-vector index (tried; the installed Chroma refuses it locally).

Prints build time, disk size, query p50/p95 over pack questions and the top-10 overlap
with ours."""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import workloads
from evals.metrics import percentile
from index.storing.lexical import LexicalIndex
from index.storing.lexical_writer import chunk_words
from index.text import tokens


def _ms(values: list[float]) -> dict[str, float]:
    return {p: round(float(percentile(values, int(p[1:])) or 0) * 1000, 2) for p in ("p50", "p95")}


def _size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


def fts5(folder: Path, chunks: list[Any], size: int, questions: list[str]) -> dict[str, Any]:
    """FTS5 over the same words (our tokenizer's output, so both rank the same terms)."""
    db = folder / "fts.sqlite3"
    con = sqlite3.connect(db)
    con.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, words)")
    texts = [" ".join(chunk_words(c)) for c in chunks]
    started = time.perf_counter()
    rows = []
    for n in range(size):
        copy, base = divmod(n, len(chunks))
        rows.append((f"{chunks[base].id}-{copy}", texts[base]))
        if len(rows) == 10_000:
            con.executemany("INSERT INTO docs VALUES (?, ?)", rows)
            rows.clear()
    con.executemany("INSERT INTO docs VALUES (?, ?)", rows)
    con.commit()
    build_s = time.perf_counter() - started
    latencies, results = [], []
    for q in questions:
        words = sorted({w for w in tokens(q) if w.isalnum()})
        if not words:
            continue
        match = " OR ".join(f'"{w}"' for w in words)
        t0 = time.perf_counter()
        got = con.execute(
            "SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT 10", (match,)
        ).fetchall()
        latencies.append(time.perf_counter() - t0)
        results.append([r[0] for r in got])
    con.close()
    return {"build_s": round(build_s, 1), "disk_mb": _size_mb(db), "query_ms": _ms(latencies),
            "top10": results}  # fmt: skip


def ours(folder: Path, chunks: list[Any], size: int, questions: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    workloads.fill_lexical_to(folder, chunks, size)
    build_s = time.perf_counter() - started
    index = LexicalIndex(folder)
    latencies, results = [], []
    for q in questions:
        if not any(w.isalnum() for w in tokens(q)):
            continue
        t0 = time.perf_counter()
        got = index.search(q, 10)
        latencies.append(time.perf_counter() - t0)
        results.append([cid for cid, _ in got])
    return {"build_s": round(build_s, 1), "disk_mb": _size_mb(folder), "query_ms": _ms(latencies),
            "top10": results}  # fmt: skip


def chroma_sparse() -> str:
    """Whether this Chroma can keep a sparse (BM25-style) index for a local collection."""
    import chromadb
    from chromadb import Schema, SparseVectorIndexConfig

    client = chromadb.EphemeralClient()
    schema = Schema()
    schema.create_index(
        config=SparseVectorIndexConfig(source_key=None, embedding_function=None), key="sparse"
    )
    try:
        client.create_collection("sparse-probe", schema=schema, embedding_function=None)
    except Exception as exc:  # the refusal is the result
        return f"refused: {exc}"
    return "accepted"


def _originals(ids: list[str]) -> set[str]:
    return {i.rsplit("-", 1)[0] for i in ids}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    from index.embedding.embedders import make_embedder

    chunks, _ = workloads.base_chunks(make_embedder("minilm", 32))
    questions = workloads.pack_questions(args.queries)
    with tempfile.TemporaryDirectory() as tmp:
        mine = ours(Path(tmp) / "ours", chunks, args.size, questions)
        theirs = fts5(Path(tmp), chunks, args.size, questions)
    # Copies of one chunk tie, and either index may return any of them: compare the chunks
    # they are copies of.
    overlap = [
        len(_originals(a) & _originals(b)) / max(len(_originals(a)), 1)
        for a, b in zip(mine.pop("top10"), theirs.pop("top10"), strict=True)
    ]
    print(json.dumps({
        "size": args.size,
        "ours": mine,
        "sqlite_fts5": {**theirs, "top10_overlap_with_ours": round(sum(overlap) / len(overlap), 3)},
        "chroma_sparse_local": chroma_sparse(),
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()

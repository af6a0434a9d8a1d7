"""Incremental, idempotent indexing of article files into a ChunkStore.

Unchanged files (same path, same sha256) cost one hash and embed nothing; a changed file's
chunks are replaced; files gone from an indexed folder are removed; identical content under a
second name is skipped. One unreadable file never stops the batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index.chunking.chunks import chunk_article
from index.embedding.embedders import Embedder
from index.locking import collection_lock
from index.reading.loaders import LoadError, iter_article_files, load_article, sha256_bytes
from index.settings import IndexingSettings, StoreSettings
from index.storing.lexical import LexicalIndex
from index.storing.lexical_sync import in_step
from index.storing.lexical_sync import sync as sync_lexical
from index.storing.lexical_writer import LexicalWriter
from index.storing.store import FileRecord, Store
from index.syndication.near_duplicates import (
    SyndicationGroups,
    encode,
    encode_facts,
    key_facts,
    signature,
)
from index.types import Article, Chunk
from index.words import plural

# Raised when loading reads more from a file (2: the author and byline; 3: web pages read
# with trafilatura and their URL, and every article's MinHash for syndicated copies), so
# files indexed before are read again once, even though their bytes did not change.
EXTRACTION_VERSION = 3
# Chunks staged for BM25 before a long run commits them (memory stays bounded).
LEXICAL_COMMIT_DOCS = 50_000


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    chunks_embedded: int = 0
    notes: list[str] = field(default_factory=list)  # what else the user should be told

    def merge(self, other: IndexReport) -> None:
        """Add another run's outcome to this one (a refresh indexes feed by feed)."""
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.removed += other.removed
        self.skipped += other.skipped
        self.chunks_embedded += other.chunks_embedded
        self.notes += other.notes

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.unchanged)} unchanged",
            f"{len(self.removed)} removed",
            f"{len(self.skipped)} skipped",
            f"{plural(self.chunks_embedded, 'chunk')} embedded",
        ]
        return ", ".join(parts)


def _read_sha(path: Path) -> str | None:
    try:
        return sha256_bytes(path.read_bytes())
    except OSError:
        return None


def index_collection(
    paths: Iterable[str | os.PathLike[str]],
    store: Store,
    embedder: Embedder,
    where: StoreSettings,
    indexing: IndexingSettings,
    *,
    batch_size: int = 32,
    progress: bool = True,
) -> IndexReport:
    """The indexing transaction every caller goes through: under the collection's lock, BM25
    is first caught up with the store (after a run that was killed), then the files are
    indexed with BM25 following every change, and BM25 is committed at the end."""
    folder = where.lexical_folder()
    with collection_lock(where.home, where.collection):
        lexical = LexicalWriter(folder)
        if not in_step(store, LexicalIndex(folder)):
            sync_lexical(store, lexical)
        lexical.begin()
        report = index_paths(paths, store, embedder, chunk_words=indexing.chunk_words,
                             overlap=indexing.chunk_overlap_sentences,
                             max_file_mb=indexing.max_file_mb, batch_size=batch_size,
                             progress=progress, lexical=lexical)  # fmt: skip
        lexical.finish()
    return report


def index_paths(
    paths: Iterable[str | os.PathLike[str]],
    store: Store,
    embedder: Embedder,
    *,
    chunk_words: int = 90,
    overlap: int = 1,
    max_file_mb: float = 50.0,
    batch_size: int = 32,
    progress: bool = True,
    lexical: LexicalWriter | None = None,
) -> IndexReport:
    """Index files and folders into `store`; with `lexical`, the on-disk BM25 index follows
    every change and is committed at the end (and every LEXICAL_COMMIT_DOCS chunks)."""
    report = IndexReport()
    forget = lexical.delete if lexical else lambda paths: None
    records = store.file_records()
    roots = [Path(p) for p in paths]
    by_sha = {r.file_sha256: r.path for r in records.values()}
    groups = SyndicationGroups.of((r.path, r.minhash, r.group, r.facts) for r in records.values())

    files: list[Path] = []
    for path in roots:
        if not path.exists():
            report.skipped.append((str(path), "no such file or folder"))
        elif path.is_dir():
            files.extend(iter_article_files([path]))
        else:
            files.append(path)
    files = sorted({f.resolve(): f for f in files}.keys())
    present = {str(f) for f in files}

    # Files that were indexed from one of these folders and are gone now.
    for folder in (p.resolve() for p in roots if p.is_dir()):
        for stored_path in records:
            gone = stored_path not in present and not Path(stored_path).exists()
            if gone and Path(stored_path).is_relative_to(folder):
                store.delete_file(stored_path)
                forget([stored_path])
                groups.forget(stored_path)
                report.removed.append(Path(stored_path).name)

    pending: list[tuple[Article, list[Chunk], bool]] = []
    bar = tqdm(files, desc="indexing", unit="file", disable=not progress, leave=False)
    for path in bar:
        key = str(path)
        sha = _read_sha(path)
        known = records.get(key)
        if known and sha and known.file_sha256 == sha and known.extraction == EXTRACTION_VERSION:
            report.unchanged.append(path.name)
            continue
        if known and by_sha.get(known.file_sha256) == key:
            del by_sha[known.file_sha256]
        # A changed file keeps its old chunks until the new ones are embedded (`_flush`
        # replaces them in one step), so questions asked meanwhile still find the article. If
        # the new version is not indexed at all, the old content must go now.
        twin = by_sha.get(sha or "")
        if twin and twin != key and Path(twin).exists():
            if known:
                store.delete_file(key)
                forget([key])
            report.skipped.append((path.name, f"same content as {Path(twin).name}"))
            continue
        try:
            article = load_article(path, max_bytes=int(max_file_mb * 1_000_000))
        except LoadError as exc:
            if known:
                store.delete_file(key)
                forget([key])
            report.skipped.append((path.name, str(exc).removeprefix(f"{path.name}: ")))
            continue
        article.path = key
        body = article.body_text()
        sig, facts = signature(body), key_facts(body)
        article.minhash, article.facts = encode(sig), encode_facts(facts)
        article.group = groups.assign(key, sig, facts)
        chunks = chunk_article(article, chunk_words=chunk_words, overlap=overlap)
        pending.append((article, chunks, known is not None))
        by_sha[article.file_sha256] = key
        # Embed in groups so memory stays flat and progress is saved as we go.
        if sum(len(c) for _, c, _ in pending) >= batch_size * 8:
            _flush(pending, store, embedder, report, batch_size, lexical)
    _flush(pending, store, embedder, report, batch_size, lexical)
    bar.close()
    if lexical:
        lexical.commit()
    return report


def _flush(
    pending: list[tuple[Article, list[Chunk], bool]],
    store: Store,
    embedder: Embedder,
    report: IndexReport,
    batch_size: int,
    lexical: LexicalWriter | None = None,
) -> None:
    if not pending:
        return
    texts = [embedding_text(c) for _, chunks, _ in pending for c in chunks]
    batches = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)]
    embed_batches = getattr(embedder, "embed_batches", None)
    if not texts:
        vectors = np.zeros((0, embedder.dimension), dtype=np.float32)
    elif embed_batches is not None:  # a server embedder: all batches of the flush in flight
        vectors = embed_batches(batches)
    else:
        vectors = np.concatenate([embedder.embed(batch) for batch in batches])
    # One delete, one upsert of chunks and one of file records per flush: Chroma's cost is
    # per call. Old chunks go first and the file records last, so a crash anywhere in
    # between leaves these files looking un-indexed and the next run redoes them.
    store.delete_chunks_of(*(article.path for article, _, _ in pending))
    store.add_chunks([c for _, chunks, _ in pending for c in chunks], vectors)
    store.put_files(
        [
            FileRecord(
                article=article.info,
                file_sha256=article.file_sha256,
                chunks=len(chunks),
                extraction=EXTRACTION_VERSION,
                feed=article.feed,
                minhash=article.minhash,
                facts=article.facts,
            )
            for article, chunks, _ in pending
        ]
    )
    if lexical:
        for article, chunks, _ in pending:
            lexical.add_file(article.path, article.file_sha256, chunks)
        # A long run makes its BM25 additions live as it goes, not only at the end.
        if lexical.staged_docs >= LEXICAL_COMMIT_DOCS:
            lexical.commit()
    for article, _, existed in pending:
        (report.updated if existed else report.added).append(article.source)
    report.chunks_embedded += len(texts)
    pending.clear()


def embedding_text(chunk: Chunk) -> str:
    """The title gives a chunk its topic; the stored text stays an exact slice of the file."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text

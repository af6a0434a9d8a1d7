"""BM25 over a collection's chunks, kept on disk beside the collection and memory-mapped.

The index is a list of immutable segments plus a manifest. `qa index` writes new segments and
a new manifest (index/storing/lexical_writer.py); every serving process reads the same files and
notices a new manifest on its next search, so nothing is rebuilt on a question or a restart.

Layout of the index folder:

    manifest.json        generation, segments, and per segment the indices of deleted files
    seg-<g>/             one segment, written once at generation g and never changed:
        terms.npy        uint64 term hashes, sorted
        offsets.npy      int64, len(terms)+1: term i's postings are [offsets[i], offsets[i+1])
        docs.npy         int32 document numbers within the segment, ascending per term
        tfs.npy          uint16 term frequency of the term in the document
        lengths.npy      int32 words per document
        ids.npy          chunk ids (fixed-width bytes)
        file_of.npy      int32 document -> index into files.json
        files.json       [[path, sha256], ...]: the files this segment holds

Scoring is Lucene's BM25 as bm25s computes it by default (no (k1+1) factor), with the
collection-wide document count and average length of live documents. Like Lucene, a deleted
document still counts in its terms' document frequency until its segment is merged away.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.text import tokens

KEPT_FILTERS = 16  # filters whose excluded documents a segment remembers
K1 = 1.5
B = 0.75
MANIFEST = "manifest.json"
FORMAT = 1

log = logging.getLogger(__name__)


def term_hash(term: str) -> int:
    """64-bit term id: fixed width on disk, and collisions are out of reach at any corpus size."""
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "little")


def query_terms(text: str) -> dict[int, int]:
    """Term hash -> how often the query uses the term."""
    counts: dict[int, int] = {}
    for word in tokens(text):
        h = term_hash(word)
        counts[h] = counts.get(h, 0) + 1
    return counts


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if data.get("format") != FORMAT:
        return None  # an unknown layout is treated as absent and rebuilt from the store
    return data


class Segment:
    """One segment's arrays, memory-mapped: opening costs page-table entries, not reads."""

    def __init__(self, folder: Path, deleted_files: list[int]) -> None:
        self.folder = folder

        def load(name: str) -> np.ndarray:
            return np.load(folder / f"{name}.npy", mmap_mode="r")

        self.terms = load("terms")
        self.offsets = load("offsets")
        self.docs = load("docs")
        self.tfs = load("tfs")
        self.lengths = load("lengths")
        self.ids = load("ids")
        self.file_of = load("file_of")
        self.deleted_files = deleted_files
        self._paths: list[str] | None = None
        self._excluded: dict[frozenset[str], np.ndarray] = {}
        self.deleted = (
            np.isin(self.file_of, np.asarray(deleted_files, dtype=np.int32))
            if deleted_files
            else None
        )

    @property
    def size(self) -> int:
        return len(self.lengths)

    def live_mask(self) -> np.ndarray:
        if self.deleted is None:
            return np.ones(self.size, dtype=bool)
        return np.logical_not(self.deleted)

    def postings(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        """(documents, term frequencies) of one term hash; empty arrays when absent."""
        at = int(np.searchsorted(self.terms, np.uint64(h)))
        if at >= len(self.terms) or int(self.terms[at]) != h:
            return _NO_DOCS, _NO_TFS
        start, end = int(self.offsets[at]), int(self.offsets[at + 1])
        return self.docs[start:end], self.tfs[start:end]

    def files(self) -> list[tuple[str, str]]:
        rows = json.loads((self.folder / "files.json").read_text(encoding="utf-8"))
        return [(str(p), str(s)) for p, s in rows]

    def excluded(self, allowed_paths: frozenset[str] | None) -> np.ndarray | None:
        """Documents a search must not return: deleted ones, and with `allowed_paths` those
        of every other file (a filter applied inside the search, not after it). Worked out
        once per filter: a segment never changes."""
        if allowed_paths is None:
            return self.deleted
        if allowed_paths not in self._excluded:
            if self._paths is None:
                self._paths = [p for p, _ in self.files()]
            allowed = [i for i, p in enumerate(self._paths) if p in allowed_paths]
            outside = ~np.isin(self.file_of, np.asarray(allowed, dtype=np.int32))
            if len(self._excluded) >= KEPT_FILTERS:
                self._excluded.clear()
            self._excluded[allowed_paths] = (
                outside if self.deleted is None else outside | self.deleted
            )
        return self._excluded[allowed_paths]


_NO_DOCS = np.zeros(0, dtype=np.int32)
_NO_TFS = np.zeros(0, dtype=np.uint16)


@dataclass(frozen=True)
class _View:
    """One manifest's segments and statistics; replaced whole, so a search that took it
    never sees half of an update made by another thread."""

    generation: int = -1
    segments: tuple[Segment, ...] = ()
    norms: tuple[np.ndarray, ...] = ()  # per segment: BM25 length normalisation per document
    live_docs: int = 0
    indexing: bool = False  # an index run started and has not finished (or died)


def _view(folder: Path, manifest: dict[str, Any]) -> _View:
    segments = tuple(
        Segment(folder / s["name"], list(s.get("deleted_files", []))) for s in manifest["segments"]
    )
    live = sum(int(s["live"]) for s in manifest["segments"])
    length = sum(int(s["live_length"]) for s in manifest["segments"])
    # The normalisation depends on the collection's average length, so it is computed per
    # load, not stored.
    avg = length / live if live else 1.0
    norms = tuple(
        (K1 * (1 - B + B * np.asarray(seg.lengths, dtype=np.float32) / avg)).astype(np.float32)
        for seg in segments
    )
    return _View(int(manifest["generation"]), segments, norms, live, bool(manifest.get("indexing")))


class LexicalIndex:
    """Reads and searches the index in `folder`; follows new manifests written by `qa index`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._view = _View()
        self._stamp: tuple[int, int, int] | None = None
        self._lock = threading.Lock()
        self._ids_for: tuple[tuple[int, frozenset[str]], frozenset[str]] | None = None

    # --- state ---------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.folder / MANIFEST).exists()

    @property
    def live_docs(self) -> int:
        return self.current().live_docs

    @property
    def generation(self) -> int:
        return self.current().generation

    def refresh(self) -> None:
        """Forget what was loaded: the next search reads the manifest again."""
        with self._lock:
            self._stamp = None

    def current(self) -> _View:
        """The newest manifest's view; re-read only when the file changed (one stat call)."""
        with self._lock:
            try:
                st = os.stat(self.folder / MANIFEST)
            except FileNotFoundError:
                self._view, self._stamp = _View(), None
                return self._view
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            if stamp != self._stamp:
                self._view = self._read()
                self._stamp = stamp
            return self._view

    def _read(self) -> _View:
        for attempt in range(3):
            manifest = read_manifest(self.folder)
            if manifest is None:
                return _View()
            try:
                return _view(self.folder, manifest)
            except FileNotFoundError:
                # A writer replaced the manifest and cleaned up between our two reads.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def chunk_ids(self, allowed_paths: frozenset[str]) -> frozenset[str]:
        """The live chunks of these files: what a filtered dense search may return."""
        view = self.current()
        key = (view.generation, allowed_paths)
        if self._ids_for is None or self._ids_for[0] != key:
            ids: set[str] = set()
            for seg in view.segments:
                excluded = seg.excluded(allowed_paths)
                keep = np.flatnonzero(~excluded) if excluded is not None else range(seg.size)
                ids.update(seg.ids[d].decode() for d in keep)
            self._ids_for = (key, frozenset(ids))
        return self._ids_for[1]

    # --- search ---------------------------------------------------------------------------
    def search(
        self, query: str, n: int, allowed_paths: frozenset[str] | None = None
    ) -> list[tuple[str, float]]:
        """The `n` best chunks for `query` by BM25, as (chunk id, score), best first; with
        `allowed_paths`, only chunks of those files (statistics stay collection-wide)."""
        view = self.current()
        terms = query_terms(query)
        if not view.segments or not terms or n <= 0 or not view.live_docs:
            return []
        postings = {h: [seg.postings(h) for seg in view.segments] for h in terms}
        weights = {}
        for h, per_segment in postings.items():
            df = sum(len(docs) for docs, _ in per_segment)
            if df:
                idf = float(np.log(1.0 + (view.live_docs - df + 0.5) / (df + 0.5)))
                weights[h] = max(idf, 0.0) * terms[h]
        if not weights:
            return []
        best: list[tuple[float, str]] = []
        for i, (seg, norm) in enumerate(zip(view.segments, view.norms, strict=True)):
            here = {h: postings[h][i] for h in weights}
            excluded = seg.excluded(allowed_paths)
            best += _segment_top(seg, norm, here, weights, view.live_docs, n, excluded)
        best.sort(key=lambda pair: (-pair[0], pair[1]))
        return [(cid, score) for score, cid in best[:n]]


# A term in more than this share of documents is scored only where the rarer terms matched,
# when that provably cannot change the top n (see _segment_top).
COMMON_SHARE = 0.05


def _segment_top(
    seg: Segment,
    norm: np.ndarray,
    lists: dict[int, tuple[np.ndarray, np.ndarray]],
    weights: dict[int, float],
    live_docs: int,
    n: int,
    excluded: np.ndarray | None,
) -> list[tuple[float, str]]:
    """The segment's n best documents, exactly as full scoring would rank them.

    Scoring a very common term ("the", "said") touches most of a million documents. Each
    term adds at most its weight to a document's score, so once the n-th best score among
    documents that match a rarer term reaches the sum of the common terms' weights, no
    document matching only common terms can enter the top n, and the common terms need adding
    only to the documents already found (the MaxScore idea)."""
    common = {h for h, (docs, _) in lists.items() if len(docs) > COMMON_SHARE * live_docs}
    rare = [h for h in lists if h not in common]
    scores = np.zeros(seg.size, dtype=np.float32)
    for h in rare:
        _add_term(scores, lists[h], weights[h], norm)
    if excluded is not None:
        scores[excluded] = 0.0
    if common and rare:
        found = np.flatnonzero(scores)
        for h in common:
            docs, tfs = lists[h]
            at = np.searchsorted(docs, found)
            inside = at < len(docs)
            hit = np.zeros(len(found), dtype=bool)
            hit[inside] = np.asarray(docs)[at[inside]] == found[inside]
            tf = np.asarray(tfs)[at[hit]].astype(np.float32)
            scores[found[hit]] += weights[h] * tf / (tf + norm[found[hit]])
        ceiling = sum(weights[h] for h in common)
        if (
            len(found) >= n
            and np.partition(scores[found], len(found) - n)[len(found) - n] >= ceiling
        ):
            return _top(seg, scores, n)
        scores[:] = 0.0  # rare: the bound does not hold, so score every term everywhere
        for h in rare:
            _add_term(scores, lists[h], weights[h], norm)
    for h in common:
        _add_term(scores, lists[h], weights[h], norm)
    if excluded is not None:
        scores[excluded] = 0.0
    return _top(seg, scores, n)


def _add_term(
    scores: np.ndarray, posting: tuple[np.ndarray, np.ndarray], weight: float, norm: np.ndarray
) -> None:
    docs, tfs = posting
    if len(docs):
        tf = np.asarray(tfs, dtype=np.float32)
        scores[docs] += weight * tf / (tf + norm[docs])


def _top(seg: Segment, scores: np.ndarray, n: int) -> list[tuple[float, str]]:
    k = min(n, int(np.count_nonzero(scores)))
    if k == 0:
        return []
    top = np.argpartition(-scores, k - 1)[:k]
    return [(float(scores[d]), seg.ids[d].decode()) for d in top]

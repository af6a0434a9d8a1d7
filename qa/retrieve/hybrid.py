"""Hybrid retrieval: dense (Chroma) and BM25 (the on-disk index/storing/lexical.py), fused by
reciprocal rank."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from index.embedding.embedders import Embedder
from index.storing.lexical import LexicalIndex
from index.storing.store import Store, StoredHit
from index.types import Chunk
from qa.retrieve.catalog import Catalog
from qa.retrieve.filters import ArticleFilter

# When at least this share of the collection passes a filter, the dense search first reads
# OVERFETCH times the ids it expects to need and keeps the allowed ones.
WIDE_SEARCH_SHARE = 0.5
OVERFETCH = 3


@dataclass
class Hit:
    chunk: Chunk
    score: float  # fused score (higher is better)
    dense: float | None = None  # cosine similarity to the question
    bm25: float | None = None


def one_per_group(hits: list[Hit]) -> list[Hit]:
    """The hits with one article per syndication group, so the other copies of a wire story
    do not take places in top-k (the citation names them). The newest copy among the hits
    stands for the group: copies agree on their key facts (index/syndication/near_duplicates.py) but
    may differ in wording, and an updated copy must not hide behind an older one. Its
    best-ranked hit takes the group's best place; its other chunks keep theirs."""
    leads: dict[str, Hit] = {}  # the newest copy's best-ranked hit, by group
    for hit in hits:
        group = hit.chunk.group or hit.chunk.path
        lead = leads.setdefault(group, hit)
        if hit.chunk.path != lead.chunk.path and _when(hit.chunk) > _when(lead.chunk):
            leads[group] = hit
    out = []
    placed: set[str] = set()
    for hit in hits:
        group = hit.chunk.group or hit.chunk.path
        lead = leads[group]
        if group not in placed:
            placed.add(group)
            out.append(lead)
        elif hit.chunk.path == lead.chunk.path and hit is not lead:
            out.append(hit)
    return out


def _when(chunk: Chunk) -> tuple[float, float]:
    """How new an article is: its published time, else its file's modification time (both
    as POSIX seconds; a date without a time is its midnight, UTC when no zone is given);
    then the modification time between copies of one date. 0 when unknown."""
    try:
        modified = os.stat(chunk.path).st_mtime
    except OSError:
        modified = 0.0
    try:
        when = datetime.fromisoformat(chunk.published)
    except ValueError:
        return modified, modified
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp(), modified


class HybridRetriever:
    """Dense candidates from the store and BM25 candidates from `lexical`, fused.

    With hybrid=False it is dense only. A BM25 hit whose chunk
    the store no longer has (deleted since the lexical index was written) is dropped."""

    def __init__(self, store: Store, embedder: Embedder, *, lexical: LexicalIndex | None,
                 hybrid: bool = True, candidates: int = 20, rrf_k: int = 60) -> None:  # fmt: skip
        self.store = store
        self.embedder = embedder
        self.lexical = lexical
        if hybrid and lexical is None:
            raise ValueError(
                "hybrid retrieval needs the collection's BM25 index "
                "(index.storing.lexical.LexicalIndex); "
                "HybridNodeRetriever.from_settings builds both"
            )
        self.hybrid = hybrid
        self.candidates = candidates
        self.rrf_k = rrf_k
        self._catalog: tuple[int, Catalog] | None = None

    def invalidate(self) -> None:
        """Re-read the lexical index's manifest now (it is also noticed on the next search)."""
        self._catalog = None
        if self.lexical is not None:
            self.lexical.refresh()

    def catalog(self) -> Catalog:
        """The collection's articles (outlets, authors, dates), read again after a re-index
        (every index run writes a new BM25 generation)."""
        generation = self.lexical.generation if self.lexical is not None else -1
        if self._catalog is None or self._catalog[0] != generation or generation < 0:
            self._catalog = (generation, Catalog.of(self.store.file_records().values()))
        return self._catalog[1]

    def retrieve(
        self,
        query: str,
        top_k: int,
        query_vector: np.ndarray | None = None,
        filters: ArticleFilter | None = None,
    ) -> list[Hit]:
        """The `top_k` best chunks; with `filters`, the best among the articles that pass
        (both searches are filtered, so none of the k is spent on an excluded article)."""
        vector = self.embedder.embed([query])[0] if query_vector is None else query_vector
        allowed = None
        if filters is not None and not filters.empty:
            allowed = self.catalog().allowed_paths(filters)
            if not allowed:
                return []
            dense = self._dense_filtered(vector, filters, allowed)
        else:
            dense = self.store.query(vector, self.candidates)
        hits: dict[str, Hit] = {}
        for rank, stored in enumerate(dense):
            hits[stored.chunk.id] = Hit(
                stored.chunk, 1.0 / (self.rrf_k + rank + 1), dense=1.0 - stored.distance
            )
        if self.hybrid:
            lexical = self.lexical.search(query, self.candidates, allowed) if self.lexical else []
            missing = [cid for cid, _ in lexical if cid not in hits]
            fetched = {c.id: c for c in self.store.get_chunks(missing)}
            for rank, (cid, score) in enumerate(lexical):
                if cid not in hits:
                    if cid not in fetched:
                        continue
                    hits[cid] = Hit(fetched[cid], 0.0)
                hits[cid].score += 1.0 / (self.rrf_k + rank + 1)
                hits[cid].bm25 = score
        ranked = sorted(hits.values(), key=lambda h: h.score, reverse=True)
        return one_per_group(ranked)[:top_k]

    def _dense_filtered(
        self, vector: np.ndarray, filters: ArticleFilter, allowed: frozenset[str]
    ) -> list[StoredHit]:
        """The nearest `candidates` chunks of the allowed articles.

        Chroma's `where` search costs more the more chunks pass (about 100 ms at 100k chunks
        when a sixth of them pass); naming the allowed chunks (the BM25 index lists each
        file's) costs 15-25 ms there. When most of the collection passes, a slightly wider
        search that reads ids only finds enough allowed ones cheaper still, and the named
        search decides when it does not."""
        if self.lexical is None or not self.lexical.live_docs:
            return self.store.query(vector, self.candidates, filters.chroma_where())
        ids = self.lexical.chunk_ids(allowed)
        if not ids:
            return []
        share = len(ids) / self.lexical.live_docs
        if share >= WIDE_SEARCH_SHARE:
            wide = math.ceil(self.candidates / share * OVERFETCH)
            nearest = self.store.nearest_ids(vector, wide)
            kept = [(cid, distance) for cid, distance in nearest if cid in ids]
            if len(kept) >= self.candidates or len(nearest) < wide:
                kept = kept[: self.candidates]
                chunks = {c.id: c for c in self.store.get_chunks([cid for cid, _ in kept])}
                return [StoredHit(chunks[cid], d) for cid, d in kept if cid in chunks]
        return self.store.query(vector, self.candidates, ids=sorted(ids))

"""Hybrid retrieval: dense (Chroma) and BM25, fused by reciprocal rank."""

from __future__ import annotations

from dataclasses import dataclass

import bm25s
import numpy as np

from index.embedding import Embedder
from index.store import ChunkStore
from index.types import Chunk
from qa.text import tokens


@dataclass
class Hit:
    chunk: Chunk
    score: float  # fused score (higher is better)
    dense: float | None = None  # cosine similarity to the question
    bm25: float | None = None


class BM25Index:
    """BM25 over every stored chunk; rebuilt when the store's content changes."""

    def __init__(self, store: ChunkStore) -> None:
        self.ids: list[str] = []
        self.model: bm25s.BM25 | None = None
        self.vocab: set[str] = set()
        corpus = []
        for chunk in store.iter_chunks():
            self.ids.append(chunk.id)
            corpus.append(tokens(f"{chunk.title} {chunk.text}") or ["∅"])
        if corpus:
            self.vocab = {w for doc in corpus for w in doc}
            self.model = bm25s.BM25()
            self.model.index(corpus, show_progress=False)

    def search(self, query: str, n: int) -> list[tuple[str, float]]:
        words = [w for w in tokens(query) if w in self.vocab]
        if not self.model or not words or n <= 0:
            return []
        k = min(n, len(self.ids))
        docs, scores = self.model.retrieve([words], k=k, show_progress=False)
        return [
            (self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0
        ]


class HybridRetriever:
    def __init__(self, store: ChunkStore, embedder: Embedder, *, hybrid: bool = True,
                 candidates: int = 20, rrf_k: int = 60) -> None:  # fmt: skip
        self.store = store
        self.embedder = embedder
        self.hybrid = hybrid
        self.candidates = candidates
        self.rrf_k = rrf_k
        self._bm25: BM25Index | None = None
        self._bm25_version: object = None

    def invalidate(self) -> None:
        self._bm25 = None

    def _bm25_index(self) -> BM25Index:
        version = self.store.version()
        if self._bm25 is None or version != self._bm25_version:
            self._bm25 = BM25Index(self.store)
            self._bm25_version = version
        return self._bm25

    def retrieve(self, query: str, top_k: int, query_vector: np.ndarray | None = None) -> list[Hit]:
        vector = self.embedder.embed([query])[0] if query_vector is None else query_vector
        dense = self.store.query(vector, self.candidates)
        hits: dict[str, Hit] = {}
        for rank, stored in enumerate(dense):
            hits[stored.chunk.id] = Hit(
                stored.chunk, 1.0 / (self.rrf_k + rank + 1), dense=1.0 - stored.distance
            )
        if self.hybrid:
            lexical = self._bm25_index().search(query, self.candidates)
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
        return ranked[:top_k]

"""Our hybrid BM25 + dense retrieval as a llama-index retriever.

`HybridNodeRetriever` returns `NodeWithScore`s whose nodes are the stored chunks (exact
offsets, sentence spans in metadata) and whose score is the fused reciprocal-rank score; the
dense cosine and BM25 score ride along in metadata. It plugs into any llama-index app, e.g.
`RetrieverQueryEngine.from_args(HybridNodeRetriever.from_settings(Settings()))`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from index.embedding import Embedder, embedder_from_settings
from index.lexical import LexicalIndex
from index.nodes import chunk_to_node
from index.store import ChunkStore, open_client
from qa.retrieval import Hit, HybridRetriever
from qa.settings import Settings

# Retrieval bookkeeping: neither an LLM nor an embedder should read it as node text.
SCORE_KEYS = ["dense_score", "bm25_score"]


def hit_to_node(hit: Hit) -> NodeWithScore:
    node = chunk_to_node(hit.chunk)
    node.metadata.update({"dense_score": hit.dense, "bm25_score": hit.bm25})
    node.excluded_llm_metadata_keys += SCORE_KEYS
    node.excluded_embed_metadata_keys += SCORE_KEYS
    return NodeWithScore(node=node, score=hit.score)


class HybridNodeRetriever(BaseRetriever):
    """BM25 + dense (Chroma) candidates fused by reciprocal rank, top `similarity_top_k`.

    A `QueryBundle` that carries an embedding is searched with it (no second embedding)."""

    def __init__(
        self,
        store: ChunkStore,
        embedder: Embedder,
        *,
        lexical: LexicalIndex | None = None,
        similarity_top_k: int = 5,
        hybrid: bool = True,
        candidates: int = 20,
        rrf_k: int = 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.search = HybridRetriever(
            store, embedder, lexical=lexical, hybrid=hybrid, candidates=candidates, rrf_k=rrf_k
        )
        self.similarity_top_k = similarity_top_k

    @classmethod
    def from_settings(
        cls, settings: Settings, embedder: Embedder | None = None
    ) -> HybridNodeRetriever:
        """The retriever over the settings' collection (on disk or on a Chroma server)."""
        embedder = embedder or embedder_from_settings(settings)
        client = open_client(settings.home, settings.chroma_url)
        store = ChunkStore(client, settings.collection, embedder.name, embedder.dimension)
        return cls(
            store,
            embedder,
            lexical=LexicalIndex(settings.lexical_folder()),
            similarity_top_k=settings.top_k,
            hybrid=settings.hybrid,
            candidates=settings.candidates,
            rrf_k=settings.rrf_k,
        )

    def invalidate(self) -> None:
        """Re-read the BM25 index's manifest (a change is also noticed on the next query)."""
        self.search.invalidate()

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        vector = (
            np.asarray(query_bundle.embedding, dtype=np.float32) if query_bundle.embedding else None
        )
        hits = self.search.retrieve(
            query_bundle.query_str, self.similarity_top_k, query_vector=vector
        )
        return [hit_to_node(hit) for hit in hits]

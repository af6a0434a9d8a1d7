"""Our hybrid BM25 + dense retrieval as a llama-index retriever.

`HybridNodeRetriever` returns `NodeWithScore`s whose nodes are the stored chunks (exact
offsets, sentence spans in metadata) and whose score is the fused reciprocal-rank score; the
dense cosine and BM25 score ride along in metadata. It plugs into any llama-index app, e.g.
`RetrieverQueryEngine.from_args(HybridNodeRetriever.from_settings(Settings()))`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import BaseNode, NodeWithScore, QueryBundle

from index.chunking.sentences import split_sentences
from index.embedding.embedders import Embedder, embedder_from_settings
from index.storing.lexical import LexicalIndex
from index.storing.nodes import chunk_to_node, node_to_chunk
from index.storing.store import ChunkStore, FileRecord, Store, open_client
from index.types import ArticleInfo, Chunk, Span
from qa.core.settings import Settings
from qa.retrieve.catalog import Catalog
from qa.retrieve.filters import ArticleFilter, from_metadata_filters
from qa.retrieve.hybrid import Hit, HybridRetriever

if TYPE_CHECKING:
    from llama_index.core.vector_stores.types import MetadataFilters

    from qa.retrieve.searcher import Search

# Retrieval bookkeeping: neither an LLM nor an embedder should read it as node text.
SCORE_KEYS = ["dense_score", "bm25_score"]


def chunk_of(node: BaseNode) -> Chunk:
    """Our chunk for a node: exact for nodes `qa index` stored, split here for others."""
    meta = node.metadata
    if "sentences" in meta and "path" in meta and getattr(node, "start_char_idx", None) is not None:
        return node_to_chunk(node)
    text = node.get_content()
    start = getattr(node, "start_char_idx", None) or 0
    source = str(meta.get("source") or meta.get("file_name") or node.ref_doc_id or node.node_id)
    spans = split_sentences(text) or [Span(0, len(text))]
    # Other loaders name the file and its address differently.
    article = ArticleInfo.from_metadata(meta, source=source,
                                        path=str(meta.get("file_path") or source),
                                        url=str(meta.get("source_url") or ""))  # fmt: skip
    return Chunk(
        id=node.node_id,
        article=article,
        text=text,
        start=start,
        end=start + len(text),
        sentences=[Span(start + s.start, start + s.end) for s in spans],
        sentence_texts=[text[s.start : s.end] for s in spans],
    )


def hit_of_node(scored: NodeWithScore) -> Hit:
    """A node from any llama-index retriever or postprocessor as our hit (the boundary)."""
    dense = scored.node.metadata.get("dense_score")
    bm25 = scored.node.metadata.get("bm25_score")
    return Hit(
        chunk_of(scored.node),
        float(scored.score or 0.0),
        dense=None if dense is None else float(dense),
        bm25=None if bm25 is None else float(bm25),
    )


def hit_to_node(hit: Hit) -> NodeWithScore:
    node = chunk_to_node(hit.chunk)
    node.metadata.update({"dense_score": hit.dense, "bm25_score": hit.bm25})
    node.excluded_llm_metadata_keys += SCORE_KEYS
    node.excluded_embed_metadata_keys += SCORE_KEYS
    return NodeWithScore(node=node, score=hit.score)


class HybridNodeRetriever(BaseRetriever):
    """BM25 + dense (Chroma) candidates fused by reciprocal rank, top `similarity_top_k`.

    A `QueryBundle` that carries an embedding is searched with it (no second embedding).
    `filters` (llama-index `MetadataFilters` on `published`, `outlet`, `author`, or our
    `ArticleFilter`) are applied inside both searches; an unsupported filter is refused."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        lexical: LexicalIndex | None = None,
        similarity_top_k: int = 5,
        hybrid: bool = True,
        candidates: int = 20,
        rrf_k: int = 60,
        filters: MetadataFilters | ArticleFilter | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.search = HybridRetriever(
            store, embedder, lexical=lexical, hybrid=hybrid, candidates=candidates, rrf_k=rrf_k
        )
        self.similarity_top_k = similarity_top_k
        self.filters = (
            filters if isinstance(filters, ArticleFilter) else from_metadata_filters(filters)
        )

    def resolved(self, filters: ArticleFilter | None = None) -> ArticleFilter:
        """`filters` (default: this retriever's) with outlet and author names as the
        collection spells them; an unknown name is refused (qa/retrieve/catalog.py)."""
        chosen = self.filters if filters is None else filters
        return chosen if chosen.empty else self.search.catalog().resolve(chosen)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        embedder: Embedder | None = None,
        filters: MetadataFilters | ArticleFilter | None = None,
    ) -> HybridNodeRetriever:
        """The retriever over the settings' collection (on disk or on a Chroma server)."""
        embedder = embedder or embedder_from_settings(
            settings.embedding, settings.runtime.request_timeout_s
        )
        client = open_client(settings.store.home, settings.store.chroma_url)
        store = ChunkStore(client, settings.store.collection, embedder.name, embedder.dimension)
        return cls(
            store,
            embedder,
            lexical=LexicalIndex(settings.lexical_folder()),
            similarity_top_k=settings.retrieval.top_k,
            hybrid=settings.retrieval.hybrid,
            candidates=settings.retrieval.candidates,
            rrf_k=settings.retrieval.rrf_k,
            filters=filters if filters is not None else settings_filter(settings),
        )

    def invalidate(self) -> None:
        """Re-read the BM25 index's manifest (a change is also noticed on the next query)."""
        self.search.invalidate()

    # --- the Searcher interface (qa/retrieve/searcher.py) ---------------------------------
    @property
    def default_filter(self) -> ArticleFilter:
        return self.filters

    def hits(self, search: Search) -> list[Hit]:
        """Filtered inside both searches (none of the k spent on an excluded article)."""
        k = search.top_k or self.similarity_top_k
        return self.search.retrieve(search.query, k, search.vector, self.resolved(search.filters))

    def resolve(self, filters: ArticleFilter) -> ArticleFilter:
        return self.resolved(filters)

    def catalog(self) -> Catalog:
        return self.search.catalog()

    def group_members(self, groups: Sequence[str]) -> dict[str, list[FileRecord]]:
        return self.search.store.group_members(groups)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        vector = (
            np.asarray(query_bundle.embedding, dtype=np.float32) if query_bundle.embedding else None
        )
        hits = self.search.retrieve(
            query_bundle.query_str,
            self.similarity_top_k,
            query_vector=vector,
            filters=self.resolved(),
        )
        return [hit_to_node(hit) for hit in hits]


def settings_filter(settings: Settings) -> ArticleFilter:
    """The filter the settings set (`since`, `until`, `outlets`, `authors`)."""
    r = settings.retrieval
    return ArticleFilter.of(r.since, r.until, r.outlets, r.authors)

"""Sentence evidence selection as a llama-index node postprocessor.

`SentenceEvidencePostprocessor` turns retrieved chunks into the few sentences the LLM should
read (qa/evidence.py): one `NodeWithScore` per sentence, with the sentence's exact offsets
into its article, its embedding, and a `PARENT` link to its chunk. Planted instructions are
dropped (qa/injection.py). An empty result means "abstain": nothing relevant enough was found.

It accepts any text nodes: ours carry sentence spans in metadata; others are split here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from llama_index.core.bridge.pydantic import Field
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import (
    BaseNode,
    NodeRelationship,
    NodeWithScore,
    ObjectType,
    QueryBundle,
    RelatedNodeInfo,
)

from index.embedding import Embedder
from index.nodes import article_node, node_to_chunk
from index.sentences import split_sentences
from index.types import Chunk, Span
from qa.evidence import Evidence, select_evidence
from qa.retrieval import Hit

_ARTICLE_KEYS = ("source", "path", "title", "outlet", "published", "author")
_HIDDEN_KEYS = ["path", "relevance", "chunk_id"]


class LlamaIndexEmbedder:
    """A llama-index embedding model behind our `Embedder` interface (unit-length rows)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.name = str(getattr(model, "model_name", type(model).__name__))
        self.dimension = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        rows = np.asarray(self.model.get_text_embedding_batch(list(texts)), dtype=np.float32)
        self.dimension = rows.shape[1]
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms == 0, 1.0, norms)


def as_embedder(model: Any) -> Embedder:
    return model if hasattr(model, "embed") else LlamaIndexEmbedder(model)


def chunk_of(node: BaseNode) -> Chunk:
    """Our chunk for a node: exact for nodes `qa index` stored, split here for others."""
    meta = node.metadata
    if "sentences" in meta and "path" in meta and getattr(node, "start_char_idx", None) is not None:
        return node_to_chunk(node)
    text = node.get_content()
    start = getattr(node, "start_char_idx", None) or 0
    source = str(meta.get("source") or meta.get("file_name") or node.ref_doc_id or node.node_id)
    spans = split_sentences(text) or [Span(0, len(text))]
    return Chunk(
        id=node.node_id,
        source=source,
        path=str(meta.get("path") or meta.get("file_path") or source),
        text=text,
        start=start,
        end=start + len(text),
        title=str(meta.get("title") or ""),
        outlet=str(meta.get("outlet") or ""),
        published=str(meta.get("published") or ""),
        author=str(meta.get("author") or ""),
        sentences=[Span(start + s.start, start + s.end) for s in spans],
        sentence_texts=[text[s.start : s.end] for s in spans],
    )


def evidence_to_node(e: Evidence) -> NodeWithScore:
    c = e.chunk
    node = article_node(
        hashlib.sha256(f"{c.path}\x00{e.span.start}\x00{e.span.end}".encode()).hexdigest()[:32],
        e.text,
        e.span.start,
        e.span.end,
        c.path,
        {**{k: getattr(c, k) for k in _ARTICLE_KEYS}, "relevance": e.relevance, "chunk_id": c.id},
        _HIDDEN_KEYS,
        embedding=[float(x) for x in e.vector],
        relationships={
            NodeRelationship.PARENT: RelatedNodeInfo(node_id=c.id, node_type=ObjectType.TEXT)
        },
    )
    return NodeWithScore(node=node, score=e.score)


def node_to_evidence(scored: NodeWithScore) -> Evidence:
    """The Evidence a sentence node stands for (the inverse of `evidence_to_node`)."""
    node = scored.node
    meta = node.metadata
    start = int(getattr(node, "start_char_idx", None) or 0)
    text = node.get_content()
    span = Span(start, int(getattr(node, "end_char_idx", None) or start + len(text)))
    about = {k: str(meta.get(k) or "") for k in _ARTICLE_KEYS}
    sentence = Chunk(
        id=str(meta.get("chunk_id") or node.node_id),
        source=about["source"],
        path=about["path"],
        title=about["title"],
        outlet=about["outlet"],
        published=about["published"],
        author=about["author"],
        text=text,
        start=span.start,
        end=span.end,
        sentences=[span],
        sentence_texts=[text],
    )
    vector = np.asarray(node.embedding or [], dtype=np.float32)
    relevance = float(meta.get("relevance", scored.score or 0.0))
    return Evidence(sentence, span, text, relevance, float(scored.score or 0.0), vector)


class SentenceEvidencePostprocessor(BaseNodePostprocessor):
    """Chunks in, the `top_n` best evidence sentences out, or nothing when the best one's
    cosine to the question is under `min_relevance` (abstain)."""

    embedder: Any = Field(description="Our Embedder or a llama-index embedding model.")
    top_n: int = Field(default=4, ge=1)
    min_relevance: float = Field(default=0.4)

    @classmethod
    def class_name(cls) -> str:
        return "SentenceEvidencePostprocessor"

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if query_bundle is None:
            raise ValueError("SentenceEvidencePostprocessor needs the question (a QueryBundle)")
        embedder = as_embedder(self.embedder)
        question = query_bundle.query_str
        vector = (
            np.asarray(query_bundle.embedding, dtype=np.float32)
            if query_bundle.embedding
            else embedder.embed([question])[0]
        )
        hits = [Hit(chunk_of(n.node), float(n.score or 0.0)) for n in nodes]
        evidence = select_evidence(question, vector, hits, embedder, self.top_n)
        if not evidence or max(e.relevance for e in evidence) < self.min_relevance:
            return []
        return [evidence_to_node(e) for e in evidence]

"""Sentence evidence selection as a llama-index node postprocessor.

`SentenceEvidencePostprocessor` turns retrieved chunks into the few sentences the LLM should
read (qa/evidence/select.py): one `NodeWithScore` per sentence, with the sentence's exact offsets
into its article, its embedding, and a `PARENT` link to its chunk. Planted instructions are
dropped (qa/evidence/injection.py). An empty result means "abstain": nothing relevant
enough was found.

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
    NodeRelationship,
    NodeWithScore,
    ObjectType,
    QueryBundle,
    RelatedNodeInfo,
)

from index.embedding.embedders import Embedder
from index.storing.nodes import article_node
from qa.core.types import Evidence
from qa.evidence.select import relevant_enough, select_evidence
from qa.retrieve.node_retriever import hit_of_node
from qa.understand.profile import QuestionProfile

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


def evidence_to_node(e: Evidence) -> NodeWithScore:
    """Our evidence sentence as a llama-index node (the boundary: only llama-index users
    receive these; the answering path keeps `Evidence`)."""
    path = e.article.path
    node = article_node(
        hashlib.sha256(f"{path}\x00{e.span.start}\x00{e.span.end}".encode()).hexdigest()[:32],
        e.text,
        e.span.start,
        e.span.end,
        path,
        {**e.article.metadata(), "relevance": e.relevance, "chunk_id": e.chunk_id},
        _HIDDEN_KEYS,
        embedding=[float(x) for x in e.vector],
        relationships={
            NodeRelationship.PARENT: RelatedNodeInfo(node_id=e.chunk_id, node_type=ObjectType.TEXT)
        },
    )
    return NodeWithScore(node=node, score=e.score)


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
        hits = [hit_of_node(n) for n in nodes]
        evidence = select_evidence(QuestionProfile.of(question), vector, hits, embedder, self.top_n)
        if not relevant_enough(evidence, self.min_relevance):
            return []
        return [evidence_to_node(e) for e in evidence]

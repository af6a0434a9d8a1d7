"""The retrieval stage's component: chunks for a question, as our `Hit`s.

A `Searcher` (ours, or any llama-index retriever wrapped: qa/retrieve/searcher.py) finds the
chunks; any node postprocessors (a reranker) then run through nodes, the llama-index
boundary, and their results are read back as hits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import QueryBundle

from qa.retrieve.filters import ArticleFilter
from qa.retrieve.hybrid import Hit
from qa.retrieve.node_retriever import hit_of_node, hit_to_node
from qa.retrieve.searcher import Search, Searcher, searcher_for


@dataclass(frozen=True)
class RetrievalScores:
    """The best scores of what retrieval returned for the question."""

    dense_max: float = 0.0
    bm25_max: float = 0.0

    def with_hits(self, hits: Sequence[Hit]) -> RetrievalScores:
        return RetrievalScores(
            max([self.dense_max, *(h.dense for h in hits if h.dense is not None)]),
            max([self.bm25_max, *(h.bm25 for h in hits if h.bm25 is not None)]),
        )


class Retrieval:
    """Search, then postprocess. `run` searches for `search` (a follow-up searches with more
    words than it asks) and postprocesses against `question` (what is asked)."""

    def __init__(
        self,
        retriever: BaseRetriever | Searcher,
        postprocessors: Sequence[BaseNodePostprocessor] = (),
    ) -> None:
        self.searcher = searcher_for(retriever)
        self.postprocessors = list(postprocessors)

    def run(
        self,
        *,
        search: str,
        search_vector: np.ndarray,
        question: str,
        question_vector: np.ndarray,
        filters: ArticleFilter | None = None,
    ) -> list[Hit]:
        hits = self.searcher.hits(Search(search, search_vector, filters))
        if not self.postprocessors:
            return hits
        nodes = [hit_to_node(h) for h in hits]
        asked = QueryBundle(question, embedding=[float(x) for x in question_vector])
        for postprocessor in self.postprocessors:
            nodes = postprocessor.postprocess_nodes(nodes, query_bundle=asked)
        return [hit_of_node(n) for n in nodes]

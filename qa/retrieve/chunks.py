"""The retrieval stage: chunks for a question, as our `Hit`s.

Our own retriever is searched directly (no llama-index nodes on the way). Any other
llama-index retriever, and any node postprocessors (a reranker), are run through nodes, the
llama-index boundary, and their results read back as hits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import QueryBundle

from qa.retrieve.filters import ArticleFilter
from qa.retrieve.hybrid import Hit, one_per_group
from qa.retrieve.node_retriever import HybridNodeRetriever, hit_of_node, hit_to_node


def retrieve_hits(
    retriever: BaseRetriever,
    postprocessors: Sequence[BaseNodePostprocessor],
    *,
    search: str,
    search_vector: np.ndarray,
    question: str,
    question_vector: np.ndarray,
    filters: ArticleFilter | None = None,
) -> list[Hit]:
    """Chunks for `search` (what is searched for), postprocessed against `question` (what
    is asked; a follow-up searches with more words than it asks). `filters` are applied
    inside our own retriever's searches; another retriever's chunks are filtered after."""
    if isinstance(retriever, HybridNodeRetriever):
        hits = retriever.search.retrieve(
            search,
            retriever.similarity_top_k,
            query_vector=search_vector,
            filters=retriever.resolved(filters),
        )
    else:
        bundle = QueryBundle(search, embedding=[float(x) for x in search_vector])
        hits = one_per_group([hit_of_node(n) for n in retriever.retrieve(bundle)])
        if filters is not None and not filters.empty:
            hits = [h for h in hits if filters.allows(h.chunk.article)]
    if not postprocessors:
        return hits
    nodes = [hit_to_node(h) for h in hits]
    asked = QueryBundle(question, embedding=[float(x) for x in question_vector])
    for postprocessor in postprocessors:
        nodes = postprocessor.postprocess_nodes(nodes, query_bundle=asked)
    return [hit_of_node(n) for n in nodes]

"""Reranking retrieved chunks before evidence selection (`QA_RERANKER`).

`llm`: llama-index's `LLMRerank` asks the answering model which retrieved chunks answer the
question and keeps the best `rerank_top_n`. Our LLM (any backend) is handed to it as a
llama-index LLM, so the reranker shares the model process with the answers. Off by default:
docs/llama-index.md has the measurement.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from llama_index.core.llms import LLM as LlamaIndexLLM
from llama_index.core.postprocessor import LLMRerank
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from qa.core.settings import Settings

log = logging.getLogger(__name__)


class KeepOrderOnEmptyRerank(LLMRerank):
    """LLMRerank that keeps the retrieval order when the model's ranking cannot be read (a
    small model may answer in another format): no ranking is better than no chunks."""

    @classmethod
    def class_name(cls) -> str:
        return "KeepOrderOnEmptyRerank"

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        ranked = super()._postprocess_nodes(nodes, query_bundle)
        if nodes and not ranked:
            log.info("the reranker's answer could not be read; keeping the retrieval order")
            return nodes[: self.top_n]
        return ranked


def make_reranker(
    settings: Settings, llm: Callable[[], LlamaIndexLLM]
) -> list[BaseNodePostprocessor]:
    """The reranker the settings ask for; `llm()` gives the answering model as a llama-index
    LLM (called only when a reranker is wanted)."""
    r = settings.retrieval
    if r.reranker == "none":
        return []
    return [
        KeepOrderOnEmptyRerank(  # type: ignore[call-arg]  # the prompt has a default
            llm=llm(),
            top_n=r.rerank_top_n,
            choice_batch_size=r.rerank_batch_size or r.top_k,
        )
    ]

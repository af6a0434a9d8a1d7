"""Reranking retrieved chunks before evidence selection (`QA_RERANKER`).

`llm`: llama-index's `LLMRerank` asks the answering model which retrieved chunks answer the
question and keeps the best `rerank_top_n`. Our LLM (any backend) is handed to it as a
llama-index LLM, so the reranker shares the model process with the answers. Off by default:
docs/evaluation.md has the measurement.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.llms import (
    CompletionResponse,
    CompletionResponseGen,
    CustomLLM,
    LLMMetadata,
)
from llama_index.core.postprocessor import LLMRerank
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from qa.llm import LLM
from qa.settings import Settings

log = logging.getLogger(__name__)


class ChatLLMAsLlamaIndex(CustomLLM):
    """Any of our LLMs (`stream_chat`) as a llama-index completion LLM."""

    context_window: int = 4096
    num_output: int = 128
    model_name: str = "qa"
    _llm: Any = PrivateAttr()

    def __init__(self, llm: LLM, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._llm = llm

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.num_output,
            model_name=self.model_name,
        )

    def _pieces(self, prompt: str) -> Generator[str, None, None]:
        messages = [{"role": "user", "content": prompt}]
        yield from self._llm.stream_chat(messages, max_tokens=self.num_output, stop=[])

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="".join(self._pieces(prompt)))

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            text = ""
            for piece in self._pieces(prompt):
                text += piece
                yield CompletionResponse(text=text, delta=piece)

        return gen()


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


def make_reranker(settings: Settings, llm: LLM) -> list[BaseNodePostprocessor]:
    if settings.reranker == "none":
        return []
    model = ChatLLMAsLlamaIndex(
        llm, context_window=settings.n_ctx, num_output=64, model_name=settings.llm_model
    )
    return [
        KeepOrderOnEmptyRerank(  # type: ignore[call-arg]  # the prompt has a default
            llm=model, top_n=settings.rerank_top_n, choice_batch_size=settings.top_k
        )
    ]

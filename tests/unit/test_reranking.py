"""A reranker is one postprocessor more: llama-index's LLMRerank over our retriever, driven by
our LLM interface (QA_RERANKER=llm)."""

from __future__ import annotations

import logging
import re

from llama_index.core.schema import QueryBundle

from qa import Assistant
from qa.generate.backends.llama_index import ChatLLMAsLlamaIndex
from qa.generate.llm import FakeLLM
from qa.retrieve.node_retriever import HybridNodeRetriever
from qa.retrieve.reranking import make_reranker

KIM = "Who accompanied Kim at the extended talks?"


def as_llama_index(llm, settings):
    """What make_reranker is given: a maker of our LLM as a llama-index one (as Assistant)."""
    return lambda: ChatLLMAsLlamaIndex(
        llm,
        context_window=settings.runtime.n_ctx,
        num_output=64,
        model_name=settings.generation.llm_model,
    )


class RankingLLM(FakeLLM):
    """Answers LLMRerank's prompt by ranking the documents that mention Ri Yong-ho first;
    answers questions as the fake LLM does."""

    def __init__(self) -> None:
        super().__init__()
        self.rank_prompts: list[str] = []

    def stream_chat(self, messages, max_tokens, stop, grammar=""):
        prompt = messages[-1]["content"]
        if "Document 1:" not in prompt:
            yield from super().stream_chat(messages, max_tokens, stop, grammar)
            return
        self.rank_prompts.append(prompt)
        docs = re.split(r"Document (\d+):", prompt)[1:]
        lines = [f"Doc: {n}, Relevance: {9 if 'Ri Yong-ho' in text else 2}"
                 for n, text in zip(docs[::2], docs[1::2], strict=True)]  # fmt: skip
        yield "\n".join(sorted(lines, key=lambda line: -int(line[-1])))


def test_llm_reranker_reorders_and_keeps_top_n(indexed_assistant) -> None:
    settings = indexed_assistant.settings.model_copy(update={"reranker": "llm", "rerank_top_n": 2})
    llm = RankingLLM()
    (reranker,) = make_reranker(settings, as_llama_index(llm, settings))
    chunks = HybridNodeRetriever(
        indexed_assistant.store, indexed_assistant.embedder, lexical=indexed_assistant.lexical
    ).retrieve(KIM)
    ranked = reranker.postprocess_nodes(chunks, QueryBundle(KIM))
    assert len(llm.rank_prompts) == 1 and len(ranked) == 2
    assert "Ri Yong-ho" in ranked[0].node.get_content()
    assert ranked[0].score == 9


def test_assistant_with_the_reranker_setting_answers_and_cites(indexed_assistant) -> None:
    settings = indexed_assistant.settings.model_copy(update={"reranker": "llm"})
    llm = RankingLLM()
    answer = Assistant(settings, llm=llm).ask(KIM)
    assert llm.rank_prompts, "the reranker never asked the model"
    assert not answer.abstained and "Ri Yong-ho" in answer.text
    assert len(answer.retrieved) <= settings.retrieval.rerank_top_n


def test_unreadable_ranking_keeps_the_retrieval_order(indexed_assistant, caplog) -> None:
    settings = indexed_assistant.settings.model_copy(update={"reranker": "llm"})
    fake = FakeLLM()  # answers "NOT IN ARTICLES"
    (reranker,) = make_reranker(settings, as_llama_index(fake, settings))
    chunks = HybridNodeRetriever(
        indexed_assistant.store, indexed_assistant.embedder, lexical=indexed_assistant.lexical
    ).retrieve(KIM)
    with caplog.at_level(logging.INFO, logger="qa.retrieve.reranking"):
        kept = reranker.postprocess_nodes(chunks, QueryBundle(KIM))
    assert [n.node.node_id for n in kept] == [n.node.node_id for n in chunks[:3]]
    assert "could not be read" in caplog.text

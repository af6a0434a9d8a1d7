"""A llama-index LLM answers through Assistant, and our adapter's stop strings and errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.llms import CustomLLM

from qa import Assistant, UserError
from qa.generate.backends.llama_index import LlamaIndexChatLLM, make_integration_llm
from qa.generate.llm import make_llm

QUESTION = "Who accompanied Kim at the extended talks?"


class ExtractiveLLM(CustomLLM):
    """A llama-index LLM that answers with the numbered source sharing most question words
    (and Yes to a judgement, which has no numbered sources)."""

    reply_suffix: str = ""

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="extractive")

    def _reply(self, prompt: str) -> str:
        sources, _, question = prompt.rpartition("Question:")
        words = set(question.lower().split())
        numbered = re.findall(r"\[(\d+)\] ([^\n]+)", sources)
        if not numbered:
            return "Yes"
        number, text = max(numbered, key=lambda n: len(words & set(n[1].lower().split())))
        return f"{text} [{number}]{self.reply_suffix}"

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._reply(prompt))

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kw: Any
    ) -> CompletionResponseGen:
        def gen() -> Iterator[CompletionResponse]:
            text = ""
            for word in self._reply(prompt).split(" "):
                text += word + " "
                yield CompletionResponse(text=text, delta=word + " ")

        return gen()


def test_a_llama_index_llm_object_drives_a_cited_answer(indexed_assistant) -> None:
    settings = indexed_assistant.settings
    assistant = Assistant(settings, llm=ExtractiveLLM(), embedder=indexed_assistant.embedder)
    assert isinstance(assistant.llm, LlamaIndexChatLLM)
    answer = assistant.ask(QUESTION)
    # The reply is one source sentence copied by the llama-index LLM, verified and cited.
    assert not answer.abstained and "Kim" in answer.text and answer.raw_text.strip().endswith("]")
    assert answer.text.removesuffix(" [1]") in answer.raw_text
    citation = answer.citations[0]
    assert (
        Path(citation.path).read_text(encoding="utf-8")[citation.start : citation.end]
        == citation.quote
    )


def test_stop_strings_are_applied_to_any_integration() -> None:
    llm = LlamaIndexChatLLM(ExtractiveLLM(reply_suffix="\n\nQuestion: and more"))
    prompt = [{"role": "user", "content": "[1] Ri Yong-ho came.\n\nQuestion: who came?"}]
    text = "".join(llm.stream_chat(prompt, 50, ["\n\n", "Question:"]))
    assert text == "Ri Yong-ho came. [1]"


def test_integration_failures_are_user_errors() -> None:
    class Broken(ExtractiveLLM):
        def stream_complete(self, prompt: str, formatted: bool = False, **kw: Any):
            raise ConnectionError("server gone")

    with pytest.raises(UserError, match="server gone"):
        list(LlamaIndexChatLLM(Broken()).stream_chat([{"role": "user", "content": "x"}], 5, []))


def test_settings_name_an_integration(make_settings) -> None:
    llm = make_llm(make_settings(llm_backend="llama_index", llm_model="qwen2.5:1.5b",
                                 openai_base_url="http://127.0.0.1:11434/v1"))  # fmt: skip
    assert isinstance(llm, LlamaIndexChatLLM) and llm.name == "qwen2.5:1.5b"
    assert llm.llm.api_base == "http://127.0.0.1:11434/v1"  # type: ignore[attr-defined]
    with pytest.raises(UserError, match="unknown llama-index integration"):
        make_integration_llm(make_settings(llm_backend="llama_index", llm_integration="nope"))

"""llama-index LLMs both ways, with the real runtime: our packaged model as a llama-index
LLM, and llama-index's OpenAI-like integration answering through Assistant."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from llama_index.core.llms import ChatMessage

from qa import Assistant, Settings
from qa.generate.backends.llama_index import LlamaIndexChatLLM, packaged_model_llm

pytestmark = pytest.mark.integration

KIM = "Who accompanied Kim at the extended talks?"


@pytest.fixture(scope="module")
def local_llm(qa_home: Path):
    llm = packaged_model_llm(Settings(home=qa_home, llm_model="qwen2.5-coder-0.5b"))
    yield llm
    llm.close()


def test_our_packaged_model_is_a_llama_index_llm_that_survives_a_crash(local_llm) -> None:
    reply = local_llm.chat([ChatMessage(role="user", content="Who wrote Hamlet? One name.")])
    assert "Shakespeare" in str(reply.message.content)
    process = local_llm._process
    port, pid = process.port, process.pid
    os.kill(pid, signal.SIGKILL)
    process.proc.wait(timeout=30)
    streamed = "".join(r.delta or "" for r in local_llm.stream_chat(
        [ChatMessage(role="user", content="Who wrote Hamlet? One name.")]))  # fmt: skip
    assert "Shakespeare" in streamed
    assert process.pid != pid and process.port == port  # same URL after the restart


def test_a_llama_index_openai_like_llm_answers_through_assistant(
    local_llm, real_assistant, qa_home
) -> None:
    settings = Settings(home=qa_home, collection="seeds-it")
    assistant = Assistant(settings, llm=local_llm, embedder=real_assistant.embedder)
    assert isinstance(assistant.llm, LlamaIndexChatLLM)
    answer = assistant.ask(KIM)
    assert not answer.abstained and "Ri Yong-ho" in answer.text, answer.raw_text
    assert [c.source for c in answer.citations] == ["004_dfd909dab3a5d0b8.txt"]

"""`qa serve` streams like the page: the passages being read first, keep-alive comments
while nothing new is ready, only verified sentences, and the real token counts at the end."""

from __future__ import annotations

import json
import time

import httpx
from test_openai_api import ASKED, running

import ui.openai_api
from qa.generate.backends.fake import FakeLLM
from qa.generate.usage import record
from ui.openai_api import create_app
from ui.service import ChatService


class CountedSlowLLM(FakeLLM):
    """Thinks a while before its first piece, then reports what the call cost, as a server
    does."""

    def stream_chat(self, messages, max_tokens, stop, grammar="", logprobs=None):
        time.sleep(0.8)
        yield from super().stream_chat(messages, max_tokens, stop, grammar, logprobs)
        record({"usage": {"prompt_tokens": 100, "completion_tokens": 7}})


def test_passages_first_keep_alives_while_waiting_and_real_usage(
    indexed_assistant, monkeypatch
) -> None:
    monkeypatch.setattr(ui.openai_api, "KEEPALIVE_S", 0.2)
    llm = CountedSlowLLM()
    service = ChatService(indexed_assistant.settings, llm=llm)
    lines: list[tuple[float, str]] = []
    with running(create_app(service)) as base:
        body = {"messages": ASKED, "stream": True}
        started = time.perf_counter()
        with httpx.stream("POST", f"{base}/chat/completions", json=body, timeout=60) as reply:
            for line in reply.iter_lines():
                if line:
                    lines.append((time.perf_counter() - started, line))
    chunks = [json.loads(text.removeprefix("data: ")) for _, text in lines
              if text.startswith("data: {")]  # fmt: skip
    kinds = []
    for text in (t for _, t in lines):
        if text.startswith(":"):
            kinds.append("keep-alive")
        elif text.startswith("data: {"):
            chunk = json.loads(text.removeprefix("data: "))
            if "reading" in chunk.get("newsqa", {}):
                kinds.append("reading")
            elif chunk["choices"][0]["delta"].get("content"):
                kinds.append("content")
    first_text = kinds.index("content")
    assert kinds.index("reading") < first_text  # the passages before any answer text
    assert "keep-alive" in kinds[kinds.index("reading") : first_text]  # alive while it waits
    reading = next(c for c in chunks if "reading" in c.get("newsqa", {}))["newsqa"]["reading"]
    assert reading and reading[0]["document"][0]  # the passages' own text
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop" and final["citations"]
    assert "Ri Yong-ho" in text and "Sources:\n[1]" in text
    calls = len(llm.calls)
    assert final["usage"] == {"prompt_tokens": 100 * calls, "completion_tokens": 7 * calls,
                              "total_tokens": 107 * calls}  # fmt: skip


def test_a_whole_reply_counts_its_tokens_too(indexed_assistant) -> None:
    from fastapi.testclient import TestClient

    llm = CountedSlowLLM()
    service = ChatService(indexed_assistant.settings, llm=llm)
    with TestClient(create_app(service)) as client:
        reply = client.post("/v1/chat/completions", json={"messages": ASKED}).json()
    assert reply["usage"]["prompt_tokens"] == 100 * len(llm.calls) > 0

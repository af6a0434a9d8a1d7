"""A deterministic extractive stand-in for fast tests, registered like the real backends."""

from __future__ import annotations

import re
from collections.abc import Iterator

from qa.core.interfaces import Message, StreamingBackend, TokenLogprob
from qa.core.settings import Settings
from qa.core.text import lexical_support


class FakeLLM(StreamingBackend):
    """Copies the numbered source that shares most words with the question and cites it.

    Deterministic and instant: for unit tests of retrieval, citation and abstention wiring.
    It gives no log-probabilities, so code that reads them takes its fallback path."""

    name = "fake"

    def __init__(self, settings: Settings | None = None) -> None:
        self.calls: list[list[Message]] = []

    def stream_chat(
        self,
        messages: list[Message],
        max_tokens: int,
        stop: list[str],
        grammar: str = "",
        logprobs: list[TokenLogprob] | None = None,
    ) -> Iterator[str]:
        self.calls.append(messages)
        prompt = messages[-1]["content"]
        if "Follow-up question:" in prompt:
            yield prompt.rsplit("Follow-up question:", 1)[1].split("\n")[0].strip()
            return
        sources, _, question = prompt.rpartition("\n\nQuestion:")
        if not sources:  # a briefing: the topic plays the question's part
            sources, _, question = prompt.rpartition("\n\nTopic:")
        question = question.strip().split("\n")[0]
        best, best_n = "", 0.0
        for line in sources.splitlines():
            numbered = re.match(r"\[(\d+)\] (.+)", line)
            if not numbered:
                continue
            number, text = numbered.groups()
            overlap = lexical_support(question, text, "")
            if overlap > best_n:
                best, best_n = f"{text} [{number}]", overlap
        reply = best or "NOT IN ARTICLES"
        for word in reply.split(" "):
            yield word + " "

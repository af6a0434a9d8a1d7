"""An LLM that is some other LLM, found only when a call needs it: the assistant's model
(loaded on first use) and the CLI's model (started on first use, saying so) are both one."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from qa.core.interfaces import LLM, Completion, LLMCapabilities, Message, TokenLogprob


class DeferredLLM(ABC):
    """Every call goes to `target()`; nothing is loaded before the first."""

    name = "deferred"

    @abstractmethod
    def target(self) -> LLM: ...

    @property
    def capabilities(self) -> LLMCapabilities:
        return self.target().capabilities

    def stream_chat(
        self,
        messages: list[Message],
        max_tokens: int,
        stop: list[str],
        grammar: str = "",
        logprobs: list[TokenLogprob] | None = None,
    ) -> Iterator[str]:
        llm = self.target()
        if logprobs is None:  # a plain call stays plain for backends written before the list
            return llm.stream_chat(messages, max_tokens, stop, grammar)
        return llm.stream_chat(messages, max_tokens, stop, grammar, logprobs)

    def complete_chat(
        self,
        messages: list[Message],
        max_tokens: int,
        stop: list[str],
        grammar: str = "",
        top_logprobs: int = 0,
    ) -> Completion:
        return self.target().complete_chat(messages, max_tokens, stop, grammar, top_logprobs)

    def close(self) -> None:  # noqa: B027 (a subclass that owns its target closes it)
        """What the target is closed by is its owner's business."""

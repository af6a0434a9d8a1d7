"""The interfaces the answering path is written against: the language model and the store.

Every LLM backend (qa/generate/backends/) implements `LLM` in full; what a backend cannot
do is said by its `capabilities`, never found out with `getattr`. The chunk store and the
embedder are the ground floor's (index/storing/store.py, index/embedding/embedders.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from index.embedding.embedders import Embedder
from index.storing.store import Store

Message = dict[str, str]


@dataclass(frozen=True)
class LLMCapabilities:
    grammar: bool = False  # honours a GBNF grammar (llama.cpp's server)
    logprobs: bool = False  # returns per-token log-probabilities


@dataclass(frozen=True)
class Sampling:
    """Sampling options one call adds to the settings' temperature. The defaults are
    neutral, and a backend sends only what differs from them."""

    # A penalty on tokens the reply already used (OpenAI's meaning: the logit minus this
    # times the count; llama.cpp's server counts over its last 64 tokens): a small model
    # writing a long reply otherwise repeats one sentence until its token limit.
    frequency_penalty: float = 0.0


PLAIN_SAMPLING = Sampling()  # a call as the settings make it
_SAMPLING: ContextVar[Sampling] = ContextVar("qa_sampling", default=PLAIN_SAMPLING)


def current_sampling() -> Sampling:
    """The options of the call being made; a backend reads them as it builds a request."""
    return _SAMPLING.get()


def sampled(pieces: Iterator[str], options: Sampling) -> Generator[str, None, None]:
    """A `stream_chat` stream, run with `options` in force (and only while it runs).

    The options travel beside the call, not in `stream_chat`'s arguments, so every wrapper
    of an LLM (the assistant's deferred model, the CLI's model on first use) passes them on
    unchanged, and a backend that has no such option ignores them. Closing this stream
    closes `pieces` (the request ends)."""
    try:
        while True:
            token = _SAMPLING.set(options)
            try:
                piece = next(pieces)
            except StopIteration:
                return
            finally:
                _SAMPLING.reset(token)
            yield piece
    finally:
        if isinstance(pieces, Generator):
            pieces.close()


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token, its log-probability and the most likely alternatives."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Completion:
    text: str
    logprobs: list[TokenLogprob] | None = None  # None: the backend gives none


@dataclass(frozen=True)
class Reply:
    """One answer call as a value: what was asked, what came back, and when."""

    text: str
    prompt: tuple[Message, ...] = ()  # empty: no single prompt (a reply combined from claims)
    logprobs: tuple[TokenLogprob, ...] = ()  # empty where the backend gives none
    first_token_s: float | None = None  # from the call to its first piece
    seconds: float = 0.0  # the whole call


@runtime_checkable
class LLM(Protocol):
    name: str

    @property
    def capabilities(self) -> LLMCapabilities: ...

    def stream_chat(
        self,
        messages: list[Message],
        max_tokens: int,
        stop: list[str],
        grammar: str = "",
        logprobs: list[TokenLogprob] | None = None,
    ) -> Iterator[str]:
        """Pieces of the assistant's reply as they are generated. `grammar` is passed only
        to a backend whose capabilities include it; a backend with log-probabilities
        appends each streamed token's to `logprobs` when given one (the answer's own
        confidence, read at no extra cost)."""
        ...

    def complete_chat(
        self,
        messages: list[Message],
        max_tokens: int,
        stop: list[str],
        grammar: str = "",
        top_logprobs: int = 0,
    ) -> Completion:
        """The whole reply at once, with token log-probabilities (and the `top_logprobs`
        most likely alternatives of each) where the backend gives them."""
        ...

    def close(self) -> None:
        """Release what the backend holds (the local model's process); idempotent."""
        ...


class StreamingBackend(ABC):
    """Base of backends that only stream text (no log-probabilities, no grammar): the whole
    reply is the joined stream, and there is nothing to release."""

    name: str = "streaming"
    capabilities = LLMCapabilities()

    @abstractmethod
    def stream_chat(
        self,
        messages: list[Message],
        max_tokens: int,
        stop: list[str],
        grammar: str = "",
        logprobs: list[TokenLogprob] | None = None,
    ) -> Iterator[str]: ...

    def complete_chat(
        self,
        messages: list[Message],
        max_tokens: int,
        stop: list[str],
        grammar: str = "",
        top_logprobs: int = 0,
    ) -> Completion:
        return Completion("".join(self.stream_chat(messages, max_tokens, stop, grammar)))

    def close(self) -> None:  # noqa: B027  # a backend may have nothing to release
        """Nothing to release."""


__all__ = [
    "LLM",
    "Completion",
    "Embedder",
    "LLMCapabilities",
    "Message",
    "PLAIN_SAMPLING",
    "Reply",
    "Sampling",
    "Store",
    "StreamingBackend",
    "TokenLogprob",
    "current_sampling",
    "sampled",
]

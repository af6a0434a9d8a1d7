"""Token counts of the model calls one answer makes, for the API's `usage` field.

An answer may call the model several times (a follow-up rewrite, the reply, the answer check,
the confidence judgements). The backends report what each call cost where the server says
(`record`); whoever wants the total for one answer wraps it in `metered()`, which collects
the calls made in its context (the thread iterating the answer)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_openai(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.total_tokens}  # fmt: skip


_CURRENT: ContextVar[Usage | None] = ContextVar("model_usage", default=None)


@contextmanager
def metered() -> Iterator[Usage]:
    """Collect the token counts of the model calls made inside the block."""
    usage = Usage()
    token = _CURRENT.set(usage)
    try:
        yield usage
    finally:
        _CURRENT.reset(token)


def record(reply: Mapping[str, Any]) -> None:
    """Add a server's counts for one call: OpenAI's `usage`, else llama.cpp's `timings`
    (`prompt_n`, `predicted_n`). Nothing when no block is metering or the server says none."""
    usage = _CURRENT.get()
    if usage is None:
        return
    counts = reply.get("usage") or {}
    timings = reply.get("timings") or {}
    prompt = counts.get("prompt_tokens", timings.get("prompt_n"))
    completion = counts.get("completion_tokens", timings.get("predicted_n"))
    if isinstance(prompt, int) and isinstance(completion, int):
        usage.prompt_tokens += prompt
        usage.completion_tokens += completion
        usage.calls += 1

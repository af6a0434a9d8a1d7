"""Any OpenAI-compatible chat-completions server (Ollama, vLLM, llama.cpp's server, hosted
APIs): streaming over server-sent events, bounded retries, the key from an environment
variable. Log-probabilities are asked for with `logprobs`/`top_logprobs` and read where the
server returns them; a server that returns none gives `Completion.logprobs = None`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx

from index.retry import Retry
from qa.core.errors import LLMError
from qa.core.interfaces import (
    Completion,
    LLMCapabilities,
    Message,
    TokenLogprob,
    current_sampling,
)
from qa.core.settings import Settings
from qa.generate.usage import record as record_usage

# Overloaded or restarting servers answer these; a later attempt may succeed.
RETRY_STATUSES = {429, 502, 503, 504}


class OpenAICompatibleLLM:
    """Chat completions over HTTP with streaming (server-sent events) and bounded retries.

    A generic server is not assumed to honour a GBNF grammar; log-probabilities are asked
    for and used when they come back."""

    capabilities = LLMCapabilities(grammar=False, logprobs=True)

    def __init__(self, settings: Settings, retries: int = 2) -> None:
        g = settings.generation
        self.name = g.llm_model
        base = g.openai_base_url.strip().rstrip("/")
        self.base_url = base if "://" in base else f"http://{base}"
        self.key = os.environ.get(g.openai_api_key_env, "")
        self.temperature = g.temperature
        self.timeout = settings.runtime.request_timeout_s
        self.retry = Retry(retries)

    def stream_chat(
        self,
        messages: list[Message],
        max_tokens: int,
        stop: list[str],
        grammar: str = "",
        logprobs: list[TokenLogprob] | None = None,
    ) -> Iterator[str]:
        return self.stream_from(self.base_url, messages, max_tokens, stop, grammar, logprobs)

    def complete_chat(
        self,
        messages: list[Message],
        max_tokens: int,
        stop: list[str],
        grammar: str = "",
        top_logprobs: int = 0,
    ) -> Completion:
        return self.complete_from(self.base_url, messages, max_tokens, stop, grammar, top_logprobs)

    def close(self) -> None:
        """Nothing to release: each request has its own connection."""

    def _body(
        self, messages: list[Message], max_tokens: int, stop: list[str], grammar: str
    ) -> dict[str, object]:
        body: dict[str, object] = {
            "model": self.name,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": self.temperature,
        }
        if stop:
            body["stop"] = stop
        if grammar:
            body["grammar"] = grammar
        sampling = current_sampling()  # what this call adds (qa.core.interfaces.sampled)
        if sampling.frequency_penalty:
            body["frequency_penalty"] = sampling.frequency_penalty
        return body

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def stream_from(
        self,
        base_url: str,
        messages: list[Message],
        max_tokens: int,
        stop: list[str],
        grammar: str = "",
        logprobs: list[TokenLogprob] | None = None,
    ) -> Iterator[str]:
        """`stream_chat` against `base_url`. Safe from several threads at once: each request
        has its own HTTP connection and nothing here changes per call. With a `logprobs`
        list, each streamed token's log-probability is appended to it where the server
        sends one (an attempt that is retried starts the list again)."""
        body = {**self._body(messages, max_tokens, stop, grammar), "stream": True}
        body["stream_options"] = {"include_usage": True}  # the token counts, for `usage`
        if logprobs is not None:
            body["logprobs"] = True
        url = f"{base_url}/chat/completions"
        for attempt in self.retry.attempts():
            started = False
            try:
                with httpx.stream(
                    "POST", url, json=body, headers=self._headers(), timeout=self.timeout
                ) as r:
                    if r.status_code >= 400:
                        r.read()
                        if self._again(r, attempt, base_url):
                            continue
                    if logprobs is not None:
                        logprobs.clear()
                    for line in r.iter_lines():
                        piece = _sse_content(line, logprobs)
                        if piece is None:
                            continue
                        started = True
                        yield piece
                return
            except httpx.InvalidURL as exc:
                raise LLMError(f"bad LLM server URL {base_url!r}: {exc}") from exc
            except httpx.TransportError as exc:
                # Once text has reached the reader a retry would repeat it, so stop there.
                if started or not self.retry.again(attempt, "LLM request", type(exc).__name__):
                    message = _transport_message(base_url, exc, self.timeout, started)
                    raise LLMError(message) from exc

    def complete_from(
        self,
        base_url: str,
        messages: list[Message],
        max_tokens: int,
        stop: list[str],
        grammar: str = "",
        top_logprobs: int = 0,
    ) -> Completion:
        """One request, the whole reply: with `top_logprobs`, each token's log-probability and
        its alternatives (OpenAI's `logprobs.content` shape, which llama.cpp's server uses)."""
        body = self._body(messages, max_tokens, stop, grammar)
        if top_logprobs:
            body.update(logprobs=True, top_logprobs=top_logprobs)
        url = f"{base_url}/chat/completions"
        for attempt in self.retry.attempts():
            try:
                r = httpx.post(url, json=body, headers=self._headers(), timeout=self.timeout)
            except httpx.InvalidURL as exc:
                raise LLMError(f"bad LLM server URL {base_url!r}: {exc}") from exc
            except httpx.TransportError as exc:
                if not self.retry.again(attempt, "LLM request", type(exc).__name__):
                    raise LLMError(_transport_message(base_url, exc, self.timeout, False)) from exc
                continue
            if r.status_code >= 400 and self._again(r, attempt, base_url):
                continue
            return _completion(r.text)
        raise LLMError(f"the LLM server at {base_url} gave no answer")  # pragma: no cover

    def _again(self, r: httpx.Response, attempt: int, base_url: str) -> bool:
        """True to try again after an HTTP error; raises when no attempt is left."""
        if r.status_code in RETRY_STATUSES and self.retry.again(
            attempt, "LLM request", f"HTTP {r.status_code}"
        ):
            return True
        raise LLMError(
            f"the LLM server at {base_url} answered HTTP {r.status_code}: {r.text[:200]}"
        )


def _transport_message(base_url: str, exc: Exception, timeout: float, started: bool) -> str:
    if started:
        return (
            f"the LLM server at {base_url} broke off its answer ({exc.__class__.__name__}); "
            "please ask again"
        )
    if isinstance(exc, httpx.TimeoutException):
        return (
            f"the LLM server at {base_url} did not answer within {timeout:g} s "
            "(QA_REQUEST_TIMEOUT_S); it may be overloaded"
        )
    return f"cannot reach the LLM server at {base_url} ({exc.__class__.__name__}); is it running?"


def _sse_content(line: str, logprobs: list[TokenLogprob] | None = None) -> str | None:
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if not data or data == "[DONE]":
        return None
    try:
        event = json.loads(data)
        record_usage(event)
        if not event.get("choices"):  # the usage chunk that ends a stream carries no choice
            return None
        choice = event["choices"][0]
        if logprobs is not None:
            logprobs.extend(_logprobs(choice.get("logprobs")) or [])
        return choice.get("delta", {}).get("content") or None
    except (json.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise LLMError(
            f"the LLM server sent something that is not a chat completion: {data[:80]}"
        ) from exc


def _completion(raw: str) -> Completion:
    try:
        reply = json.loads(raw)
        record_usage(reply)
        choice = reply["choices"][0]
        text = choice["message"].get("content") or ""
    except (json.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise LLMError(
            f"the LLM server sent something that is not a chat completion: {raw[:80]}"
        ) from exc
    return Completion(text, _logprobs(choice.get("logprobs")))


def _logprobs(block: Any) -> list[TokenLogprob] | None:
    """OpenAI's `logprobs.content`: [{token, logprob, top_logprobs: [{token, logprob}]}]."""
    content = block.get("content") if isinstance(block, dict) else None
    if not isinstance(content, list):
        return None
    tokens = []
    for item in content:
        if not isinstance(item, dict) or "logprob" not in item:
            return None
        top = tuple(
            (str(t.get("token", "")), float(t["logprob"]))
            for t in item.get("top_logprobs") or []
            if isinstance(t, dict) and "logprob" in t
        )
        tokens.append(TokenLogprob(str(item.get("token", "")), float(item["logprob"]), top))
    return tokens

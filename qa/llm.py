"""Language-model backends behind one small interface.

- llama_cpp: a packaged GGUF model served by llama.cpp in a supervised child process
  (offline default; qa/supervisor.py).
- openai: any OpenAI-compatible chat-completions server (Ollama, vLLM, llama.cpp server,
  hosted APIs); key read from an environment variable.
- llama_index: any llama-index LLM integration (qa/llamaindex_llm.py); a llama-index LLM
  object passed to `Assistant(llm=...)` is wrapped the same way.
- fake: a deterministic extractive stand-in for fast tests, registered like the others.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from typing import Protocol

import httpx

from qa.errors import UserError
from qa.retry import Retry
from qa.settings import Settings
from qa.supervisor import DOCTOR_HINT, ModelProcess, ModelProcessError

Message = dict[str, str]


class LLMError(UserError):
    """The model could not produce an answer; the message says why."""


class LLM(Protocol):
    name: str

    def stream_chat(
        self, messages: list[Message], max_tokens: int, stop: list[str]
    ) -> Iterator[str]:
        """Yield pieces of the assistant's reply as they are generated."""
        ...


class LocalModelLLM:
    """The packaged GGUF model, served by llama.cpp in its own supervised process.

    A crash of the model process (illegal instruction, out of memory, SIGKILL) ends the
    answer being written with one clear line; the process is started again at once, so the
    next question is answered. llama.cpp's server keeps the KV cache of the previous
    prompt, so the fixed system prompt is not computed again."""

    def __init__(self, settings: Settings) -> None:
        from qa.model_files import resolve_model_path

        path = resolve_model_path(settings.llm_model, settings.home)
        self.name = settings.llm_model
        logs = settings.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.process = ModelProcess(
            path,
            n_ctx=settings.n_ctx,
            parallel=settings.llm_parallel,
            threads=settings.n_threads,
            log_path=logs / "model-process.log",
            start_timeout_s=settings.model_start_timeout_s,
        )
        self._client = OpenAICompatibleLLM(settings, retries=0)
        self._start()

    def _start(self) -> str:
        try:
            return self.process.ensure_running()
        except ModelProcessError as exc:
            raise LLMError(str(exc)) from exc

    # llama.cpp's server reads a GBNF `grammar` field: short judgements can be constrained.
    supports_grammar = True

    def stream_chat(
        self, messages: list[Message], max_tokens: int, stop: list[str], grammar: str = ""
    ) -> Iterator[str]:
        # Several answers may stream at once (llm_parallel slots): each call takes the URL
        # for itself instead of setting it on the shared client.
        base_url = self._start()
        try:
            yield from self._client.stream_from(base_url, messages, max_tokens, stop, grammar)
        except LLMError as exc:
            cause = self.process.exit_cause(wait_s=2.0)
            if cause is None:
                raise
            self.process.restart_in_background()
            raise LLMError(
                f"the language model process crashed ({cause}); it is being restarted, so "
                f"ask again in a moment. If this repeats, {DOCTOR_HINT}"
            ) from exc

    def close(self) -> None:
        self.process.close()


class OpenAICompatibleLLM:
    """Chat completions over HTTP with streaming (server-sent events) and bounded retries."""

    def __init__(self, settings: Settings, retries: int = 2) -> None:
        self.name = settings.llm_model
        base = settings.openai_base_url.strip().rstrip("/")
        self.base_url = base if "://" in base else f"http://{base}"
        self.key = os.environ.get(settings.openai_api_key_env, "")
        self.temperature = settings.temperature
        self.timeout = settings.request_timeout_s
        self.retry = Retry(retries)

    def stream_chat(
        self, messages: list[Message], max_tokens: int, stop: list[str], grammar: str = ""
    ) -> Iterator[str]:
        """`grammar` (GBNF) is sent only when given: llama.cpp's server honours it, and
        callers pass one only to a backend that says `supports_grammar`."""
        return self.stream_from(self.base_url, messages, max_tokens, stop, grammar)

    def stream_from(
        self,
        base_url: str,
        messages: list[Message],
        max_tokens: int,
        stop: list[str],
        grammar: str = "",
    ) -> Iterator[str]:
        """`stream_chat` against `base_url`. Safe from several threads at once: each request
        has its own HTTP connection and nothing here changes per call."""
        body: dict[str, object] = {
            "model": self.name,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "stream": True,
        }
        if stop:
            body["stop"] = stop
        if grammar:
            body["grammar"] = grammar
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        url = f"{base_url}/chat/completions"
        for attempt in self.retry.attempts():
            started = False
            try:
                with httpx.stream(
                    "POST", url, json=body, headers=headers, timeout=self.timeout
                ) as r:
                    if r.status_code >= 400:
                        r.read()
                        error = LLMError(
                            f"the LLM server at {base_url} answered HTTP {r.status_code}: "
                            f"{r.text[:200]}"
                        )
                        if r.status_code in RETRY_STATUSES and self.retry.again(
                            attempt, "LLM request", f"HTTP {r.status_code}"
                        ):
                            continue
                        raise error
                    for line in r.iter_lines():
                        piece = _sse_content(line)
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


# Overloaded or restarting servers answer these; a later attempt may succeed.
RETRY_STATUSES = {429, 502, 503, 504}


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


def _sse_content(line: str) -> str | None:
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if not data or data == "[DONE]":
        return None
    try:
        event = json.loads(data)
        return event["choices"][0].get("delta", {}).get("content") or None
    except (json.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise LLMError(
            f"the LLM server sent something that is not a chat completion: {data[:80]}"
        ) from exc


class FakeLLM:
    """Copies the numbered source that shares most words with the question and cites it.

    Deterministic and instant: for unit tests of retrieval, citation and abstention wiring."""

    name = "fake"

    def __init__(self, settings: Settings | None = None) -> None:
        self.calls: list[list[Message]] = []

    def stream_chat(
        self, messages: list[Message], max_tokens: int, stop: list[str]
    ) -> Iterator[str]:
        self.calls.append(messages)
        prompt = messages[-1]["content"]
        if "Follow-up question:" in prompt:
            yield prompt.rsplit("Follow-up question:", 1)[1].split("\n")[0].strip()
            return
        from qa.support import lexical_support

        sources, _, question = prompt.rpartition("\n\nQuestion:")
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


def _llama_index_integration(settings: Settings) -> LLM:
    from qa.llamaindex_llm import make_integration_llm

    return make_integration_llm(settings)


LLM_BACKENDS: dict[str, Callable[[Settings], LLM]] = {
    "llama_cpp": LocalModelLLM,
    "openai": OpenAICompatibleLLM,
    "llama_index": _llama_index_integration,
    "fake": FakeLLM,
}


def max_concurrent_answers(settings: Settings) -> int:
    """How many answers may generate at once with the settings' backend: the local model
    process decodes `llm_parallel` slots together; a remote server (openai, llama_index)
    batches, so `llm_concurrency` requests go to it at once; the in-process fake cannot."""
    if settings.llm_backend == "llama_cpp":
        return settings.llm_parallel
    if settings.llm_backend in ("openai", "llama_index"):
        return settings.llm_concurrency
    return 1


def make_llm(settings: Settings) -> LLM:
    try:
        factory = LLM_BACKENDS[settings.llm_backend]
    except KeyError:
        raise LLMError(f"unknown LLM backend {settings.llm_backend!r}") from None
    return factory(settings)

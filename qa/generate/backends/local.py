"""The packaged GGUF model, served by llama.cpp in its own supervised process (the offline
default; qa/runtime/supervisor.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from qa.core.errors import LLMError
from qa.core.interfaces import Completion, LLMCapabilities, Message, TokenLogprob
from qa.core.settings import Settings
from qa.generate.backends.openai import OpenAICompatibleLLM
from qa.runtime.supervisor import DOCTOR_HINT, ModelProcess, ModelProcessError

T = TypeVar("T")


class LocalModelLLM:
    """A crash of the model process (illegal instruction, out of memory, SIGKILL) ends the
    answer being written with one clear line; the process is started again at once, so the
    next question is answered. llama.cpp's server keeps the KV cache of the previous
    prompt, so the fixed system prompt is not computed again."""

    # llama.cpp's server reads a GBNF `grammar` field and returns OpenAI-style logprobs.
    capabilities = LLMCapabilities(grammar=True, logprobs=True)

    def __init__(self, settings: Settings) -> None:
        from qa.runtime.model_files import resolve_model_path

        r = settings.runtime
        path = resolve_model_path(settings.generation.llm_model, settings.store.home)
        self.name = settings.generation.llm_model
        logs = settings.store.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.process = ModelProcess(
            path,
            n_ctx=r.n_ctx,
            parallel=r.llm_parallel,
            threads=r.n_threads,
            log_path=logs / "model-process.log",
            start_timeout_s=r.model_start_timeout_s,
        )
        self._client = OpenAICompatibleLLM(settings, retries=0)
        self._start()

    def _start(self) -> str:
        try:
            return self.process.ensure_running()
        except ModelProcessError as exc:
            raise LLMError(str(exc)) from exc

    def stream_chat(
        self,
        messages: list[Message],
        max_tokens: int,
        stop: list[str],
        grammar: str = "",
        logprobs: list[TokenLogprob] | None = None,
    ) -> Iterator[str]:
        # Several answers may stream at once (llm_parallel slots): each call takes the URL
        # for itself instead of setting it on the shared client.
        base_url = self._start()
        try:
            yield from self._client.stream_from(
                base_url, messages, max_tokens, stop, grammar, logprobs
            )
        except LLMError as exc:
            raise self._crashed(exc) from exc

    def complete_chat(
        self,
        messages: list[Message],
        max_tokens: int,
        stop: list[str],
        grammar: str = "",
        top_logprobs: int = 0,
    ) -> Completion:
        base_url = self._start()
        return self._surviving(
            lambda: self._client.complete_from(
                base_url, messages, max_tokens, stop, grammar, top_logprobs
            )
        )

    def _surviving(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except LLMError as exc:
            raise self._crashed(exc) from exc

    def _crashed(self, exc: LLMError) -> LLMError:
        """The error to raise: the process's exit cause when it died (and it restarts)."""
        cause = self.process.exit_cause(wait_s=2.0)
        if cause is None:
            return exc
        self.process.restart_in_background()
        return LLMError(
            f"the language model process crashed ({cause}); it is being restarted, so "
            f"ask again in a moment. If this repeats, {DOCTOR_HINT}"
        )

    def close(self) -> None:
        self.process.close()

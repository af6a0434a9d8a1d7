"""llama-index LLMs in both directions.

- Any llama-index `LLM` (OpenAI-like servers, Ollama, vLLM, hosted APIs, ...) can answer
  through `Assistant`: pass the object (`Assistant(llm=OpenAILike(...))`) or name an
  integration in settings (`QA_LLM_BACKEND=llama_index`, `QA_LLM_INTEGRATION=openai_like`).
- Our packaged local model is a llama-index `LLM` for any llama-index app:
  `packaged_model_llm()` serves it from the supervised model process (qa/supervisor.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from llama_index.core.llms import LLM as LlamaIndexLLM
from llama_index.core.llms import ChatMessage
from pydantic import PrivateAttr

from qa.settings import Settings


class LlamaIndexChatLLM:
    """Our small LLM interface over a llama-index LLM's `stream_chat`.

    Stop strings are applied here, so they work with integrations that ignore them; the
    length cap is the integration's own (`max_tokens` on most)."""

    def __init__(self, llm: LlamaIndexLLM, name: str | None = None) -> None:
        self.llm = llm
        self.name = name or getattr(llm, "model", None) or type(llm).__name__

    def stream_chat(
        self, messages: list[dict[str, str]], max_tokens: int, stop: list[str]
    ) -> Iterator[str]:
        from qa.llm import LLMError

        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        text = ""
        try:
            for response in self.llm.stream_chat(chat):
                piece = response.delta or ""
                cut = _first_stop(text + piece, stop)
                if cut is not None:
                    if cut > len(text):
                        yield (text + piece)[len(text) : cut]
                    return
                text += piece
                if piece:
                    yield piece
        except Exception as exc:  # integrations raise their own client errors
            raise LLMError(f"the {self.name} model failed: {type(exc).__name__}: {exc}") from exc


def _first_stop(text: str, stop: list[str]) -> int | None:
    hits = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return min(hits) if hits else None


def _openai_like(settings: Settings) -> LlamaIndexLLM:
    from llama_index.llms.openai_like import OpenAILike

    return OpenAILike(
        model=settings.llm_model,
        api_base=settings.openai_base_url,
        api_key=os.environ.get(settings.openai_api_key_env, "") or "unused",
        is_chat_model=True,
        context_window=settings.n_ctx,
        temperature=settings.temperature,
        max_tokens=settings.max_answer_tokens,
        timeout=settings.request_timeout_s,
        max_retries=2,
    )


# Integrations named in settings; each imports its package only when chosen.
INTEGRATIONS: dict[str, Callable[[Settings], LlamaIndexLLM]] = {
    "openai_like": _openai_like,
}


def make_integration_llm(settings: Settings) -> LlamaIndexChatLLM:
    from qa.llm import LLMError

    try:
        factory = INTEGRATIONS[settings.llm_integration]
    except KeyError:
        raise LLMError(
            f"unknown llama-index integration {settings.llm_integration!r}; use one of "
            f"{sorted(INTEGRATIONS)} or pass an LLM object: Assistant(llm=...)"
        ) from None
    return LlamaIndexChatLLM(factory(settings), name=settings.llm_model)


def as_chat_llm(llm: Any) -> Any:
    """A llama-index LLM wrapped for Assistant; anything else is returned as it is."""
    return LlamaIndexChatLLM(llm) if isinstance(llm, LlamaIndexLLM) else llm


def _packaged_model_class() -> type:
    from llama_index.llms.openai_like import OpenAILike

    from qa.supervisor import ModelProcess

    class PackagedModelLLM(OpenAILike):
        """OpenAILike bound to a model process it owns; the port survives restarts."""

        _process: ModelProcess = PrivateAttr()

        def _ensure_running(self) -> None:
            self._process.ensure_running()

        def chat(self, messages: Any, **kwargs: Any) -> Any:
            self._ensure_running()
            return super().chat(messages, **kwargs)

        def stream_chat(self, messages: Any, **kwargs: Any) -> Any:
            self._ensure_running()
            return super().stream_chat(messages, **kwargs)

        def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            self._ensure_running()
            return super().complete(prompt, formatted=formatted, **kwargs)

        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            self._ensure_running()
            return super().stream_complete(prompt, formatted=formatted, **kwargs)

        def close(self) -> None:
            self._process.close()

    return PackagedModelLLM


def packaged_model_llm(settings: Settings | None = None, **llm_kwargs: Any) -> LlamaIndexLLM:
    """Our packaged GGUF model (settings.llm_model) as a llama-index LLM.

    The model runs in its own supervised process, started here and restarted on the next
    call if it dies. `llm.close()` ends it (it also ends with your program)."""
    from qa.model_files import resolve_model_path
    from qa.supervisor import ModelProcess

    settings = settings or Settings()
    process = ModelProcess(
        resolve_model_path(settings.llm_model, settings.home),
        n_ctx=settings.n_ctx,
        parallel=settings.llm_parallel,
        threads=settings.n_threads,
        start_timeout_s=settings.model_start_timeout_s,
    )
    options = {"temperature": settings.temperature, "max_tokens": settings.max_answer_tokens,
               "context_window": settings.n_ctx, **llm_kwargs}  # fmt: skip
    llm = _packaged_model_class()(
        model=settings.llm_model,
        api_base=process.ensure_running(),
        api_key="unused",
        is_chat_model=True,
        **options,
    )
    llm._process = process
    return llm

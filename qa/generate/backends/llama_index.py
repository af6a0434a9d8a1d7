"""llama-index LLMs in both directions.

- Any llama-index `LLM` (OpenAI-like servers, Ollama, vLLM, hosted APIs, ...) can answer
  through `Assistant`: pass the object (`Assistant(llm=OpenAILike(...))`) or name an
  integration in settings (`QA_LLM_BACKEND=llama_index`, `QA_LLM_INTEGRATION=openai_like`).
- Our packaged local model is a llama-index `LLM` for any llama-index app:
  `packaged_model_llm()` serves it from the supervised model process (qa/runtime/supervisor.py).
- Any of our LLMs is a llama-index completion LLM (`ChatLLMAsLlamaIndex`), for llama-index
  components such as the LLM reranker.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from typing import Any

from llama_index.core.llms import LLM as LlamaIndexLLM
from llama_index.core.llms import (
    ChatMessage,
    CompletionResponse,
    CompletionResponseGen,
    CustomLLM,
    LLMMetadata,
)
from pydantic import PrivateAttr

from qa.core.errors import LLMError
from qa.core.interfaces import LLM, Message, StreamingBackend, TokenLogprob
from qa.core.settings import Settings


class LlamaIndexChatLLM(StreamingBackend):
    """Our LLM interface over a llama-index LLM's `stream_chat`.

    Stop strings are applied here, so they work with integrations that ignore them; the
    length cap is the integration's own (`max_tokens` on most). llama-index's chat API
    carries neither a grammar nor log-probabilities, so the capabilities say neither."""

    def __init__(self, llm: LlamaIndexLLM, name: str | None = None) -> None:
        self.llm = llm
        self.name = name or getattr(llm, "model", None) or type(llm).__name__

    def close(self) -> None:
        """The integration object belongs to whoever made it; nothing is ours to close."""

    def stream_chat(
        self,
        messages: list[Message],
        max_tokens: int,
        stop: list[str],
        grammar: str = "",
        logprobs: list[TokenLogprob] | None = None,
    ) -> Iterator[str]:
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
        model=settings.generation.llm_model,
        api_base=settings.generation.openai_base_url,
        api_key=os.environ.get(settings.generation.openai_api_key_env, "") or "unused",
        is_chat_model=True,
        context_window=settings.runtime.n_ctx,
        temperature=settings.generation.temperature,
        max_tokens=settings.generation.max_answer_tokens,
        timeout=settings.runtime.request_timeout_s,
        max_retries=2,
    )


# Integrations named in settings; each imports its package only when chosen.
INTEGRATIONS: dict[str, Callable[[Settings], LlamaIndexLLM]] = {
    "openai_like": _openai_like,
}


def make_integration_llm(settings: Settings) -> LlamaIndexChatLLM:
    try:
        factory = INTEGRATIONS[settings.generation.llm_integration]
    except KeyError:
        raise LLMError(
            f"unknown llama-index integration {settings.generation.llm_integration!r}; use one "
            f"of {sorted(INTEGRATIONS)} or pass an LLM object: Assistant(llm=...)"
        ) from None
    return LlamaIndexChatLLM(factory(settings), name=settings.generation.llm_model)


def as_chat_llm(llm: LlamaIndexLLM | LLM) -> LLM:
    """A llama-index LLM wrapped for Assistant; ours is returned as it is."""
    return LlamaIndexChatLLM(llm) if isinstance(llm, LlamaIndexLLM) else llm


class ChatLLMAsLlamaIndex(CustomLLM):
    """Any of our LLMs (`stream_chat`) as a llama-index completion LLM."""

    context_window: int = 4096
    num_output: int = 128
    model_name: str = "qa"
    _llm: Any = PrivateAttr()

    def __init__(self, llm: LLM, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._llm = llm

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.num_output,
            model_name=self.model_name,
        )

    def _pieces(self, prompt: str) -> Generator[str, None, None]:
        messages = [{"role": "user", "content": prompt}]
        yield from self._llm.stream_chat(messages, max_tokens=self.num_output, stop=[])

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="".join(self._pieces(prompt)))

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            text = ""
            for piece in self._pieces(prompt):
                text += piece
                yield CompletionResponse(text=text, delta=piece)

        return gen()


def _packaged_model_class() -> type:
    from llama_index.llms.openai_like import OpenAILike

    from qa.runtime.supervisor import ModelProcess

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
    from qa.runtime.model_files import resolve_model_path
    from qa.runtime.supervisor import ModelProcess

    settings = settings or Settings()
    process = ModelProcess(
        resolve_model_path(settings.generation.llm_model, settings.store.home),
        n_ctx=settings.runtime.n_ctx,
        parallel=settings.runtime.llm_parallel,
        threads=settings.runtime.n_threads,
        start_timeout_s=settings.runtime.model_start_timeout_s,
    )
    g = settings.generation
    options = {"temperature": g.temperature, "max_tokens": g.max_answer_tokens,
               "context_window": settings.runtime.n_ctx, **llm_kwargs}  # fmt: skip
    llm = _packaged_model_class()(
        model=settings.generation.llm_model,
        api_base=process.ensure_running(),
        api_key="unused",
        is_chat_model=True,
        **options,
    )
    llm._process = process
    return llm

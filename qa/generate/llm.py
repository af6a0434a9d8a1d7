"""The registry of language-model backends, each implementing `qa.core.interfaces.LLM`:

- llama_cpp: the packaged GGUF model served by llama.cpp in a supervised child process
  (offline default; backends/local.py).
- openai: any OpenAI-compatible chat-completions server (backends/openai.py).
- llama_index: any llama-index LLM integration (backends/llama_index.py); a llama-index LLM
  object passed to `Assistant(llm=...)` is wrapped the same way.
- fake: a deterministic extractive stand-in for fast tests (backends/fake.py).
"""

from __future__ import annotations

from collections.abc import Callable

from qa.core.errors import LLMError
from qa.core.interfaces import LLM, Message
from qa.core.settings import Settings
from qa.generate.backends.fake import FakeLLM
from qa.generate.backends.local import LocalModelLLM
from qa.generate.backends.openai import OpenAICompatibleLLM


def _llama_index_integration(settings: Settings) -> LLM:
    from qa.generate.backends.llama_index import make_integration_llm  # loads llama-index

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
    backend = settings.generation.llm_backend
    if backend == "llama_cpp":
        return settings.runtime.llm_parallel
    if backend in ("openai", "llama_index"):
        return settings.runtime.llm_concurrency
    return 1


def make_llm(settings: Settings) -> LLM:
    try:
        factory = LLM_BACKENDS[settings.generation.llm_backend]
    except KeyError:
        raise LLMError(f"unknown LLM backend {settings.generation.llm_backend!r}") from None
    return factory(settings)


__all__ = [
    "LLM",
    "LLM_BACKENDS",
    "FakeLLM",
    "LLMError",
    "LocalModelLLM",
    "Message",
    "OpenAICompatibleLLM",
    "make_llm",
    "max_concurrent_answers",
]

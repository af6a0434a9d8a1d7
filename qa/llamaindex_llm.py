"""The public import path of `packaged_model_llm` (README): our packaged model as a
llama-index LLM; it lives in qa/generate/backends/llama_index.py."""

from qa.generate.backends.llama_index import packaged_model_llm

__all__ = ["packaged_model_llm"]

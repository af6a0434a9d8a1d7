"""Question answering over news articles with verified citations.

from qa import Assistant, Settings
answer = Assistant(Settings()).ask("Who accompanied Kim at the extended talks?")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from index.indexer import IndexReport
    from qa.assistant import ABSTAIN_TEXT, ArticleFilter, Assistant, Conversation, InputError
    from qa.core.answer_stream import AnswerStream
    from qa.core.errors import UserError
    from qa.core.settings import Settings
    from qa.core.types import Answer, Citation, RetrievedSource
    from qa.evidence.postprocessor import SentenceEvidencePostprocessor
    from qa.generate.backends.llama_index import packaged_model_llm
    from qa.retrieve.node_retriever import HybridNodeRetriever

# Imported on first use, so that light entry points (the model process, `qa doctor`'s
# CPU check) start without loading the store and the embedder's libraries.
_EXPORTS = {
    "ABSTAIN_TEXT": "qa.assistant",
    "Answer": "qa.core.types",
    "ArticleFilter": "qa.retrieve.filters",
    "AnswerStream": "qa.core.answer_stream",
    "Assistant": "qa.assistant",
    "Citation": "qa.core.types",
    "Conversation": "qa.assistant",
    "HybridNodeRetriever": "qa.retrieve.node_retriever",
    "IndexReport": "index.indexer",
    "InputError": "qa.assistant",
    "RetrievedSource": "qa.core.types",
    "SentenceEvidencePostprocessor": "qa.evidence.postprocessor",
    "Settings": "qa.core.settings",
    "UserError": "qa.core.errors",
    "packaged_model_llm": "qa.generate.backends.llama_index",
}

__all__ = [
    "ABSTAIN_TEXT",
    "Answer",
    "AnswerStream",
    "ArticleFilter",
    "Assistant",
    "Citation",
    "Conversation",
    "HybridNodeRetriever",
    "IndexReport",
    "InputError",
    "RetrievedSource",
    "SentenceEvidencePostprocessor",
    "Settings",
    "UserError",
    "packaged_model_llm",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'qa' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)

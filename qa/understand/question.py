"""A question as typed, made safe to use: control characters out, size checked."""

from __future__ import annotations

import unicodedata

from qa.core.errors import InputError


def clean_question(question: str, max_chars: int) -> str:
    """Control characters out, whitespace collapsed; empty and huge questions refused."""
    if not isinstance(question, str):
        raise InputError("the question must be text")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in question)
    text = " ".join(text.split())
    if not text:
        raise InputError("the question is empty; type a question about the articles")
    if len(text) > max_chars:
        raise InputError(
            f"the question is {len(text)} characters long; the limit is {max_chars} "
            "(QA_MAX_QUESTION_CHARS)"
        )
    return text

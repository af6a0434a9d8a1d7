"""Follow-up questions ("and who joined Putin?") become stand-alone questions before retrieval."""

from __future__ import annotations

import re

from qa.llm import LLM
from qa.prompts import rewrite_messages

_FOLLOW_UP_START = re.compile(r"^\s*(and|but|so|also|what about|how about|then|same)\b", re.I)
_REFERRING = re.compile(
    r"\b(he|she|they|him|her|them|his|hers|their|it|its|that|those|these|this|there|then|"
    r"the two|both|the same)\b",
    re.I,
)


def looks_like_follow_up(question: str) -> bool:
    return bool(_FOLLOW_UP_START.search(question) or _REFERRING.search(question))


def standalone_question(question: str, history: list[tuple[str, str]], llm: LLM) -> str:
    """The question unchanged when it stands alone; otherwise the LLM's rewrite, checked."""
    if not history or not looks_like_follow_up(question):
        return question
    pieces = list(llm.stream_chat(rewrite_messages(history, question), max_tokens=48, stop=["\n"]))
    rewritten = " ".join("".join(pieces).split()).strip(" \"'")
    # A rewrite must be a plausible question of sane length, or we fall back to adding the
    # previous question's words, which still steers retrieval to the right passages.
    if 3 <= len(rewritten) <= 3 * len(question) + 120 and not rewritten.upper().startswith(
        "NOT IN"
    ):
        return rewritten
    return f"{history[-1][0]} {question}"

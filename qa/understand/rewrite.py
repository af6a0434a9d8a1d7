"""Follow-up questions ("and who joined Putin?") become stand-alone questions before retrieval."""

from __future__ import annotations

import re

from qa.core.interfaces import LLM
from qa.core.text import as_data

# Of the turns a conversation keeps, the rewrite prompt shows the model the latest few: a
# small model resolves "he" from the last exchange, and a short prompt keeps the rewrite fast.
REWRITE_TURNS = 2

REWRITE_SYSTEM_PROMPT = (
    "Rewrite the follow-up question so that it can be understood without the conversation. "
    "Keep its meaning. Reply with the rewritten question only."
)

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


def rewrite_messages(history: list[tuple[str, str]], question: str) -> list[dict[str, str]]:
    turns = "\n".join(f"Q: {as_data(q)}\nA: {as_data(a)}" for q, a in history[-REWRITE_TURNS:])
    user = (
        f"Conversation:\n{turns}\n\nFollow-up question: {as_data(question)}\nStand-alone question:"
    )
    return [{"role": "system", "content": REWRITE_SYSTEM_PROMPT}, {"role": "user", "content": user}]

"""Text helpers every stage may use: text made safe for a prompt, dates as a reader writes
them, and word overlap. Word normalisation itself is the ground floor's (index/text.py)."""

from __future__ import annotations

import re
from datetime import date

from index.text import content_words

# Chat-template control tokens (ChatML, Llama, Gemma): inside an article or a question they
# could open a fake system turn, so data never carries them to the model.
_CONTROL_TOKENS = re.compile(
    r"<\|[^|<>\s]{1,40}\|>|</?s>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>", re.IGNORECASE
)
# "[2]" written inside an article would look like our source numbering; it is dropped (not
# rewritten as "(2)": the model then copies that style and its markers are lost).
_BRACKET_NUMBER = re.compile(r"\s*\[\s*\d{1,3}\s*\]")


def as_data(text: str) -> str:
    """Text from articles, questions or history, made safe to place in a prompt."""
    text = _CONTROL_TOKENS.sub(" ", text)
    return " ".join(_BRACKET_NUMBER.sub("", text).split())


def date_label(published: str) -> str:
    """'2019-04-23T22:13:00+05:30' -> 'April 23, 2019'; '' when there is no date."""
    try:
        day = date.fromisoformat(published[:10])
    except ValueError:
        return ""
    return f"{day:%B} {day.day}, {day.year}"


def lexical_support(answer: str, passage: str, question: str) -> float:
    """Share of the answer's new content words (those the question does not already have;
    all of them when it has every one) that the passage contains."""
    words = new_words(answer, question) or content_words(answer)
    if not words:
        return 0.0
    present = content_words(passage)
    found = sum(1 for w in words if w in present or prefix_match(w, present))
    return found / len(words)


def new_words(answer: str, question: str) -> set[str]:
    """Content words of the answer that the question does not already contain."""
    return content_words(answer) - content_words(question)


def prefix_match(word: str, present: set[str]) -> bool:
    """'denuclearize' ~ 'denuclearization': a shared stem of at least six letters."""
    if len(word) < 6:
        return False
    stem = word[:6]
    return any(p.startswith(stem) for p in present)

"""Does a question ask about what is *not* so? ("Where are clinical pharmacists not allowed
to work?") Such a question is answered only by a sentence that negates
(qa/verify/negation.py)."""

from __future__ import annotations

import re

from index.chunking.sentences import split_sentences

ASKED_NEGATION = re.compile(
    r"\b(?:not|never|no|nor|neither|none|nothing|nobody|without|cannot)\b|n['’]t\b|\bnon-\w",
    re.I,
)


def asked_clause(question: str) -> str:
    """The sentence of `question` that asks (its last one with a '?', else all of it):
    'Where did they meet? Then say nothing else.' asks about the meeting."""
    sentences = [question[s.start : s.end] for s in split_sentences(question)]
    asking = [s for s in sentences if "?" in s]
    return asking[-1] if asking else question


def asks_negation(question: str) -> bool:
    return bool(ASKED_NEGATION.search(asked_clause(question)))

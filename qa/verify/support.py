"""How well a passage supports an answer sentence, given the question.

support = 0.7 * lexical + 0.3 * semantic, in [0, 1]:
  lexical  = share of the answer's *new* content words (those not already in the question)
             found in the passage; an answer that only restates the question uses all its
             words. Judging new words only is what lets short right answers ("Wednesday and
             Thursday", "3 hours") pass and keeps a restated question from passing on its own.
  semantic = cosine of the answer sentence and the passage embeddings, clipped at 0.
Numbers are compared as digits ("three" == "3") and plurals folded (index/text.py).

Overlap alone lets a sentence with one invented detail pass ("the talks ended at 4:30 p.m."
against "talks began at 4 p.m."), and that detail is usually what the question asked for.
So the claim's key facts (numbers, times, dates, names) that the question does not already
give must all be in the passage: `unstated_facts`.
"""

from __future__ import annotations

import re
from difflib import get_close_matches

import numpy as np

from index.text import MONTH_NAMES, WEEKDAY_NAMES, content_words, normalise
from qa.core.text import prefix_match

LEXICAL_WEIGHT = 0.7


def support_score(lexical: float, semantic: float) -> float:
    return LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * max(0.0, semantic)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))  # embedders return unit vectors


_MONTHS_AND_DAYS = frozenset(MONTH_NAMES + WEEKDAY_NAMES)
_WORD = re.compile(r"[\w’'.:-]*\w")


def key_facts(claim: str) -> set[str]:
    """Normalised numbers, clock times, months, weekdays and capitalised names of `claim`
    (its first word is skipped: every sentence starts with a capital)."""
    facts = set()
    for i, m in enumerate(_WORD.finditer(claim)):
        word = m.group(0)
        norm = normalise(word)
        if norm in ("1st", "2nd", "3rd") and word.isalpha():
            continue  # "first", "second": ordinary prose words, not facts
        if any(c.isdigit() for c in norm) or norm in _MONTHS_AND_DAYS:
            facts.add(norm)
        elif i > 0 and word[:1].isupper():
            # "Jong-un" is checked as its parts: sources also write "Jong Un".
            facts.update(w for w in content_words(word) if "-" not in w)
    return facts


def unstated_facts(claim: str, passage: str, question: str) -> set[str]:
    """The claim's key facts found neither in the passage nor in the question."""
    present = content_words(passage) | content_words(question)
    present |= {normalise(w) for w in _WORD.findall(passage + " " + question)}
    return {f for f in key_facts(claim) - present if not prefix_match(f, present)}


def _near(word: str, present: set[str]) -> bool:
    """`word` or a spelling of it one or two letters off ("Biegan" ~ "Biegun")."""
    if word in present or prefix_match(word, present):
        return True
    if len(word) < 4 or word.isdigit():
        return False
    return bool(get_close_matches(word, present, n=1, cutoff=0.75))


def unmentioned_facts(question: str, context: str) -> set[str]:
    """Names, numbers and dates of the question that the retrieved text never mentions
    (misspellings forgiven). SQuAD 2.0's unanswerable questions and our near misses often
    ask about something next to what the articles say: a different year, another person."""
    present = content_words(context) | {normalise(w) for w in _WORD.findall(context)}
    # Short name parts ("hee" of "Son-hee") are too weak to tell a misspelling from another
    # name; numbers are kept whatever their length.
    facts = {f for f in key_facts(question) if len(f) > 3 or any(c.isdigit() for c in f)}
    return {f for f in facts if not _near(f, present)}

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
So the claim's key facts (numbers, times, dates, names), the question's own included, must
all be in the passage: `unstated_facts`.
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
# Two capitalised names joined by a hyphen ("Kim-Putin", "Putin-Kim"); a hyphenated name
# ("Jong-un", "Chang-son") has a small letter after its hyphen.
_NAME_PAIR = re.compile(r"\b[A-Z][a-z]{2,}-[A-Z][a-z]{2,}\b")


def _names_in(text: str) -> set[str]:
    """Words `text` capitalises after its first word: names, whatever starts a sentence."""
    words = [m.group(0) for m in _WORD.finditer(text)]
    return {w for w in words[1:] if w[:1].isupper()}


def key_facts(claim: str, names: frozenset[str] | set[str] = frozenset()) -> set[str]:
    """Normalised numbers, clock times, months, weekdays and capitalised names of `claim`.
    Its first word counts only when it is one of `names` (every sentence starts with a
    capital, but "Ushakov said ..." starts with a name the question gives)."""
    facts = set()
    for i, m in enumerate(_WORD.finditer(claim)):
        word = m.group(0)
        norm = normalise(word)
        if norm in ("1st", "2nd", "3rd") and word.isalpha():
            continue  # "first", "second": ordinary prose words, not facts
        # A month or weekday is written with its capital: "may" is a verb.
        if any(c.isdigit() for c in norm) or (norm in _MONTHS_AND_DAYS and word[:1].isupper()):
            facts.add(norm)
        elif (i > 0 or word in names) and word[:1].isupper():
            # "Jong-un" is checked as its parts: sources also write "Jong Un".
            facts.update(w for w in content_words(word) if "-" not in w)
    return facts


def without_name_pairs(text: str) -> str:
    """`text` without its pairs of names ("the summit Kim-Putin"): they name neither alone."""
    return _NAME_PAIR.sub(" ", text)


def unstated_facts(
    claim: str, passage: str, question: str = "", before: str = "", given: bool = False
) -> set[str]:
    """The claim's key facts that the passage does not state. The question's own names count
    too: "Kim and Putin met in Moscow" cited to a sentence about Kim Chang-son's trip to
    Moscow, or "Ushakov said ..." cited to Lavrov's words, must fail, whoever the question
    names. A fact the question gives may instead be stated by the sentence `before` the
    passage in its article, which "He said ..." or "Their meeting ..." refers back to; or,
    `given`, it needs no statement (a yes/no reason restates the question's claim)."""
    # "the summit Kim-Putin" names a pair, not each of them: it does not state where Putin
    # was. A pair the claim writes too ("the Kim-Putin summit") is stated as a pair.
    pairs = {normalise(p) for p in _NAME_PAIR.findall(passage)}
    claim = _NAME_PAIR.sub(lambda m: "" if normalise(m.group(0)) in pairs else m.group(0), claim)
    missing = _missing(key_facts(claim, _names_in(question)), passage)
    asked = key_facts(question) | {normalise(w) for w in _names_in(question)}
    referred = {f for f in missing if f in asked or prefix_match(f, asked)}
    if given:
        return missing - referred
    return missing - referred | (_missing(referred, before) if before else referred)


def _missing(facts: set[str], passage: str) -> set[str]:
    """The facts `passage` (its name pairs aside) does not state."""
    passage = without_name_pairs(passage)
    present = content_words(passage) | {normalise(w) for w in _WORD.findall(passage)}
    return {f for f in facts - present if not prefix_match(f, present)}


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

"""Recognise yes/no questions and the Yes/No that opens an answer to one.

A question asks for yes or no when its main clause opens with an auxiliary verb ("Did Kim
meet Putin?", "Between the two reports, is there consistency ...?"), unless a clause opens
with a question word ("Between A and B, which came first?"). A choice ("Did X happen before
or after Y?") stays a yes/no question: measured, the Yes/No opening plus the cited reason
answers such questions more often than a free answer does (docs/evaluation.md).

Small models answer yes/no questions by copying a source sentence, so the prompt asks them to
open with Yes or No (qa/generate/prompts.py) and the citation check verifies the reason that
follows (qa/verify/citing.py).
"""

from __future__ import annotations

import re

AUXILIARIES = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "am",
        "do",
        "does",
        "did",
        "has",
        "have",
        "had",
        "can",
        "could",
        "will",
        "would",
        "shall",
        "should",
        "may",
        "might",
        "must",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "don't",
        "doesn't",
        "didn't",
        "hasn't",
        "haven't",
        "hadn't",
        "can't",
        "couldn't",
        "won't",
        "wouldn't",
        "shouldn't",
    ]
)
QUESTION_WORDS = frozenset(["who", "whom", "whose", "what", "which", "when", "where", "why", "how"])
_WORD = re.compile(r"[A-Za-z]+(?:['’][a-z]+)?")
# "Yes, ..." / "No." but not "No one ...": the word must end the text or meet punctuation.
_POLARITY = re.compile(r"^\s*(yes|no)\b\s*(?:[,.:;!-]+\s*|$)", re.I)


def _first_words(question: str) -> list[str]:
    """The first word of the question and of each comma-separated clause, lower-cased."""
    firsts = []
    for clause in re.split(r"[,;:]", question):
        words = _WORD.findall(clause)
        if words:
            firsts.append(words[0].lower().replace("’", "'"))
    return firsts


# "In which game ... can you ...?" asks for a name although a later clause opens with "can".
_PREPOSED_QUESTION_WORD = re.compile(
    r"(?:^|[,;:])\s*(?:in|on|at|for|from|by|with|to|of|during|after|before|under|since|about)"
    r"\s+(?:which|what|whom|whose|how)\b",
    re.I,
)


def is_yes_no_question(question: str) -> bool:
    firsts = _first_words(question)
    if not firsts or any(w in QUESTION_WORDS for w in firsts):
        return False
    if _PREPOSED_QUESTION_WORD.search(question):
        return False
    return any(w in AUXILIARIES for w in firsts)


def split_polarity(sentence: str) -> tuple[str, str]:
    """'Yes, both reports agree.' -> ('Yes', 'both reports agree.'); no Yes/No -> ('', s)."""
    m = _POLARITY.match(sentence)
    if not m:
        return "", sentence
    return m.group(1).capitalize(), sentence[m.end() :]

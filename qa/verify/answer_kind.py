"""What kind of answer a question asks for, and whether a reply gives one.

Small models often reply with a true, cited sentence that does not answer: the banquet
"that Putin had arranged" for "what was served at the banquet", an airline for a vessel,
the event without its place. The support check cannot see that (the sentence is in the
article), so the kind of answer is checked separately: a person for "who", a place for
"where", a date or time for "when", a number for "how many", a name for "what was the name
of", Yes or No for a yes/no question, and always something the question does not already
say. The rules here are cheap and only say "no" when they are sure; what they cannot
decide goes to the LLM judge (qa/verify/answer_judge.py).
"""

from __future__ import annotations

import re

from index.text import MONTH_NAMES, NUMBER_WORDS, WEEKDAY_NAMES, content_words
from qa.understand.asked_kind import AnswerKind, words_of
from qa.understand.question_kind import split_polarity

_MONTHS = "|".join(MONTH_NAMES) + "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
_WEEKDAYS = "|".join(WEEKDAY_NAMES)
_TIME_EXPRESSION = re.compile(
    rf"\b(?:{_MONTHS}|{_WEEKDAYS}|today|yesterday|tomorrow|tonight|morning|afternoon|evening|"
    r"noon|midnight|week|weeks|month|months|year|years|day|days|hour|hours|minutes|decade|"
    r"century|ago|earlier|later|before|after|since|until|spring|summer|autumn|fall|winter)\b"
    r"|\b\d{1,2}:\d{2}\b|\b\d{1,2}\s*[ap]\.?m\b|\b(?:1[5-9]|20)\d{2}\b|\b\d{4}-\d{2}-\d{2}\b",
    re.I,
)
_CLOCK = re.compile(
    r"\b\d{1,2}(?::\d{2})?\s*[ap]\.?m\b|\b\d{1,2}:\d{2}\b|\b(?:noon|midnight|morning|afternoon|"
    r"evening|night|dawn|dusk|o'clock)\b",
    re.I,
)
_NUMBER = re.compile(
    r"\d|\b(?:" + "|".join(NUMBER_WORDS) + r"|dozen|dozens|hundreds|thousands|million|"
    r"millions|billion|half|several|few|many|none|no one|nobody)\b",
    re.I,
)
_PLACE_PREPOSITION = re.compile(r"\b(?:in|at|to|near|inside|outside|from|on)\s+(?:the\s+)?\w", re.I)
_CAPITALISED = re.compile(r"\b[A-Z][\w’'.-]*[A-Za-z0-9]|\b[A-Z]\b")


def new_words(answer: str, question: str) -> set[str]:
    """Content words of the answer that the question does not already contain."""
    return content_words(answer) - content_words(question)


def gives_kind(answer: str, question: str, kind: AnswerKind) -> bool | None:
    """False when the answer surely lacks what `kind` asks for; True when a rule sees it;
    None when the rules cannot tell (a "what" question, a description)."""
    fresh = new_words(answer, question)
    if kind is AnswerKind.YES_NO:
        return bool(split_polarity(answer)[0])
    if not fresh:
        return False
    fresh_text = " ".join(_words_in(answer, fresh))
    if kind is AnswerKind.TIME:
        return bool(_TIME_EXPRESSION.search(fresh_text))
    if kind is AnswerKind.CLOCK:
        return bool(_CLOCK.search(fresh_text))
    if kind is AnswerKind.NUMBER:
        return _gives_count(answer, question)
    if kind in (AnswerKind.PERSON, AnswerKind.NAME):
        # A name is capitalised; a person may also be named by role ("his chief aide").
        if _has_new_name(answer, question):
            return True
        return None if kind is AnswerKind.PERSON else False
    if kind is AnswerKind.PLACE:
        if _has_new_name(answer, question):
            return True
        return None if _PLACE_PREPOSITION.search(answer) else False
    return None


_UNITS = words_of(
    "hour hours day days week weeks month months year years minute minutes second "
    "seconds percent times p.m a.m pm am"
) | frozenset(_MONTHS.split("|"))


def _gives_count(text: str, question: str) -> bool | None:
    """A number; for "how many <things>": True when it counts those things, False when every
    number counts time ("three hours" does not say how many people attended), None when it
    counts something else the rules cannot match ("two leaders" for "how many people")."""
    asked = re.search(r"\bhow (?:many|much)\s+([a-z]+)", question.lower())
    things = asked.group(1) if asked else ""
    verdict: bool | None = False
    for m in _NUMBER.finditer(text):
        after = re.match(r"[\d,.:]*\s*([A-Za-z.]+)", text[m.end() :])
        unit = after.group(1).lower().strip(".") if after else ""
        if not things or things in _UNITS or unit[:4] == things[:4]:
            return True
        if unit not in _UNITS:
            verdict = None
    return verdict


def _words_in(answer: str, wanted: set[str]) -> list[str]:
    """The answer's own words (original spelling) whose normal form is in `wanted`."""
    return [w for w in re.findall(r"[\w:.’'-]+", answer) if content_words(w) & wanted]


def _has_new_name(answer: str, question: str) -> bool:
    """A capitalised word that is not in the question and is not merely the first word of
    a sentence (a bare answer, "Vladivostok.", counts its first word too)."""
    asked = {w.lower() for w in re.findall(r"[\w’'-]+", question)}
    for sentence in re.split(r"(?<=[.!?])\s+", answer):
        bare = len(sentence.split()) <= 4
        for m in _CAPITALISED.finditer(sentence):
            word = m.group(0).rstrip(".").lower()
            if (m.start() == 0 and not bare) or word in asked or word in ("i", "yes", "no"):
                continue
            if content_words(word):
                return True
    return False

"""What kind of answer a question asks for: a person for "who", a place for "where", a
date or time for "when", a number for "how many", a name for "what was the name of", Yes or
No for a yes/no question (qa/verify/answer_check.py asks the model whether a reply gives
it)."""

from __future__ import annotations

import re
from enum import Enum

from qa.understand.question_kind import is_yes_no_question


class AnswerKind(Enum):
    YES_NO = "yes or no"
    TIME = "a date or time"
    CLOCK = "a time of day"
    NUMBER = "a number"
    PLACE = "a place"
    PERSON = "a person"
    NAME = "a name"
    OTHER = "an answer"


def expected_kind(question: str, yes_no: bool | None = None) -> AnswerKind:
    """The kind of answer `question` asks for; OTHER when the form does not say. `yes_no`:
    whether it is a yes/no question, when the caller already knows."""
    q = " ".join(question.lower().replace("’", "'").split())
    if is_yes_no_question(question) if yes_no is None else yes_no:
        return AnswerKind.YES_NO
    if re.search(r"\bhow (?:many|much|long|far|old|big|large|often)\b", q):
        return AnswerKind.NUMBER
    if re.search(r"\bwhen\b", q):
        return AnswerKind.TIME
    if re.search(r"\bwhere\b", q):
        return AnswerKind.PLACE
    if re.search(r"\bwhat time\b", q):
        return AnswerKind.CLOCK
    if re.search(r"\bwhat (?:was|is|were|are) the names? of\b", q) or re.search(
        r"\bname (?:the|a|an|one|two)\b", q
    ):
        return AnswerKind.NAME
    # "Who is Yuri Ushakov?" asks for a description, not for a person.
    if re.match(r"(?i:who (?:is|was|are|were)) [A-Z]", question.strip()):
        return AnswerKind.OTHER
    if re.search(r"\bwho(?:m|se)?\b", q):
        return AnswerKind.PERSON
    if re.search(r"\b(?:what|which) (?:number|percentage|share|amount)\b", q):
        return AnswerKind.NUMBER
    return AnswerKind.OTHER

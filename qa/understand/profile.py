"""One reading of a question, computed once and read by every later step.

Retrieval, evidence selection, the prompt, verification and the answer check all need to
know the same few things about a question: is it a yes/no one, does it ask what is not so,
does it ask what happened, and does it join several claims. They used to recompute them;
now `QuestionProfile.of` reads them once (a claim answered on its own gets a profile of its
own)."""

from __future__ import annotations

from dataclasses import dataclass, field

from qa.understand.decompose import claim_questions, judges_reports, sub_questions
from qa.understand.negation import asks_negation
from qa.understand.question_kind import is_yes_no_question
from qa.understand.tense import asks_about_past


@dataclass(frozen=True)
class QuestionProfile:
    text: str  # the stand-alone question
    yes_no: bool
    negated: bool  # asks what is not so
    asks_past: bool  # asks what happened, not what was planned
    judges_reports: bool  # "is there consistency between the reports ...?"
    parts: list[str] = field(default_factory=list)  # searched one by one when several
    claims: list[str] = field(default_factory=list)  # yes/no claims answered one by one

    @classmethod
    def of(cls, question: str, decompose: bool = True) -> QuestionProfile:
        yes_no = is_yes_no_question(question)
        split = sub_questions(question)
        return cls(
            text=question,
            yes_no=yes_no,
            negated=asks_negation(question),
            asks_past=asks_about_past(question),
            judges_reports=judges_reports(question, yes_no),
            parts=split if decompose else [question],
            claims=claim_questions(question, yes_no, split),
        )

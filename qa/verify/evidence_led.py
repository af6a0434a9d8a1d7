"""Lead with the evidence: when the model's short answer does not stand, answer with the
sentence it should have read.

Measured on questions about the seeds the team had not seen, the best-ranked evidence
sentence held the answer more often (29 of 35) than the model's written answers (24 of 35):
the small model loses answers its evidence has. So a fact question whose reply failed
citing is not answered "the articles don't say" while the best sentence is right there: the
answer is that sentence, quoted whole and cited,

    The KBS report of April 25, 2019 says: "Their one-on-one meeting ... began at 2:10 p.m." [1]

which is verifiable by construction (the quote is the article's text at its offsets). The
sentence (or the one before it, which "He said ..." refers to) must name everything the
question names (its people, places, numbers and dates; misspellings forgiven), so a
sentence about someone else is never offered as the answer.
Whether the quoted sentence answers at all is then judged like any draft by the calibrated
decision (qa/pipeline.py), which reads `evidence_led` among its signals.

Only where citing found no source for the reply (a name it misspelt, a detail it added): not
after the answer check's verdict that the reply does not answer (measured on the news sets,
leading with the evidence there gave 1 right answer for 5 near misses answered), nor after
the model's own "NOT IN ARTICLES". Not for yes/no questions (a quote is not a Yes or No),
questions about what is not so (the negation check decides those), judgements over
reports, or questions searched in several parts (one sentence cannot answer them).
"""

from __future__ import annotations

from qa.core.text import date_label
from qa.core.types import Citation, Draft, Evidence
from qa.understand.profile import QuestionProfile
from qa.verify.citing import REPLY_UNSUPPORTED
from qa.verify.step import StepContext
from qa.verify.support import unmentioned_facts, without_name_pairs

EVIDENCE_LED = "the reply did not stand; the best evidence sentence is quoted"


class LeadWithEvidence:
    """Verification step: a fact answer that citing abstained on becomes the best evidence
    sentence, quoted and cited, when that sentence names everything the question names."""

    name = "evidence_led"

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def run(self, draft: Draft, context: StepContext) -> Draft:
        if not self.enabled or not draft.abstained or draft.reason not in REPLY_UNSUPPORTED:
            return draft
        best = leading_sentence(context.question, context.evidence)
        if best is None:
            return draft
        return Draft(quoted_answer(best), [Citation.of(best, 1.0)], False,
                     list(draft.unsupported), reason=EVIDENCE_LED)  # fmt: skip


def asks_a_fact(question: QuestionProfile) -> bool:
    """Who, what, when, where, how many, which: a question one sentence can answer."""
    return not (
        question.yes_no or question.negated or question.judges_reports or len(question.parts) > 1
    )


def leading_sentence(question: QuestionProfile, evidence: list[Evidence]) -> Evidence | None:
    """The best-ranked evidence sentence, when the question asks a fact and the sentence
    (with its report's date and author) names everything the question names."""
    if not evidence or not asks_a_fact(question):
        return None
    best = max(evidence, key=lambda e: e.score)
    a = best.article
    # The sentence before it counts: "Their one-on-one meeting ..." follows the one naming
    # Kim and Putin.
    stated = " ".join(x for x in (best.before, best.text, date_label(a.published), a.author) if x)
    if unmentioned_facts(question.text, without_name_pairs(stated)):
        return None
    return best


def quoted_answer(e: Evidence) -> str:
    """'The KBS report of April 25, 2019 says: "…" [1]'"""
    a = e.article
    dated = date_label(a.published)
    outlet = a.outlet.removeprefix("The ").removeprefix("the ")
    if dated:
        report = f"The {outlet} report of {dated}" if outlet else f"The report of {dated}"
    elif a.title:
        report = f'The article "{a.title}"'
    else:
        report = "One article"
    return f'{report} says: "{" ".join(e.text.split())}" [1]'


__all__ = ["EVIDENCE_LED", "LeadWithEvidence", "asks_a_fact", "leading_sentence", "quoted_answer"]

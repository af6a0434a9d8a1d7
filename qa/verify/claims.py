"""Yes/no questions that join claims, answered claim by claim and then combined.

"Does The Verge suggest A, while The Age implies B?" is true only when both claims are. One
reply over all the evidence lets a small model answer for the claim it reads best and say
Yes. Here each claim becomes its own yes/no question, answered from its own evidence
(qa/understand/decompose.py retrieved it) and verified with a citation; the whole is Yes when every
claim is, and No, with the failing claim's cited reason, when one is not.

Questions that relate their parts ("is there consistency between A and B", "a different
stance compared to B") are not conjunctions: their answer is not the AND of the parts, so
they keep the single reply over all the parts' evidence. Its reason restates the judgement
("there is no consistency in the focus on ...") and no sentence of any source states it, so
verification removes it; the answer is then the model's Yes or No with the passages it
judged from, quoted and cited, rather than an abstention.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from index.embedding.embedders import Embedder
from qa.core.interfaces import LLM
from qa.core.markers import marker_numbers, replace_markers
from qa.core.settings import VerificationSettings
from qa.core.types import Citation, Draft, Evidence
from qa.generate.writing import ReplyWriter
from qa.understand.profile import QuestionProfile
from qa.understand.question_kind import split_polarity
from qa.verify.answer_judge import answer_yes_or_no
from qa.verify.citing import said_not_in_articles, verify_reply
from qa.verify.step import StepContext

log = logging.getLogger(__name__)
MAX_QUOTED = 3
KEPT_JUDGEMENT = "a judgement over reports: its Yes/No kept with the passages it was judged from"


class KeepJudgementOverReports:
    """Verification step: a judgement over reports ("is there consistency ...?") has no
    sentence that states it, so when citing abstained, its Yes/No stands with the passages
    it was judged from."""

    name = "judgement"

    def run(self, draft: Draft, context: StepContext) -> Draft:
        if not draft.abstained:
            return draft
        kept = judgement_with_quotes(context.reply, context.question, context.evidence)
        return kept or draft


@dataclass(frozen=True)
class ClaimAnswer:
    """One claim's answer: its question, Yes/No ('' when unanswered) and cited reason."""

    question: str
    polarity: str
    verified: Draft


def combined_reply(answers: list[ClaimAnswer], evidence: list[Evidence]) -> str | None:
    """ "No. <the failing claim's reason> [n]" or "Yes. <each claim's reason> [n] ...", its
    markers numbering `evidence`; None when a claim is unanswered (the caller then replies to
    the whole question at once)."""
    if not answers or any(a.verified.abstained or not a.polarity for a in answers):
        return None
    failing = [a for a in answers if a.polarity == "No"]
    verdict = "No" if failing else "Yes"
    reasons = [_renumbered(_reason(a), a.verified, evidence) for a in failing or answers]
    if any(r is None for r in reasons):
        return None
    return " ".join([f"{verdict}.", *(r for r in reasons if r)])


def _reason(answer: ClaimAnswer) -> str:
    _, rest = split_polarity(answer.verified.text)
    return rest.strip()


def _renumbered(text: str, verified: Draft, evidence: list[Evidence]) -> str | None:
    """The reason's [k] (a number of its own citations) as the number of the same sentence
    in the whole question's evidence; None if that sentence is not there."""
    number = {e.key: i for i, e in enumerate(evidence, 1)}
    missing = False

    def swap(k: int) -> str:
        nonlocal missing
        c = verified.citations[k - 1] if 1 <= k <= len(verified.citations) else None
        n = number.get((c.path, c.start)) if c else None
        missing = missing or n is None
        return f"[{n or k}]"

    renumbered = replace_markers(text, swap)
    return None if missing else renumbered


def judgement_with_quotes(
    reply: str, question: QuestionProfile, evidence: list[Evidence]
) -> Draft | None:
    """'No. Going by these passages: "..." [1] "..." [2]' for a question that asks for a
    judgement over reports, when the reply opens with Yes or No; None otherwise. The
    passages are those the reply cites, else the best sentence of each article."""
    polarity, _ = split_polarity(reply)
    if not (polarity and evidence and question.judges_reports) or said_not_in_articles(reply):
        return None
    cited = [evidence[n - 1] for n in marker_numbers(reply) if 1 <= n <= len(evidence)]
    if not cited:
        best_of_article: dict[str, Evidence] = {}
        for e in evidence:
            best_of_article.setdefault(e.article.path, e)
        cited = list(best_of_article.values())
    seen: set[tuple[str, int]] = set()
    quoted = []
    for e in cited:
        if e.key not in seen:
            seen.add(e.key)
            quoted.append(e)
    quoted = quoted[:MAX_QUOTED]
    passages = " ".join(f"\u201c{e.text}\u201d [{i}]" for i, e in enumerate(quoted, 1))
    citations = [Citation.of(e, 1.0) for e in quoted]  # a quote states itself
    text = f"{polarity}. Going by these passages: {passages}"
    return Draft(text, citations, False, reason=KEPT_JUDGEMENT)


@dataclass(frozen=True)
class ClaimByClaim:
    """A yes/no question joining claims, answered claim by claim from each part's evidence
    and combined; None when it is not one or a claim is left unanswered."""

    writer: ReplyWriter
    embedder: Embedder
    llm: LLM
    settings: VerificationSettings

    def run(
        self, question: QuestionProfile, parts: list[list[Evidence]], evidence: list[Evidence]
    ) -> str | None:
        claims = question.claims
        if not claims or len(claims) != len(parts):
            return None
        answers = []
        for claim, part in zip(claims, parts, strict=True):
            answers.append(self._answer(QuestionProfile.of(claim, False), part))
            if answers[-1].verified.abstained:
                break
        combined = combined_reply(answers, evidence)
        log.info("claims %s -> %r", [(a.question, a.polarity) for a in answers], combined)
        return combined

    def _answer(self, question: QuestionProfile, evidence: list[Evidence]) -> ClaimAnswer:
        reply = self.writer.run(question, evidence).text
        s = self.settings
        verified = verify_reply(reply, question, evidence, self.embedder, s.min_support)
        polarity, _ = split_polarity(verified.text)
        if not polarity and not verified.abstained:
            polarity = answer_yes_or_no(self.llm, question.text, evidence, s.judge_grammar)
        return ClaimAnswer(question.text, polarity, verified)

"""The verification stage's component: the steps, in order, each turning one `Draft` into the
next (qa/verify/step.py). It reports which step decided and what a later step held back;
the pipeline makes the decision."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from index.embedding.embedders import Embedder
from qa.core.interfaces import LLM
from qa.core.settings import VerificationSettings
from qa.core.types import Draft, Evidence
from qa.understand.profile import QuestionProfile
from qa.verify.answer_check import AnswerCheck
from qa.verify.citing import CiteSentences
from qa.verify.claims import KeepJudgementOverReports
from qa.verify.evidence_led import LeadWithEvidence
from qa.verify.step import StepContext, VerificationStep

VERIFICATION_STEPS = ("cite", "judgement", "answer_check", "evidence_led")
log = logging.getLogger(__name__)


def answer_steps(v: VerificationSettings, llm: LLM, embedder: Embedder) -> list[VerificationStep]:
    """An answer's steps, in VERIFICATION_STEPS order."""
    steps: list[VerificationStep] = [
        CiteSentences(embedder, v.min_support),
        KeepJudgementOverReports(),
        AnswerCheck(llm, v.answer_check, v.extract_fallback, v.judge_grammar),
        LeadWithEvidence(v.evidence_led),
    ]
    assert tuple(s.name for s in steps) == VERIFICATION_STEPS
    return steps


@dataclass(frozen=True)
class Verified:
    draft: Draft  # the last step's
    decided_by: str  # the last step that changed the draft ("cite" when none did)
    held: Draft | None = None  # a cited draft that a later step withheld
    held_by: str = ""
    check_s: float | None = None  # seconds the answer check took


class Verification:
    def __init__(self, steps: list[VerificationStep]) -> None:
        self.steps = steps  # a list callers may change (tests add a refusing step)

    def run(self, question: QuestionProfile, evidence: list[Evidence], reply: str) -> Verified:
        context = StepContext(question, evidence, reply)
        draft = Draft(reply)
        decided_by = "cite"
        held: Draft | None = None
        held_by = ""
        check_s = None
        for step in self.steps:
            started = time.perf_counter()
            before = draft
            draft = step.run(draft, context)
            if step.name == "answer_check":
                check_s = time.perf_counter() - started
            if draft is not before:
                decided_by = step.name
            if draft.abstained and not before.abstained and before.citations and held is None:
                held, held_by = before, step.name
        if draft.unsupported:
            log.info("removed %d unsupported sentence(s): %s", len(draft.unsupported),
                     draft.unsupported)  # fmt: skip
        return Verified(draft, decided_by, held, held_by, check_s)

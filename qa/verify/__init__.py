"""Verification: `Verification.run(question, evidence, reply) -> Verified` (the steps in
order: cite, judgement, answer_check, evidence_led), with `QuestionFacts` before the model
reads, `SentenceRelease` while it writes, `ClaimByClaim` for yes/no questions that join
claims, and `Signals` (what the calibrated decision reads)."""

from qa.verify.abstentions import ABSTAIN_TEXT, not_confident, nothing_to_read
from qa.verify.claims import ClaimByClaim
from qa.verify.question_facts import QuestionFacts
from qa.verify.signals import Grounds, Signals
from qa.verify.streaming import SentenceRelease
from qa.verify.verification import VERIFICATION_STEPS, Verification, Verified, answer_steps

__all__ = [
    "ABSTAIN_TEXT",
    "ClaimByClaim",
    "Grounds",
    "QuestionFacts",
    "SentenceRelease",
    "Signals",
    "Verification",
    "VERIFICATION_STEPS",
    "Verified",
    "not_confident",
    "nothing_to_read",
    "answer_steps",
]

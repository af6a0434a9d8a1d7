"""What a verification step is: it reads the question, the evidence and the model's reply,
and turns one `Draft` into the next. A step that finds the draft cannot stand returns it
abstained, with its reason; the pipeline lists the steps in order (qa/pipeline.py) and
decides from the last draft in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from qa.core.types import Draft, Evidence
from qa.understand.profile import QuestionProfile


@dataclass(frozen=True)
class StepContext:
    question: QuestionProfile
    evidence: list[Evidence]  # the numbered sources the model read, [1] first
    reply: str  # what the model wrote


class VerificationStep(Protocol):
    name: str

    def run(self, draft: Draft, context: StepContext) -> Draft: ...

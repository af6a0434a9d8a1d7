"""Verified streaming: the reply is released sentence by sentence, each only once the source
it cites supports it.

The model's draft is never shown. As its pieces arrive, every time a sentence is complete
(the next one has begun, or the reply ended) the reply's complete sentences are verified with
the same check the final answer uses first (`verify_reply`: each sentence aligned with the
evidence sentence that supports it, unsupported ones dropped), and the verified text is
released when it grew. A sentence that fails is never released. The answer check and the
confidence decision still run on the whole reply: the final answer is what they decide.
"""

from __future__ import annotations

from collections.abc import Callable

from index.chunking.sentences import split_sentences
from qa.core.answer_stream import VerifiedText
from qa.core.types import Draft, Evidence
from qa.understand.profile import QuestionProfile
from qa.verify.step import StepContext, VerificationStep


def complete_sentences(text: str) -> str:
    """The text up to the end of its last complete sentence: one followed by the start of
    another (a sentence still being written may yet change)."""
    spans = split_sentences(text)
    return text[: spans[-1].start] if len(spans) >= 2 else ""


class SentenceRelease:
    """Feed it the draft's pieces; it says when more of the reply is verified."""

    def __init__(self, verify: Callable[[str], Draft]) -> None:
        self._verify = verify
        self._draft = ""
        self._checked = ""
        self.released: VerifiedText | None = None

    @classmethod
    def by_step(
        cls, step: VerificationStep, question: QuestionProfile, evidence: list[Evidence]
    ) -> SentenceRelease:
        """Released once `step`, the first of the final verification (the cite step),
        passes the reply so far."""
        return cls(lambda reply: step.run(Draft(reply), StepContext(question, evidence, reply)))

    def add(self, piece: str) -> VerifiedText | None:
        self._draft += piece
        return self._check(complete_sentences(self._draft))

    def finish(self) -> VerifiedText | None:
        """The whole reply is written: its last sentence is complete too."""
        return self._check(self._draft)

    def _check(self, complete: str) -> VerifiedText | None:
        if not complete.strip() or complete == self._checked:
            return None
        self._checked = complete
        draft = self._verify(complete)
        grew = self.released is None or len(draft.text) > len(self.released.text)
        if draft.abstained or not draft.text or not grew:
            return None
        self.released = VerifiedText(draft.text, list(draft.citations))
        return self.released

"""Before the model reads anything: does the retrieved text mention every name, number and
date the question gives? SQuAD 2.0's unanswerable questions and our near misses often ask
about something next to what the articles say: a different year, another person."""

from __future__ import annotations

from dataclasses import dataclass

from index.chunking.sentences import split_sentences
from qa.evidence.injection import looks_like_instruction
from qa.understand.profile import QuestionProfile
from qa.verify.support import unmentioned_facts

# Long, compound questions name many things and retrieval may miss one of them (measured on
# MultiHop: 32 of 117 answerable questions); short ones name what they ask about.
FACT_CHECK_MAX_WORDS = 25


@dataclass(frozen=True)
class QuestionFacts:
    enabled: bool

    def run(self, question: QuestionProfile, context: list[str]) -> list[str]:
        """The question's facts no retrieved text mentions, sorted; empty when all are there
        or the question is too long to check."""
        short = len(question.parts) == 1 and len(question.text.split()) <= FACT_CHECK_MAX_WORDS
        if not (short and self.enabled):
            return []
        asked = " ".join(s for s in _sentences(question.text) if not looks_like_instruction(s))
        return sorted(unmentioned_facts(asked, " ".join(context)))


def _sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)] or [text]

"""The understanding stage's component: the question as asked becomes the question answered."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from qa.core.interfaces import LLM
from qa.core.settings import QuestionSettings
from qa.understand.profile import QuestionProfile
from qa.understand.question import clean_question
from qa.understand.rewrite import standalone_question

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Understood:
    question: str  # as asked, cleaned
    query: str  # the stand-alone question the answer is about
    search: str  # what retrieval searches for
    profile: QuestionProfile  # the stand-alone question, read once
    rewrite_s: float | None = None  # seconds the follow-up's rewrite took


@dataclass(frozen=True)
class Understanding:
    """Cleans the question, rewrites a follow-up as a stand-alone question (a model call),
    and reads it once."""

    settings: QuestionSettings
    llm: LLM

    def run(self, question: str, history: Sequence[tuple[str, str]] = ()) -> Understood:
        started = time.perf_counter()
        asked = clean_question(question, self.settings.max_question_chars)
        query = search = asked
        rewrite_s = None
        if self.settings.rewrite_followups and history:
            query = standalone_question(asked, list(history), self.llm)
            rewrite_s = time.perf_counter() - started
            if query != asked:
                log.info("follow-up %r rewritten as %r", asked, query)
                # A small model's rewrite can drop context ("at the extended talks"); the
                # previous question keeps retrieval near the passages the conversation is about.
                search = f"{query} {history[-1][0]}"
        profile = QuestionProfile.of(query, self.settings.decompose)
        return Understood(asked, query, search, profile, rewrite_s)

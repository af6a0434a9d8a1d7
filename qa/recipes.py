"""What the one answering path is configured with: an answer or a briefing.

Both walk the same stages in the same order and end in the same decision
(qa/pipeline.py); a recipe says which component runs each stage. A briefing reads a topic
(no follow-ups), selects one sentence per report, has its own prompt, and is verified by the
cite step alone (its topic's names need no statement in each sentence); it has no question
facts to check, no claims and no confidence signals, so the decision answers with what the
cite step kept.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from llama_index.core.postprocessor.types import BaseNodePostprocessor

from index.embedding.embedders import Embedder
from qa.briefing import NOTHING_TEXT, BriefingEvidence, BriefingTopic, BriefWriter
from qa.core.interfaces import LLM, Reply
from qa.core.settings import Settings
from qa.core.types import Evidence
from qa.evidence import EvidenceGathering, Gathered
from qa.generate import ReplyWriter
from qa.generate.relevance import RelevanceJudge
from qa.retrieve import ArticleFilter, Retrieval, Searcher
from qa.understand import QuestionProfile, Understanding, Understood
from qa.verify import ClaimByClaim, QuestionFacts, Signals, Verification, answer_steps
from qa.verify.citing import CiteSentences


class Reading(Protocol):
    def run(self, question: str, history: Sequence[tuple[str, str]] = ()) -> Understood: ...


class Gathering(Protocol):
    def run(self, question: QuestionProfile, search: str, filters: ArticleFilter) -> Gathered: ...


class Written(Protocol):
    def __iter__(self) -> Iterator[str]: ...

    @property
    def reply(self) -> Reply: ...


class Writer(Protocol):
    def start(self, question: Understood, evidence: list[Evidence]) -> Written: ...


@dataclass(frozen=True)
class Recipe:
    kind: Literal["answer", "briefing"]
    reading: Reading
    gathering: Gathering
    writer: Writer
    verification: Verification
    question_facts: QuestionFacts | None = None
    claims: ClaimByClaim | None = None
    signals: Signals | None = None
    abstain_text: str = ""  # said instead of the step's words when it abstains


def answer_gathering(
    settings: Settings,
    llm: LLM,
    embedder: Embedder,
    searcher: Searcher,
    postprocessors: Sequence[BaseNodePostprocessor],
) -> EvidenceGathering:
    """An answer's evidence: the search, any postprocessors, the sentences chosen."""
    retrieval = Retrieval(searcher, postprocessors)
    judge = RelevanceJudge(llm, settings.evidence.relevance_judge)
    return EvidenceGathering(settings.evidence, embedder, retrieval, judge)


def answer_recipe(
    settings: Settings, llm: LLM, embedder: Embedder, gathering: EvidenceGathering
) -> Recipe:
    s, v = settings, settings.verification
    writer = ReplyWriter(s.generation, llm)
    return Recipe(
        kind="answer",
        reading=Understanding(s.question, llm),
        gathering=gathering,
        writer=writer,
        verification=Verification(answer_steps(v, llm, embedder)),
        question_facts=QuestionFacts(s.evidence.check_question_facts),
        claims=ClaimByClaim(writer, embedder, llm, v) if s.generation.answer_claims else None,
        signals=Signals(llm, v, writer),
    )


def briefing_recipe(settings: Settings, llm: LLM, embedder: Embedder, searcher: Searcher) -> Recipe:
    s = settings
    return Recipe(
        kind="briefing",
        reading=BriefingTopic(s.question.max_question_chars),
        gathering=BriefingEvidence(searcher, embedder, s.evidence.min_relevance),
        writer=BriefWriter(llm),
        verification=Verification([CiteSentences(embedder, s.verification.min_support, True)]),
        abstain_text=NOTHING_TEXT,
    )

"""The evidence stage's component: the few best sentences to answer from, or why none.

A question that joins claims from several reports is searched part by part
(qa/understand/decompose.py), each part with its own evidence slots."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from index.embedding.embedders import Embedder
from qa.core.settings import EvidenceSettings
from qa.core.text import date_label
from qa.core.types import Evidence, RetrievedSource
from qa.evidence.recency import newest_first
from qa.evidence.select import grouped_by_article, ranked_sentences, relevant_enough
from qa.retrieve.chunks import Retrieval, RetrievalScores
from qa.retrieve.filters import ArticleFilter
from qa.retrieve.hybrid import Hit
from qa.understand.profile import QuestionProfile

log = logging.getLogger(__name__)

# The model's choice among ranked sentences: (question, ranked, how many) -> the chosen.
Judge = Callable[[str, list[Evidence], int], list[Evidence]]


@dataclass(frozen=True)
class Gathered:
    evidence: list[Evidence]  # the numbered sources, [1] first; empty: nothing to read
    parts: list[list[Evidence]] = field(default_factory=list)  # each part's (several parts)
    retrieved: list[RetrievedSource] = field(default_factory=list)  # each file, best first
    scores: RetrievalScores = field(default_factory=RetrievalScores)
    context: list[str] = field(default_factory=list)  # the retrieved text and headers
    no_evidence: str = ""  # why there is nothing to read
    seconds: float = 0.0


@dataclass(frozen=True)
class EvidenceGathering:
    settings: EvidenceSettings
    embedder: Embedder
    retrieval: Retrieval
    judge: Judge

    def run(self, question: QuestionProfile, search: str, filters: ArticleFilter) -> Gathered:
        started = time.perf_counter()
        top_n = self.settings.evidence_sentences
        found = _Found()
        if len(question.parts) == 1:
            evidence = self._evidence_for(found, question, search, top_n, filters)
        else:
            log.info("searching %d parts: %s", len(question.parts), question.parts)
            per_part = max(2, math.ceil(top_n / len(question.parts)))
            best: dict[tuple[str, int], Evidence] = {}
            for part in question.parts:
                profile = QuestionProfile.of(part, False)
                found.parts.append(self._evidence_for(found, profile, part, per_part, filters))
                for e in found.parts[-1]:
                    best.setdefault(e.key, e)
            evidence = grouped_by_article(sorted(best.values(), key=lambda e: -e.score))
        why = ""
        if not evidence and not filters.empty and not found.retrieved:
            why = f"no indexed article matches {filters.describe()}"
        elif not evidence:
            why = "no retrieved sentence is relevant enough (min_relevance)"
        return Gathered(evidence, found.parts, found.retrieved, found.scores, found.context,
                        why, time.perf_counter() - started)  # fmt: skip

    def ranked(
        self, question: QuestionProfile, search: str, filters: ArticleFilter | None = None
    ) -> tuple[list[Hit], list[Evidence]]:
        """The hits for `search` and every sentence of theirs, best first for `question`."""
        query_vector = self.embedder.embed([question.text])[0]
        search_vector = (
            query_vector if search == question.text else self.embedder.embed([search])[0]
        )
        hits = self.retrieval.run(search=search, search_vector=search_vector,
                                  question=question.text, question_vector=query_vector,
                                  filters=filters)  # fmt: skip
        return hits, ranked_sentences(question, np.asarray(query_vector), hits, self.embedder)

    def _evidence_for(
        self,
        found: _Found,
        question: QuestionProfile,
        search: str,
        top_n: int,
        filters: ArticleFilter,
    ) -> list[Evidence]:
        hits, ranked = self.ranked(question, search, filters)
        if filters.latest:
            ranked = newest_first(ranked, self.settings.min_relevance)
        found.add(hits)
        if not relevant_enough(ranked[:top_n], self.settings.min_relevance):
            return []
        return grouped_by_article(self.judge(question.text, ranked, top_n))


class _Found:
    """What the searches of one question returned, gathered across its parts."""

    def __init__(self) -> None:
        self.parts: list[list[Evidence]] = []
        self.retrieved: list[RetrievedSource] = []
        self.scores = RetrievalScores()
        self.context: list[str] = []

    def add(self, hits: list[Hit]) -> None:
        self.retrieved = merged_sources(self.retrieved, retrieved_sources(hits))
        self.scores = self.scores.with_hits(hits)
        self.context.extend(_text_and_header(h) for h in hits)


def _text_and_header(hit: Hit) -> str:
    c = hit.chunk
    return " ".join([c.text, c.title, c.outlet, c.author, c.source, date_label(c.published)])


def merged_sources(a: list[RetrievedSource], b: list[RetrievedSource]) -> list[RetrievedSource]:
    """Each file once with its best score, best first (parts of a question retrieve apart)."""
    best: dict[str, float] = {}
    for r in [*a, *b]:
        best[r.source] = max(best.get(r.source, -1.0), r.score)
    return [RetrievedSource(src, sc) for src, sc in sorted(best.items(), key=lambda x: -x[1])]


def retrieved_sources(hits: list[Hit]) -> list[RetrievedSource]:
    """Each retrieved file once, with its best dense similarity (the fused score otherwise)."""
    best: dict[str, float] = {}
    for hit in hits:
        score = float(hit.dense if hit.dense is not None else hit.score)
        best[hit.chunk.source] = max(best.get(hit.chunk.source, -1.0), score)
    return [RetrievedSource(src, sc) for src, sc in sorted(best.items(), key=lambda x: -x[1])]

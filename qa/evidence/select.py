"""Pick the few sentences the LLM should read.

Small models answer better from a handful of relevant sentences than from whole chunks, and
shorter prompts give a faster first token. Each retrieved chunk is split into its stored
sentences; each sentence is scored against the question by embedding cosine plus a share of
the question's content words it contains; the best few become the numbered sources.
"""

from __future__ import annotations

import numpy as np

from index.embedding.embedders import Embedder
from index.text import content_words
from index.types import Chunk, Span
from qa.core.types import Evidence
from qa.evidence.injection import looks_like_instruction
from qa.evidence.timeline import is_superseded
from qa.retrieve.hybrid import Hit
from qa.understand.profile import QuestionProfile

LEXICAL_BONUS = 0.3
# A "sentence" this short after a full one is usually a bad split ("... disabling its center.
# Yongbyon nuclear research."): it is read with the sentence before it.
FRAGMENT_WORDS = 4
# Asked what happened, a plan from an older article ranks below what later reports say.
SUPERSEDED_PENALTY = 0.25


def select_evidence(
    question: QuestionProfile,
    question_vector: np.ndarray,
    hits: list[Hit],
    embedder: Embedder,
    limit: int,
) -> list[Evidence]:
    """The `limit` best sentences of the hits, grouped by article."""
    return grouped_by_article(ranked_sentences(question, question_vector, hits, embedder)[:limit])


def ranked_sentences(
    question: QuestionProfile, question_vector: np.ndarray, hits: list[Hit], embedder: Embedder
) -> list[Evidence]:
    """Every candidate sentence of the hits, best first."""
    seen: set[tuple[str, int]] = set()
    candidates: list[tuple[Chunk, Span, str]] = []
    before: dict[tuple[str, int], str] = {}  # each sentence's predecessor in its chunk
    for hit in hits:
        previous = ""
        for span, text in sentences_with_fragments(hit.chunk):
            key = (hit.chunk.path, span.start)
            if previous and not before.get(key):
                before[key] = previous
            # Planted instructions are not news: the model never reads them (evidence/injection.py),
            # and no sentence refers back to one.
            if looks_like_instruction(text):
                continue
            previous = text
            if key not in seen and len(text.split()) >= 3:
                seen.add(key)
                candidates.append((hit.chunk, span, text))
    if not candidates:
        return []
    vectors = embedder.embed([text for _, _, text in candidates])
    cosines = vectors @ question_vector
    q_words = content_words(question.text)
    past = question.asks_past
    latest = max((chunk.published for chunk, _, _ in candidates), default="")
    scored = []
    for (chunk, span, text), vector, cos in zip(candidates, vectors, cosines, strict=True):
        overlap = len(q_words & content_words(text)) / len(q_words) if q_words else 0.0
        score = float(cos) + LEXICAL_BONUS * overlap
        if past and is_superseded(text, chunk.published, latest):
            score -= SUPERSEDED_PENALTY
        earlier = before.get((chunk.path, span.start), "")
        scored.append(
            Evidence(chunk.article, span, text, float(cos), score, vector, chunk.id, earlier)
        )
    scored.sort(key=lambda e: e.score, reverse=True)
    return scored


def sentences_with_fragments(chunk: Chunk) -> list[tuple[Span, str]]:
    """The chunk's sentences; a short fragment in the same paragraph joins the one before it
    (the quote stays an exact slice of the article)."""
    out: list[tuple[Span, str]] = []
    for span, text in zip(chunk.sentences, chunk.sentence_texts, strict=True):
        if out and len(text.split()) <= FRAGMENT_WORDS:
            previous = out[-1][0]
            joined = chunk.text[previous.start - chunk.start : span.end - chunk.start]
            if previous.start >= chunk.start and "\n\n" not in joined:
                out[-1] = (Span(previous.start, span.end), joined)
                continue
        out.append((span, text))
    return out


def grouped_by_article(best: list[Evidence]) -> list[Evidence]:
    """Group the chosen sentences by article so the prompt names each article once. Articles
    keep the rank of their best sentence and sentences their rank inside an article, so the
    best sentence stays [1]: small models lean on the first source."""
    article_rank: dict[str, int] = {}
    for e in best:
        article_rank.setdefault(e.article.path, len(article_rank))
    return sorted(best, key=lambda e: (article_rank[e.article.path], -e.score))


def relevant_enough(evidence: list[Evidence], min_relevance: float) -> bool:
    """Is the best sentence close enough to the question to be worth reading? Under the
    threshold the articles are about something else: abstain without asking the model."""
    return bool(evidence) and max(e.relevance for e in evidence) >= min_relevance

""" "The latest on X": among the sentences relevant enough to read, the newest reports first.

Relevance still decides what is about X; the date only orders what passed. Sentences below
the relevance floor keep their place after the relevant ones."""

from __future__ import annotations

from qa.core.types import Evidence


def newest_first(ranked: list[Evidence], min_relevance: float) -> list[Evidence]:
    relevant = [e for e in ranked if e.relevance >= min_relevance]
    rest = [e for e in ranked if e.relevance < min_relevance]
    # Stable: within one day, the better-scored sentence stays first.
    relevant.sort(key=lambda e: e.article.published[:10], reverse=True)
    return relevant + rest

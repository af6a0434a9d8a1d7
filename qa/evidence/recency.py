""" "The latest on X": among the sentences about as relevant as the best one, the newest
reports first.

Relevance still decides what is about X; the date only orders the sentences within
RECENCY_MARGIN of the best relevance (a barely relevant new sentence never passes a good
older one). The others keep their places after them."""

from __future__ import annotations

from qa.core.types import Evidence

RECENCY_MARGIN = 0.1


def newest_first(ranked: list[Evidence], min_relevance: float) -> list[Evidence]:
    if not ranked:
        return []
    floor = max(min_relevance, max(e.relevance for e in ranked) - RECENCY_MARGIN)
    close = [e for e in ranked if e.relevance >= floor]
    rest = [e for e in ranked if e.relevance < floor]
    # Stable: within one day, the better-scored sentence stays first.
    close.sort(key=lambda e: e.article.published[:10], reverse=True)
    return close + rest

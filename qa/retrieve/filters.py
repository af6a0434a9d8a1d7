"""Which articles a question may be answered from: a date range, outlets, authors.

An `ArticleFilter` is applied inside retrieval, so top-k is never spent on chunks that are
filtered out: as a Chroma `where` clause on the dense side and as a set of allowed files on
the BM25 side (qa/retrieve/hybrid.py). It is built from settings (`since`, `until`,
`outlets`, `authors`), from a call (`Assistant.ask(..., filters=...)`), from the page, or
from llama-index `MetadataFilters` on `HybridNodeRetriever`. A filter that cannot be applied
is refused with a message, never silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from index.storing.nodes import published_day
from index.types import ArticleInfo
from qa.core.errors import InputError


class EmptyRange(InputError):
    """The question's dates and the filter's range do not overlap."""


def parse_day(value: str | date | None, what: str) -> date | None:
    """A date from "2019-04-20" (or a longer ISO stamp); a clear message otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise InputError(f"{what} {value!r} is not a date; write it as YYYY-MM-DD") from None


@dataclass(frozen=True)
class ArticleFilter:
    """Articles published in [since, until] (inclusive days), from these outlets, by these
    authors. Empty fields do not filter. An article with no known date never passes a date
    range: nothing shows it is inside."""

    since: date | None = None
    until: date | None = None
    outlets: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    latest: bool = False  # newest relevant reports first ("the latest on X")
    why: tuple[str, ...] = field(default=(), compare=False)  # where a bound came from

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise InputError(
                f"the date range is empty: since {self.since} is after until {self.until}"
            )

    @classmethod
    def of(
        cls,
        since: str | date | None = None,
        until: str | date | None = None,
        outlets: Iterable[str] = (),
        authors: Iterable[str] = (),
        latest: bool = False,
    ) -> ArticleFilter:
        return cls(
            parse_day(since, "since"),
            parse_day(until, "until"),
            tuple(o.strip() for o in outlets if o and o.strip()),
            tuple(a.strip() for a in authors if a and a.strip()),
            latest,
        )

    @property
    def empty(self) -> bool:
        return not (self.since or self.until or self.outlets or self.authors)

    def narrowed(self, since: date | None, until: date | None, why: str) -> ArticleFilter:
        """This filter and a further date range (the question's): their overlap. No
        overlap raises EmptyRange: nothing may be answered from."""
        lo = max(d for d in (self.since, since) if d) if (self.since or since) else None
        hi = min(d for d in (self.until, until) if d) if (self.until or until) else None
        if lo and hi and lo > hi:
            raise EmptyRange(f"{why} lies outside the date range set ({self.describe()})")
        return replace(self, since=lo, until=hi, why=(*self.why, why))

    def allows(self, article: ArticleInfo) -> bool:
        """Does this article pass? (The same test the `where` clause makes in Chroma.)"""
        if self.since or self.until:
            day = published_day(article.published)
            if not day or (self.since and day < _day(self.since)):
                return False
            if self.until and day > _day(self.until):
                return False
        if self.outlets and article.outlet not in self.outlets:
            return False
        return not (self.authors and article.author not in self.authors)

    def chroma_where(self) -> dict[str, Any] | None:
        """The Chroma `where` clause for this filter; None when it filters nothing."""
        clauses: list[dict[str, Any]] = []
        if self.since or self.until:
            clauses.append({"published_day": {"$gte": _day(self.since) if self.since else 1}})
        if self.until:
            clauses.append({"published_day": {"$lte": _day(self.until)}})
        if self.outlets:
            clauses.append({"outlet": {"$in": list(self.outlets)}})
        if self.authors:
            clauses.append({"author": {"$in": list(self.authors)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def describe(self) -> str:
        """ "since 2019-04-20, outlet KBS": what a person set, for messages."""
        parts = []
        if self.since:
            parts.append(f"since {self.since}")
        if self.until:
            parts.append(f"until {self.until}")
        if self.outlets:
            parts.append("outlet " + " or ".join(self.outlets))
        if self.authors:
            parts.append("author " + " or ".join(self.authors))
        return ", ".join(parts) or "no filter"


def _day(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


# --- llama-index MetadataFilters ------------------------------------------------------------
def from_metadata_filters(filters: Any) -> ArticleFilter:
    """Our filter from llama-index `MetadataFilters` over the keys our nodes carry:
    `published` (>=, >, <=, <, == with an ISO date), `outlet` and `author` (== or in).
    Conditions are ANDed; anything else is refused rather than ignored."""
    from llama_index.core.vector_stores.types import (
        FilterCondition,
        FilterOperator,
        MetadataFilter,
    )

    if filters is None:
        return ArticleFilter()
    if filters.condition not in (None, FilterCondition.AND):
        raise InputError("only AND-ed metadata filters are supported by this retriever")
    since = until = None
    outlets: list[str] = []
    authors: list[str] = []
    for f in filters.filters:
        if not isinstance(f, MetadataFilter):
            raise InputError("nested metadata filters are not supported by this retriever")
        op = f.operator
        if f.key == "published":
            day = parse_day(str(f.value), "published")
            if op in (FilterOperator.GTE, FilterOperator.GT, FilterOperator.EQ):
                since = day if op != FilterOperator.GT else _next_day(day)
            if op in (FilterOperator.LTE, FilterOperator.LT, FilterOperator.EQ):
                until = day if op != FilterOperator.LT else _previous_day(day)
            if op not in (FilterOperator.GTE, FilterOperator.GT, FilterOperator.EQ,
                          FilterOperator.LTE, FilterOperator.LT):  # fmt: skip
                raise InputError(f"filter on published: operator {op.value!r} is not supported")
        elif f.key in ("outlet", "author") and op in (FilterOperator.EQ, FilterOperator.IN):
            values = f.value if isinstance(f.value, list) else [f.value]
            (outlets if f.key == "outlet" else authors).extend(str(v) for v in values)
        else:
            raise InputError(
                f"filter {f.key} {op.value} is not supported; filter on published "
                "(>=, <=, ==), outlet or author (==, in)"
            )
    return ArticleFilter.of(since, until, outlets, authors)


def to_metadata_filters(article_filter: ArticleFilter) -> Any:
    """The llama-index `MetadataFilters` that select what this filter selects."""
    from llama_index.core.vector_stores.types import (
        FilterOperator,
        MetadataFilter,
        MetadataFilters,
    )

    out: list[MetadataFilter | MetadataFilters] = []
    if article_filter.since:
        out.append(MetadataFilter(key="published", value=article_filter.since.isoformat(),
                                  operator=FilterOperator.GTE))  # fmt: skip
    if article_filter.until:
        out.append(MetadataFilter(key="published", value=article_filter.until.isoformat(),
                                  operator=FilterOperator.LTE))  # fmt: skip
    for key, values in (("outlet", article_filter.outlets), ("author", article_filter.authors)):
        if values:
            out.append(MetadataFilter(key=key, value=list(values), operator=FilterOperator.IN))
    return MetadataFilters(filters=out)


def _next_day(d: date | None) -> date | None:
    return None if d is None else date.fromordinal(d.toordinal() + 1)


def _previous_day(d: date | None) -> date | None:
    return None if d is None else date.fromordinal(d.toordinal() - 1)

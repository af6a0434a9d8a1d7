"""The retrieval interface the answering path uses: `Searcher`.

Our `HybridNodeRetriever` implements it (filters applied inside both searches, the
collection's catalog for outlet names and dates, syndication groups). Any other llama-index
retriever is wrapped by `RetrieverSearcher`: its chunks are filtered after the search, and
it has no catalog and no groups. `searcher_for` is the one place that tells them apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import QueryBundle

from index.storing.store import FileRecord
from qa.core.types import Citation
from qa.retrieve.catalog import Catalog
from qa.retrieve.filters import ArticleFilter
from qa.retrieve.hybrid import Hit, one_per_group
from qa.retrieve.node_retriever import hit_of_node


@dataclass(frozen=True)
class Search:
    """One search, as a value."""

    query: str
    vector: np.ndarray | None = None  # the query's embedding, when the caller has it
    filters: ArticleFilter | None = None  # None: the searcher's default filter
    top_k: int | None = None  # None: the searcher's own number of chunks


@runtime_checkable
class Searcher(Protocol):
    """Search → hits, the catalog, syndication groups (and: the collection changed)."""

    @property
    def default_filter(self) -> ArticleFilter:
        """The filter a search gets when the call gives none."""
        ...

    def hits(self, search: Search) -> list[Hit]:
        """The best chunks for the search's query among the articles its filter allows."""
        ...

    def resolve(self, filters: ArticleFilter) -> ArticleFilter:
        """`filters` with outlet and author names as the collection spells them."""
        ...

    def catalog(self) -> Catalog | None:
        """The collection's articles (outlets, dates); None where the searcher has none."""
        ...

    def group_members(self, groups: Sequence[str]) -> dict[str, list[FileRecord]]:
        """The indexed files of these syndication groups."""
        ...

    def invalidate(self) -> None:
        """The collection changed elsewhere: read what searching depends on again."""
        ...


class RetrieverSearcher:
    """Any llama-index retriever as a `Searcher`: one copy per syndication group, the filter
    applied to what it returns, no catalog."""

    def __init__(self, retriever: BaseRetriever, default_filter: ArticleFilter | None = None):
        self.retriever = retriever
        self.default_filter = default_filter or ArticleFilter()

    def hits(self, search: Search) -> list[Hit]:
        """As many chunks as the retriever gives (`top_k` is its own setting)."""
        vector = search.vector
        embedding = None if vector is None else [float(x) for x in vector]
        nodes = self.retriever.retrieve(QueryBundle(search.query, embedding=embedding))
        found = one_per_group([hit_of_node(n) for n in nodes])
        filters = self.default_filter if search.filters is None else search.filters
        if filters.empty:
            return found
        return [h for h in found if filters.allows(h.chunk.article)]

    def resolve(self, filters: ArticleFilter) -> ArticleFilter:
        return filters

    def catalog(self) -> Catalog | None:
        return None

    def group_members(self, groups: Sequence[str]) -> dict[str, list[FileRecord]]:
        return {}

    def invalidate(self) -> None:
        """A retriever of someone else's keeps its own index up to date."""


def searcher_for(
    retriever: BaseRetriever | Searcher, default_filter: ArticleFilter | None = None
) -> Searcher:
    """The retriever itself where it is a `Searcher` (ours), else wrapped with
    `default_filter` (the settings' filter) for calls that give none."""
    if isinstance(retriever, Searcher):
        return retriever
    return RetrieverSearcher(retriever, default_filter)


def with_copies(citations: list[Citation], searcher: Searcher) -> list[Citation]:
    """Each citation with the other outlets that carried the same (syndicated) text."""
    groups = [c.group for c in citations if c.group]
    if not groups:
        return citations
    members = searcher.group_members(groups)
    out = []
    for c in citations:
        others = {r.outlet or r.source for r in members.get(c.group, []) if r.path != c.path}
        out.append(replace(c, also_in=tuple(sorted(others))) if others else c)
    return out


__all__ = ["RetrieverSearcher", "Search", "Searcher", "searcher_for", "with_copies"]

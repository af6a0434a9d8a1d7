"""Which articles may answer: the call's filter (else the searcher's), narrowed to the window
a relative date in the question names ("last week"), newest first when it asks for the
latest. Outlet and author names as the collection spells them."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date

from qa.retrieve.filters import ArticleFilter
from qa.retrieve.searcher import Searcher
from qa.understand.time_window import asks_latest, question_window, without_names

log = logging.getLogger(__name__)


def article_scope(
    query: str, asked: ArticleFilter | None, searcher: Searcher, question_dates: bool
) -> ArticleFilter:
    """The filter an answer to `query` searches under; raises EmptyRange when the question's
    window leaves no day the filter allows."""
    base = searcher.default_filter if asked is None else asked
    if not base.empty:
        base = searcher.resolve(base)
    if not question_dates:
        return base
    # The catalog (every file record) is read only for a question that may name a time:
    # blanking outlet names can only remove a date expression, never add one.
    if question_window(query, date.today()) is None and not asks_latest(query):
        return base
    catalog = searcher.catalog()
    names = tuple(catalog.outlets()) if catalog else ()
    live = catalog is None or catalog.live
    reference = date.today() if live else (catalog.newest() if catalog else None)
    window = question_window(query, reference or date.today(), names)
    if window:
        log.info("the question names %s", window.describe())
        base = base.narrowed(window.since, window.until, window.describe())
    if asks_latest(without_names(query, names)):
        base = replace(base, latest=True)
    return base

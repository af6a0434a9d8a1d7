"""Filters by date, outlet and author, applied inside retrieval; relative dates in questions."""

from __future__ import annotations

from datetime import date

import pytest
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from index.storing.nodes import published_day
from index.types import ArticleInfo
from qa.core.errors import InputError
from qa.core.types import Evidence
from qa.evidence.recency import newest_first
from qa.retrieve.catalog import Catalog
from qa.retrieve.filters import (
    ArticleFilter,
    EmptyRange,
    from_metadata_filters,
    to_metadata_filters,
)
from qa.retrieve.node_retriever import HybridNodeRetriever
from qa.understand.time_window import asks_latest, question_window, without_names

KBS = "KBS World Radio News"


def _info(published: str = "", outlet: str = "", author: str = "") -> ArticleInfo:
    return ArticleInfo("a.txt", "/a.txt", "t", outlet, published, author)


# --- the filter itself -----------------------------------------------------------------------
def test_published_day_is_a_sortable_number_or_zero() -> None:
    assert published_day("2019-04-23T22:13:00+05:30") == 20190423
    assert published_day("2019-04-23") == 20190423
    assert published_day("") == 0
    assert published_day("April 2019") == 0


def test_a_bad_date_or_an_empty_range_is_a_clear_message() -> None:
    with pytest.raises(InputError, match="not a date; write it as YYYY-MM-DD"):
        ArticleFilter.of(since="last tuesday")
    with pytest.raises(InputError, match="date range is empty"):
        ArticleFilter.of(since="2019-05-01", until="2019-04-01")


def test_allows_matches_the_chroma_where_clause() -> None:
    f = ArticleFilter.of("2019-04-20", "2019-04-24", [KBS], ["Albert Kim"])
    assert f.chroma_where() == {
        "$and": [
            {"published_day": {"$gte": 20190420}},
            {"published_day": {"$lte": 20190424}},
            {"outlet": {"$in": [KBS]}},
            {"author": {"$in": ["Albert Kim"]}},
        ]
    }
    assert f.allows(_info("2019-04-23T10:00", KBS, "Albert Kim"))
    assert not f.allows(_info("2019-04-25", KBS, "Albert Kim"))  # after until
    assert not f.allows(_info("2019-04-19", KBS, "Albert Kim"))  # before since
    assert not f.allows(_info("", KBS, "Albert Kim"))  # no date: not shown to be inside
    assert not f.allows(_info("2019-04-23", "Other", "Albert Kim"))
    assert ArticleFilter().chroma_where() is None and ArticleFilter().empty
    # An "until" alone still leaves undated articles out.
    assert ArticleFilter.of(until="2019-04-24").chroma_where() == {
        "$and": [{"published_day": {"$gte": 1}}, {"published_day": {"$lte": 20190424}}]
    }


def test_narrowing_by_the_question_overlaps_or_says_it_cannot() -> None:
    f = ArticleFilter.of("2019-04-01", "2019-04-30")
    narrowed = f.narrowed(date(2019, 4, 19), date(2019, 4, 26), '"last week"')
    assert (narrowed.since, narrowed.until) == (date(2019, 4, 19), date(2019, 4, 26))
    with pytest.raises(EmptyRange, match="outside the date range set"):
        f.narrowed(date(2019, 5, 3), date(2019, 5, 10), '"last week"')


def test_metadata_filters_round_trip_and_unsupported_ones_are_refused() -> None:
    f = ArticleFilter.of("2019-04-20", "2019-04-24", [KBS], ["Albert Kim"])
    assert from_metadata_filters(to_metadata_filters(f)) == f
    strict = MetadataFilters(
        filters=[
            MetadataFilter(key="published", value="2019-04-20", operator=FilterOperator.GT),
            MetadataFilter(key="outlet", value=KBS, operator=FilterOperator.EQ),
        ]
    )
    assert from_metadata_filters(strict) == ArticleFilter.of("2019-04-21", None, [KBS])
    with pytest.raises(InputError, match="filter title"):
        from_metadata_filters(MetadataFilters(filters=[MetadataFilter(key="title", value="Kim")]))
    with pytest.raises(InputError, match="only AND-ed"):
        from_metadata_filters(
            MetadataFilters(
                filters=[MetadataFilter(key="outlet", value=KBS)], condition=FilterCondition.OR
            )
        )


# --- names as the collection spells them ----------------------------------------------------
def test_outlet_names_resolve_by_words_and_unknown_ones_list_what_is_there(
    indexed_assistant,
) -> None:
    catalog = Catalog.of(indexed_assistant.store.file_records().values())
    assert catalog.outlets() == [KBS]
    assert catalog.resolve(ArticleFilter.of(outlets=["kbs"])).outlets == (KBS,)
    assert catalog.resolve(ArticleFilter.of(outlets=["radio news"])).outlets == (KBS,)
    with pytest.raises(InputError, match=f"no indexed article has the outlet 'Reuters'.*{KBS}"):
        catalog.resolve(ArticleFilter.of(outlets=["Reuters"]))
    with pytest.raises(InputError, match="outlet 'KB'"):  # words, not letters
        catalog.resolve(ArticleFilter.of(outlets=["KB"]))
    assert catalog.newest() == date(2020, 9, 27)
    assert not catalog.live


# --- inside retrieval -------------------------------------------------------------------------
def test_bm25_with_allowed_files_returns_only_their_chunks(indexed_assistant) -> None:
    lexical = indexed_assistant.lexical
    everything = lexical.search("Kim Putin summit Vladivostok", 50)
    chunks = {c.id: c for c in indexed_assistant.store.iter_chunks()}
    kbs = frozenset(
        p for p in {c.path for c in chunks.values()} if p.endswith("000_86efe34d87499970.txt")
    )
    only = lexical.search("Kim Putin summit Vladivostok", 50, kbs)
    assert only and {chunks[cid].path for cid, _ in only} == set(kbs)
    # The allowed file's chunks keep their scores (statistics stay collection-wide).
    assert dict(only) == {cid: s for cid, s in everything if chunks[cid].path in kbs}
    assert lexical.search("Kim Putin summit", 50, frozenset()) == []


def test_filtered_retrieval_fills_top_k_from_the_articles_that_pass(indexed_assistant) -> None:
    search = indexed_assistant.retriever.search
    since = ArticleFilter.of(since="2019-04-24")
    hits = search.retrieve("Kim Putin summit", 5, filters=since)
    assert len(hits) == 5  # seeds 001 and 004 have enough chunks: none of k is wasted
    assert {h.chunk.published[:10] for h in hits} <= {"2019-04-25", "2020-09-27"}
    by_outlet = search.retrieve("Kim Putin summit", 3, filters=ArticleFilter.of(outlets=[KBS]))
    assert by_outlet and {h.chunk.outlet for h in by_outlet} == {KBS}
    nothing = ArticleFilter.of(since="2030-01-01")
    assert search.retrieve("Kim Putin summit", 5, filters=nothing) == []


def test_the_llama_index_retriever_takes_metadata_filters(indexed_assistant) -> None:
    retriever = HybridNodeRetriever.from_settings(
        indexed_assistant.settings,
        embedder=indexed_assistant.embedder,
        filters=MetadataFilters(
            filters=[MetadataFilter(key="outlet", value="kbs", operator=FilterOperator.EQ)]
        ),
    )
    nodes = retriever.retrieve("Who will Biegun meet in Moscow?")
    assert nodes and {n.node.metadata["outlet"] for n in nodes} == {KBS}


def test_settings_filters_reach_the_answer(indexed_assistant) -> None:
    answer = indexed_assistant.ask(
        "Where did Kim and Putin meet?", filters=ArticleFilter.of(outlets=["kbs"])
    )
    assert answer.retrieved and {r.source[:3] for r in answer.retrieved} == {"000"}
    none = indexed_assistant.ask(
        "Where did Kim and Putin meet?", filters=ArticleFilter.of(until="2001-01-01")
    )
    assert none.abstained
    assert "No indexed article matches until 2001-01-01" in none.text
    with pytest.raises(InputError, match="outlet 'Reuters'"):
        indexed_assistant.ask("Where did they meet?", filters=ArticleFilter.of(outlets=["Reuters"]))


def test_filters_set_in_settings_apply_to_every_answer(indexed_assistant) -> None:
    from qa.assistant import Assistant

    settings = indexed_assistant.settings.model_copy(update={"outlets": ["kbs"]})
    kbs_only = Assistant(settings, embedder=indexed_assistant.embedder)
    answer = kbs_only.ask("Where did Kim and Putin meet?")
    assert {r.source[:3] for r in answer.retrieved} == {"000"}


def test_a_relative_date_in_the_question_narrows_to_the_newest_articles(indexed_assistant) -> None:
    # The newest seed is dated 2020-09-27, so "last week" is 2020-09-20 to 2020-09-27.
    answer = indexed_assistant.ask("What did the summit reports say last week?")
    assert answer.retrieved and {r.source[:3] for r in answer.retrieved} == {"001"}
    outside = indexed_assistant.ask(
        "What did the summit reports say last week?",
        filters=ArticleFilter.of(until="2019-04-30"),
    )
    assert outside.abstained and "outside the date range set" in outside.text
    plain = indexed_assistant.ask("Where did Kim and Putin meet?")
    assert len({r.source for r in plain.retrieved}) > 1


# --- relative dates and "the latest" ---------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "since"),
    [
        ("What did Putin say last week?", date(2019, 4, 19)),
        ("What happened 3 days ago?", date(2019, 4, 23)),
        ("What was reported yesterday?", date(2019, 4, 25)),
        ("What happened this month?", date(2019, 3, 27)),
    ],
)
def test_relative_expressions_are_windows_ending_on_the_reference(question, since) -> None:
    window = question_window(question, date(2019, 4, 26))
    assert window is not None and (window.since, window.until) == (since, date(2019, 4, 26))


@pytest.mark.parametrize(
    "question",
    [
        "Who accompanied Kim at the extended talks?",
        "Where did Kim Chang-son travel in March?",  # an event's date, not a window
        "Which agency reported the aide in Vladivostok on Sunday?",
        "Could the Amazon forest survive only three years of drought?",  # a duration
        "What happened 30 minutes before kickoff?",  # a time of day
    ],
)
def test_event_dates_durations_and_times_are_not_windows(question) -> None:
    assert question_window(question, date(2019, 4, 26)) is None


def test_outlet_names_are_neither_dates_nor_a_wish_for_the_latest() -> None:
    outlet = "Business Today | Latest Stock Market And Economy News India"
    q = f"After the report by {outlet} on October 7, what changed?"
    assert question_window(q, date(2023, 12, 1), (outlet,)) is None
    assert asks_latest(q) and not asks_latest(without_names(q, (outlet,)))
    assert asks_latest("What is the latest on the summit?")


def test_the_latest_ranks_the_newest_relevant_reports_first(make_evidence) -> None:
    old = make_evidence("002", "Vladivostok", relevance=0.8)
    new = make_evidence("004", "Vladivostok", relevance=0.75)
    weak_but_new = make_evidence("004", "Putin", relevance=0.5)  # far below the best
    off_topic = make_evidence("001", "Kim", relevance=0.1)
    ranked: list[Evidence] = [old, off_topic, weak_but_new, new]
    assert newest_first(ranked, 0.4) == [new, old, off_topic, weak_but_new]
    assert newest_first([], 0.4) == []


def test_now_and_today_are_not_windows() -> None:
    for question in ("Who is now accused of fraud?", "What happened today?"):
        assert question_window(question, date(2019, 4, 26)) is None


def test_the_filtered_dense_search_finds_what_chromas_where_search_finds(
    indexed_assistant, monkeypatch
) -> None:
    from qa.retrieve import hybrid

    search = indexed_assistant.retriever.search
    vector = indexed_assistant.embedder.embed(["Kim Putin summit talks"])[0]
    filters = [ArticleFilter.of(since="2019-04-24"), ArticleFilter.of(outlets=[KBS])]
    for share in (0.0, 1.01):  # the wide id search, then the search among named chunks
        monkeypatch.setattr(hybrid, "WIDE_SEARCH_SHARE", share)
        for chosen in filters:
            allowed = search.catalog().allowed_paths(chosen)
            exact = indexed_assistant.store.query(vector, search.candidates, chosen.chroma_where())
            found = search._dense_filtered(vector, chosen, allowed)
            assert [h.chunk.id for h in found] == [h.chunk.id for h in exact]
            assert all(chosen.allows(h.chunk.article) for h in found)

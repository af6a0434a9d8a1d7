"""Feeds and pages from a real HTTP server on loopback, indexed with the real embedder into
real Chroma and answered by the real model; the citation carries the page's address."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))  # the loopback site helper
from loopback_site import Route, loopback_site, news_page, rss  # noqa: E402

from qa import ArticleFilter, Assistant, Settings  # noqa: E402

pytestmark = pytest.mark.integration

FERRY = [
    "The harbour town of Kelderwick opened its first solar-powered ferry line on Tuesday, "
    "the harbour authority said in a statement.",
    "The ferry, named Tern, carries 48 passengers across Kelderwick Bay in 11 minutes, and "
    "tickets cost two euros, according to the operator.",
]
BRIDGE = [
    "Engineers in Kelderwick closed the old swing bridge on Monday for repairs that will last "
    "until the end of the year, the council said.",
    "Drivers are asked to use the ring road, which adds about ten minutes to the trip into "
    "the old town.",
]


def test_a_followed_feed_is_answered_with_links_and_filters(
    qa_home: Path, fresh_collection: str, real_assistant: Assistant
) -> None:
    with loopback_site() as site:
        ferry_page = news_page("Kelderwick opens a solar ferry line", "Harbour Post",
                               "2023-10-03T09:00:00+00:00", "Mira Voss", FERRY)  # fmt: skip
        bridge_page = news_page("Kelderwick closes its swing bridge", "Coast Courier",
                                "2023-10-09T08:00:00+00:00", "Ola Berg", BRIDGE)  # fmt: skip
        ferry = site.page("/ferry.html", ferry_page)
        bridge = site.page("/bridge.html", bridge_page)
        site.routes["/feed.xml"] = Route(
            rss(
                [
                    ("Ferry", ferry, "Tue, 03 Oct 2023 09:00:00 GMT"),
                    ("Bridge", bridge, "Mon, 09 Oct 2023 08:00:00 GMT"),
                ]
            ).encode(),  # fmt: skip
            content_type="application/rss+xml",
            last_modified="Mon, 09 Oct 2023 08:00:00 GMT",
        )
        assistant = Assistant(
            Settings(home=qa_home, collection=fresh_collection),
            embedder=real_assistant.embedder,
            llm=real_assistant.llm,
        )
        report, indexed = assistant.add_feed(site.url + "/feed.xml")
        assert report.new == 2 and len(indexed.added) == 2
        reports, again = assistant.refresh_feeds()
        assert reports[0].unchanged and again.chunks_embedded == 0
        assert site.requests[-1][1]["If-Modified-Since"] == "Mon, 09 Oct 2023 08:00:00 GMT"

    answer = assistant.ask("How many passengers does the Tern ferry carry?")
    assert not answer.abstained and "48" in answer.text
    assert answer.citations[0].url == ferry and answer.citations[0].outlet == "Harbour Post"

    # Real Chroma filters: only the other outlet, so the ferry is not found.
    other = assistant.ask(
        "How many passengers does the Tern ferry carry?",
        filters=ArticleFilter.of(outlets=["coast courier"]),
    )
    assert other.retrieved and all("bridge" in r.source for r in other.retrieved)
    assert "48" not in other.text

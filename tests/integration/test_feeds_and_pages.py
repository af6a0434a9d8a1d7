"""Feeds and pages from a real HTTP server on loopback, indexed with the real embedder into
real Chroma and answered by the real model; the citation carries the page's address."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))  # the loopback site helper
from loopback_site import Route, loopback_site, news_page, rss, serve_feed  # noqa: E402

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
            Settings(home=qa_home, collection=fresh_collection, allow_private_addresses=True),
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


def _feed_command(home: Path, collection: str, *args: str) -> subprocess.Popen[bytes]:
    # Small embedding batches: the indexer commits every few articles, so a kill at 16/40
    # leaves some indexed and some not.
    env = {**os.environ, "QA_HOME": str(home), "QA_COLLECTION": collection,
           "QA_ALLOW_PRIVATE_ADDRESSES": "1", "QA_EMBED_BATCH_SIZE": "1"}  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "qa.cli", "feed", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def _store_state(assistant: Assistant) -> tuple[set[tuple[str, str, int]], list[str]]:
    records = assistant.store.file_records()
    files = {(r.source, r.file_sha256, r.chunks) for r in records.values()}
    return files, sorted(c.text for c in assistant.store.chunks_of(sorted(records)))


def test_a_feed_add_killed_while_indexing_is_completed_by_the_next_refresh(
    qa_home: Path, real_assistant: Assistant
) -> None:
    """`qa feed add` on a 40-item feed, SIGKILLed at "indexing 16/40": the next `qa feed
    refresh` (the feed now answers 304) indexes every item, and the store equals a clean
    build of the same feed."""
    with loopback_site() as site:
        url = serve_feed(site, 40)
        clean = _feed_command(qa_home, "feed-clean", "add", url)
        assert clean.wait(timeout=600) == 0, clean.stderr.read() if clean.stderr else ""

        killed = _feed_command(qa_home, "feed-killed", "add", url)
        assert killed.stderr is not None
        seen = b""
        while max(map(int, re.findall(rb"(\d+)/40", seen)), default=0) < 16:  # tqdm's count
            chunk = killed.stderr.read1(4096)
            assert chunk, f"qa feed add ended before indexing 16/40: {seen[-2000:]!r}"
            seen += chunk
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)

        refresh = _feed_command(qa_home, "feed-killed", "refresh", "-q")
        out, err = refresh.communicate(timeout=600)
        assert refresh.returncode == 0, err.decode()[-2000:]
        assert f"{url}: 40 new, 0 changed\n".encode() in out  # never "unchanged"
        assert re.search(rb"\b([1-9]\d*) unchanged", out)  # some were indexed before the kill
        assert site.requests[-41][1].get("If-None-Match") == '"v1"'  # the feed answered 304

    def opened(collection: str) -> Assistant:
        settings = Settings(home=qa_home, collection=collection)
        return Assistant(settings, embedder=real_assistant.embedder, llm=real_assistant.llm)

    expected = _store_state(opened("feed-clean"))
    assert len(expected[0]) == 40 and _store_state(opened("feed-killed")) == expected

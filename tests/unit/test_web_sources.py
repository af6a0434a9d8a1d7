"""Web pages and feeds as sources, against a real HTTP server on loopback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from loopback_site import Route, loopback_site, news_page, rss

from index.reading.feeds import FeedList
from index.reading.html_text import extract_with_trafilatura
from index.reading.loaders import load_article
from index.reading.web import FetchError, FetchPolicy, fetch, save_page
from qa.assistant import Assistant
from qa.cli import main
from ui.render import source_card

PARAGRAPHS = [
    "The harbour town of Kelderwick opened its first solar-powered ferry line on Tuesday, "
    "the harbour authority said in a statement.",
    "The ferry, named Tern, carries 48 passengers across Kelderwick Bay in 11 minutes and "
    "tickets cost two euros, according to the operator.",
]
SECOND = [
    "Kelderwick council approved a second solar ferry on Friday after the first line carried "
    "more than 3,000 passengers in its opening week, officials said.",
    "The new boat, named Petrel, will enter service in the spring and serve the island of "
    "Holmsey twice an hour.",
]


def _page(title: str = "Kelderwick opens a solar ferry line", paragraphs=PARAGRAPHS) -> str:
    return news_page(title, "Harbour Post", "2023-10-03T09:00:00+00:00", "Mira Voss", paragraphs)


# The loopback server is a local address: these tests opt in to fetching from it.
LOOPBACK = FetchPolicy(allow_private=True)
LOOPBACK_SETTINGS = {"allow_private_addresses": True, "fetch_host_interval_s": 0.0}


@pytest.fixture
def site():
    with loopback_site() as s:
        yield s


@pytest.fixture
def loopback_settings(make_settings):
    return lambda **kw: make_settings(**{**LOOPBACK_SETTINGS, **kw})


# --- fetching -----------------------------------------------------------------------------
def test_fetch_reads_a_page_and_each_failure_is_one_line(site) -> None:
    url = site.page("/ferry.html", _page())
    got = fetch(url, policy=LOOPBACK)
    assert got.status == 200 and b"Tern" in got.body and got.content_type == "text/html"

    site.routes["/loop"] = Route(status=302, location="/loop")
    site.routes["/big.html"] = Route(b"<p>" + b"x" * 1_000_000 + b"</p>", repeat=12)
    site.routes["/paper.pdf"] = Route(b"%PDF-1.4 ...", content_type="application/pdf")
    site.routes["/gone"] = Route(b"gone", status=410)
    cases = {
        "/loop": "too many redirects (a redirect loop?)",
        "/big.html": "over the 10 MB limit",
        "/paper.pdf": "not a web page (the server sent application/pdf)",
        "/gone": "the server answered 410",
        "/missing": "the server answered 404",
    }
    for path, reason in cases.items():
        with pytest.raises(FetchError, match=re.escape(reason)) as e:
            fetch(site.url + path, policy=LOOPBACK)
        assert "\n" not in str(e.value)
    with pytest.raises(FetchError, match="cannot connect"):
        fetch("http://127.0.0.1:9/down", policy=LOOPBACK)  # the discard port: nothing listens
    with pytest.raises(FetchError, match="not a web address"):
        fetch("ftp://example.invalid/x")


def test_a_saved_page_keeps_its_url_and_reads_with_trafilatura(site, tmp_path: Path) -> None:
    url = site.page("/ferry.html", _page())
    path = save_page(tmp_path, fetch(url, policy=LOOPBACK))
    assert save_page(tmp_path, fetch(url, policy=LOOPBACK)) == path  # the same URL, the same file
    article = load_article(path)
    assert article.url == url and article.kind == "html"
    assert article.title == "Kelderwick opens a solar ferry line"
    assert article.outlet == "Harbour Post" and article.author == "Mira Voss"
    assert article.published.startswith("2023-10-03")
    body = article.body_text()
    assert "48 passengers" in body and "cookies" not in body and "Most read" not in body
    for span in article.body:  # offsets slice the article text
        assert article.text[span.start : span.end].strip()


def test_a_page_without_a_main_text_falls_back_to_every_block(tmp_path: Path) -> None:
    page = extract_with_trafilatura("<html><body></body></html>")
    assert page.text == "" and page.main_text_only


# --- indexing URLs -------------------------------------------------------------------------
def test_index_a_url_then_the_citation_links_to_it(site, loopback_settings) -> None:
    url = site.page("/ferry.html", _page())
    site.routes["/paper.pdf"] = Route(b"%PDF", content_type="application/pdf")
    assistant = Assistant(loopback_settings(min_relevance=-1.0))
    report = assistant.index([url, site.url + "/paper.pdf"])
    assert len(report.added) == 1
    assert report.skipped == [(site.url + "/paper.pdf", "not a web page (the server sent "
                                                        "application/pdf)")]  # fmt: skip
    answer = assistant.ask("How many passengers does the Tern ferry carry?")
    assert answer.citations and answer.citations[0].url == url
    assert answer.to_json()["citations"][0]["url"] == url
    card = source_card(1, answer.citations[0], None)
    assert f"href='{url}'" in card and "rel='noopener noreferrer'" in card
    # Indexing the same URL again embeds nothing.
    again = assistant.index([url])
    assert again.chunks_embedded == 0 and len(again.unchanged) == 1


# --- feeds -----------------------------------------------------------------------------------
def _feed_site(site) -> str:
    first = site.page("/news/ferry.html", _page())
    site.routes["/feed.xml"] = Route(
        rss([("Ferry", first, "Tue, 03 Oct 2023 09:00:00 GMT")]).encode(),
        content_type="application/rss+xml",
        etag='"v1"',
    )
    return site.url + "/feed.xml"


def test_a_feed_is_followed_and_an_unchanged_refresh_costs_one_request(
    site, loopback_settings
) -> None:
    feed_url = _feed_site(site)
    assistant = Assistant(loopback_settings())
    report, indexed = assistant.add_feed(feed_url)
    assert (report.new, report.error) == (1, "") and len(indexed.added) == 1
    record = next(iter(assistant.store.file_records().values()))
    assert record.feed == feed_url and record.url.endswith("/news/ferry.html")

    before = len(site.requests)
    reports, again = assistant.refresh_feeds()
    assert reports[0].unchanged and again.chunks_embedded == 0
    assert len(site.requests) == before + 1  # one conditional GET, answered 304
    assert site.requests[-1][1].get("If-None-Match") == '"v1"'

    # A new item: only it is fetched.
    second = site.page("/news/second.html", _page("Kelderwick approves a second ferry", SECOND))
    site.routes["/feed.xml"] = Route(
        rss(
            [
                ("Second", second, "Fri, 06 Oct 2023 09:00:00 GMT"),
                ("Ferry", site.url + "/news/ferry.html", "Tue, 03 Oct 2023 09:00:00 GMT"),
            ]
        ).encode(),
        content_type="application/rss+xml",
        etag='"v2"',
    )
    reports, more = assistant.refresh_feeds()
    assert (reports[0].new, reports[0].changed) == (1, 0) and len(more.added) == 1
    assert site.hits("/news/ferry.html") == 1 and site.hits("/news/second.html") == 1
    assert len(assistant.documents()) == 2
    saved = json.loads((assistant.settings.store.home / "feeds" / "seeds.json").read_text())
    assert saved[0]["etag"] == '"v2"' and len(saved[0]["items"]) == 2


def test_a_broken_feed_or_item_is_a_line_and_the_rest_is_indexed(site, loopback_settings) -> None:
    good = _feed_site(site)
    site.routes["/bad.xml"] = Route(
        b"<html><body>Not a feed</body></html>", content_type="text/html"
    )
    site.routes["/mixed.xml"] = Route(
        rss(
            [
                ("Loop", site.url + "/loop", "Mon, 02 Oct 2023 09:00:00 GMT"),
                ("Pdf", site.url + "/paper.pdf", "Mon, 02 Oct 2023 09:00:00 GMT"),
            ]
        ).encode(),
        content_type="application/rss+xml",
    )
    site.routes["/loop"] = Route(status=302, location="/loop")
    site.routes["/paper.pdf"] = Route(b"%PDF", content_type="application/pdf")
    assistant = Assistant(loopback_settings())
    feeds = assistant.feed_list()
    for url in (good, site.url + "/bad.xml", site.url + "/mixed.xml", "http://127.0.0.1:9/feed"):
        feeds.add(url)
    reports, indexed = assistant.refresh_feeds()
    by_url = {r.url: r for r in reports}
    assert by_url[good].new == 1 and len(indexed.added) == 1
    assert "not a readable RSS or Atom feed" in by_url[site.url + "/bad.xml"].error
    assert "cannot connect" in by_url["http://127.0.0.1:9/feed"].error
    problems = dict(by_url[site.url + "/mixed.xml"].problems)
    assert "redirect loop" in problems[site.url + "/loop"]
    assert "not a web page" in problems[site.url + "/paper.pdf"]
    assert all("\n" not in r.summary() for r in reports)


def test_adding_an_address_on_the_page_fetches_it_once(site, loopback_settings) -> None:
    """The fetch that tells a feed from a page is the one read (a feed) or indexed (a page)."""
    from ui.service import ChatService

    service = ChatService(loopback_settings())
    feed_url = _feed_site(site)
    assert "1 added" in service.add_address(feed_url)
    assert site.hits("/feed.xml") == 1 and site.hits("/news/ferry.html") == 1
    page_url = site.page("/news/second.html", _page("Kelderwick approves a second ferry", SECOND))
    assert "indexed as a single page" in service.add_address(page_url)
    assert site.hits("/news/second.html") == 1
    assert len(service.documents()) == 2


def test_an_address_that_is_neither_feed_nor_page_is_said_so(site, loopback_settings) -> None:
    from ui.service import ChatService

    site.routes["/paper.pdf"] = Route(b"%PDF-1.4 ...", content_type="application/pdf")
    text = ChatService(loopback_settings()).add_address(site.url + "/paper.pdf")
    assert "not a feed or a web page (the server sent application/pdf)" in text
    assert "single page" not in text and site.hits("/paper.pdf") == 1


def test_the_page_report_keeps_the_feed_line_and_the_counts_apart() -> None:
    from index.indexer import IndexReport
    from index.reading.feeds import FeedRefresh
    from ui.service import web_report

    report = IndexReport(added=["a.html", "b.html"], chunks_embedded=1)
    text = web_report(
        [FeedRefresh("http://x/feed", new=2).summary()], [("http://x/y", "gone")], report
    )
    # A line right after a list item would run on in its text: "2 new, 0 changed 2 added".
    assert text == (
        "- http://x/feed: 2 new, 0 changed\n\n"
        "**Articles: 2 added, 0 updated, 0 unchanged, 0 removed, 0 skipped, 1 chunk embedded**"
        "\n\n- skipped `http://x/y`: gone"
    )


def test_the_feed_commands(site, loopback_settings, monkeypatch, capsys) -> None:
    feed_url = _feed_site(site)
    settings = loopback_settings()
    monkeypatch.setenv("QA_HOME", str(settings.store.home))
    monkeypatch.setenv("QA_EMBEDDER", "hash")
    monkeypatch.setenv("QA_LLM_BACKEND", "fake")
    monkeypatch.setenv("QA_ALLOW_PRIVATE_ADDRESSES", "1")
    assert main(["feed", "add", "-q", feed_url]) == 0
    out = capsys.readouterr().out
    assert f"{feed_url}: 1 new, 0 changed" in out and "1 added" in out
    assert main(["feed", "refresh", "-q"]) == 0
    assert f"{feed_url}: unchanged" in capsys.readouterr().out
    assert main(["feed", "list"]) == 0
    assert f"{feed_url} (Test wire): 1 item, last refreshed" in capsys.readouterr().out
    assert main(["index", "-q", site.url + "/missing.html"]) == 1
    assert "the server answered 404" in capsys.readouterr().err
    assert main(["feed", "remove", feed_url]) == 0
    assert "removed (its articles stay indexed)" in capsys.readouterr().out
    assert FeedList(settings.store.home, "seeds").feeds == {}


def test_the_page_adds_a_feed_or_a_page_by_what_the_server_sends(site, loopback_settings) -> None:
    from ui.service import ChatService

    service = ChatService(loopback_settings())
    feed_url = _feed_site(site)
    text = service.add_address(feed_url)
    assert f"{feed_url}: 1 new, 0 changed" in text and "1 added" in text
    assert "web page" not in text
    page_url = site.page("/news/second.html", _page("Kelderwick approves a second ferry", SECOND))
    text = service.add_address(page_url)
    assert f"`{page_url}` is a web page, not a feed: indexed as a single page" in text
    assert "1 added" in text
    assert "unchanged" in service.refresh_feeds()
    with pytest.raises(FetchError, match="the server answered 404"):
        service.add_address(site.url + "/nothing.xml")
    assert service.outlets() == ["Harbour Post"]
    assert len(service.documents()) == 2

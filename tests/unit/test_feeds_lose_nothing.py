"""Feeds lose nothing: a refresh killed at any phase, an item that failed once, a second
writer, the item limit, a store that lost an article, a malformed feed or feed list.

The store after each ordeal is compared with a clean build of the same feed. Everything runs
against a real HTTP server on loopback (the tests opt in to fetching from it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from loopback_site import Route, loopback_site, serve_feed

from index.reading.feeds import FeedList
from index.reading.web import FetchError
from qa.assistant import Assistant
from qa.cli import main

LOOPBACK = {"allow_private_addresses": True, "fetch_host_interval_s": 0.0}


def _store_state(assistant: Assistant) -> tuple[set[tuple[str, str, int]], list[str]]:
    """What the store holds, independent of where the data directory is."""
    records = assistant.store.file_records()
    files = {(r.source, r.file_sha256, r.chunks) for r in records.values()}
    texts = sorted(c.text for c in assistant.store.chunks_of(sorted(records)))
    return files, texts


@pytest.fixture
def site():
    with loopback_site() as s:
        yield s


@pytest.fixture
def settings(make_settings):
    return lambda **kw: make_settings(**{**LOOPBACK, **kw})


# --- a refresh killed at every phase --------------------------------------------------------
CHILD = """
import sys, time
from index.reading import feeds
from index.storing import store
from qa.assistant import Assistant
from qa.core.settings import Settings

phase, url = sys.argv[1], sys.argv[2]

def stop():
    print("PHASE", phase, flush=True)
    time.sleep(600)

def after(owner, name, calls=1):
    real, seen = getattr(owner, name), []
    def wrapper(*args, **kwargs):
        result = real(*args, **kwargs)
        seen.append(1)
        if len(seen) == calls:
            stop()
        return result
    setattr(owner, name, wrapper)

def before(owner, name):
    real = getattr(owner, name)
    def wrapper(*args, **kwargs):
        stop()
        return real(*args, **kwargs)
    setattr(owner, name, wrapper)

if phase == "planned":  # the ETag and the pending items are saved; nothing fetched
    after(feeds.FeedList, "_plan")
elif phase == "fetching":  # some pages saved, the rest not fetched yet
    after(feeds, "save_page", calls=5)
elif phase == "indexing":  # the indexer has committed its first group of articles
    after(store.ChunkStore, "put_files")
elif phase == "indexed":  # every page indexed, none recorded as indexed yet
    before(feeds.FeedList, "_record")
Assistant(Settings()).add_feed(url)
print("DONE", flush=True)
"""


def _killed_at(phase: str, url: str, home: Path) -> None:
    env = {**os.environ, "QA_HOME": str(home), "QA_EMBEDDER": "hash", "QA_LLM_BACKEND": "fake",
           "QA_ALLOW_PRIVATE_ADDRESSES": "1", "QA_FETCH_HOST_INTERVAL_S": "0",
           "QA_EMBED_BATCH_SIZE": "1", "PYTHONPATH": os.getcwd()}  # fmt: skip
    child = subprocess.Popen([sys.executable, "-c", CHILD, phase, url], env=env,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert child.stdout is not None
    line = child.stdout.readline()
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert line.strip() == f"PHASE {phase}", line


@pytest.mark.parametrize("phase", ["planned", "fetching", "indexing", "indexed"])
def test_a_refresh_killed_at_any_phase_is_completed_by_the_next(
    phase: str, site, settings, tmp_path: Path
) -> None:
    url = serve_feed(site, 12)
    clean = Assistant(settings(home=tmp_path / "clean"))
    clean.add_feed(url)
    expected = _store_state(clean)
    assert len(expected[0]) == 12

    home = tmp_path / "killed"
    _killed_at(phase, url, home)
    assistant = Assistant(settings(home=home))
    saved = assistant.feed_list().feeds[url]
    missing = 12 - len(assistant.store.file_records())
    assert len(saved.items) + len(saved.pending) == 12 or phase == "planned" and not saved.items
    report = assistant.refresh_feeds()[0][0]
    assert not report.unchanged and report.new + report.changed == 12 - len(saved.items)
    assert missing == 0 or report.new >= missing  # nothing missing is called unchanged
    assert _store_state(assistant) == expected
    assert assistant.refresh_feeds()[0][0].unchanged


# --- an item that failed once ---------------------------------------------------------------
def test_a_failed_item_is_retried_even_when_the_feed_answers_304(site, settings, capsys) -> None:
    url = serve_feed(site, 3)
    broken = site.url + "/feed.xml/story1.html"
    good = site.routes["/feed.xml/story1.html"]
    site.routes["/feed.xml/story1.html"] = Route(status=503)
    clock = [time.time()]
    assistant = Assistant(settings())
    feeds = FeedList(assistant.settings.store.home, "seeds", assistant.settings.fetch,
                     clock=lambda: clock[0])  # fmt: skip
    first, _ = assistant.add_feed(url)
    unavailable = "the server answered 503 Service Unavailable"
    assert (first.new, dict(first.problems)) == (2, {broken: unavailable})
    assert "1 failed (retried next time)" in first.summary()

    # Still failing: the second failure in a row waits a minute before the next try.
    clock[0] = time.time()
    second = assistant.refresh_feeds(feeds=feeds)[0][0]
    asked = [headers for path, headers in site.requests if path == "/feed.xml"]
    assert asked[-1].get("If-None-Match") == '"v1"'  # the feed answered 304
    assert not second.unchanged and len(second.problems) == 1
    assert assistant.refresh_feeds(feeds=feeds)[0][0].waiting == 1  # backing off: not tried
    assert site.hits("/feed.xml/story1.html") == 2

    site.routes["/feed.xml/story1.html"] = good
    clock[0] += 61
    third = assistant.refresh_feeds(feeds=feeds)[0][0]
    assert (third.new, third.problems, third.unchanged) == (1, [], False)
    assert len(assistant.documents()) == 3
    assert assistant.refresh_feeds(feeds=feeds)[0][0].unchanged


def test_feed_list_shows_failed_items_with_their_reason(site, settings, monkeypatch, capsys):
    url = serve_feed(site, 2)
    site.routes["/feed.xml/story0.html"] = Route(status=503)
    home = settings().store.home
    for name, value in {"QA_HOME": str(home), "QA_EMBEDDER": "hash", "QA_LLM_BACKEND": "fake",
                        "QA_ALLOW_PRIVATE_ADDRESSES": "1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    assert main(["feed", "add", "-q", url]) == 0
    capsys.readouterr()
    assert main(["feed", "list"]) == 0
    out = capsys.readouterr().out
    assert f"{url} (Test wire): 1 item, 1 pending" in out
    assert "failed 1x" in out and "story0.html: the server answered 503" in out


# --- two writers ----------------------------------------------------------------------------
def test_a_feed_added_during_a_refresh_is_kept(site, settings) -> None:
    url = serve_feed(site, 3)
    for n in range(3):
        site.routes[f"/feed.xml/story{n}.html"].delay_s = 0.5  # a slow refresh
    other = serve_feed(site, 1, path="/other.xml")
    assistant = Assistant(settings())
    feeds = assistant.feed_list()
    feeds.add(url)
    refresh = threading.Thread(target=assistant.refresh_feeds, args=([url],))
    refresh.start()
    while not any(p.startswith("/feed.xml/story") for p, _ in site.requests):
        threading.Event().wait(0.02)
    FeedList(assistant.settings.store.home, "seeds").add(other)  # as a second process would
    refresh.join(timeout=60)
    saved = assistant.feed_list().feeds
    assert set(saved) == {url, other} and len(saved[url].items) == 3


# --- limits and lost articles ---------------------------------------------------------------
def test_a_long_feed_is_taken_a_limited_number_of_items_per_refresh(site, settings) -> None:
    url = serve_feed(site, 12)
    assistant = Assistant(settings(feed_max_items=5))
    first, _ = assistant.add_feed(url)
    assert (first.new, first.waiting) == (5, 7) and "7 waiting for the next refresh" in (
        first.summary()
    )
    second = assistant.refresh_feeds()[0][0]  # the feed answers 304; the rest still come
    assert (second.new, second.waiting, second.unchanged) == (5, 2, False)
    third = assistant.refresh_feeds()[0][0]
    assert (third.new, third.waiting) == (2, 0)
    assert len(assistant.documents()) == 12 and assistant.refresh_feeds()[0][0].unchanged
    assert len([p for p, _ in site.requests if "/story" in p]) == 12


def test_an_item_missing_from_the_store_is_indexed_again(site, settings) -> None:
    url = serve_feed(site, 2)
    assistant = Assistant(settings())
    assistant.add_feed(url)
    lost = sorted(assistant.store.file_records())[0]
    assistant.store.delete_file(lost)
    report = assistant.refresh_feeds()[0][0]
    assert (report.changed, report.unchanged) == (1, False)
    assert lost in assistant.store.file_records()


# --- bad feeds and feed lists ---------------------------------------------------------------
def test_a_malformed_feed_is_reported_and_not_followed(site, settings) -> None:
    site.routes["/broken.xml"] = Route(b"<rss><channel><title>x</title><item><link>oops",
                                       content_type="application/rss+xml")  # fmt: skip
    assistant = Assistant(settings())
    report, _ = assistant.add_feed(site.url + "/broken.xml")
    assert not report.unchanged and "not a usable RSS or Atom feed" in report.error
    assert "not followed" in report.summary() and assistant.feed_list().feeds == {}


@pytest.mark.parametrize("content", ['{"url": 1}', '[{"url": 1}]', "[1, 2]", '[{"title": "x"}]'])
def test_a_feed_list_of_the_wrong_shape_is_one_line(content, settings, monkeypatch, capsys):
    home = settings().store.home
    (home / "feeds").mkdir(parents=True)
    (home / "feeds" / "seeds.json").write_text(content)
    with pytest.raises(FetchError, match="the feed list seeds.json cannot be read") as caught:
        FeedList(home, "seeds").feeds  # noqa: B018
    assert "\n" not in str(caught.value)
    monkeypatch.setenv("QA_HOME", str(home))
    assert main(["feed", "list"]) == 2
    err = capsys.readouterr().err
    assert "move it away" in err and "Traceback" not in err


def test_the_feed_list_is_replaced_whole(site, settings) -> None:
    url = serve_feed(site, 1)
    assistant = Assistant(settings())
    assistant.add_feed(url)
    folder = assistant.settings.store.home / "feeds"
    assert sorted(p.name for p in folder.iterdir()) == ["seeds.json", "seeds.lock"]
    assert json.loads((folder / "seeds.json").read_text())[0]["pending"] == {}

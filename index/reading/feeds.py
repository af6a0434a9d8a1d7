"""RSS and Atom feeds a collection follows, and what each refresh brings in.

A collection's feeds are kept in `<QA_HOME>/feeds/<collection>.json`: each feed's URL, the
ETag and Last-Modified its server sent, every indexed item (its link, its updated stamp and
the file its page was saved to) and every pending one (new, failed with its reason, or over
the per-refresh limit). A refresh asks each feed with a conditional GET, so an unchanged feed
costs one request and a 304; a changed feed is read with feedparser, and only items that are
new or whose updated stamp changed become pending. Pending items are fetched a few at once
(index/reading/web.py `fetch_all`), indexed, and only then recorded as indexed; a failed one stays
pending and is retried, with backoff, even when the feed answers 304. Every failure (a feed
that is down or malformed, a page that is too big or not HTML) is one line in the report, and
the rest is indexed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from index.locking import held
from index.reading.web import (
    FEED_TYPES,
    Fetched,
    FetchError,
    FetchPolicy,
    HostPace,
    check_url,
    fetch,
    fetch_all,
    save_page,
)
from index.settings import FetchSettings

LOCK_WAIT_S = 30.0
RETRY_AFTER_S = 60.0  # the wait after the second failure in a row; it quadruples after each
RETRY_AT_MOST_S = 6 * 3600.0


class FeedItem(BaseModel):
    """An item that is indexed (or was read and held no article: `skipped` says why)."""

    updated: str = ""  # the item's updated (else published) stamp as the feed gives it
    file: str = ""  # where its page was saved
    skipped: str = ""


class PendingItem(BaseModel):
    """An item still to index: new, changed, failed, or waiting for a later refresh."""

    updated: str = ""
    reason: str = ""  # why the last try failed ("" while it has not been tried)
    tries: int = 0  # failures in a row
    next_try: float = 0.0  # epoch seconds: not tried again before this

    def failed(self, reason: str, now: float) -> None:
        self.tries += 1
        self.reason = reason
        # The next refresh retries a first failure; repeated failures wait longer each time.
        wait = 0.0 if self.tries == 1 else RETRY_AFTER_S * 4 ** (self.tries - 2)
        self.next_try = now + min(wait, RETRY_AT_MOST_S)


class Feed(BaseModel):
    url: str
    title: str = ""
    etag: str = ""
    last_modified: str = ""
    added: str = ""
    checked: str = ""  # the last refresh, ISO time
    items: dict[str, FeedItem] = Field(default_factory=dict)  # item link -> what is indexed
    pending: dict[str, PendingItem] = Field(default_factory=dict)  # item link -> still to do


_FEED_FILE = TypeAdapter(list[Feed])


@dataclass
class FeedRefresh:
    """What one refresh of one feed did."""

    url: str
    unchanged: bool = False  # nothing new, nothing failed, nothing left waiting
    new: int = 0  # items indexed for the first time
    changed: int = 0  # items whose updated stamp changed
    waiting: int = 0  # items left for a later refresh (over the item limit, or backing off)
    error: str = ""  # the feed itself could not be read
    problems: list[tuple[str, str]] = field(default_factory=list)  # (item link, reason)

    def summary(self) -> str:
        waiting = f", {self.waiting} waiting for the next refresh" if self.waiting else ""
        if self.error:
            return f"{self.url}: {self.error}{waiting}"
        if self.unchanged:
            return f"{self.url}: unchanged"
        failed = f", {len(self.problems)} failed (retried next time)" if self.problems else ""
        return f"{self.url}: {self.new} new, {self.changed} changed{failed}{waiting}"


@dataclass
class _Listing:
    entries: list[tuple[str, str]]  # (item link, updated stamp), the feed's order
    title: str
    etag: str
    last_modified: str


class IndexPages(Protocol):
    """Indexes saved pages; returns the indexer's report (its `skipped` names files)."""

    def __call__(self, pages: list[Path]) -> Any: ...


class FeedList:
    """The feeds of one collection. Every change is a read-modify-write of the current file
    under a lock, replaced atomically, so two processes (a refresh and an add) never undo
    each other's work; the network is never used while the lock is held."""

    def __init__(
        self,
        home: Path,
        collection: str,
        settings: FetchSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.file = home / "feeds" / f"{collection}.json"
        self.pages = home / "web" / collection  # where fetched pages are saved
        self.settings = settings or FetchSettings()
        self.policy = FetchPolicy.of(self.settings)
        self.clock = clock

    @property
    def feeds(self) -> dict[str, Feed]:
        """The feeds as the file holds them now."""
        with self._locked():
            return self._load()

    def _load(self) -> dict[str, Feed]:
        try:
            data = self.file.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise self._unreadable(exc) from exc
        try:
            return {feed.url: feed for feed in _FEED_FILE.validate_json(data)}
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the top level"
            raise self._unreadable(f"{first['msg']} at {where}") from None

    def _unreadable(self, reason: object) -> FetchError:
        return FetchError(f"the feed list {self.file.name} cannot be read ({reason}); "
                          "move it away and add the feeds again")  # fmt: skip

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        busy = f"the feed list {self.file.name} is locked by another process; try again"
        lock = self.file.with_suffix(".lock").open("a")
        with lock as handle, held(handle, LOCK_WAIT_S, busy, poll_s=0.05):
            yield

    @contextmanager
    def _edit(self) -> Iterator[dict[str, Feed]]:
        """The current feeds to change; saved (write, fsync, rename) when the block ends."""
        with self._locked():
            feeds = self._load()
            yield feeds
            temporary = self.file.with_name(f"{self.file.name}.{os.getpid()}.part")
            with temporary.open("wb") as out:
                out.write(_FEED_FILE.dump_json(list(feeds.values()), indent=1))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.file)

    def add(self, url: str) -> tuple[Feed, bool]:
        """Follow `url`; (the feed, whether it is new)."""
        url = check_url(url)
        with self._edit() as feeds:
            new = url not in feeds
            feed = feeds.setdefault(url, Feed(url=url, added=_now()))
        return feed, new

    def remove(self, url: str) -> bool:
        with self._edit() as feeds:
            return feeds.pop(url.strip(), None) is not None

    def refresh(
        self,
        index: IndexPages,
        urls: Sequence[str] | None = None,
        indexed_files: Callable[[], set[str]] | None = None,
        fetched: Mapping[str, Fetched] | None = None,
    ) -> list[FeedRefresh]:
        """Refresh these feeds (default: all), one after the other: read the feed, record
        what it lists as pending, fetch the pending items, `index` their pages, and only
        then record them as indexed. A refresh killed at any point leaves its items pending,
        so the next one fetches and indexes them again (indexing the same page twice changes
        nothing). `indexed_files` gives the files the store holds: an item whose file is
        missing from the store is pending again. `fetched` holds feeds already fetched, by
        URL (a feed just told from a page): they are read as they are, not asked for again."""
        urls = [url.strip() for url in urls] if urls else list(self.feeds)
        in_store = indexed_files() if indexed_files else None
        pace = HostPace(self.settings.fetch_per_host, self.settings.fetch_host_interval_s)
        got = fetched or {}
        return [self._refresh_one(url, index, in_store, pace, got.get(url)) for url in urls]

    def _refresh_one(
        self,
        url: str,
        index: IndexPages,
        in_store: set[str] | None,
        pace: HostPace,
        prefetched: Fetched | None = None,
    ) -> FeedRefresh:
        report = FeedRefresh(url)
        known = self._load().get(url)
        if known is None:
            report.error = "not followed (add it with `qa feed add`)"
            return report
        due = self._plan(url, self._read(known, report, prefetched), in_store)
        fetched = fetch_all(
            [link for link, _ in due],
            policy=self.policy,
            workers=self.settings.fetch_workers,
            pace=pace,
        )
        pages: dict[str, Path] = {}
        failures: dict[str, str] = {}
        for (link, _), got in zip(due, fetched, strict=True):
            if isinstance(got, Fetched):
                pages[link] = save_page(self.pages, got, feed=url)
            else:
                failures[link] = str(got).removeprefix(f"{link}: ")
        skipped = _skipped_by_name(index(list(pages.values()))) if pages else {}
        self._record(url, dict(due), pages, skipped, failures, report)
        return report

    def _read(self, feed: Feed, report: FeedRefresh, got: Fetched | None = None) -> _Listing | None:
        """What the feed lists now (`got`: as already fetched), or None when it is unchanged
        or cannot be read."""
        if got is None:
            try:
                got = fetch(feed.url, accept=(), etag=feed.etag,
                            last_modified=feed.last_modified, policy=self.policy)  # fmt: skip
            except FetchError as exc:
                report.error = str(exc).removeprefix(f"{feed.url}: ")
                return None
        if got.unchanged:
            return None
        entries, title, problem = read_feed(got)
        if problem:
            report.error = problem
            return None
        return _Listing(entries, title, got.etag, got.last_modified)

    def _plan(
        self, url: str, listing: _Listing | None, in_store: set[str] | None
    ) -> list[tuple[str, PendingItem]]:
        """Record as pending what the feed lists that is not indexed as listed, and what the
        store lost; return the pending items due now, the feed's order, up to the limit.
        The feed's new ETag is saved in the same write as its pending items: a later 304
        finds them pending."""
        now = self.clock()
        with self._edit() as feeds:
            feed = feeds.get(url)
            if feed is None:
                return []
            if listing:
                feed.title = listing.title or feed.title
                feed.etag, feed.last_modified = listing.etag, listing.last_modified
            for link, updated in listing.entries if listing else []:
                seen = feed.items.get(link)
                if seen and seen.updated == updated and _still_there(seen, in_store):
                    continue
                waiting = feed.pending.get(link)
                if waiting is None or waiting.updated != updated:
                    feed.pending[link] = PendingItem(updated=updated)
            for link, seen in list(feed.items.items()):
                if link not in feed.pending and not _still_there(seen, in_store):
                    feed.pending[link] = PendingItem(updated=seen.updated)
            due = [(k, p) for k, p in feed.pending.items() if p.next_try <= now]
            return due[: self.settings.feed_max_items]

    def _record(
        self,
        url: str,
        due: dict[str, PendingItem],
        pages: dict[str, Path],
        skipped: dict[str, str],
        failures: dict[str, str],
        report: FeedRefresh,
    ) -> None:
        now = self.clock()
        with self._edit() as feeds:
            feed = feeds.get(url)
            if feed is None:  # removed while it was refreshed: its pages stay indexed
                return
            for link, page in pages.items():
                pending = feed.pending.pop(link, due[link])
                if link in feed.items:
                    report.changed += 1
                else:
                    report.new += 1
                feed.items[link] = FeedItem(
                    updated=pending.updated, file=str(page), skipped=skipped.get(page.name, "")
                )
            for link, reason in failures.items():
                feed.pending.setdefault(link, due[link]).failed(reason, now)
                report.problems.append((link, reason))
            feed.checked = _now()
            report.waiting = len(feed.pending) - len(failures)
        report.unchanged = not (report.error or pages or failures or report.waiting)

    def failed_items(self) -> dict[str, dict[str, PendingItem]]:
        """Per feed, the items that failed and will be retried (for `qa feed list`)."""
        return {
            url: {k: p for k, p in feed.pending.items() if p.tries}
            for url, feed in self.feeds.items()
        }


def _still_there(item: FeedItem, in_store: set[str] | None) -> bool:
    """Whether an indexed item's article is still indexed (an item read without an article
    is done until the feed changes it)."""
    if item.skipped:
        return True
    if in_store is None:
        return bool(item.file) and Path(item.file).exists()
    return str(Path(item.file).resolve()) in in_store


def _skipped_by_name(report: Any) -> dict[str, str]:
    return {str(name): str(reason) for name, reason in getattr(report, "skipped", [])}


def read_feed(got: Fetched) -> tuple[list[tuple[str, str]], str, str]:
    """(items as (link, updated stamp), the feed's title, a problem) from a fetched feed."""
    import feedparser

    parsed: Any = feedparser.parse(got.body, response_headers={"content-location": got.url})
    # dict.get: feedparser's own get maps a missing "updated" to "published" with a warning.
    entries = [
        (str(e.get("link") or ""), str(dict.get(e, "updated") or dict.get(e, "published") or ""))
        for e in parsed.entries
    ]
    entries = [(link, stamp) for link, stamp in entries if link.startswith(("http://", "https://"))]
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        reason = parsed.get("bozo_exception") or "no RSS or Atom items in it"
        return [], "", f"not a readable RSS or Atom feed ({_first_line(reason)})"
    if parsed.entries and not entries:  # items, but not one a page can be fetched from
        reason = parsed.get("bozo_exception") or "no item has a web link"
        return [], "", f"not a usable RSS or Atom feed ({_first_line(reason)})"
    return entries, str(parsed.feed.get("title") or ""), ""


def _first_line(reason: object) -> str:
    return (str(reason).splitlines() or [reason.__class__.__name__])[0][:120]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


__all__ = ["FEED_TYPES", "Feed", "FeedList", "FeedRefresh", "read_feed"]

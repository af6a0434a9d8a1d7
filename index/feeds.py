"""RSS and Atom feeds a collection follows, and what each refresh brings in.

A collection's feeds are kept in `<QA_HOME>/feeds/<collection>.json`: each feed's URL, the
ETag and Last-Modified its server sent, and for every item seen its link, its updated stamp
and the file its page was saved to. A refresh asks each feed with a conditional GET, so an
unchanged feed costs one request and a 304; a changed feed is read with feedparser, and only
items that are new or whose updated stamp changed are fetched. Every failure (a feed that is
down, malformed, a page that is too big or not HTML) is one line in the report, and the rest
is indexed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from index.web import FEED_TYPES, HTML_TYPES, Fetched, FetchError, check_url, fetch, save_page

Fetch = Callable[..., Fetched]


@dataclass
class FeedItem:
    updated: str  # the item's updated (else published) stamp as the feed gives it
    file: str = ""  # where its page was saved ("" while it could not be fetched)


@dataclass
class Feed:
    url: str
    title: str = ""
    etag: str = ""
    last_modified: str = ""
    added: str = ""
    checked: str = ""  # the last refresh, ISO time
    items: dict[str, FeedItem] = field(default_factory=dict)  # item link -> what was seen


@dataclass
class FeedRefresh:
    """What one refresh of one feed did."""

    url: str
    unchanged: bool = False  # the server answered 304 (or sent the same items)
    new: int = 0  # items fetched for the first time
    changed: int = 0  # items whose updated stamp changed
    error: str = ""  # the feed itself could not be read
    problems: list[tuple[str, str]] = field(default_factory=list)  # (item link, reason)

    def summary(self) -> str:
        if self.error:
            return f"{self.url}: {self.error}"
        if self.unchanged:
            return f"{self.url}: unchanged"
        failed = f", {len(self.problems)} failed" if self.problems else ""
        return f"{self.url}: {self.new} new, {self.changed} changed{failed}"


class FeedList:
    """The feeds of one collection, saved after every change (write, then rename)."""

    def __init__(self, home: Path, collection: str) -> None:
        self.file = home / "feeds" / f"{collection}.json"
        self.pages = home / "web" / collection  # where fetched pages are saved
        self.feeds: dict[str, Feed] = self._load()

    def _load(self) -> dict[str, Feed]:
        try:
            rows = json.loads(self.file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise FetchError(f"the feed list {self.file.name} cannot be read ({exc}); "
                             "move it away and add the feeds again") from exc  # fmt: skip
        feeds = {}
        for row in rows:
            items = {k: FeedItem(**v) for k, v in row.pop("items", {}).items()}
            feeds[row["url"]] = Feed(**row, items=items)
        return feeds

    def save(self) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.file.with_suffix(".part")
        rows = [asdict(f) for f in self.feeds.values()]
        temporary.write_text(json.dumps(rows, indent=1), encoding="utf-8")
        os.replace(temporary, self.file)

    def add(self, url: str) -> Feed:
        url = check_url(url)
        feed = self.feeds.setdefault(url, Feed(url, added=_now()))
        self.save()
        return feed

    def remove(self, url: str) -> bool:
        found = self.feeds.pop(url.strip(), None) is not None
        if found:
            self.save()
        return found

    def refresh(
        self, urls: list[str] | None = None, fetcher: Fetch = fetch
    ) -> tuple[list[FeedRefresh], list[Path]]:
        """Refresh these feeds (default: all): what each did, and the saved pages to index."""
        reports, pages = [], []
        for url in urls or list(self.feeds):
            feed = self.feeds.get(url) or self.add(url)
            report, saved = self._refresh_one(feed, fetcher)
            reports.append(report)
            pages += saved
            feed.checked = _now()
            self.save()
        return reports, pages

    def _refresh_one(self, feed: Feed, fetcher: Fetch) -> tuple[FeedRefresh, list[Path]]:
        report = FeedRefresh(feed.url)
        try:
            got = fetcher(feed.url, accept=(), etag=feed.etag, last_modified=feed.last_modified)
        except FetchError as exc:
            report.error = str(exc).removeprefix(f"{feed.url}: ")
            return report, []
        if got.unchanged:
            report.unchanged = True
            return report, []
        entries, title, problem = read_feed(got)
        if problem:
            report.error = problem
            return report, []
        feed.title = title or feed.title
        feed.etag, feed.last_modified = got.etag, got.last_modified
        saved = []
        for link, updated in entries:
            seen = feed.items.get(link)
            if seen and seen.updated == updated and seen.file and Path(seen.file).exists():
                continue
            try:
                page = fetcher(link, accept=HTML_TYPES)
            except FetchError as exc:
                report.problems.append((link, str(exc).removeprefix(f"{link}: ")))
                continue
            path = save_page(self.pages, page, feed=feed.url)
            feed.items[link] = FeedItem(updated, str(path))
            saved.append(path)
            if seen:
                report.changed += 1
            else:
                report.new += 1
        report.unchanged = not (report.new or report.changed or report.problems)
        return report, saved


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
    return entries, str(parsed.feed.get("title") or ""), ""


def _first_line(reason: object) -> str:
    return (str(reason).splitlines() or [reason.__class__.__name__])[0][:120]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


__all__ = ["FEED_TYPES", "Feed", "FeedList", "FeedRefresh", "read_feed"]

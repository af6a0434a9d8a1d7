"""Pages fetched by URL, kept as files so they index like any other article.

`fetch` makes one GET with the limits a crawler needs (redirects, size, content type, a
read timeout and a deadline for the whole fetch, and the fence of index/reading/fence.py: no local
or private address at any hop) and turns every failure into a one-line `FetchError`;
`fetch_all` fetches a few at once, politely per host. `save_page` writes a fetched
page under the data directory with its URL recorded in the page itself
(`<meta name="newsqa:url">`), so the loader knows where the article came from and citations
link to it; re-fetching an unchanged page rewrites the same bytes, so it is not re-embedded.
"""

from __future__ import annotations

import hashlib
import html
import re
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx

from index.errors import UserError
from index.reading.fence import BlockedAddress, DeadlinePassed, FencedTransport
from index.settings import FetchSettings

MAX_PAGE_BYTES = 10_000_000
MAX_REDIRECTS = 5
TIMEOUT_S = 20.0  # any one read
DEADLINE_S = 60.0  # the whole fetch, body included
USER_AGENT = "newsqa/0.1 (+offline news question answering)"
HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/xml", "text/xml",
              "application/rdf+xml", "application/feed+json")  # fmt: skip
URL_META = "newsqa:url"
FEED_META = "newsqa:feed"


class FetchError(UserError):
    """A URL that cannot be fetched or used; the message is one line with the reason."""


@dataclass
class Fetched:
    url: str  # after redirects
    status: int  # 200, or 304 when a conditional request found it unchanged
    content_type: str
    body: bytes
    etag: str = ""
    last_modified: str = ""

    @property
    def unchanged(self) -> bool:
        return self.status == 304


def is_url(text: str) -> bool:
    return urlparse(str(text)).scheme in ("http", "https")


def check_url(url: str) -> str:
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise FetchError(f"{url}: not a web address (use http:// or https://)")
    return url.strip()


@dataclass(frozen=True)
class FetchPolicy:
    """What one fetch may do: the fence, the deadline, the size."""

    allow_private: bool = False
    deadline_s: float = DEADLINE_S
    timeout_s: float = TIMEOUT_S
    max_bytes: int = MAX_PAGE_BYTES

    @classmethod
    def of(cls, settings: FetchSettings) -> FetchPolicy:
        return cls(
            allow_private=settings.allow_private_addresses,
            deadline_s=settings.fetch_deadline_s,
            timeout_s=settings.fetch_read_timeout_s,
        )


def fetch(
    url: str,
    *,
    accept: tuple[str, ...] = HTML_TYPES,
    etag: str = "",
    last_modified: str = "",
    policy: FetchPolicy = FetchPolicy(),
    client: httpx.Client | None = None,
) -> Fetched:
    """GET `url`; with `etag`/`last_modified` a conditional GET (304: unchanged). Refuses a
    local or private address at any hop (unless the policy allows it), a body over the size
    limit (read no further), a content type not in `accept`, a redirect loop, a fetch past its
    deadline, and reports an unreachable server or an error status, each in one line."""
    url = check_url(url)
    headers = {"User-Agent": USER_AGENT, "Accept": ", ".join((*accept, "*/*;q=0.1"))}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = time.monotonic() + policy.deadline_s
    own = client is None
    http = client or httpx.Client(
        transport=FencedTransport(deadline, policy.allow_private),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        timeout=min(policy.timeout_s, policy.deadline_s),
    )
    try:
        with http.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return Fetched(str(response.url), 304, "", b"", etag, last_modified)
            if response.status_code >= 400:
                raise FetchError(f"{url}: the server answered {response.status_code} "
                                 f"{response.reason_phrase}".rstrip())  # fmt: skip
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind and accept and not kind.startswith(accept):
                wanted = "a web page" if accept == HTML_TYPES else "a feed"
                raise FetchError(f"{url}: not {wanted} (the server sent {kind})")
            declared = int(response.headers.get("content-length") or 0)
            if declared > policy.max_bytes:
                raise FetchError(_too_big(url, declared, policy.max_bytes))
            body = bytearray()
            for piece in response.iter_bytes():
                body += piece
                if len(body) > policy.max_bytes:
                    raise FetchError(_too_big(url, len(body), policy.max_bytes, at_least=True))
            return Fetched(
                str(response.url),
                response.status_code,
                kind,
                bytes(body),
                response.headers.get("etag", ""),
                response.headers.get("last-modified", ""),
            )
    except BlockedAddress as exc:
        raise FetchError(f"{url}: {exc}") from None
    except DeadlinePassed:
        raise FetchError(_late(url, policy.deadline_s)) from None
    except httpx.TooManyRedirects:
        raise FetchError(f"{url}: too many redirects (a redirect loop?)") from None
    except httpx.TimeoutException:
        if time.monotonic() >= deadline - 0.05:
            raise FetchError(_late(url, policy.deadline_s)) from None
        slow = f"{url}: the server did not answer within {policy.timeout_s:g} s"
        raise FetchError(slow) from None
    except httpx.TransportError as exc:
        raise FetchError(f"{url}: cannot connect ({_reason(exc)}); is the site up?") from None
    finally:
        if own:
            http.close()


def _late(url: str, deadline_s: float) -> str:
    return f"{url}: the download did not finish within {deadline_s:g} s"


class HostPace:
    """Politeness per host: at most `per_host` requests to one host at once, their starts at
    least `interval_s` apart. Shared by the threads of one `fetch_all`."""

    def __init__(self, per_host: int, interval_s: float) -> None:
        self.per_host, self.interval_s = per_host, interval_s
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}
        self._next_start: dict[str, float] = {}

    @contextmanager
    def turn(self, url: str) -> Iterator[None]:
        host = urlparse(url).hostname or ""
        with self._lock:
            slot = self._slots.setdefault(host, threading.Semaphore(self.per_host))
        with slot:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start.get(host, now))
                self._next_start[host] = start + self.interval_s
            time.sleep(max(0.0, start - now))
            yield


def fetch_all(
    urls: Sequence[str],
    *,
    accept: tuple[str, ...] = HTML_TYPES,
    policy: FetchPolicy = FetchPolicy(),
    workers: int = 4,
    pace: HostPace | None = None,
) -> list[Fetched | FetchError]:
    """Fetch these URLs a few at once, politely per host: each result, or its error, in the
    order of `urls`."""
    pace = pace or HostPace(per_host=2, interval_s=0.25)

    def one(url: str) -> Fetched | FetchError:
        with pace.turn(url):
            try:
                return fetch(url, accept=accept, policy=policy)
            except FetchError as exc:
                return exc

    if len(urls) <= 1 or workers <= 1:
        return [one(url) for url in urls]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
        return list(pool.map(one, urls))


def _too_big(url: str, size: int, limit: int, at_least: bool = False) -> str:
    more = "over " if at_least else ""
    return f"{url}: the page is {more}{size / 1e6:.3g} MB, over the {limit / 1e6:.3g} MB limit"


def _reason(exc: Exception) -> str:
    text = str(exc) or exc.__class__.__name__
    return text.splitlines()[0][:120]


def page_file(folder: Path, url: str) -> Path:
    """Where the page at `url` is kept: one file per URL, named so a person can tell it."""
    parsed = urlparse(url)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{parsed.hostname}{parsed.path}").strip("-")[:80]
    digest = hashlib.sha256(url.encode()).hexdigest()[:10]
    return folder / f"{slug or 'page'}-{digest}.html"


def save_page(folder: Path, fetched: Fetched, feed: str = "") -> Path:
    """Write the fetched page, its URL (and feed) recorded in it, and return the file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = page_file(folder, fetched.url)
    stamp = f'<meta name="{URL_META}" content="{html.escape(fetched.url, quote=True)}">\n'
    if feed:
        stamp += f'<meta name="{FEED_META}" content="{html.escape(feed, quote=True)}">\n'
    data = stamp.encode() + fetched.body
    if not path.exists() or path.read_bytes() != data:
        temporary = path.with_suffix(".part")
        temporary.write_bytes(data)
        temporary.replace(path)
    return path

"""A real HTTP server on loopback that serves pages and feeds a test writes: the feed and
URL tests reach no outside network. Routes answer with a body and headers, honour ETag and
Last-Modified (304), redirect, or misbehave on purpose (a loop, a 12 MB page, a slow or
trickling server)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    etag: str = ""
    last_modified: str = ""
    location: str = ""  # a redirect's target
    repeat: int = 1  # the body sent this many times (a huge page without a huge string)
    delay_s: float = 0.0  # wait this long before answering (a slow server)
    trickle_s: float = 0.0  # send the body a byte at a time, this far apart


@dataclass
class Site:
    url: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (path, headers)

    def page(self, path: str, html: str, **kw: object) -> str:
        self.routes[path] = Route(html.encode(), **kw)  # type: ignore[arg-type]
        return self.url + path

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            site.requests.append((self.path, dict(self.headers.items())))
            route = site.routes.get(self.path)
            if route is not None and route.delay_s:
                time.sleep(route.delay_s)
            if route is None:
                self.send_error(404, "Not Found")
                return
            unchanged = (route.etag and self.headers.get("If-None-Match") == route.etag) or (
                route.last_modified and self.headers.get("If-Modified-Since") == route.last_modified
            )
            if unchanged:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(route.status)
            if route.location:
                self.send_header("Location", route.location)
            self.send_header("Content-Type", route.content_type)
            if route.etag:
                self.send_header("ETag", route.etag)
            if route.last_modified:
                self.send_header("Last-Modified", route.last_modified)
            self.send_header("Content-Length", str(len(route.body) * route.repeat))
            self.end_headers()
            try:
                if route.trickle_s:
                    for byte in route.body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(route.trickle_s)
                for _ in range(route.repeat if not route.trickle_s else 0):
                    self.wfile.write(route.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading (a page over the size limit)

        def log_message(self, *args: object) -> None:
            """Quiet: the tests assert on `site.requests`."""

    return Handler


@contextmanager
def loopback_site() -> Iterator[Site]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Site("")))
    site = Site(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def rss(items: list[tuple[str, str, str]], title: str = "Test wire") -> str:
    """An RSS 2.0 feed of (title, link, pubDate) items."""
    rows = "".join(
        f"<item><title>{t}</title><link>{link}</link><pubDate>{date}</pubDate></item>"
        for t, link, date in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://example.invalid/</link>{rows}</channel></rss>"
    )


def news_page(title: str, outlet: str, published: str, author: str, paragraphs: list[str]) -> str:
    """A news page with the furniture real sites carry around the article."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!doctype html><html><head><title>{title} | {outlet}</title>
<meta property="og:title" content="{title}"><meta property="og:site_name" content="{outlet}">
<meta property="article:published_time" content="{published}">
<meta name="author" content="{author}"></head>
<body><header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/business">Business</a>
<a href="/login">Sign in</a></nav></header>
<div class="cookie-banner">We use cookies to improve your experience on our site. Accept all</div>
<main><article><h1>{title}</h1><p class="byline">By {author}</p>{body}
<div class="share">Share on Facebook · Share on X · Email</div></article>
<aside><h3>Most read</h3><ul><li><a href="/a">Markets slide as oil prices climb again</a></li>
<li><a href="/b">Ten recipes for a quick weeknight dinner</a></li></ul></aside></main>
<footer>© 2023 {outlet}. All rights reserved. Privacy policy · Terms of use</footer>
</body></html>"""


WORDS = [
    "harbour", "council", "ferry", "budget", "river", "bridge", "school", "clinic", "orchard",
    "library", "railway", "festival", "museum", "tunnel", "market", "stadium", "airport",
    "reservoir", "forest", "quarry", "lighthouse", "canal", "theatre", "hospital", "archive",
    "garden", "factory", "vineyard", "island", "valley",
]  # fmt: skip


def numbered_story(n: int) -> str:
    """News page number `n`, its text its own: no two are copies of each other."""
    pick = random.Random(n)
    sentences = [
        f"The {pick.choice(WORDS)} of Town{n} reported {pick.randint(10, 9999)} "
        f"{' '.join(pick.sample(WORDS, 6))} on day {k}, officials of district {n * 7 + k} said."
        for k in range(6)
    ]
    return news_page(f"Story {n} from Town{n}", "Wire", "2023-10-03T09:00:00+00:00", "A. Writer",
                     sentences)  # fmt: skip


def serve_feed(site: Site, count: int, path: str = "/feed.xml", etag: str = '"v1"') -> str:
    """An RSS feed of `count` numbered stories at `path` (with an ETag); its address."""
    items = []
    for n in range(count):
        link = site.page(f"{path}/story{n}.html", numbered_story(n))
        items.append((f"Story {n}", link, "Tue, 03 Oct 2023 09:00:00 GMT"))
    site.routes[path] = Route(rss(items).encode(), content_type="application/rss+xml", etag=etag)
    return site.url + path

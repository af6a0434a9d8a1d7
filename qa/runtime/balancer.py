"""A sticky HTTP/1.1 load balancer: several `qa ui` processes behind one port (`qa balance`).

Gradio keeps a visitor's session in one process, and one answer takes two requests (a POST
joins the queue, a GET streams the result as server-sent events, often on another
connection), so every request of one client must reach the same process. The first response
sets a cookie that names the process; new clients are spread round-robin. A process that
refuses connections is skipped: the next one in order serves, and the cookie moves to it.
Bodies flow through in both directions as they arrive (an answer streams token by token),
and an upgraded connection (a websocket) is piped as it is.

Each request gets its own connection to its backend (`Connection: close`): on loopback that
costs little and keeps the proxy free of connection pools. The client's connection is kept
alive across requests. `GET /.balancer/health` is answered here: which backends accept
connections, and how many requests each has served.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import signal
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

from qa.core.errors import UserError

log = logging.getLogger(__name__)

COOKIE = "qa_backend"
HEALTH_PATH = "/.balancer/health"
HEAD_LIMIT = 64 * 1024  # request and response heads larger than this are refused
PIECE = 64 * 1024
# Headers about one connection, not the message: never forwarded as they are.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"}


class BalancerError(UserError):
    """The balancer cannot start; the message says why."""


@dataclass(frozen=True)
class Backend:
    url: str
    host: str
    port: int

    @property
    def key(self) -> str:
        """The cookie value naming this backend: stable across restarts of the balancer."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:12]


def parse_backend(url: str) -> Backend:
    parsed = urlparse(url.strip())
    if parsed.scheme != "http" or not parsed.hostname or not parsed.port:
        raise BalancerError(f"bad backend {url!r}: use http://HOST:PORT")
    return Backend(f"http://{parsed.hostname}:{parsed.port}", parsed.hostname, parsed.port)


@dataclass
class Head:
    """A request or response head: its first line and its headers in order."""

    line: str
    headers: list[tuple[str, str]]

    def get(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def tokens(self, name: str) -> set[str]:
        """Comma-separated values of every `name` header, lower-cased."""
        name = name.lower()
        return {
            t.strip().lower() for k, v in self.headers if k.lower() == name for t in v.split(",")
        }

    def encode(self) -> bytes:
        lines = [self.line, *(f"{k}: {v}" for k, v in self.headers), "", ""]
        return "\r\n".join(lines).encode("latin-1")


class BadMessage(Exception):
    """The peer sent something that is not HTTP/1.x."""


async def read_head(reader: asyncio.StreamReader) -> Head | None:
    """The next head, or None when the peer closed the connection before sending one."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise BadMessage("connection closed inside a message head") from exc
        return None
    except asyncio.LimitOverrunError as exc:
        raise BadMessage("message head too large") from exc
    line, *rest = raw.decode("latin-1").split("\r\n")
    headers = []
    for text in rest:
        if not text:
            continue
        name, sep, value = text.partition(":")
        if not sep or not name.strip():
            raise BadMessage(f"bad header line {text[:60]!r}")
        headers.append((name.strip(), value.strip()))
    return Head(line, headers)


def body_framing(head: Head, *, is_request: bool, method: str = "", status: int = 0) -> str:
    """How the body after `head` ends: 'none', 'chunked', 'length:N', or 'close' (at EOF)."""
    if not is_request and (method == "HEAD" or status in (204, 304) or 100 <= status < 200):
        return "none"
    if "chunked" in head.tokens("transfer-encoding"):
        return "chunked"
    length = head.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise BadMessage(f"bad Content-Length {length!r}")
        return f"length:{int(length)}"
    return "none" if is_request else "close"


async def relay_body(src: asyncio.StreamReader, dst: asyncio.StreamWriter, framing: str) -> None:
    """Copy one body as its pieces arrive: nothing waits for the whole body."""
    if framing == "none":
        return
    if framing.startswith("length:"):
        await _copy_exact(src, dst, int(framing.split(":")[1]))
    elif framing == "chunked":
        while True:
            size_line = await src.readuntil(b"\r\n")
            dst.write(size_line)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BadMessage(f"bad chunk size {size_line[:40]!r}") from None
            if size == 0:  # trailers, then an empty line
                while (trailer := await src.readuntil(b"\r\n")) != b"\r\n":
                    dst.write(trailer)
                dst.write(b"\r\n")
                await dst.drain()
                return
            await _copy_exact(src, dst, size + 2)  # the chunk and its CRLF
    else:  # until the sender closes
        while piece := await src.read(PIECE):
            dst.write(piece)
            await dst.drain()


async def _copy_exact(src: asyncio.StreamReader, dst: asyncio.StreamWriter, size: int) -> None:
    while size > 0:
        piece = await src.read(min(size, PIECE))
        if not piece:
            raise asyncio.IncompleteReadError(b"", size)
        dst.write(piece)
        size -= len(piece)
        await dst.drain()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while piece := await src.read(PIECE):
            dst.write(piece)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()


def _cookie_value(head: Head, name: str) -> str | None:
    for key, value in head.headers:
        if key.lower() != "cookie":
            continue
        for pair in value.split(";"):
            k, sep, v = pair.strip().partition("=")
            if sep and k == name:
                return v.strip()
    return None


def error_response(status: int, reason: str, message: str) -> bytes:
    body = (
        f"<!doctype html><title>{reason}</title><h1>News QA is not available</h1><p>{message}</p>\n"
    ).encode()
    head = Head(
        f"HTTP/1.1 {status} {reason}",
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
        ],
    )
    return head.encode() + body


class Balancer:
    """Routes each client to one backend for as long as that backend is up."""

    def __init__(
        self,
        backends: Sequence[str],
        *,
        connect_timeout_s: float = 3.0,
        first_head_timeout_s: float = 30.0,
        idle_timeout_s: float = 75.0,
    ) -> None:
        if not backends:
            raise BalancerError("give at least one --backend http://HOST:PORT")
        self.backends = [parse_backend(url) for url in backends]
        if len({b.url for b in self.backends}) != len(self.backends):
            raise BalancerError("the same backend is given twice")
        self._by_key = {b.key: b for b in self.backends}
        self._turn = itertools.count()
        self.connect_timeout_s = connect_timeout_s
        self.first_head_timeout_s = first_head_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.served: Counter[str] = Counter()  # requests answered, per backend URL

    # --- choosing a backend -----------------------------------------------------------------
    def _order(self, pinned: Backend | None) -> list[Backend]:
        """The pinned backend first, then the ones after it; a new client takes its turn."""
        n = len(self.backends)
        first = self.backends.index(pinned) if pinned else next(self._turn) % n
        return [self.backends[(first + i) % n] for i in range(n)]

    async def _connect(
        self, pinned: Backend | None
    ) -> tuple[Backend, asyncio.StreamReader, asyncio.StreamWriter] | None:
        for backend in self._order(pinned):
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(backend.host, backend.port, limit=HEAD_LIMIT),
                    self.connect_timeout_s,
                )
            except (OSError, TimeoutError) as exc:
                log.warning("backend %s is down (%s); trying the next", backend.url, exc)
                continue
            return backend, reader, writer
        return None

    # --- serving ------------------------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection: its requests one after another, while it keeps alive."""
        timeout = self.first_head_timeout_s
        try:
            while True:
                try:
                    head = await asyncio.wait_for(read_head(reader), timeout)
                except TimeoutError:
                    return
                if head is None:
                    return
                if not await self._exchange(head, reader, writer):
                    return
                timeout = self.idle_timeout_s
        except BadMessage as exc:
            log.info("bad request from a client: %s", exc)
            with contextlib.suppress(ConnectionError, OSError):
                writer.write(error_response(400, "Bad Request", f"Bad request: {exc}."))
                await writer.drain()
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # a peer went away mid-message: nothing more to say to it
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _exchange(
        self, head: Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Forward one request and its response; True when the client connection stays open."""
        method, target, version = _request_line(head)
        if method == "GET" and target.split("?")[0] == HEALTH_PATH:
            return await self._health(writer, version)
        keep_alive = version == "HTTP/1.1" and "close" not in head.tokens("connection")
        upgrade = "upgrade" in head.tokens("connection") and head.get("upgrade")
        pinned = self._by_key.get(_cookie_value(head, COOKIE) or "")
        connected = await self._connect(pinned)
        if connected is None:
            urls = ", ".join(b.url for b in self.backends)
            log.error("no backend is up (tried %s)", urls)
            writer.write(
                error_response(
                    502,
                    "Bad Gateway",
                    f"None of the {len(self.backends)} web page processes is answering; "
                    "they may be starting or stopped. Try again in a moment.",
                )
            )
            await writer.drain()
            return False
        backend, b_reader, b_writer = connected
        try:
            return await self._forward(
                head, reader, writer, backend, b_reader, b_writer,
                keep_alive=keep_alive, upgrade=bool(upgrade), repin=backend is not pinned,
            )  # fmt: skip
        finally:
            b_writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await b_writer.wait_closed()

    async def _forward(
        self,
        head: Head,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        backend: Backend,
        b_reader: asyncio.StreamReader,
        b_writer: asyncio.StreamWriter,
        *,
        keep_alive: bool,
        upgrade: bool,
        repin: bool,
    ) -> bool:
        method = head.line.split(" ", 1)[0]
        headers = [(k, v) for k, v in head.headers if k.lower() not in HOP_BY_HOP]
        peer = writer.get_extra_info("peername")
        if peer:
            headers.append(("X-Forwarded-For", str(peer[0])))
        if upgrade:
            headers += [("Connection", "Upgrade"), ("Upgrade", head.get("upgrade") or "")]
        else:
            headers.append(("Connection", "close"))
        b_writer.write(Head(head.line, headers).encode())
        await b_writer.drain()
        # The body goes up while the answer comes down: a backend may answer before reading it.
        upload = asyncio.create_task(
            relay_body(reader, b_writer, body_framing(head, is_request=True))
        )
        try:
            try:
                response = await self._response_head(b_reader, writer, upload)
            except BadMessage as exc:  # the backend's fault, not the client's
                log.warning("backend %s sent a bad response: %s", backend.url, exc)
                response = None
            if response is None:
                writer.write(
                    error_response(
                        502, "Bad Gateway", "The web page process gave no answer; try again."
                    )
                )
                await writer.drain()
                return False
            status = _status(response)
            out = [(k, v) for k, v in response.headers if k.lower() not in HOP_BY_HOP]
            if repin:
                out.append(
                    ("Set-Cookie", f"{COOKIE}={backend.key}; Path=/; HttpOnly; SameSite=Lax")
                )
            self.served[backend.url] += 1
            if status == 101:
                out += [("Connection", "Upgrade"), ("Upgrade", response.get("upgrade") or "")]
                writer.write(Head(response.line, out).encode())
                await writer.drain()
                await upload
                await asyncio.gather(_pipe(reader, b_writer), _pipe(b_reader, writer))
                return False
            framing = body_framing(response, is_request=False, method=method, status=status)
            keep_alive = keep_alive and framing != "close"
            if not keep_alive:
                out.append(("Connection", "close"))
            writer.write(Head(response.line, out).encode())
            await writer.drain()
            await relay_body(b_reader, writer, framing)
            if not upload.done():  # answered without reading the whole body: unusable after
                return False
            await upload
            return keep_alive
        finally:
            if not upload.done():
                upload.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await upload  # its failure, if any, is retrieved here (the client went away)

    async def _response_head(
        self,
        b_reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upload: asyncio.Task[None],
    ) -> Head | None:
        """The final response head; interim ones (100 Continue) go straight to the client."""
        while True:
            response = await read_head(b_reader)
            if response is None:
                if upload.done() and upload.exception():
                    raise upload.exception()  # type: ignore[misc]
                return None
            status = _status(response)
            if 100 <= status < 200 and status != 101:
                writer.write(response.encode())
                await writer.drain()
                continue
            return response

    async def _health(self, writer: asyncio.StreamWriter, version: str) -> bool:
        up = {}
        for backend in self.backends:
            try:
                _, probe = await asyncio.wait_for(
                    asyncio.open_connection(backend.host, backend.port), self.connect_timeout_s
                )
                probe.close()
                up[backend.url] = True
            except (OSError, TimeoutError):
                up[backend.url] = False
        report = {
            "backends": {
                b.url: {"up": up[b.url], "served": self.served[b.url]} for b in self.backends
            }
        }
        body = json.dumps(report).encode()
        status = "200 OK" if any(up.values()) else "503 Service Unavailable"
        head = Head(
            f"HTTP/1.1 {status}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
             ("Cache-Control", "no-store")],
        )  # fmt: skip
        writer.write(head.encode() + body)
        await writer.drain()
        return version == "HTTP/1.1"


def _request_line(head: Head) -> tuple[str, str, str]:
    parts = head.line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadMessage(f"bad request line {head.line[:80]!r}")
    return parts[0], parts[1], parts[2]


def _status(head: Head) -> int:
    parts = head.line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise BadMessage(f"bad status line {head.line[:80]!r}")
    return int(parts[1])


async def start(balancer: Balancer, host: str, port: int) -> asyncio.Server:
    try:
        return await asyncio.start_server(balancer.handle, host, port, limit=HEAD_LIMIT)
    except OSError as exc:
        raise BalancerError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from exc


def run(
    host: str,
    port: int,
    backends: Sequence[str],
    ready: Callable[[str], None] = print,
) -> None:
    """Serve until SIGTERM or Ctrl-C."""
    balancer = Balancer(backends)

    async def main() -> None:
        server = await start(balancer, host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        ready(
            f"balancing http://{host}:{port}/ over " + ", ".join(b.url for b in balancer.backends)
        )
        async with server:
            await stop.wait()

    asyncio.run(main())

"""The sticky load balancer (qa/runtime/balancer.py) in front of two tiny local HTTP servers:
round-robin for new clients, stickiness by cookie, fail-over with a re-pinned cookie,
streaming without buffering, bodies both ways, keep-alive, upgrades and the 502 page."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from qa.runtime.balancer import COOKIE, HEALTH_PATH, Balancer, BalancerError, parse_backend, start


class Backend:
    """A tiny HTTP/1.1 server that says its name; /stream holds its second piece until
    `release` is set; /upgrade switches to an echo protocol."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.release = threading.Event()
        self.requests: list[str] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, body: bytes, status: int = 200) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Backend", backend.name)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                backend.requests.append(self.path)
                if self.path == "/stream":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for piece in (b"data: first\n\n", b"data: second\n\n"):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        self.wfile.flush()
                        backend.release.wait(10)
                    self.wfile.write(b"0\r\n\r\n")
                elif self.path == "/until-close":
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(b"no length: ends when the server closes")
                    self.close_connection = True
                elif self.path == "/garbage":
                    self.wfile.write(b"this is not HTTP\r\n\r\n")
                    self.close_connection = True
                elif self.path == "/hang-up":
                    self.close_connection = True
                elif self.path == "/upgrade":
                    self.send_response(101)
                    self.send_header("Upgrade", "echo")
                    self.send_header("Connection", "Upgrade")
                    self.end_headers()
                    self.wfile.flush()
                    while line := self.rfile.readline():
                        self.wfile.write(line.upper())
                        self.wfile.flush()
                    self.close_connection = True
                else:
                    self._send(f"{backend.name} {self.path}".encode())

            def do_POST(self) -> None:
                backend.requests.append(self.path)
                if "chunked" in self.headers.get("Transfer-Encoding", ""):
                    body = b""
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        body += self.rfile.read(size)
                        self.rfile.readline()
                    self.rfile.readline()
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self._send(backend.name.encode() + b" got " + body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Running:
    """The balancer on its own event loop in a thread."""

    def __init__(self, backends: list[str]) -> None:
        self.balancer = Balancer(backends, connect_timeout_s=1.0)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        started = asyncio.run_coroutine_threadsafe(start(self.balancer, "127.0.0.1", 0), self.loop)
        self.server = started.result(5)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        async def shutdown() -> None:
            self.server.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def pair() -> Iterator[tuple[Backend, Backend, Running]]:
    a, b = Backend("A"), Backend("B")
    proxy = Running([a.url, b.url])
    yield a, b, proxy
    proxy.close()
    for backend in (a, b):
        backend.stop()


def name_of(response: httpx.Response) -> str:
    return response.text.split(" ", 1)[0]


def test_new_clients_take_turns_and_each_stays_with_its_backend(pair) -> None:
    a, b, proxy = pair
    first, second = httpx.Client(base_url=proxy.url), httpx.Client(base_url=proxy.url)
    names = [name_of(first.get("/")), name_of(second.get("/"))]
    assert sorted(names) == ["A", "B"], "two new clients go to two backends"
    for _ in range(5):
        assert name_of(first.get("/page")) == names[0]
        assert name_of(second.post("/queue/join", content=b"{}")) == names[1]
    assert COOKIE in first.cookies and first.cookies[COOKIE] != second.cookies[COOKIE]
    assert len(a.requests) == len(b.requests) == 6


def test_a_client_whose_backend_is_down_moves_to_the_next_and_is_re_pinned(pair) -> None:
    a, b, proxy = pair
    client = httpx.Client(base_url=proxy.url)
    pinned_to = name_of(client.get("/"))
    down, other = (a, b) if pinned_to == "A" else (b, a)
    old_cookie = client.cookies[COOKIE]
    down.stop()
    response = client.get("/after")
    assert name_of(response) == other.name
    assert response.headers["set-cookie"].startswith(f"{COOKIE}=")
    assert client.cookies[COOKIE] != old_cookie
    assert name_of(client.get("/again")) == other.name
    assert "set-cookie" not in client.get("/once-more").headers  # pinned: no new cookie


def test_no_backend_up_gives_a_clear_502_page() -> None:
    a, b = Backend("A"), Backend("B")
    proxy = Running([a.url, b.url])
    a.stop()
    b.stop()
    try:
        response = httpx.get(proxy.url + "/")
        assert response.status_code == 502
        assert "None of the 2 web page processes is answering" in response.text
        assert "Traceback" not in response.text
        health = httpx.get(proxy.url + HEALTH_PATH)
        assert health.status_code == 503
        assert not any(v["up"] for v in health.json()["backends"].values())
    finally:
        proxy.close()


def test_a_stream_flows_through_piece_by_piece(pair) -> None:
    a, b, proxy = pair
    for backend in (a, b):
        backend.release.clear()
    with httpx.stream("GET", proxy.url + "/stream", timeout=10) as response:
        pieces = response.iter_raw()
        first = next(pieces)
        # The backend is still holding its second piece: the first got here unbuffered.
        assert b"data: first" in first and b"second" not in first
        a.release.set()
        b.release.set()
        rest = b"".join(pieces)
    assert b"data: second" in rest


def test_bodies_go_up_with_a_length_or_in_chunks(pair) -> None:
    _, _, proxy = pair
    client = httpx.Client(base_url=proxy.url)
    assert client.post("/q", content=b"x" * 200_000).text.endswith("got " + "x" * 200_000)

    def pieces() -> Iterator[bytes]:
        yield b"hello "
        yield b"world"

    assert client.post("/q", content=pieces()).text.endswith("got hello world")


def test_keep_alive_serves_several_requests_on_one_connection(pair) -> None:
    _, _, proxy = pair
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        request = b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n"
        sock.sendall(request)
        received = b""
        deadline = time.monotonic() + 5
        while not received.endswith(b"/two") and time.monotonic() < deadline:
            received += sock.recv(65536)
    assert b" /one" in received and b" /two" in received
    assert received.count(b"HTTP/1.1 200") == 2


def test_a_response_without_length_ends_the_client_connection(pair) -> None:
    _, _, proxy = pair
    response = httpx.get(proxy.url + "/until-close")
    assert response.text == "no length: ends when the server closes"
    assert response.headers["connection"] == "close"


def test_an_upgraded_connection_is_piped_both_ways(pair) -> None:
    _, _, proxy = pair
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(
            b"GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 101")
        sock.sendall(b"ping\n")
        echoed = head.split(b"\r\n\r\n", 1)[1]
        while b"\n" not in echoed:
            echoed += sock.recv(4096)
    assert echoed == b"PING\n"


def test_health_reports_each_backend_and_what_it_served(pair) -> None:
    a, _, proxy = pair
    httpx.get(proxy.url + "/")
    report = httpx.get(proxy.url + HEALTH_PATH).json()["backends"]
    assert set(report) == {a.url, pair[1].url}
    assert all(v["up"] for v in report.values())
    assert sum(v["served"] for v in report.values()) == 1


@pytest.mark.parametrize("path", ["/garbage", "/hang-up"])
def test_a_backend_that_gives_no_proper_answer_is_a_502(pair, path: str) -> None:
    _, _, proxy = pair
    response = httpx.get(proxy.url + path)
    assert response.status_code == 502
    assert "gave no answer" in response.text
    assert httpx.get(proxy.url + "/").status_code == 200


def test_garbage_gets_a_400_not_a_crash(pair) -> None:
    _, _, proxy = pair
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400")
    assert httpx.get(proxy.url + "/").status_code == 200  # still serving


@pytest.mark.parametrize("url", ["127.0.0.1:7861", "https://h:1", "http://h", "ftp://h:2"])
def test_bad_backend_urls_are_refused_with_a_message(url: str) -> None:
    with pytest.raises(BalancerError, match="use http://HOST:PORT"):
        parse_backend(url)


def test_the_same_backend_twice_is_refused() -> None:
    with pytest.raises(BalancerError, match="twice"):
        Balancer(["http://127.0.0.1:1", "http://127.0.0.1:1/"])


def test_health_json_names_backends_by_url(pair) -> None:
    _, _, proxy = pair
    body = json.loads(httpx.get(proxy.url + HEALTH_PATH).text)
    assert all(url.startswith("http://127.0.0.1:") for url in body["backends"])


def test_cli_errors_are_one_line(capsys) -> None:
    from test_cli import one_error_line

    from qa.cli import main

    assert main(["balance", "--port", "0"]) == 2
    assert "give at least one --backend" in one_error_line(capsys.readouterr().err)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["balance", "--port", str(port), "--backend", "http://127.0.0.1:1"]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in one_error_line(capsys.readouterr().err)

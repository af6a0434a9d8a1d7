"""qa/runtime/health.py: free ports and waiting for a server to answer, against a real loopback
http.server in a thread (and a real child process for "it exited before answering")."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qa.runtime.health import (
    HealthError,
    HealthTimeout,
    ProcessExited,
    free_port,
    port_is_free,
    wait_until_healthy,
)


class _Server:
    """Answers 503 until `healthy_at` (a monotonic time), then `status`; counts requests."""

    def __init__(self) -> None:
        self.healthy_at = float("inf")
        self.status = 200
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                ready = time.monotonic() >= server.healthy_at
                self.send_response(server.status if ready else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep the test output clean

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/health"


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    thread = threading.Thread(target=s.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield s
    finally:
        s.httpd.shutdown()
        s.httpd.server_close()
        thread.join(timeout=5)


def test_free_port_is_bindable_and_a_listening_port_is_not_free() -> None:
    port = free_port()
    assert 0 < port < 65536
    assert port_is_free("127.0.0.1", port)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        assert not port_is_free("127.0.0.1", port)
    assert port_is_free("127.0.0.1", port)


def test_waits_until_the_server_turns_healthy(server: _Server) -> None:
    server.healthy_at = time.monotonic() + 0.5
    started = time.monotonic()
    wait_until_healthy(server.url, timeout_s=10, interval_s=0.05)
    waited = time.monotonic() - started
    assert 0.45 <= waited < 5
    assert server.requests >= 2  # it asked while the answer was 503, then again


def test_a_custom_ok_accepts_other_answers(server: _Server) -> None:
    server.healthy_at, server.status = 0.0, 204
    with pytest.raises(HealthTimeout):
        wait_until_healthy(server.url, timeout_s=0.3, interval_s=0.05)
    wait_until_healthy(
        server.url, timeout_s=2, interval_s=0.05, ok=lambda r: r.status_code in (200, 204)
    )


def test_a_server_that_never_turns_healthy_times_out(server: _Server) -> None:
    started = time.monotonic()
    with pytest.raises(HealthTimeout) as raised:
        wait_until_healthy(server.url, timeout_s=0.5, interval_s=0.05)
    assert 0.45 <= time.monotonic() - started < 5
    assert str(raised.value) == f"{server.url} did not answer within 0.5 s"
    assert raised.value.url == server.url and raised.value.timeout_s == 0.5
    assert isinstance(raised.value, HealthError) and isinstance(raised.value, RuntimeError)


def test_nothing_listening_times_out_too() -> None:
    url = f"http://127.0.0.1:{free_port()}/health"
    with pytest.raises(HealthTimeout, match="did not answer within 0.3 s"):
        wait_until_healthy(url, timeout_s=0.3, interval_s=0.05)


def test_an_exited_process_ends_the_wait_at_once() -> None:
    url = f"http://127.0.0.1:{free_port()}/health"
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"])
    proc.wait(timeout=30)
    started = time.monotonic()
    with pytest.raises(ProcessExited) as raised:
        wait_until_healthy(url, timeout_s=60, process=proc, interval_s=0.05)
    assert time.monotonic() - started < 5
    assert raised.value.returncode == 3
    assert str(raised.value) == f"process exited with code 3 before {url} answered"
    assert "\n" not in str(raised.value)


def test_a_process_that_exits_while_waiting_is_noticed(server: _Server) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    try:
        with pytest.raises(ProcessExited) as raised:
            wait_until_healthy(server.url, timeout_s=60, process=proc, interval_s=0.05)
        assert raised.value.returncode == 0
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_a_running_process_whose_server_answers_is_fine(server: _Server) -> None:
    server.healthy_at = 0.0
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        wait_until_healthy(server.url, timeout_s=10, process=proc, interval_s=0.05)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait(timeout=30)

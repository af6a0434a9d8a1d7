"""Loopback ports and "is it up yet?" polling, for everything that starts a server process.

The launcher (`qa services`), the model supervisor, the benchmarks and the integration tests all
start a child server and must wait until it answers before using it; they share these helpers
so that each decides only what to say when a start fails. httpx is imported on first poll, so
the model process can check its port without loading an HTTP client.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx


class HealthError(RuntimeError):
    """A server did not become healthy; the subclass says why."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


class HealthTimeout(HealthError):
    """The URL did not answer as healthy within the time allowed."""

    def __init__(self, url: str, timeout_s: float) -> None:
        super().__init__(f"{url} did not answer within {timeout_s:g} s", url)
        self.timeout_s = timeout_s


class ProcessExited(HealthError):
    """The server's process ended before its URL answered; `returncode` is its exit status."""

    def __init__(self, url: str, returncode: int) -> None:
        super().__init__(f"process exited with code {returncode} before {url} answered", url)
        self.returncode = returncode


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port the OS reports free right now, for a child server to listen on."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on (host, port) now: say "port in use" before starting.

    SO_REUSEADDR, as servers set it, so a port left in TIME_WAIT still counts as free."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _answers_200(response: httpx.Response) -> bool:
    return response.status_code == 200


def wait_until_healthy(
    url: str,
    *,
    timeout_s: float,
    process: subprocess.Popen[Any] | None = None,
    interval_s: float = 0.3,
    request_timeout_s: float = 2.0,
    ok: Callable[[httpx.Response], bool] | None = None,
) -> None:
    """Poll `url` with GET until it answers HTTP 200 (or `ok(response)` is true).

    Raises ProcessExited as soon as `process` has ended (no point waiting for a dead server)
    and HealthTimeout after `timeout_s`; callers add their own wording and clean-up."""
    import httpx

    healthy = ok or _answers_200
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None:
            code = process.poll()
            if code is not None:
                raise ProcessExited(url, code)
        try:
            if healthy(httpx.get(url, timeout=request_timeout_s)):
                return
        except httpx.HTTPError:
            pass  # not listening yet, or it reset the connection while starting
        time.sleep(interval_s)
    raise HealthTimeout(url, timeout_s)

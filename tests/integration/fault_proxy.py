"""A fault-injecting HTTP proxy in front of a real LLM server, for the fault tests.

    python fault_proxy.py PORT UPSTREAM_URL

Requests are forwarded to UPSTREAM_URL unchanged, streaming included, unless a fault is set
with `POST /_fault {"mode": ..., "times": n, "status": code, "delay_s": s}`:

- `status`: answer HTTP `status` instead of forwarding;
- `garbage`: answer 200 with an event stream that is not a chat completion;
- `slow`: wait `delay_s` before forwarding;
- `cut`: forward, but drop the connection after a few streamed events.

A fault applies to the next `times` requests (-1: until changed). `GET /_stats` counts the
forwarded and faulted requests; `GET /health` answers 200.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

CUT_AFTER_EVENTS = 4  # the first event may carry only the role, no text
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class FaultState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fault: dict = {"mode": "pass"}
        self.stats = {"requests": 0, "faulted": 0}

    def take(self) -> dict:
        """The fault for this request (and count it down)."""
        with self.lock:
            self.stats["requests"] += 1
            fault = dict(self.fault)
            times = int(self.fault.get("times", -1))
            if fault["mode"] == "pass":
                return fault
            self.stats["faulted"] += 1
            if times > 0:
                self.fault["times"] = times - 1
                if times == 1:
                    self.fault = {"mode": "pass"}
            return fault


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = ""
    state = FaultState()

    def log_message(self, *args: object) -> None:
        pass

    def _json(self, code: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._json(200, {"ok": True})
        elif self.path == "/_stats":
            with self.state.lock:
                self._json(200, dict(self.state.stats))
        else:
            self._forward(b"")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/_fault":
            with self.state.lock:
                self.state.fault = json.loads(body)
            self._json(200, {"ok": True})
            return
        fault = self.state.take()
        mode = fault["mode"]
        if mode == "status":
            self._json(int(fault.get("status", 500)), {"error": "injected fault"})
            return
        if mode == "garbage":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"data: <html>502 Bad Gateway</html>\n\n")
            self.close_connection = True
            return
        if mode == "slow":
            time.sleep(float(fault.get("delay_s", 5)))
        self._forward(body, cut=mode == "cut")

    def _forward(self, body: bytes, cut: bool = False) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        method = self.command
        try:
            with httpx.stream(
                method, self.upstream + self.path, content=body, headers=headers, timeout=300
            ) as upstream:
                self.send_response(upstream.status_code)
                for key, value in upstream.headers.items():
                    if key.lower() not in HOP_HEADERS:
                        self.send_header(key, value)
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                sent = 0
                for line in upstream.iter_lines():
                    data = line.encode() + b"\n"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                    sent += line.startswith("data:")
                    if cut and sent == CUT_AFTER_EVENTS:
                        return  # drop the connection mid-answer: no closing chunk
                self.wfile.write(b"0\r\n\r\n")
        except (httpx.HTTPError, BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self.close_connection = True


def main() -> None:
    port, upstream = int(sys.argv[1]), sys.argv[2].rstrip("/")
    Handler.upstream = upstream
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()

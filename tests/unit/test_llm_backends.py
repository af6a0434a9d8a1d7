"""LLM backends: the OpenAI-compatible client against a tiny local SSE server, and the registry."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from qa.core.errors import UserError
from qa.core.settings import GenerationSettings, Settings
from qa.generate.llm import FakeLLM, LLMError, OpenAICompatibleLLM, make_llm
from qa.runtime.health import free_port

MESSAGES = [{"role": "user", "content": "Who met Putin?"}]


def _chunk(content: str | None) -> bytes:
    delta = {} if content is None else {"content": content}
    event = {
        "id": "x",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta}],
    }
    return b"data: " + json.dumps(event).encode() + b"\n\n"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.server.requests.append(  # type: ignore[attr-defined]
            {
                "path": self.path,
                "headers": dict(self.headers),
                "body": json.loads(self.rfile.read(length)),
            }
        )
        mode = self.server.mode  # type: ignore[attr-defined]
        if mode in ("500", "503"):
            payload = b'{"error": "model exploded"}'
            self.send_response(int(mode))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        if mode == "garbage":
            self.wfile.write(b"data: {not json\n\n")
        else:
            self.wfile.write(b": keep-alive comment\n\n")
            self.wfile.write(_chunk(None))  # role-only delta, no content
            for piece in ("Ri ", "Yong-ho", " [1]."):
                self.wfile.write(_chunk(piece))
                self.wfile.flush()
            # The counts come last, in a chunk without a choice (stream_options.include_usage).
            usage = {"prompt_tokens": 120, "completion_tokens": 3, "total_tokens": 123}
            self.wfile.write(b"data: " + json.dumps({"choices": [], "usage": usage}).encode())
            self.wfile.write(b"\n\ndata: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.mode = "ok"  # type: ignore[attr-defined]
    srv.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def _settings(base_url: str, **kw) -> Settings:
    return Settings(
        llm_backend="openai", openai_base_url=base_url, llm_model="tiny-model",
        request_timeout_s=5, **kw,
    )  # fmt: skip


def _url(srv: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/v1/"


def test_streams_the_pieces_and_sends_a_chat_request(server, monkeypatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-test")
    llm = OpenAICompatibleLLM(_settings(_url(server), openai_api_key_env="MY_KEY"))
    pieces = list(llm.stream_chat(MESSAGES, max_tokens=32, stop=["\n\n"]))
    assert pieces == ["Ri ", "Yong-ho", " [1]."]
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    body = request["body"]
    assert body["model"] == "tiny-model" and body["messages"] == MESSAGES
    assert body["stream"] is True and body["max_tokens"] == 32 and body["stop"] == ["\n\n"]
    assert body["stream_options"] == {"include_usage": True}


def test_an_answers_model_calls_are_counted_for_usage(server) -> None:
    from qa.generate.usage import metered

    llm = OpenAICompatibleLLM(_settings(_url(server)))
    with metered() as usage:
        for _ in range(2):
            assert "".join(llm.stream_chat(MESSAGES, max_tokens=32, stop=[])) == "Ri Yong-ho [1]."
    assert (usage.calls, usage.prompt_tokens, usage.completion_tokens) == (2, 240, 6)
    assert usage.as_openai() == {"prompt_tokens": 240, "completion_tokens": 6, "total_tokens": 246}
    list(llm.stream_chat(MESSAGES, max_tokens=32, stop=[]))  # outside: nothing is counted
    assert usage.calls == 2


def test_no_key_means_no_authorization_header(server) -> None:
    llm = OpenAICompatibleLLM(_settings(_url(server)))
    assert "".join(llm.stream_chat(MESSAGES, 8, [])) == "Ri Yong-ho [1]."
    headers = {k.lower() for k in server.requests[0]["headers"]}
    assert "authorization" not in headers
    assert "stop" not in server.requests[0]["body"]


def test_http_500_is_an_llm_error(server) -> None:
    server.mode = "500"
    llm = OpenAICompatibleLLM(_settings(_url(server)))
    with pytest.raises(LLMError, match="500") as info:
        list(llm.stream_chat(MESSAGES, 8, []))
    assert "model exploded" in str(info.value)
    assert isinstance(info.value, UserError)
    assert len(server.requests) == 1  # an HTTP error is not retried


def test_http_503_is_retried_a_bounded_number_of_times(server, monkeypatch, caplog) -> None:
    server.mode = "503"
    monkeypatch.setattr("index.retry.time.sleep", lambda s: None)
    llm = OpenAICompatibleLLM(_settings(_url(server)), retries=2)
    with caplog.at_level("INFO", logger="index.retry"), pytest.raises(LLMError, match="HTTP 503"):
        list(llm.stream_chat(MESSAGES, 8, []))
    assert len(server.requests) == 3
    assert [r.getMessage() for r in caplog.records] == [
        "LLM request failed (HTTP 503); retry 1 of 2",
        "LLM request failed (HTTP 503); retry 2 of 2",
    ]


def test_non_chat_completion_data_is_an_llm_error(server) -> None:
    server.mode = "garbage"
    with pytest.raises(LLMError, match="not a chat completion"):
        list(OpenAICompatibleLLM(_settings(_url(server))).stream_chat(MESSAGES, 8, []))


@pytest.mark.parametrize("retries", [0, 1])
def test_closed_port_is_an_llm_error_saying_cannot_reach(retries: int) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm = OpenAICompatibleLLM(_settings(url), retries=retries)
    with pytest.raises(LLMError, match="cannot reach") as info:
        list(llm.stream_chat(MESSAGES, 8, []))
    assert url in str(info.value)


@pytest.mark.parametrize("case", ["no-scheme", "connect-timeout"])
def test_other_transport_errors_are_llm_errors(case: str, monkeypatch) -> None:
    port = free_port()
    if case == "no-scheme":
        llm = OpenAICompatibleLLM(_settings(f"127.0.0.1:{port}/v1"), retries=0)
    else:
        llm = OpenAICompatibleLLM(_settings(f"http://127.0.0.1:{port}/v1"), retries=0)

        def timeout(*args, **kwargs):
            raise httpx.ConnectTimeout("timed out")

        monkeypatch.setattr(httpx, "stream", timeout)
    with pytest.raises(LLMError):
        list(llm.stream_chat(MESSAGES, 8, []))


def test_make_llm_registry() -> None:
    assert isinstance(make_llm(Settings(llm_backend="fake")), FakeLLM)
    assert isinstance(make_llm(Settings(llm_backend="openai")), OpenAICompatibleLLM)
    with pytest.raises(LLMError, match="unknown LLM backend"):
        make_llm(
            Settings.model_construct(
                generation=GenerationSettings.model_construct(llm_backend="nope")
            )
        )


def test_fake_llm_without_sources_says_not_in_articles() -> None:
    reply = "".join(FakeLLM().stream_chat([{"role": "user", "content": "Question: hi"}], 8, []))
    assert reply.strip() == "NOT IN ARTICLES"

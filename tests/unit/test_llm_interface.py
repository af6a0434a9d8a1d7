"""Every backend implements the whole LLM interface; log-probabilities come back where the
server gives them and are None where it does not (the fallback the callers take)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from qa.core.interfaces import LLM, Completion, LLMCapabilities
from qa.core.settings import Settings
from qa.generate.backends.fake import FakeLLM
from qa.generate.backends.local import LocalModelLLM
from qa.generate.backends.openai import OpenAICompatibleLLM

LOGPROBS = {
    "content": [
        {"token": "Yes", "logprob": -0.1, "top_logprobs": [
            {"token": "Yes", "logprob": -0.1}, {"token": "No", "logprob": -2.4}]},
        {"token": ".", "logprob": -0.01, "top_logprobs": []},
    ]
}  # fmt: skip


class _Server:
    """An OpenAI-compatible /chat/completions on loopback that records what it was sent."""

    def __init__(self, with_logprobs: bool) -> None:
        self.with_logprobs = with_logprobs
        self.bodies: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.bodies.append(body)
                choice: dict[str, Any] = {"message": {"role": "assistant", "content": "Yes."}}
                if with_logprobs and body.get("logprobs"):
                    choice["logprobs"] = LOGPROBS
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for piece, logprob in (("Ye", -0.2), ("s.", -0.05)):
                        event: dict[str, Any] = {"choices": [{"delta": {"content": piece}}]}
                        if with_logprobs and body.get("logprobs"):
                            token = {"token": piece, "logprob": logprob, "top_logprobs": []}
                            event["choices"][0]["logprobs"] = {"content": [token]}
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                    return
                data = json.dumps({"choices": [choice]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/v1"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture(params=[True, False], ids=["server-with-logprobs", "server-without"])
def server(request: pytest.FixtureRequest) -> Iterator[_Server]:
    s = _Server(with_logprobs=request.param)
    yield s
    s.close()


def _client(url: str) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(Settings(llm_backend="openai", openai_base_url=url), retries=0)


def test_complete_chat_reads_logprobs_where_the_server_gives_them(server: _Server) -> None:
    llm = _client(server.url)
    done = llm.complete_chat([{"role": "user", "content": "Q"}], 2, [], top_logprobs=2)
    assert done.text == "Yes."
    assert server.bodies[-1]["logprobs"] is True and server.bodies[-1]["top_logprobs"] == 2
    assert "stream" not in server.bodies[-1] and "grammar" not in server.bodies[-1]
    if not server.with_logprobs:  # the server sent none: callers fall back to the text
        assert done.logprobs is None
    else:
        assert done.logprobs is not None
        first = done.logprobs[0]
        assert (first.token, first.logprob) == ("Yes", -0.1)
        assert first.top == (("Yes", -0.1), ("No", -2.4))
        assert [t.token for t in done.logprobs] == ["Yes", "."]


def test_without_top_logprobs_nothing_is_asked_and_none_comes_back(server: _Server) -> None:
    done = _client(server.url).complete_chat([{"role": "user", "content": "Q"}], 2, ["\n"])
    assert done.logprobs is None
    assert "logprobs" not in server.bodies[-1] and server.bodies[-1]["stop"] == ["\n"]


def test_grammar_is_sent_only_when_given(server: _Server) -> None:
    llm = _client(server.url)
    assert "".join(llm.stream_chat([{"role": "user", "content": "Q"}], 2, [])) == "Yes."
    assert "grammar" not in server.bodies[-1] and server.bodies[-1]["stream"] is True
    list(llm.stream_chat([{"role": "user", "content": "Q"}], 2, [], grammar='root ::= "Yes"'))
    assert server.bodies[-1]["grammar"] == 'root ::= "Yes"'


def test_streaming_collects_token_logprobs_where_the_server_sends_them(server: _Server) -> None:
    from qa.core.interfaces import TokenLogprob

    sink: list[TokenLogprob] = []
    llm = _client(server.url)
    pieces = list(llm.stream_chat([{"role": "user", "content": "Q"}], 4, [], logprobs=sink))
    assert "".join(pieces) == "Yes." and server.bodies[-1]["logprobs"] is True
    if server.with_logprobs:
        assert [(t.token, t.logprob) for t in sink] == [("Ye", -0.2), ("s.", -0.05)]
    else:  # nothing sent: the list stays empty and the reply is unchanged
        assert sink == []
    list(llm.stream_chat([{"role": "user", "content": "Q"}], 4, []))
    assert "logprobs" not in server.bodies[-1]  # not asked for without a list to fill


def test_every_backend_implements_the_whole_interface() -> None:
    from llama_index.core.llms import MockLLM

    from qa.assistant import Assistant, _DeferredLLM
    from qa.generate.backends.llama_index import LlamaIndexChatLLM

    backends: list[object] = [
        FakeLLM(),
        _client("http://127.0.0.1:9/v1"),
        LlamaIndexChatLLM(MockLLM(max_tokens=4)),
        _DeferredLLM(Assistant(Settings(llm_backend="fake"), llm=FakeLLM())),
    ]
    for backend in backends:
        assert isinstance(backend, LLM), type(backend).__name__
        assert isinstance(backend.capabilities, LLMCapabilities)
    # The local model's class, without starting the model.
    for member in ("capabilities", "stream_chat", "complete_chat", "close"):
        assert hasattr(LocalModelLLM, member)
    assert LocalModelLLM.capabilities == LLMCapabilities(grammar=True, logprobs=True)
    assert (
        OpenAICompatibleLLM.capabilities.logprobs and not OpenAICompatibleLLM.capabilities.grammar
    )
    assert FakeLLM.capabilities == LLMCapabilities() == LlamaIndexChatLLM.capabilities


def test_backends_without_logprobs_fall_back_to_the_text() -> None:
    from llama_index.core.llms import MockLLM

    from qa.generate.backends.llama_index import LlamaIndexChatLLM

    messages = [{"role": "user", "content": "Sources:\n[1] Kim met Putin.\n\nQuestion: Who met?"}]
    for llm in (FakeLLM(), LlamaIndexChatLLM(MockLLM(max_tokens=3))):
        done = llm.complete_chat(messages, 8, [], top_logprobs=3)
        assert isinstance(done, Completion) and done.text and done.logprobs is None
        llm.close()

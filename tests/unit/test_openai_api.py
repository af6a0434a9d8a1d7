"""The OpenAI-compatible endpoint, driven by the openai Python SDK over loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import httpx
import openai
import pytest
import uvicorn
from fastapi.testclient import TestClient

from qa.conversation import CHARS_PER_TOKEN
from qa.core.errors import LLMError
from qa.generate.backends.fake import FakeLLM
from ui.openai_api import FOOTNOTES, ChatRequest, Gate, create_app, question_and_history
from ui.service import ChatService

QUESTION = "Who accompanied Kim at the extended talks?"
URL = "/v1/chat/completions"


@contextmanager
def running(app) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def service(indexed_assistant) -> ChatService:
    return ChatService(indexed_assistant.settings)  # the shared, indexed store; the fake LLM


def test_models_and_a_cited_answer_through_the_sdk(service) -> None:
    with running(create_app(service)) as base:
        client = openai.OpenAI(base_url=base, api_key="unused", max_retries=0)
        ids = [m.id for m in client.models.list()]
        assert ids[0] == "newsqa" and "newsqa/seeds" in ids
        reply = client.chat.completions.create(
            model="newsqa", messages=[{"role": "user", "content": QUESTION}]
        )
        content = reply.choices[0].message.content
        citations = reply.model_extra["citations"]
        assert citations and FOOTNOTES in content and "[1]" in content
        first = citations[0]
        assert first["number"] == 1 and first["quote"] in content
        assert content.split(FOOTNOTES)[1].startswith(f"[1] {first['title']}")

        stream = client.chat.completions.create(
            model="newsqa/seeds",
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
        )
        chunks = list(stream)
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
        assert streamed == content  # the same verified answer, in pieces
        assert chunks[-1].choices[0].finish_reason == "stop"
        assert chunks[-1].model_extra["citations"] == citations


def test_history_filters_and_bad_requests(service) -> None:
    with running(create_app(service)) as base:
        client = openai.OpenAI(base_url=base, api_key="unused", max_retries=0)
        only_kbs = client.chat.completions.create(
            model="newsqa",
            messages=[{"role": "user", "content": "When will Biegun visit Moscow?"}],
            extra_body={"filters": {"outlets": ["kbs"]}},
        )
        assert {c["source"] for c in only_kbs.model_extra["citations"]} <= {
            "000_86efe34d87499970.txt"
        }
        with pytest.raises(openai.BadRequestError, match="the last message must be the user"):
            client.chat.completions.create(
                model="newsqa", messages=[{"role": "assistant", "content": "hi"}]
            )
        with pytest.raises(openai.BadRequestError, match="not a date"):
            client.chat.completions.create(
                model="newsqa",
                messages=[{"role": "user", "content": QUESTION}],
                extra_body={"filters": {"since": "soon"}},
            )
        with pytest.raises(openai.NotFoundError, match="no model 'gpt-4'"):
            client.chat.completions.create(
                model="gpt-4", messages=[{"role": "user", "content": QUESTION}]
            )


def test_an_api_key_is_required_when_set(service) -> None:
    with running(create_app(service, api_key="s3cret")) as base:
        wrong = openai.OpenAI(base_url=base, api_key="guess", max_retries=0)
        with pytest.raises(openai.AuthenticationError, match="a valid API key is needed"):
            wrong.models.list()
        right = openai.OpenAI(base_url=base, api_key="s3cret", max_retries=0)
        assert [m.id for m in right.models.list()][0] == "newsqa"


def test_history_is_read_from_the_turns_and_footnotes_are_dropped() -> None:
    request = ChatRequest.model_validate(
        {
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "Who met Kim?"},
                {"role": "assistant", "content": f"Putin met him [1].{FOOTNOTES}[1] ..."},
                {"role": "user", "content": [{"type": "text", "text": "Where?"}]},
            ]
        }
    )
    question, history = question_and_history(request.messages)
    assert question == "Where?" and history == [("Who met Kim?", "Putin met him [1].")]


# --- every input checked (issue 33) ------------------------------------------------------

ASKED = [{"role": "user", "content": QUESTION}]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"messages": ASKED, "filters": {"outlets": 7}}, "filters.outlets: Input should be a"),
        ({"messages": ASKED, "filters": {"outlets": [1, 2]}}, "filters.outlets.0: Input should"),
        ({"messages": ASKED, "filters": {"authors": "kbs"}}, "filters.authors: Input should be"),
        ({"messages": ASKED, "filters": {"since": 2019}}, "filters.since: Input should be"),
        ({"messages": ASKED, "filters": {"outlet": ["kbs"]}}, "filters.outlet: Extra inputs"),
        ({"messages": ASKED, "filters": ["kbs"]}, "filters: Input should be"),
        ({"messages": "Who met Kim?"}, "messages: Input should be a valid list"),
        ({"messages": []}, "messages: List should have at least 1 item"),
        ({"messages": [{"role": "user", "content": 7}]}, "messages.0.content"),
        ({"messages": ASKED, "stream": "maybe"}, "stream: Input should be a valid boolean"),
        ({"messages": ASKED, "model": ["newsqa"]}, "model: Input should be a valid string"),
        ([ASKED], "body: Input should be a valid dictionary"),
        ("{not json", "the request body is not valid JSON"),
    ],
)
def test_wrong_types_are_a_400_in_one_line(service, body, said: str) -> None:
    # The test client raises what the app raises: a traceback would fail the test.
    with TestClient(create_app(service)) as client:
        if isinstance(body, str):
            sent = client.post(URL, content=body, headers={"content-type": "application/json"})
        else:
            sent = client.post(URL, json=body)
    assert sent.status_code == 400
    error = sent.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith(said) and "\n" not in error["message"]


@pytest.fixture(scope="module")
def small_body_service(indexed_assistant) -> ChatService:
    settings = indexed_assistant.settings.model_copy(update={"api_max_body_bytes": 4096})
    return ChatService(settings)


def test_a_body_over_the_limit_is_refused_before_it_is_read(small_body_service) -> None:
    with running(create_app(small_body_service)) as base:
        host, port = base.removeprefix("http://").removesuffix("/v1").split(":")
        # 100 MB announced, none sent: the answer comes at once, the body is never awaited.
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
            )
            head = raw.recv(4096).decode()
        assert head.startswith("HTTP/1.1 413") and "QA_API_MAX_BODY_BYTES" in head
        # Chunked: no length announced, the bytes are counted as they come.
        chunks = (b" " * 1024 for _ in range(100_000))
        sent = httpx.post(f"{base}/chat/completions", content=chunks, timeout=30,
                          headers={"content-type": "application/json"})  # fmt: skip
        assert sent.status_code == 413
        assert "larger than the limit of 4096 bytes" in sent.json()["error"]["message"]
        within = {"messages": ASKED, "padding": " " * 3000}
        assert httpx.post(f"{base}/chat/completions", json=within, timeout=60).status_code == 200


def test_a_chunked_body_is_counted_as_it_arrives_and_never_kept_whole() -> None:
    """The gate pulls only the chunks it needs to see the body is too large."""
    pulled = []
    sent: list[dict] = []

    async def receive() -> dict:
        pulled.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    async def never(scope, receive, send) -> None:
        raise AssertionError("the app must not be reached")

    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}
    anyio.run(Gate(never, api_key="", max_body_bytes=4096), scope, receive, send)
    assert sent[0]["status"] == 413 and len(pulled) == 5  # 5 KiB read of an endless body


def test_only_a_bearer_key_opens_the_api_and_its_schema(service) -> None:
    with TestClient(create_app(service, api_key="s3cret")) as client:
        for header in ("s3cret", "Basic s3cret", "Bearer s3cre", "Bearer", "Bearers3cret"):
            refused = client.get("/v1/models", headers={"Authorization": header})
            assert refused.status_code == 401, header
            assert refused.json()["error"]["type"] == "authentication_error"
        assert client.get("/openapi.json").status_code == 401
        assert client.post(URL, json={"messages": ASKED}).status_code == 401
        key = {"Authorization": "Bearer s3cret"}
        assert client.get("/v1/models", headers=key).status_code == 200
        assert client.get("/openapi.json", headers=key).status_code == 200
        assert client.get("/health").status_code == 200  # for load balancers and probes


class SmallContext(FakeLLM):
    """Refuses, as llama.cpp does, a prompt longer than its context (in characters here)."""

    def __init__(self, context_chars: int) -> None:
        super().__init__()
        self.context_chars = context_chars

    def stream_chat(self, messages, max_tokens, stop, grammar="", logprobs=None):
        size = sum(len(m["content"]) for m in messages)
        if size > self.context_chars:
            raise LLMError(f"request ({size} characters) exceeds the available context size")
        yield from super().stream_chat(messages, max_tokens, stop, grammar, logprobs)


def test_a_long_history_is_cut_to_what_the_context_holds(indexed_assistant) -> None:
    settings = indexed_assistant.settings
    llm = SmallContext(settings.runtime.n_ctx * CHARS_PER_TOKEN)
    service = ChatService(settings, llm=llm)
    long_ago = [{"role": "user", "content": "What happened in Vladivostok?"},
                {"role": "assistant", "content": "Kim met Putin. " * 10_000}]  # fmt: skip
    messages = long_ago * 4 + [{"role": "user", "content": "How long did they talk?"}]
    with TestClient(create_app(service)) as client:
        sent = client.post(URL, json={"messages": messages})
    assert sent.status_code == 200, sent.text
    rewrite = [m for m in llm.calls if "Follow-up question:" in m[-1]["content"]]
    assert rewrite and "Kim met Putin." in rewrite[0][-1]["content"]  # the latest turn, cut


class SlowLLM(FakeLLM):
    """Writes a piece every 0.1 s; counts its calls and the pieces each one sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[int] = []
        self.ended = threading.Event()

    def stream_chat(self, messages, max_tokens, stop, grammar="", logprobs=None):
        self.sent.append(0)
        try:
            for piece in super().stream_chat(messages, max_tokens, stop, grammar, logprobs):
                time.sleep(0.1)
                self.sent[-1] += 1
                yield piece
        finally:
            self.ended.set()


def test_a_client_that_leaves_a_streamed_answer_stops_it(indexed_assistant) -> None:
    whole = SlowLLM()
    assert ChatService(indexed_assistant.settings, llm=whole).stream(QUESTION).answer.text
    assert len(whole.calls) >= 2 and whole.sent[0] > 5  # the answer, then its checks

    llm = SlowLLM()
    service = ChatService(indexed_assistant.settings, llm=llm)
    with running(create_app(service)) as base:
        body = {"messages": ASKED, "stream": True}
        with httpx.stream("POST", f"{base}/chat/completions", json=body, timeout=30) as reply:
            first = next(reply.iter_lines())
            assert '"role": "assistant"' in first
        # The client has gone: the answer stops at its next step, before the model is
        # called or at the model's next piece.
        time.sleep(2)  # time for any further model call to start
        assert len(llm.calls) <= 1
        if llm.calls:
            assert llm.ended.wait(timeout=30) and llm.sent[0] < whole.sent[0]
        # The one generation slot is free: the next question is answered.
        assert httpx.post(f"{base}/chat/completions", json={"messages": ASKED},
                          timeout=60).status_code == 200  # fmt: skip


# --- refused before it queues, sources Open WebUI shows (issue 34) -----------------------


@contextmanager
def slots_taken(service: ChatService) -> Iterator[None]:
    """Every generation slot taken, as by answers in progress (left before the server stops,
    so that a request waiting for a slot ends)."""
    for _ in range(service.concurrent_answers):
        service._generate.acquire()
    try:
        yield
    finally:
        for _ in range(service.concurrent_answers):
            service._generate.release()


def test_what_will_be_refused_is_refused_before_it_waits_for_the_slot(indexed_assistant) -> None:
    service = ChatService(indexed_assistant.settings, llm=FakeLLM())
    limit = service.settings.question.max_question_chars
    refused = []
    with running(create_app(service)) as base, slots_taken(service):
        for stream in (False, True):
            for content, said in (("x" * (limit + 1), "QA_MAX_QUESTION_CHARS"),
                                  ("\x1b[1m\x07 \x00", "the question is empty")):  # fmt: skip
                body = {"messages": [{"role": "user", "content": content}], "stream": stream}
                # A request that waits for a slot times out here.
                sent = httpx.post(f"{base}/chat/completions", json=body, timeout=10)
                refused.append((sent.status_code, said in sent.json()["error"]["message"]))
    assert refused == [(400, True)] * 4


def test_the_citations_come_as_open_webui_sources_too(service) -> None:
    with TestClient(create_app(service)) as client:
        whole = client.post(URL, json={"messages": ASKED}).json()
        streamed = client.post(URL, json={"messages": ASKED, "stream": True}).text
    citations, given = whole["citations"], whole["sources"]
    assert len(given) == len(citations) > 0
    for n, (source, cited) in enumerate(zip(given, citations, strict=True), 1):
        assert source["document"] == [cited["quote"]]
        assert source["source"]["name"].startswith(cited["title"])
        assert source["metadata"][0]["source"] == source["source"]["id"]
        assert source["source"]["id"].startswith(f"[{n}] {cited['source']}#")
    chunks = [json.loads(line.removeprefix("data: ")) for line in streamed.splitlines()
              if line.startswith("data: {")]  # fmt: skip
    events = [c["event"] for c in chunks if "event" in c]
    assert events == [{"type": "source", "data": s} for s in given]
    assert chunks[-1]["sources"] == given and chunks[-1]["choices"][0]["finish_reason"] == "stop"

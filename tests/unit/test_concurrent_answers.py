"""Several answers at once: how many the backend allows, and that the web service, the
HTTP client and the Assistant really let that many run together (counted, not timed)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import ValidationError

from qa.assistant import Assistant
from qa.core.settings import Settings
from qa.generate.llm import FakeLLM, Message, OpenAICompatibleLLM, max_concurrent_answers
from ui.app import build_app
from ui.service import ChatService

QUESTION = "Who accompanied Kim at the extended talks?"
WAIT_S = 20  # only a broken gate makes a test wait this long


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"llm_backend": "llama_cpp"}, 1),  # the default: one answer at a time, as before
        ({"llm_backend": "llama_cpp", "llm_parallel": 4}, 4),
        ({"llm_backend": "llama_cpp", "llm_concurrency": 9}, 1),  # slots decide, not this
        ({"llm_backend": "openai"}, 4),
        ({"llm_backend": "openai", "llm_concurrency": 16, "llm_parallel": 2}, 16),
        ({"llm_backend": "llama_index", "llm_concurrency": 2}, 2),
        ({"llm_backend": "fake", "llm_parallel": 4, "llm_concurrency": 8}, 1),
    ],
)
def test_the_backend_decides_how_many_answers_generate_at_once(
    make_settings, overrides: dict, expected: int
) -> None:
    assert max_concurrent_answers(make_settings(**overrides)) == expected


def test_concurrency_below_one_is_refused(make_settings) -> None:
    with pytest.raises(ValidationError, match="llm_concurrency"):
        make_settings(llm_concurrency=0)


def test_concurrency_is_read_from_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("QA_LLM_CONCURRENCY", "6")
    settings = Settings(home=tmp_path, llm_backend="openai")
    assert max_concurrent_answers(settings) == 6
    # How many requests are in flight does not change what an answer says.
    assert settings.fingerprint() == Settings(home=tmp_path, llm_backend="openai",
                                              llm_concurrency=1).fingerprint()  # fmt: skip


class HeldLLM(FakeLLM):
    """FakeLLM whose generations wait, once started, until the test releases them; it counts
    how many are inside at once."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = 0
        self.peak = 0
        self.changed = threading.Condition()
        self.release = threading.Event()

    def stream_chat(
        self, messages: list[Message], max_tokens: int, stop: list[str], grammar: str = ""
    ) -> Iterator[str]:
        with self.changed:
            self.inside += 1
            self.peak = max(self.peak, self.inside)
            self.changed.notify_all()
        try:
            assert self.release.wait(WAIT_S), "the test never released the generation"
            yield from super().stream_chat(messages, max_tokens, stop, grammar)
        finally:
            with self.changed:
                self.inside -= 1
                self.changed.notify_all()


class CountingGate:
    """Wraps the service's gate: counts the answers that found it full and had to wait."""

    def __init__(self, gate: threading.BoundedSemaphore) -> None:
        self.gate = gate
        self.waiting = 0
        self.changed = threading.Condition()

    def __enter__(self) -> None:
        if self.gate.acquire(blocking=False):
            return
        with self.changed:
            self.waiting += 1
            self.changed.notify_all()
        self.gate.acquire()

    def __exit__(self, *exc: object) -> None:
        self.gate.release()


def _service(make_settings, limit: int, llm: FakeLLM) -> ChatService:
    overrides: dict = {"llm_backend": "fake"}
    if limit > 1:
        overrides = {"llm_backend": "openai", "llm_model": "remote", "llm_concurrency": limit}
    settings = make_settings(min_relevance=-1.0, answer_check="off", **overrides)
    service = ChatService(settings, llm=llm)
    service.warm_up()  # indexes the seeds (hash embedder)
    return service


@pytest.mark.parametrize("limit", [1, 3])
def test_the_service_lets_exactly_the_limit_generate_at_once(make_settings, limit: int) -> None:
    llm = HeldLLM()
    service = _service(make_settings, limit, llm)
    assert service.concurrent_answers == limit
    gate = CountingGate(service._generate)
    service._generate = gate  # type: ignore[assignment]
    users = limit + 2
    answers: list = []
    errors: list[BaseException] = []

    def user() -> None:
        try:
            answers.append(service.stream(QUESTION).answer)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=user) for _ in range(users)]
    for t in threads:
        t.start()
    # Generations are held until the test releases them, so no place at the gate frees up:
    # `limit` users generate together and the rest find the gate full. A gate wider than
    # the limit lets one more through, and `waiting` never gets there.
    try:
        with llm.changed:
            assert llm.changed.wait_for(lambda: llm.inside == limit, WAIT_S)
        with gate.changed:
            assert gate.changed.wait_for(lambda: gate.waiting == users - limit, WAIT_S)
        assert llm.inside == limit
    finally:
        llm.release.set()
        for t in threads:
            t.join(WAIT_S)
    assert errors == []
    assert len(answers) == users
    assert all("Ri Yong-ho" in a.text for a in answers), [a.text for a in answers]
    assert llm.peak == limit


def test_the_page_queues_answers_as_wide_as_the_backend_and_uploads_apart(make_settings) -> None:
    settings = make_settings(llm_backend="openai", llm_model="remote", llm_concurrency=3)
    app = build_app(ChatService(settings, llm=FakeLLM()))
    limits = {(fn.concurrency_id, fn.concurrency_limit) for fn in app.fns.values()}
    llm_limits = {limit for cid, limit in limits if cid == "llm"}
    index_limits = {limit for cid, limit in limits if cid == "index"}
    assert llm_limits == {3}
    assert index_limits == {"default"}  # uploads keep their own queue of one
    ask = next(fn for fn in app.fns.values() if fn.api_name == "ask")
    assert (ask.concurrency_id, ask.concurrency_limit) == ("llm", 3)


def test_the_page_keeps_one_answer_at_a_time_for_one_slot(make_settings) -> None:
    app = build_app(ChatService(make_settings(llm_backend="fake"), llm=FakeLLM()))
    assert {fn.concurrency_limit for fn in app.fns.values() if fn.concurrency_id == "llm"} == {1}


class _BothAtOnce(BaseHTTPRequestHandler):
    """Answers a chat completion only once two requests are open at the same time."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        together: threading.Barrier = self.server.together  # type: ignore[attr-defined]
        together.wait(WAIT_S)  # raises (and the client sees an error) if requests are serial
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        word = body["messages"][-1]["content"]
        for piece in (word, " done"):
            event = {"choices": [{"index": 0, "delta": {"content": piece}}]}
            self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True


def test_one_client_streams_two_answers_at_once(make_settings) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BothAtOnce)
    server.together = threading.Barrier(2)  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        client = OpenAICompatibleLLM(make_settings(openai_base_url=url), retries=0)
        replies: dict[str, str] = {}

        def ask(word: str) -> None:
            messages = [{"role": "user", "content": word}]
            replies[word] = "".join(client.stream_from(url, messages, 8, []))

        threads = [threading.Thread(target=ask, args=(w,)) for w in ("alpha", "beta")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT_S)
        assert replies == {"alpha": "alpha done", "beta": "beta done"}
    finally:
        server.shutdown()
        server.server_close()


def test_assistant_starts_its_model_once_when_asked_from_threads(
    make_settings, monkeypatch
) -> None:
    starting = threading.Condition()
    started: list[FakeLLM] = []

    def slow_make_llm(settings: Settings) -> FakeLLM:
        with starting:
            started.append(FakeLLM())
            starting.notify_all()
            # Without the assistant's lock a second thread arrives here at once; with it,
            # the wait runs out (0.5 s) and the one model is returned.
            starting.wait_for(lambda: len(started) > 1, 0.5)
        return started[0]

    monkeypatch.setattr("qa.assistant.make_llm", slow_make_llm)
    assistant = Assistant(make_settings())
    go = threading.Barrier(4)
    got: list[object] = []

    def first_answer() -> None:
        go.wait(WAIT_S)
        got.append(assistant.llm)

    threads = [threading.Thread(target=first_answer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert len(started) == 1
    assert len(got) == 4 and all(llm is started[0] for llm in got)

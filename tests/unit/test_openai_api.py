"""The OpenAI-compatible endpoint, driven by the openai Python SDK over loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import openai
import pytest
import uvicorn

from ui.openai_api import FOOTNOTES, create_app, question_and_history
from ui.service import ChatService

QUESTION = "Who accompanied Kim at the extended talks?"


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
    question, history = question_and_history(
        [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "Who met Kim?"},
            {"role": "assistant", "content": f"Putin met him [1].{FOOTNOTES}[1] ..."},
            {"role": "user", "content": [{"type": "text", "text": "Where?"}]},
        ]
    )
    assert question == "Where?" and history == [("Who met Kim?", "Putin met him [1].")]

"""`qa serve` with the embedded defaults (real embedder, real Chroma, the real model), used
as a model by the openai Python SDK, streaming and not, with an API key."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from processes import free_port, stop, wait_until_up

pytestmark = pytest.mark.integration

QUESTION = "Who accompanied Kim at the extended talks?"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("serve_home")
    port = free_port()
    env = {**os.environ, "QA_HOME": str(home), "QA_API_KEY": "it-key"}
    log = (home / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", proc, timeout_s=300)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop(proc)
        log.close()
        print(Path(home / "serve.log").read_text()[-2000:])


def test_the_openai_sdk_gets_a_verified_cited_answer(served: str) -> None:
    client = openai.OpenAI(base_url=served, api_key="it-key", max_retries=0, timeout=300)
    assert "newsqa" in [m.id for m in client.models.list()]
    reply = client.chat.completions.create(
        model="newsqa", messages=[{"role": "user", "content": QUESTION}]
    )
    content = reply.choices[0].message.content
    assert "Ri Yong-ho" in content and "Sources:\n[1]" in content
    citations = reply.model_extra["citations"]
    assert citations[0]["source"] == "004_dfd909dab3a5d0b8.txt"
    assert "Ri Yong-ho" in citations[0]["quote"]

    chunks = list(
        client.chat.completions.create(
            model="newsqa",
            messages=[
                {"role": "user", "content": QUESTION},
                {"role": "assistant", "content": content},
                {"role": "user", "content": "How long did the summit meetings last?"},
            ],
            stream=True,
        )
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "three hours" in streamed or "3 hours" in streamed
    assert chunks[-1].model_extra["citations"]

    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=served, api_key="wrong", max_retries=0).models.list()


def test_every_input_is_checked_before_any_work(served: str) -> None:
    """Issue 33: a body over the limit, a field of the wrong type, a bare key and the schema
    without a key are refused in one line; a history far past the context is cut to it."""
    url, root = f"{served}/chat/completions", served.removesuffix("/v1")
    key = {"Authorization": "Bearer it-key"}
    asked = [{"role": "user", "content": QUESTION}]
    big = httpx.post(url, headers=key, json={"messages": asked, "padding": "x" * 2_000_000})
    assert big.status_code == 413 and "QA_API_MAX_BODY_BYTES" in big.json()["error"]["message"]
    wrong = httpx.post(url, headers=key, json={"messages": asked, "filters": {"outlets": 7}})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["message"].startswith("filters.outlets: Input should be")
    assert httpx.get(f"{served}/models", headers={"Authorization": "it-key"}).status_code == 401
    assert httpx.get(f"{root}/openapi.json").status_code == 401

    # About 800 KB of earlier turns, some 200,000 tokens for a 2048-token context.
    said = "Kim and Putin met in Vladivostok for talks. " * 4_500
    earlier = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": said}]
    client = openai.OpenAI(base_url=served, api_key="it-key", max_retries=0, timeout=300)
    reply = client.chat.completions.create(
        model="newsqa",
        messages=earlier * 4 + [{"role": "user", "content": "How long did they meet?"}],
    )
    content = reply.choices[0].message.content
    assert content and "exceeds" not in content


def test_a_streamed_reply_shows_verified_text_early_and_keeps_alive(served: str) -> None:
    """Issue 34: through the openai SDK the first verified text arrives before 70% of the
    reply's time; on the wire, the passages come first and keep-alive comments fill the
    wait; `usage` holds the model's real token counts."""
    import json
    import time

    client = openai.OpenAI(base_url=served, api_key="it-key", max_retries=0, timeout=300)
    started = time.perf_counter()
    first_text = None
    chunks = []
    for chunk in client.chat.completions.create(
        model="newsqa", messages=[{"role": "user", "content": QUESTION}], stream=True
    ):
        chunks.append(chunk)
        if first_text is None and chunk.choices and chunk.choices[0].delta.content:
            first_text = time.perf_counter() - started
    total = time.perf_counter() - started
    assert first_text is not None and first_text < 0.7 * total, (first_text, total)
    assert "Ri Yong-ho" in "".join(c.choices[0].delta.content or "" for c in chunks)
    usage = chunks[-1].usage  # every model call of the answer, as the server counted
    assert usage is not None and usage.prompt_tokens > 100 and usage.completion_tokens > 5

    kinds = []
    body = {"model": "newsqa", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    with httpx.stream("POST", f"{served}/chat/completions", json=body, timeout=300,
                      headers={"Authorization": "Bearer it-key"}) as reply:  # fmt: skip
        for line in reply.iter_lines():
            if line.startswith(":"):
                kinds.append("keep-alive")
            elif line.startswith("data: {"):
                chunk = json.loads(line.removeprefix("data: "))
                if "reading" in (chunk.get("newsqa") or {}):
                    kinds.append("reading")
                elif chunk["choices"][0]["delta"].get("content"):
                    kinds.append("content")
    assert kinds.index("reading") < kinds.index("content")
    assert "keep-alive" in kinds[: kinds.index("content")]

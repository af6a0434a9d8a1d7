"""`qa embed-server` as a real process: its vectors are MiniLM's, the seeds index and answer
through it with the real local LLM, mixed embedders are refused, SIGTERM stops it cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from processes import free_port, start, stop, wait_until_up

from index.embedding.embedders import make_embedder
from index.storing.store import StoreError
from qa import Assistant, Settings
from qa.core.settings import SEEDS_DIR

pytestmark = pytest.mark.integration

KIM_FILE = "004_dfd909dab3a5d0b8.txt"


def embed_server_command(port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "qa.cli", "embed-server", "--port", str(port), *extra]


@pytest.fixture(scope="module")
def embed_url() -> Iterator[str]:
    """The packaged MiniLM behind `qa embed-server` on a free loopback port."""
    port = free_port()
    proc = start(embed_server_command(port), f"http://127.0.0.1:{port}/health", timeout_s=180)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop(proc)


def test_server_vectors_are_the_in_process_minilm_vectors(embed_url: str) -> None:
    texts = [
        "Who accompanied Kim at the extended talks?",
        "The summit in Vladivostok lasted about three hours.",
        "Ri Yong-ho and Choe Son-hui joined the talks.",
    ]
    r = httpx.post(f"{embed_url}/embeddings", json={"model": "all-MiniLM-L6-v2", "input": texts})
    assert r.status_code == 200
    served = np.array([d["embedding"] for d in r.json()["data"]], dtype=np.float32)
    local = make_embedder("minilm").embed(texts)
    assert served.shape == local.shape == (3, 384)
    cosines = (served * local).sum(axis=1) / np.linalg.norm(served, axis=1)
    assert cosines.min() > 0.999, cosines


def test_seeds_index_and_answer_through_the_server(
    embed_url: str, qa_home: Path, fresh_collection: str
) -> None:
    settings = Settings(
        home=qa_home, collection=fresh_collection, embed_backend="openai", embed_base_url=embed_url
    )
    assistant = Assistant(settings)
    try:
        report = assistant.index([SEEDS_DIR])
        assert report.added and not report.skipped and report.chunks_embedded > 0
        assert assistant.embedder.name == "all-MiniLM-L6-v2"
        assert type(assistant.embedder).__name__ == "OpenAIEmbedder"
        answer = assistant.ask("Who accompanied Kim at the extended talks?")
        assert not answer.abstained, answer.text
        assert "Ri Yong-ho" in answer.text
        assert KIM_FILE in {c.source for c in answer.citations}
        for c in answer.citations:
            assert (SEEDS_DIR / c.source).read_text(encoding="utf-8")[c.start : c.end] == c.quote
    finally:
        getattr(assistant._llm, "close", lambda: None)()


def test_a_hash_indexed_collection_refuses_the_server_embedder(
    embed_url: str, tmp_path: Path, fresh_collection: str
) -> None:
    hashed = Assistant(
        Settings(home=tmp_path, collection=fresh_collection, embedder="hash", llm_backend="fake")
    )
    hashed.index([SEEDS_DIR])
    served = Assistant(
        Settings(
            home=tmp_path,
            collection=fresh_collection,
            embed_backend="openai",
            embed_base_url=embed_url,
            llm_backend="fake",
        )
    )
    with pytest.raises(StoreError, match="built with embedder 'hash-256', not 'all-MiniLM-L6-v2'"):
        served.index([SEEDS_DIR])


def test_a_wrong_model_name_is_refused_with_the_served_name(embed_url: str, tmp_path: Path) -> None:
    from index.embedding.client import EmbeddingServerError
    from index.embedding.embedders import embedder_from_settings

    settings = Settings(
        home=tmp_path, embed_backend="openai", embed_base_url=embed_url, embed_model="bge-small"
    )
    with pytest.raises(EmbeddingServerError, match="this server has 'all-MiniLM-L6-v2'"):
        embedder_from_settings(settings.embedding, settings.runtime.request_timeout_s)


def test_sigterm_shuts_down_cleanly(tmp_path: Path) -> None:
    """The hash embedder keeps this one quick; the shutdown path is the same for any model."""
    port = free_port()
    log_path = tmp_path / "embed-server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            embed_server_command(port, "--embedder", "hash"), stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_until_up(f"http://127.0.0.1:{port}/health", proc, timeout_s=120)
            r = httpx.post(f"http://127.0.0.1:{port}/v1/embeddings", json={"input": ["x"]})
            assert r.status_code == 200
            proc.send_signal(signal.SIGTERM)
            # uvicorn drains, runs the shutdown, then re-raises the signal so a supervisor sees
            # the process was stopped by it rather than crashed.
            assert proc.wait(timeout=20) == -signal.SIGTERM
        finally:
            if proc.poll() is None:
                stop(proc)
    text = log_path.read_text()
    assert "serving hash-256 (256 dimensions)" in text
    assert "Application shutdown complete" in text and "embedding server stopped" in text

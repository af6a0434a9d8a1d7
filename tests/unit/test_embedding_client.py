"""The embedding-server client against a fake transport (no network), the indexer handing it
whole flushes, and the store refusing vectors of another embedder or dimension."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest

from index.embedding.client import EmbeddingServerError, OpenAIEmbedder
from index.embedding.embedders import HashEmbedder, embedder_from_settings
from index.indexer import index_paths
from index.retry import Retry
from index.storing.store import ChunkStore, StoreError, open_client

BASE = "http://embed.test/v1"
Handler = Callable[[httpx.Request], httpx.Response]


def reply(vectors: list[list[float]], model: str = "m", order: list[int] | None = None) -> dict:
    order = order if order is not None else list(range(len(vectors)))
    data = [{"object": "embedding", "index": i, "embedding": vectors[i]} for i in order]
    return {"object": "list", "model": model, "data": data}


def hash_server(model: str = "m", reverse: bool = True, log: list[dict] | None = None) -> Handler:
    """A well-behaved server backed by the hash embedder; rows sent in reverse order and
    scaled by 3 (not unit length), so the client must sort and normalise."""
    embedder = HashEmbedder()

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if log is not None:
            log.append({"body": body, "headers": dict(request.headers)})
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = (3 * embedder.embed(texts)).tolist()
        order = list(reversed(range(len(texts)))) if reverse else None
        return httpx.Response(200, json=reply(vectors, model, order))

    return handle


def client(handler: Handler, model: str = "m", **kwargs) -> OpenAIEmbedder:
    kwargs.setdefault("retry", Retry(2, 0.0))
    return OpenAIEmbedder(BASE, model, transport=httpx.MockTransport(handler), **kwargs)


# --- the happy path ---------------------------------------------------------------------------
def test_rows_follow_index_and_are_unit_length() -> None:
    texts = ["Kim met Putin", "a pipeline project", "talks in Vladivostok"]
    embedder = client(hash_server())
    assert embedder.name == "m" and embedder.dimension == 256
    got = embedder.embed(texts)
    assert got.dtype == np.float32 and got.shape == (3, 256)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(got, HashEmbedder().embed(texts), atol=1e-6)


def test_request_shape_and_key() -> None:
    log: list[dict] = []
    embedder = client(hash_server(log=log), api_key="sekret")
    embedder.embed(["one", "two"])
    probe, call = log
    assert probe["body"] == {"model": "m", "input": ["dimension probe"]}
    assert call["body"] == {"model": "m", "input": ["one", "two"]}
    assert call["headers"]["authorization"] == "Bearer sekret"
    no_key: list[dict] = []
    client(hash_server(log=no_key)).embed(["x"])
    assert "authorization" not in no_key[-1]["headers"]


def test_embed_of_nothing_sends_nothing() -> None:
    log: list[dict] = []
    embedder = client(hash_server(log=log))
    assert embedder.embed([]).shape == (0, 256)
    assert embedder.embed_batches([[], []]).shape == (0, 256)
    assert len(log) == 1  # the probe only


def test_embed_splits_long_input_into_batches() -> None:
    log: list[dict] = []
    embedder = client(hash_server(log=log), batch_size=4, concurrency=1)
    texts = [f"text {i}" for i in range(10)]
    np.testing.assert_allclose(embedder.embed(texts), HashEmbedder().embed(texts), atol=1e-6)
    assert [len(c["body"]["input"]) for c in log[1:]] == [4, 4, 2]


# --- concurrency ------------------------------------------------------------------------------
def counting(inner: Handler, in_flight: list[int], peak: list[int]) -> Handler:
    """Records the most requests in flight at once. A text "batch N ..." makes later batches
    answer sooner, so finishing order is the reverse of sending order."""
    lock = threading.Lock()

    def handle(request: httpx.Request) -> httpx.Response:
        first = json.loads(request.content)["input"][0]
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            batch = int(first.split()[1]) if first.startswith("batch ") else 5
            time.sleep(max(0.0, 0.12 - 0.02 * batch))
            return inner(request)
        finally:
            with lock:
                in_flight[0] -= 1

    return handle


@pytest.mark.parametrize("concurrency", [1, 4])
def test_concurrent_batches_keep_their_order(concurrency: int) -> None:
    in_flight, peak = [0], [0]
    embedder = client(counting(hash_server(), in_flight, peak), concurrency=concurrency)
    batches = [[f"batch {b} text {i}" for i in range(3)] for b in range(6)]
    got = embedder.embed_batches(batches)
    flat = [t for b in batches for t in b]
    np.testing.assert_allclose(got, HashEmbedder().embed(flat), atol=1e-6)
    assert peak[0] == concurrency


def test_one_failed_batch_fails_the_whole_call() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["input"] == ["poison"]:
            return httpx.Response(400, json={"error": {"message": "input[0] is poisoned"}})
        return hash_server()(request)

    embedder = client(handle, concurrency=4)
    with pytest.raises(EmbeddingServerError, match="HTTP 400.*input\\[0\\] is poisoned"):
        embedder.embed_batches([["fine"], ["poison"], ["fine too"]])


# --- errors a person can act on ---------------------------------------------------------------
def test_server_down_is_retried_a_bounded_number_of_times_then_explained() -> None:
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(EmbeddingServerError, match="cannot reach the embedding server at "):
        client(refuse, retry=Retry(2, 0.0))
    assert len(calls) == 3


def test_timeout_names_the_setting() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(EmbeddingServerError, match="QA_REQUEST_TIMEOUT_S"):
        client(slow, timeout_s=3)


def test_overloaded_server_is_retried_then_succeeds() -> None:
    answers = iter([503, 200])
    good = hash_server()

    def flaky(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(503, text="busy") if status == 503 else good(request)

    assert client(flaky).dimension == 256


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(200, text="<html>hello</html>"), "not JSON"),
        (httpx.Response(200, json={"vectors": []}), "no 'data' list"),
        (httpx.Response(200, json=reply([[1.0, 0.0]], model="other")), "model 'other', not 'm'"),
        (httpx.Response(200, json=reply([[1.0], [2.0]])), "2 embeddings for 1 texts"),
        (httpx.Response(200, json={"data": [{"embedding": [1.0]}]}), "numeric 'index'"),
        (httpx.Response(200, json={"data": [{"index": 0, "embedding": "x"}]}), "'embedding'"),
        (httpx.Response(200, json={"data": [{"index": 5, "embedding": [1.0]}]}), "indices"),
        (httpx.Response(200, json={"data": [{"index": 0, "embedding": []}]}), "finite"),
        (
            httpx.Response(404, json={"error": {"message": "model 'm' not found"}}),
            "HTTP 404 for model 'm': model 'm' not found",
        ),
        (httpx.Response(401, text="bad key"), "HTTP 401.*bad key"),
    ],
)
def test_garbage_and_refusals_give_clear_messages(response: httpx.Response, message: str) -> None:
    with pytest.raises(EmbeddingServerError, match=message):
        client(lambda request: response)


def test_model_name_with_an_organisation_prefix_is_the_same_model() -> None:
    embedder = client(hash_server(model="sentence-transformers/m"))
    assert embedder.embed(["x"]).shape == (1, 256)


def test_a_dimension_change_mid_run_is_refused() -> None:
    sizes = iter([4, 8])

    def shifting(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=reply([[1.0] * next(sizes)]))

    embedder = client(shifting)
    with pytest.raises(EmbeddingServerError, match="8-dimensional vectors after 4"):
        embedder.embed(["x"])


def test_bad_url_is_explained() -> None:
    with pytest.raises(EmbeddingServerError, match="bad embedding server URL"):
        OpenAIEmbedder("ftp://nowhere/v1", "m", retry=Retry(0))


def test_settings_choose_the_backend(make_settings) -> None:
    assert isinstance(embedder_from_settings(make_settings().embedding), HashEmbedder)
    down = make_settings(embed_backend="openai", embed_base_url="127.0.0.1:9/v1")
    with pytest.raises(EmbeddingServerError, match="http://127.0.0.1:9/v1"):
        embedder_from_settings(down.embedding, down.runtime.request_timeout_s)


# --- the indexer hands whole flushes over -----------------------------------------------------
def test_indexing_through_the_client_matches_local_embeddings(
    tmp_path: Path, seeds_copy: Path
) -> None:
    log: list[dict] = []
    in_flight, peak = [0], [0]
    server = counting(hash_server(model="hash-256", log=log), in_flight, peak)
    remote = client(server, model="hash-256", concurrency=3)
    client_ = open_client(tmp_path / "home", None)
    through_server = ChunkStore(client_, "remote", remote.name, remote.dimension)
    local = ChunkStore(client_, "local", "hash-256", 256)
    report = index_paths([seeds_copy], through_server, remote, batch_size=4, progress=False)
    index_paths([seeds_copy], local, HashEmbedder(), batch_size=4, progress=False)
    assert report.chunks_embedded == local.count() == through_server.count() > 8
    assert all(len(c["body"]["input"]) <= 4 for c in log)
    assert peak[0] == 3  # the flush's batches went out together
    question = HashEmbedder().embed(["Who accompanied Kim at the extended talks?"])[0]
    ours = [(h.chunk.id, round(h.distance, 5)) for h in through_server.query(question, 5)]
    assert ours == [(h.chunk.id, round(h.distance, 5)) for h in local.query(question, 5)]


# --- the store refuses mixed embedders --------------------------------------------------------
def test_store_refuses_another_embedder_name(tmp_path: Path) -> None:
    chroma = open_client(tmp_path / "home", None)
    ChunkStore(chroma, "news", "hash-256", 256)
    with pytest.raises(StoreError, match="built with embedder 'hash-256', not 'all-MiniLM"):
        ChunkStore(chroma, "news", "all-MiniLM-L6-v2", 384)


def test_store_refuses_another_dimension_under_the_same_name(tmp_path: Path) -> None:
    chroma = open_client(tmp_path / "home", None)
    ChunkStore(chroma, "news", "all-MiniLM-L6-v2", 384)
    ChunkStore(chroma, "news", "all-MiniLM-L6-v2", 384)  # same embedder: fine
    with pytest.raises(StoreError, match="384-dimensional vectors, but .* makes 768-dimensional"):
        ChunkStore(chroma, "news", "all-MiniLM-L6-v2", 768)

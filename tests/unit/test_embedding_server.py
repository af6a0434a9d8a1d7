"""The embedding server's API in-process (hash embedder; the real server and MiniLM are in
tests/integration/test_seeds_via_embedding_server.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from fastapi.testclient import TestClient

from index.embedding.embedders import HashEmbedder
from index.embedding.server import MAX_INPUT_CHARS, MAX_INPUTS, create_app


@pytest.fixture(scope="module")
def api() -> TestClient:
    return TestClient(create_app(HashEmbedder()))


def test_embeddings_have_the_openai_shape(api: TestClient) -> None:
    texts = ["Kim met Putin", "talks in Vladivostok"]
    r = api.post("/v1/embeddings", json={"model": "hash-256", "input": texts})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list" and body["model"] == "hash-256"
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert {d["object"] for d in body["data"]} == {"embedding"}
    vectors = np.array([d["embedding"] for d in body["data"]], dtype=np.float32)
    np.testing.assert_allclose(vectors, HashEmbedder().embed(texts), atol=1e-7)
    assert body["usage"] == {"prompt_tokens": 6, "total_tokens": 6}


def test_a_single_string_and_no_model_name_are_accepted(api: TestClient) -> None:
    r = api.post("/v1/embeddings", json={"input": "one text", "encoding_format": "float"})
    assert r.status_code == 200 and len(r.json()["data"]) == 1


def test_models_and_health(api: TestClient) -> None:
    assert api.get("/v1/models").json()["data"][0]["id"] == "hash-256"
    assert api.get("/health").json() == {"status": "ok", "model": "hash-256", "dimension": 256}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": []}, "empty list"),
        ({"input": 3}, "a string or a list of strings"),
        ({"input": [[101, 2023]]}, "token ids are not supported"),
        ({"input": ["ok", None]}, r"input\[1\] is not a string"),
        ({"input": ["x"] * (MAX_INPUTS + 1)}, f"at most {MAX_INPUTS} per request"),
        ({"input": ["x" * (MAX_INPUT_CHARS + 1)]}, f"at most {MAX_INPUT_CHARS}"),
        ({"model": "hash-256"}, "input: Field required"),
        ({"input": "x", "encoding_format": "base64"}, "only encoding_format 'float'"),
    ],
)
def test_bad_input_is_a_400_with_a_message(api: TestClient, body: dict, message: str) -> None:
    r = api.post("/v1/embeddings", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert re.search(message, r.json()["error"]["message"])


def test_a_body_that_is_not_json_is_a_400(api: TestClient) -> None:
    r = api.post(
        "/v1/embeddings", content=b"not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]


def test_another_model_is_a_404_that_names_the_served_one(api: TestClient) -> None:
    r = api.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": "x"})
    assert r.status_code == 404
    assert r.json()["error"]["message"] == (
        "model 'text-embedding-3-small' is not served here; this server has 'hash-256'"
    )


def test_cli_defaults_and_an_unknown_embedder(capsys: pytest.CaptureFixture[str]) -> None:
    from qa.cli import build_parser, main

    args = build_parser().parse_args(["embed-server"])
    assert (args.host, args.port, args.embedder) == ("127.0.0.1", 8081, None)
    assert main(["embed-server", "--embedder", "no-such-model-anywhere"]) == 2
    assert "unknown embedder 'no-such-model-anywhere'" in capsys.readouterr().err

"""`qa embed-server`: a local sentence-transformers model behind an OpenAI-compatible API.

    POST /v1/embeddings   {"model": ..., "input": "text" | ["text", ...]}
    GET  /v1/models       the one model served
    GET  /health          200 once the model is loaded

One model per server, loaded before the port opens. Batches are encoded one at a time: torch
already uses every core for one batch, and two at once would only fight over them; requests
still overlap in their transfer and (de)serialisation. uvicorn stops cleanly on SIGTERM or
Ctrl-C: it stops accepting, lets requests in flight finish, logs "embedding server stopped",
then re-raises the signal, so a supervisor sees a process stopped by SIGTERM, not a crash.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from index.embedding.embedders import Embedder

log = logging.getLogger(__name__)

# OpenAI's own limit on inputs per request; longer texts are cut by MiniLM at 256 word
# pieces anyway, so a bound on characters only stops abuse, never a real chunk.
MAX_INPUTS = 2048
MAX_INPUT_CHARS = 20_000


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # encoding_format, user, ... are accepted

    input: Any
    model: str | None = None
    encoding_format: str | None = None


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    """Errors in OpenAI's shape, so OpenAI clients show the message."""
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)


def _input_problem(value: Any) -> str | None:
    """Why `input` is not a string or a bounded list of bounded strings (None if it is)."""
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list):
        return "'input' must be a string or a list of strings"
    if not texts:
        return "'input' is an empty list"
    if len(texts) > MAX_INPUTS:
        return f"'input' has {len(texts)} texts; at most {MAX_INPUTS} per request"
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            return f"input[{i}] is not a string (token ids are not supported)"
        if len(text) > MAX_INPUT_CHARS:
            return f"input[{i}] has {len(text)} characters; at most {MAX_INPUT_CHARS}"
    return None


def create_app(embedder: Embedder) -> FastAPI:
    """The API over one loaded embedder; its `name` is the model name clients must ask for."""
    encode_lock = threading.Lock()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        log.info("serving %s (%d dimensions)", embedder.name, embedder.dimension)
        yield
        log.info("embedding server stopped")

    app = FastAPI(title="newsqa embeddings", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            return _error(400, "the request body is not valid JSON")
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(400, f"bad request: {where or 'body'}: {first.get('msg', 'invalid')}")

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": embedder.name, "dimension": embedder.dimension}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        card = {"id": embedder.name, "object": "model", "created": 0, "owned_by": "newsqa"}
        return {"object": "list", "data": [card]}

    @app.post("/v1/embeddings")
    def embeddings(request: EmbeddingRequest) -> Response:
        if request.model and request.model != embedder.name:
            return _error(
                404,
                f"model {request.model!r} is not served here; this server has {embedder.name!r}",
                "model_not_found",
            )
        if request.encoding_format not in (None, "float"):
            return _error(400, "only encoding_format 'float' is supported")
        problem = _input_problem(request.input)
        if problem:
            return _error(400, problem)
        texts = [request.input] if isinstance(request.input, str) else request.input
        started = time.perf_counter()
        with encode_lock:
            vectors = embedder.embed(texts)
        log.debug(
            "embedded %d texts in %.0f ms", len(texts), 1000 * (time.perf_counter() - started)
        )
        # Word count stands in for tokens: usage is informational for clients.
        words = sum(len(t.split()) for t in texts)
        body = {
            "object": "list",
            "model": embedder.name,
            "data": [
                {"object": "embedding", "index": i, "embedding": row}
                for i, row in enumerate(vectors.tolist())
            ],
            "usage": {"prompt_tokens": words, "total_tokens": words},
        }
        # orjson: the vectors are most of the reply, and the stock encoder is far slower.
        return Response(orjson.dumps(body), media_type="application/json")

    return app


def serve(embedder: Embedder, host: str, port: int) -> None:
    """Run until SIGTERM or Ctrl-C (uvicorn handles both and drains requests in flight)."""
    import uvicorn

    log.info("embedding server on http://%s:%d/v1", host, port)
    uvicorn.run(create_app(embedder), host=host, port=port, log_level="info")

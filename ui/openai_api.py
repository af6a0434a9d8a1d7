"""The product as an OpenAI-compatible model: `qa serve` answers `POST /v1/chat/completions`
(streaming and not) and `GET /v1/models`, so Open WebUI or any OpenAI client can use it.

The reply is our verified answer: its citations come as numbered footnotes after the text
(under "Sources:") and as a `citations` field beside `choices`. A streamed reply is the
verified answer too, sent in pieces once verification is done (an OpenAI client cannot take
back text it was sent, and the model's draft is not what we stand behind). Earlier turns of
the conversation are read as history, so follow-ups work; footnotes a client sends back are
dropped from them. Optional `filters` in the request body ({"since", "until", "outlets",
"authors"}) answer from those articles only. With an API key set, every request but
`/health` (the schema too) needs `Authorization: Bearer <key>`.

Every input is checked before any work: a body over `api_max_body_bytes` is refused (413)
before it is read, a field of the wrong type is a 400 in one line, the history is cut to
what the model's context holds, and a streamed answer whose client leaves stops generating.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.conversation import fit_history, history_budget
from qa.core.answer_stream import AnswerStream
from qa.core.errors import UserError
from qa.core.types import Answer, Citation
from qa.retrieve.filters import ArticleFilter
from ui.render import problem_line
from ui.service import ChatService

MODEL_PREFIX = "newsqa"
FOOTNOTES = "\n\nSources:\n"
STREAM_PIECE_WORDS = 4  # words per streamed delta


class ContentPart(BaseModel):
    """One part of a message's content: text parts are read, others (images) are not."""

    type: str = "text"
    text: str = ""


class ChatMessage(BaseModel):
    role: str
    content: str | list[ContentPart] | None = None


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt filter must not be ignored

    since: str | None = None
    until: str | None = None
    outlets: list[str] = []
    authors: list[str] = []


class ChatRequest(BaseModel):
    """What a request is read for; other OpenAI fields (temperature, max_tokens ...) are
    accepted and ignored."""

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False
    filters: Filters | None = None


class RequestProblem(Exception):
    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def footnote(n: int, c: Citation) -> str:
    where = c.url or c.source
    meta = ", ".join(x for x in (c.outlet, c.published[:10]) if x)
    quote = " ".join(c.quote.split())
    also = f" (also carried by {', '.join(c.also_in)})" if c.also_in else ""
    return f"[{n}] {c.title or c.source}{f' ({meta})' if meta else ''}, {where}: “{quote}”{also}"


def reply_text(answer: Answer) -> str:
    """The answer with its numbered footnotes, as an OpenAI client shows it."""
    notes = "\n".join(footnote(n, c) for n, c in enumerate(answer.citations, 1))
    return answer.text + (FOOTNOTES + notes if notes else "")


def citation_fields(answer: Answer) -> list[dict[str, Any]]:
    return [
        {
            "number": n,
            "source": c.source,
            "title": c.title,
            "outlet": c.outlet,
            "published": c.published,
            "url": c.url,
            "quote": c.quote,
            "start": c.start,
            "end": c.end,
        }  # fmt: skip
        for n, c in enumerate(answer.citations, 1)
    ]


def question_and_history(
    messages: Sequence[ChatMessage],
) -> tuple[str, list[tuple[str, str]]]:
    """The last user message, and the earlier (question, answer) pairs."""
    turns = [(m.role, _content(m.content)) for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user" or not turns[-1][1].strip():
        raise RequestProblem(400, "the last message must be the user's question")
    history, asked = [], ""
    for role, text in turns[:-1]:
        if role == "user":
            asked = text
        elif asked:
            history.append((asked, text.split(FOOTNOTES)[0]))
            asked = ""
    return turns[-1][1], history


def _content(content: str | list[ContentPart] | None) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, list):
        return " ".join(p.text for p in content)
    return content or ""


def request_filter(given: Filters | None) -> ArticleFilter | None:
    if given is None:
        return None
    chosen = ArticleFilter.of(given.since, given.until, given.outlets, given.authors)
    return None if chosen.empty else chosen


def verified_answer(start: Callable[[], AnswerStream], stop: threading.Event) -> Answer | None:
    """The verified answer, or None once `stop` is set. As with the page's Stop button, the
    flag is read between the model's pieces and the stream is closed: generation ends, the
    calls after it are not made, and the model's slot is free for the next question."""
    stream = start()
    try:
        for _ in stream:
            if stop.is_set():
                return None
        return stream.answer
    finally:
        stream.close()


class Gate:
    """Every request passes here before the app reads it: the API key first (with one set,
    every path but /health needs it, the schema too), then the body's size, checked against
    Content-Length and counted as it arrives (a chunked body declares none), so a body over
    the limit is refused without being read whole or kept."""

    def __init__(self, app: ASGIApp, api_key: str, max_body_bytes: int) -> None:
        self.app, self.api_key, self.max_body_bytes = app, api_key.encode(), max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.api_key and scope["path"] != "/health" and not self._has_key(headers):
            refusal = _error(401, "a valid API key is needed: Authorization: Bearer <key>",
                             "invalid_api_key")  # fmt: skip
            await refusal(scope, receive, send)
            return
        too_large = _error(413, "the request body is larger than the limit of "
                           f"{self.max_body_bytes} bytes (QA_API_MAX_BODY_BYTES)",
                           "request_too_large")  # fmt: skip
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await too_large(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before its body was sent
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await too_large(scope, receive, send)
                return
            more = message.get("more_body", False)
        await self.app(scope, _replay(bytes(body), receive), send)

    def _has_key(self, headers: Headers) -> bool:
        """Only `Bearer <key>` (a bare key is refused), compared in constant time."""
        scheme, _, given = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.api_key
        )


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the client's own messages (its disconnect)."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def create_app(service: ChatService, api_key: str = "") -> FastAPI:
    app = FastAPI(title="newsqa OpenAI-compatible API", docs_url=None, redoc_url=None)
    app.add_middleware(Gate, api_key=api_key,
                       max_body_bytes=service.settings.ui.api_max_body_bytes)  # fmt: skip
    budget = history_budget(service.settings)

    def collection_of(model: str) -> str | None:
        if model in ("", MODEL_PREFIX):
            return None
        prefix = f"{MODEL_PREFIX}/"
        if not model.startswith(prefix) or model.removeprefix(prefix) not in service.collections():
            raise RequestProblem(404, f"no model {model!r}; GET /v1/models lists them",
                                 "model_not_found")  # fmt: skip
        return model.removeprefix(prefix)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if errors and errors[0].get("type") == "json_invalid":
            return _error(400, "the request body is not valid JSON")
        return _error(400, problem_line(errors) if errors else "the request is not valid")

    @app.exception_handler(RequestProblem)
    async def problem(_: Request, exc: RequestProblem) -> JSONResponse:
        return _error(exc.status, exc.message, exc.code)

    @app.exception_handler(UserError)
    async def user_error(_: Request, exc: UserError) -> JSONResponse:
        return _error(400, str(exc))

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        names = [MODEL_PREFIX] + [f"{MODEL_PREFIX}/{c}" for c in service.collections()]
        return {
            "object": "list",
            "data": [
                {"id": n, "object": "model", "created": 0, "owned_by": "newsqa"} for n in names
            ],  # fmt: skip
        }

    @app.post("/v1/chat/completions", response_model=None)
    def chat_completions(body: ChatRequest) -> Any:
        model = body.model or MODEL_PREFIX
        collection = collection_of(model)
        question, history = question_and_history(body.messages)
        filters = request_filter(body.filters)
        reply_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

        def start() -> AnswerStream:
            # A client sends the whole conversation: only what the context holds is read.
            turns = fit_history(history, budget)
            return service.stream(question, turns, collection, filters=filters)

        if body.stream:
            chunks = _chunks(start, reply_id, created, model)
            return StreamingResponse(chunks, media_type="text/event-stream")
        verified = start().answer
        return {
            "id": reply_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": reply_text(verified)},
                }
            ],  # fmt: skip
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": citation_fields(verified),
            "newsqa": _details(verified),
        }

    return app


def _details(answer: Answer) -> dict[str, Any]:
    return {"abstained": answer.abstained, "decision": answer.decision,
            "confidence": answer.confidence, "settings_hash": answer.settings_hash}  # fmt: skip


async def _chunks(
    start: Callable[[], AnswerStream], reply_id: str, created: int, model: str
) -> AsyncIterator[str]:
    """The role first (the client shows the reply has begun), then the verified answer in
    pieces, then the citations with the last chunk. A failure is said in the reply."""

    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        chunk = {"id": reply_id, "object": "chat.completion.chunk", "created": created,
                 "model": model, "choices": [{"index": 0, "delta": delta,
                                              "finish_reason": finish}], **extra}  # fmt: skip
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    stop = threading.Event()
    try:
        answer = await to_thread.run_sync(verified_answer, start, stop, abandon_on_cancel=True)
    except UserError as exc:
        yield event({"content": f"⚠️ {exc}"})
        yield event({}, "stop")
        yield "data: [DONE]\n\n"
        return
    finally:
        # Reached at once when the client leaves: the server cancels this reply and lets
        # the thread go, and the answer stops at the model's next piece.
        stop.set()
    if answer is None:
        return
    words = reply_text(answer).split(" ")
    for i in range(0, len(words), STREAM_PIECE_WORDS):
        piece = " ".join(words[i : i + STREAM_PIECE_WORDS])
        yield event({"content": piece if i == 0 else " " + piece})
    yield event({}, "stop", citations=citation_fields(answer), newsqa=_details(answer))
    yield "data: [DONE]\n\n"


def _error(status: int, message: str, code: str = "") -> JSONResponse:
    kind = "authentication_error" if status == 401 else "invalid_request_error"
    payload = {"error": {"message": message, "type": kind, "code": code or None}}
    return JSONResponse(payload, status_code=status)


def serve(service: ChatService, host: str, port: int, api_key: str = "") -> None:
    import uvicorn

    uvicorn.run(create_app(service, api_key), host=host, port=port, log_level="warning")

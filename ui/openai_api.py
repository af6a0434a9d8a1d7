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

import asyncio
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.conversation import fit_history, history_budget
from qa.core.answer_stream import AnswerStream, ReaderView, SourcesFound
from qa.core.errors import UserError
from qa.core.types import Answer, Citation
from qa.generate.usage import Usage, metered
from qa.retrieve.filters import ArticleFilter
from qa.understand.question import clean_question
from ui.chat_tasks import recognise, retrieval
from ui.chat_tasks import reply as task_reply
from ui.render import problem_line
from ui.service import ChatService

MODEL_PREFIX = "newsqa"
FOOTNOTES = "\n\nSources:\n"
KEEPALIVE_S = 3.0  # the longest a streamed reply stays silent


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


def sources(answer: Answer) -> list[dict[str, Any]]:
    """The citations as Open WebUI reads sources (the data of its "source" events, and a
    reply's `sources`): one per citation, in order, each with an id of its own, since
    Open WebUI merges sources that share an id and opens the nth for a [n] in the text."""
    return sources_of(answer.citations)


def sources_of(citations: Sequence[Citation]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n, c in enumerate(citations, 1):
        # The id is no URL: Open WebUI would show a URL id in place of the name.
        key = f"[{n}] {c.source}#{c.start}-{c.end}"
        meta = ", ".join(x for x in (c.outlet, c.published[:10]) if x)
        name = (c.title or c.source) + (f" ({meta})" if meta else "")
        link: dict[str, str] = {"url": c.url} if c.url else {}
        about = {"source": key, "name": name, "file": c.source, "outlet": c.outlet,
                 "published": c.published, "start": c.start, "end": c.end}  # fmt: skip
        out.append({"source": {"id": key, "name": name, **link},
                    "document": [c.quote], "metadata": [{**about, **link}]})  # fmt: skip
    return out


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


@dataclass
class Finished:
    answer: Answer
    usage: Usage


def read_answer(
    start: Callable[[], AnswerStream], stop: threading.Event, put: Callable[[Any], None]
) -> None:
    """Runs in a worker thread: hands `put` what a reader is shown of the answer (the
    passages, verified text; qa/core/answer_stream.py `ReaderView`), then `Finished`, or
    the UserError that ended it. As with the page's Stop button, `stop` is read at every
    piece of the model and the stream is closed: generation ends, the calls after it are
    not made, and the model's slot is free for the next question."""
    with metered() as usage:
        try:
            stream = start()
        except UserError as exc:
            put(exc)
            return
        view = ReaderView()
        try:
            for event in stream.events():
                if stop.is_set():
                    return
                if (item := view.see(event)) is not None:
                    put(item)
            answer = stream.answer
            if rest := view.end(answer):
                put(rest)
            put(Finished(answer, usage))
        except UserError as exc:
            put(exc)
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
        filters = request_filter(body.filters)
        reply_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        # A client's background task (a chat title, tags, follow-ups ...) is answered here,
        # at once: it neither runs the answering pipeline nor waits for the model's slot.
        task = recognise([(m.role, _content(m.content)) for m in body.messages])
        if task is not None:
            text = task_reply(task, retrieval(service, collection, filters))
            if body.stream:
                return StreamingResponse(_task_chunks(text, reply_id, created, model),
                                         media_type="text/event-stream")  # fmt: skip
            return _completion(text, reply_id, created, model)
        question, history = question_and_history(body.messages)
        # What the answer would refuse is refused now, not after the wait for the slot.
        question = clean_question(question, service.settings.question.max_question_chars)

        def start() -> AnswerStream:
            # A client sends the whole conversation: only what the context holds is read.
            turns = fit_history(history, budget)
            return service.stream(question, turns, collection, filters=filters)

        if body.stream:
            chunks = _chunks(start, reply_id, created, model)
            return StreamingResponse(chunks, media_type="text/event-stream")
        with metered() as usage:
            verified = start().answer
        return _completion(reply_text(verified), reply_id, created, model,
                           citations=citation_fields(verified), sources=sources(verified),
                           newsqa=_details(verified), usage=usage.as_openai())  # fmt: skip

    return app


def _completion(text: str, reply_id: str, created: int, model: str, **extra: Any) -> dict[str, Any]:
    """A whole (not streamed) reply; `extra` fields go beside `choices`."""
    return {
        "id": reply_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
        ],  # fmt: skip
        "usage": Usage().as_openai(),  # a task's answer calls no model
        **extra,
    }


async def _task_chunks(text: str, reply_id: str, created: int, model: str) -> AsyncIterator[str]:
    """A task's answer for a client that asked for a stream: in one piece."""
    for delta, finish in (({"role": "assistant", "content": text}, None), ({}, "stop")):
        chunk = {"id": reply_id, "object": "chat.completion.chunk", "created": created,
                 "model": model, "choices": [{"index": 0, "delta": delta,
                                              "finish_reason": finish}]}  # fmt: skip
        yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"


def _details(answer: Answer) -> dict[str, Any]:
    return {"abstained": answer.abstained, "decision": answer.decision,
            "confidence": answer.confidence, "settings_hash": answer.settings_hash}  # fmt: skip


async def _chunks(
    start: Callable[[], AnswerStream], reply_id: str, created: int, model: str
) -> AsyncIterator[str]:
    """The role first (the client shows the reply has begun), then the passages being read
    (`newsqa.reading`, long before the model's first token), then the answer's sentences as
    each is verified, then the footnotes, and the citations, Open WebUI's sources and the
    token counts with the last chunk. While nothing new is ready a keep-alive comment goes
    out every KEEPALIVE_S, so a client and the proxies between see the reply is alive. A
    failure is said in the reply."""

    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        chunk = {"id": reply_id, "object": "chat.completion.chunk", "created": created,
                 "model": model, "choices": [{"index": 0, "delta": delta,
                                              "finish_reason": finish}], **extra}  # fmt: skip
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    loop = asyncio.get_running_loop()
    ready: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def put(item: Any) -> None:
        loop.call_soon_threadsafe(ready.put_nowait, item)

    worker = asyncio.ensure_future(
        to_thread.run_sync(read_answer, start, stop, put, abandon_on_cancel=True)
    )
    last: dict[str, Any] = {}  # what the chunk that ends the reply carries
    try:
        while True:
            try:
                item = await asyncio.wait_for(ready.get(), KEEPALIVE_S)
            except TimeoutError:
                yield ": keep-alive\n\n"  # an SSE comment: clients show nothing
                continue
            if isinstance(item, SourcesFound):
                yield event({}, newsqa={"reading": sources_of(item.citations)})
            elif isinstance(item, str):
                yield event({"content": item})
            elif isinstance(item, UserError):
                yield event({"content": f"Error: {item}"})
                break
            elif isinstance(item, Finished):
                answer = item.answer
                if notes := reply_text(answer)[len(answer.text) :]:
                    yield event({"content": notes})
                # Open WebUI shows a source for each "source" event, one per chunk.
                for source in sources(answer):
                    yield event({}, event={"type": "source", "data": source})
                last = {"citations": citation_fields(answer), "sources": sources(answer),
                        "newsqa": _details(answer), "usage": item.usage.as_openai()}  # fmt: skip
                break
        yield event({}, "stop", **last)
        yield "data: [DONE]\n\n"
    finally:
        # Reached at once when the client leaves: the server cancels this reply and the
        # answer stops at the model's next piece.
        stop.set()
        worker.cancel()


def _error(status: int, message: str, code: str = "") -> JSONResponse:
    kind = "authentication_error" if status == 401 else "invalid_request_error"
    payload = {"error": {"message": message, "type": kind, "code": code or None}}
    return JSONResponse(payload, status_code=status)


def serve(service: ChatService, host: str, port: int, api_key: str = "") -> None:
    import uvicorn

    uvicorn.run(create_app(service, api_key), host=host, port=port, log_level="warning")

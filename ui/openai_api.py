"""The product as an OpenAI-compatible model: `qa serve` answers `POST /v1/chat/completions`
(streaming and not) and `GET /v1/models`, so Open WebUI or any OpenAI client can use it.

The reply is our verified answer: its citations come as numbered footnotes after the text
(under "Sources:") and as a `citations` field beside `choices`. A streamed reply is the
verified answer too, sent in pieces once verification is done (an OpenAI client cannot take
back text it was sent, and the model's draft is not what we stand behind). Earlier turns of
the conversation are read as history, so follow-ups work; footnotes a client sends back are
dropped from them. Optional `filters` in the request body ({"since", "until", "outlets",
"authors"}) answer from those articles only. With an API key set, every request needs
`Authorization: Bearer <key>`.
"""

from __future__ import annotations

import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from qa.core.errors import UserError
from qa.core.types import Answer, Citation
from qa.retrieve.filters import ArticleFilter
from ui.service import ChatService

MODEL_PREFIX = "newsqa"
FOOTNOTES = "\n\nSources:\n"
STREAM_PIECE_WORDS = 4  # words per streamed delta


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


def question_and_history(messages: Any) -> tuple[str, list[tuple[str, str]]]:
    """The last user message, and the earlier (question, answer) pairs."""
    if not isinstance(messages, list) or not messages:
        raise RequestProblem(400, "'messages' must be a non-empty list")
    turns = [(m.get("role"), _content(m.get("content"))) for m in messages if isinstance(m, dict)]
    turns = [(role, text) for role, text in turns if role in ("user", "assistant")]
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


def _content(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def request_filter(body: dict[str, Any]) -> ArticleFilter | None:
    given = body.get("filters")
    if given is None:
        return None
    if not isinstance(given, dict):
        raise RequestProblem(400, "'filters' must be an object: since, until, outlets, authors")
    chosen = ArticleFilter.of(
        given.get("since"),
        given.get("until"),
        given.get("outlets") or (),
        given.get("authors") or (),
    )
    return None if chosen.empty else chosen


def create_app(service: ChatService, api_key: str = "") -> FastAPI:
    app = FastAPI(title="newsqa OpenAI-compatible API", docs_url=None, redoc_url=None)

    def collection_of(model: str) -> str | None:
        if model in ("", MODEL_PREFIX):
            return None
        prefix = f"{MODEL_PREFIX}/"
        if not model.startswith(prefix) or model.removeprefix(prefix) not in service.collections():
            raise RequestProblem(404, f"no model {model!r}; GET /v1/models lists them",
                                 "model_not_found")  # fmt: skip
        return model.removeprefix(prefix)

    @app.middleware("http")
    async def check_key(request: Request, call_next: Any) -> Any:
        if api_key and request.url.path.startswith("/v1/"):
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), api_key.encode()):
                return _error(401, "a valid API key is needed: Authorization: Bearer <key>",
                              "invalid_api_key")  # fmt: skip
        return await call_next(request)

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
    def chat_completions(body: dict[str, Any]) -> Any:
        model = str(body.get("model") or MODEL_PREFIX)
        collection = collection_of(model)
        question, history = question_and_history(body.get("messages"))
        filters = request_filter(body)
        reply_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

        def answer() -> Answer:
            return service.stream(question, history, collection, filters=filters).answer

        if body.get("stream"):
            chunks = _chunks(answer, reply_id, created, model)
            return StreamingResponse(chunks, media_type="text/event-stream")
        verified = answer()
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


def _chunks(make: Callable[[], Answer], reply_id: str, created: int, model: str) -> Iterator[str]:
    """The role first (the client shows the reply has begun), then the verified answer in
    pieces, then the citations with the last chunk. A failure is said in the reply."""

    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        chunk = {"id": reply_id, "object": "chat.completion.chunk", "created": created,
                 "model": model, "choices": [{"index": 0, "delta": delta,
                                              "finish_reason": finish}], **extra}  # fmt: skip
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    try:
        answer = make()
    except UserError as exc:
        yield event({"content": f"⚠️ {exc}"})
        yield event({}, "stop")
        yield "data: [DONE]\n\n"
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

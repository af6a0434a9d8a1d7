"""Our answering path as llama-index engines.

`VerifiedQueryEngine` (a `CustomQueryEngine`) and `VerifiedChatEngine` (a `BaseChatEngine`)
answer exactly as `Assistant` does. Their `source_nodes[n-1]` is citation `[n]`: a node whose
text is the quoted sentence and whose `start_char_idx`/`end_char_idx` slice the article to it.
`metadata` (query engine) carries `abstained`, `timings`, `unsupported`, `decision` (which
stage decided, and why it abstained), `confidence` (the calibrated P(right)) and the `answer`.
Streaming works; when the stream ends, the response text is the verified answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.base.response.schema import Response, StreamingResponse
from llama_index.core.bridge.pydantic import Field
from llama_index.core.chat_engine.types import (
    AgentChatResponse,
    BaseChatEngine,
    StreamingAgentChatResponse,
)
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import (
    NodeWithScore,
)

from index.storing.nodes import article_node
from qa.conversation import HISTORY_TURNS, History, add_turn
from qa.core.answer_stream import AnswerStream, verified_pieces
from qa.core.types import Answer, Citation
from qa.pipeline import AnswerPipeline


def citation_node(citation: Citation) -> NodeWithScore:
    """Citation [n] as a node: the quote, its exact offsets, its article's metadata."""
    c = citation
    node = article_node(None, c.quote, c.start, c.end, c.path, c.article.metadata(), ["path"])
    return NodeWithScore(node=node, score=c.support)


def citation_nodes(answer: Answer) -> list[NodeWithScore]:
    return [citation_node(c) for c in answer.citations]


def answer_metadata(answer: Answer) -> dict[str, Any]:
    return {
        "abstained": answer.abstained,
        "timings": dict(answer.timings),
        "unsupported": list(answer.unsupported),
        "standalone_question": answer.standalone_question,
        "decision": answer.decision,
        "confidence": answer.confidence,
        "answer": answer,
    }


@dataclass
class VerifiedStreamingResponse(StreamingResponse):
    """Verified text as it is checked (qa/core/answer_stream.py `verified_pieces`, never the
    model's draft); at the end the verified answer and its citation nodes."""

    stream: AnswerStream | None = None

    def __post_init__(self) -> None:
        self.response_gen = self._tokens()

    def _tokens(self) -> Generator[str, None, None]:
        assert self.stream is not None
        answer = yield from verified_pieces(self.stream)
        self.source_nodes[:] = citation_nodes(answer)
        self.metadata = answer_metadata(answer)
        self.response_txt = answer.text

    def get_response(self) -> Response:
        for _ in self.response_gen:
            pass
        return Response(self.response_txt, self.source_nodes, self.metadata)

    def __str__(self) -> str:
        return self.get_response().response or ""


def _nothing() -> Generator[str, None, None]:
    yield from ()


class VerifiedQueryEngine(CustomQueryEngine):
    """Answers with verified citations; `streaming=True` returns a streaming response."""

    pipeline: Any = Field(description="qa.pipeline.AnswerPipeline")
    streaming: bool = False

    def custom_query(self, query_str: str) -> Response | StreamingResponse:
        pipeline: AnswerPipeline = self.pipeline
        stream = pipeline.stream(query_str)
        if self.streaming:
            return VerifiedStreamingResponse(response_gen=_nothing(), stream=stream)
        answer = stream.answer
        return Response(answer.text, citation_nodes(answer), answer_metadata(answer))


@dataclass
class VerifiedStreamingChatResponse(StreamingAgentChatResponse):
    """A chat reply streamed as it is verified (never the draft); at the end the verified
    answer and its citations."""

    stream: AnswerStream | None = None
    answer: Answer | None = None
    on_answer: Any = None  # called with the Answer when the stream ends

    @property
    def response_gen(self) -> Generator[str, None, None]:
        assert self.stream is not None
        for piece in verified_pieces(self.stream):
            self.unformatted_response += piece
            yield piece
        self._finish()

    def _finish(self) -> None:
        assert self.stream is not None
        if self.answer is None:
            self.answer = self.stream.answer
            self.response = self.answer.text
            self.source_nodes[:] = citation_nodes(self.answer)
            self.is_done = True
            if self.on_answer is not None:
                self.on_answer(self.answer)

    def __str__(self) -> str:
        for _ in self.response_gen:
            pass
        return self.response


class VerifiedChatEngine(BaseChatEngine):
    """A conversation with follow-up rewriting: "and who joined Putin?" is answered as a
    stand-alone question, and only stand-alone questions and verified answers are kept."""

    def __init__(self, pipeline: AnswerPipeline, max_turns: int = HISTORY_TURNS) -> None:
        self.pipeline = pipeline
        self.max_turns = max_turns
        self._history: History = []

    def reset(self) -> None:
        self._history = []

    @property
    def chat_history(self) -> list[ChatMessage]:
        messages = []
        for question, answer in self._history:
            messages.append(ChatMessage(role=MessageRole.USER, content=question))
            messages.append(ChatMessage(role=MessageRole.ASSISTANT, content=answer))
        return messages

    def _use_history(self, chat_history: list[ChatMessage] | None) -> None:
        """A history passed in replaces the remembered one (llama-index's convention)."""
        if chat_history is None:
            return
        pairs: History = []
        pending = ""
        for message in chat_history:
            if message.role == MessageRole.USER:
                pending = str(message.content or "")
            elif message.role == MessageRole.ASSISTANT and pending:
                pairs.append((pending, str(message.content or "")))
                pending = ""
        self._history = pairs[-self.max_turns :]

    def _remember(self, answer: Answer) -> None:
        self._history = add_turn(self._history, answer, self.max_turns)

    def chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> AgentChatResponse:
        self._use_history(chat_history)
        answer = self.pipeline.stream(message, self._history).answer
        self._remember(answer)
        return AgentChatResponse(
            response=answer.text,
            source_nodes=citation_nodes(answer),
            metadata=answer_metadata(answer),
        )

    def stream_chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> StreamingAgentChatResponse:
        self._use_history(chat_history)
        stream = self.pipeline.stream(message, self._history)
        return VerifiedStreamingChatResponse(stream=stream, on_answer=self._remember)

    async def achat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> AgentChatResponse:
        return await asyncio.to_thread(self.chat, message, chat_history)

    async def astream_chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> StreamingAgentChatResponse:
        # The answer streams from a thread-safe generator; iterate `response_gen`.
        return await asyncio.to_thread(self.stream_chat, message, chat_history)

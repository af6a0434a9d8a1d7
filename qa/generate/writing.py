"""The generation stage's component: the model's reply to the numbered evidence, streamed."""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass

from qa.core.interfaces import LLM, Message, Reply, TokenLogprob
from qa.core.settings import GenerationSettings
from qa.core.types import Evidence
from qa.generate.prompts import answer_messages
from qa.understand.profile import QuestionProfile

REPLY_STOP = ["\n\n", "Question:"]


@dataclass(frozen=True)
class ReplyWriter:
    settings: GenerationSettings
    llm: LLM

    def messages(self, question: QuestionProfile, evidence: list[Evidence]) -> list[Message]:
        return answer_messages(question, evidence, self.settings.abstain_instruction)

    def start(self, question: QuestionProfile, evidence: list[Evidence]) -> Writing:
        """The reply as it streams; iterate it, then read `.reply`."""
        return Writing(self, self.messages(question, evidence))

    def run(self, question: QuestionProfile, evidence: list[Evidence]) -> Reply:
        """The whole reply at once."""
        writing = self.start(question, evidence)
        for _ in writing:
            pass
        return writing.reply


class Writing:
    """One reply being written: its pieces, then the `Reply` (with the token
    log-probabilities where the backend gives them, at no extra cost)."""

    def __init__(self, writer: ReplyWriter, prompt: list[Message]) -> None:
        self._writer = writer
        self._prompt = prompt
        self._reply: Reply | None = None

    def __iter__(self) -> Iterator[str]:
        llm, g = self._writer.llm, self._writer.settings
        started = time.perf_counter()
        first: float | None = None
        pieces: list[str] = []
        logprobs: list[TokenLogprob] = []
        if llm.capabilities.logprobs:
            stream = llm.stream_chat(self._prompt, g.max_answer_tokens, REPLY_STOP,
                                     logprobs=logprobs)  # fmt: skip
        else:  # backends without log-probabilities keep the four-argument call
            stream = llm.stream_chat(self._prompt, g.max_answer_tokens, REPLY_STOP)
        try:
            for piece in stream:
                if first is None:
                    first = time.perf_counter() - started
                pieces.append(piece)
                yield piece
        finally:  # a reader that stops early ends the model's generation
            if isinstance(stream, Generator):
                stream.close()
        self._reply = Reply("".join(pieces), tuple(self._prompt), tuple(logprobs), first,
                            time.perf_counter() - started)  # fmt: skip

    @property
    def reply(self) -> Reply:
        assert self._reply is not None, "the reply is read once it is written"
        return self._reply

"""The generation stage's component: the model's reply to the numbered evidence, streamed."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

from qa.core.interfaces import LLM, Message, Reply, TokenLogprob
from qa.core.settings import GenerationSettings
from qa.core.types import Evidence
from qa.generate.prompts import answer_messages
from qa.understand.profile import QuestionProfile
from qa.understand.understanding import Understood

REPLY_STOP = ["\n\n", "Question:"]


@dataclass(frozen=True)
class ReplyWriter:
    settings: GenerationSettings
    llm: LLM

    def messages(self, question: QuestionProfile, evidence: list[Evidence]) -> list[Message]:
        return answer_messages(question, evidence, self.settings.abstain_instruction)

    def start(self, question: Understood, evidence: list[Evidence]) -> Writing:
        """The reply as it streams; iterate it, then read `.reply`."""
        return self._writing(question.profile, evidence)

    def run(self, question: QuestionProfile, evidence: list[Evidence]) -> Reply:
        """The whole reply at once (a claim of a question, say)."""
        writing = self._writing(question, evidence)
        for _ in writing:
            pass
        return writing.reply

    def _writing(self, question: QuestionProfile, evidence: list[Evidence]) -> Writing:
        prompt = self.messages(question, evidence)
        return Writing(prompt, lambda logprobs: self._stream(prompt, logprobs))

    def _stream(self, prompt: list[Message], logprobs: list[TokenLogprob]) -> Iterator[str]:
        llm, g = self.llm, self.settings
        if llm.capabilities.logprobs:
            return llm.stream_chat(prompt, g.max_answer_tokens, REPLY_STOP, logprobs=logprobs)
        # Backends without log-probabilities keep the four-argument call.
        return llm.stream_chat(prompt, g.max_answer_tokens, REPLY_STOP)


# A model call that streams: given the list to fill with token log-probabilities.
Pieces = Callable[[list[TokenLogprob]], Iterator[str]]


class Writing:
    """One reply being written: its pieces, then the `Reply` (with the token
    log-probabilities where the backend gives them, at no extra cost)."""

    def __init__(self, prompt: list[Message], pieces: Pieces) -> None:
        self._prompt = prompt
        self._pieces = pieces
        self._reply: Reply | None = None

    def __iter__(self) -> Iterator[str]:
        started = time.perf_counter()
        first: float | None = None
        written: list[str] = []
        logprobs: list[TokenLogprob] = []
        stream = self._pieces(logprobs)
        try:
            for piece in stream:
                if first is None:
                    first = time.perf_counter() - started
                written.append(piece)
                yield piece
        finally:  # a reader that stops early ends the model's generation
            if isinstance(stream, Generator):
                stream.close()
        self._reply = Reply("".join(written), tuple(self._prompt), tuple(logprobs), first,
                            time.perf_counter() - started)  # fmt: skip

    @property
    def reply(self) -> Reply:
        assert self._reply is not None, "the reply is read once it is written"
        return self._reply

"""An answer as it is written: iterate for the reply's text pieces, then read `.answer`.

Besides the model's draft pieces, an answer on its way says what is true so far, as events
(`events()`): the step it is at (`Progress`), the passages the model reads (`SourcesFound`,
known long before its first token), and the reply verified so far (`VerifiedText`: each
sentence shown only once the source it cites supports it). The page, the CLI and the API
show those, never the draft; iterating the stream itself still gives the draft pieces (the
llama-index streaming response reads them).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Literal

from qa.core.types import Answer, Citation

Step = Literal["searching", "reading", "writing", "checking"]


@dataclass(frozen=True)
class Progress:
    """The step the answer is at: searching the articles, reading the passages found,
    the model writing, checking the reply against its sources."""

    step: Step


@dataclass(frozen=True)
class SourcesFound:
    """The passages the model is given, in the order it sees them (true text to show while
    it writes)."""

    citations: list[Citation] = field(default_factory=list)


@dataclass(frozen=True)
class VerifiedText:
    """The reply so far, as far as it is verified: every sentence cited to a passage that
    supports it. It grows; the final answer can still differ (a later check withholds it)."""

    text: str
    citations: list[Citation] = field(default_factory=list)


StreamEvent = Progress | SourcesFound | VerifiedText


class Clock:
    """An answer's timings: seconds since the question arrived, or a stage's own."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}

    def lap(self, name: str, seconds: float | None = None, first: bool = False) -> None:
        """Record `name`: now (since the start), or `seconds`; `first`: only once."""
        if not (first and name in self.timings):
            since = time.perf_counter() - self.started
            self.timings[name] = since if seconds is None else seconds


class AnswerStream(Iterator[str]):
    """Text pieces as the model writes them; `.answer` is the verified `Answer`.

    `events()` gives the pieces and the events in order. Reading `.answer` before the end
    consumes the rest. `close()` ends the generation early (the model stops at once); after
    that `.answer` raises unless the answer was complete.
    """

    def __init__(self, steps: Generator[str | StreamEvent, None, Answer]) -> None:
        self._steps = steps
        self._answer: Answer | None = None
        self.sources: SourcesFound | None = None  # the latest of each event, as seen
        self.verified: VerifiedText | None = None

    def __iter__(self) -> AnswerStream:
        return self

    def __next__(self) -> str:
        while True:
            item = self._next_item()
            if isinstance(item, str):
                return item

    def _next_item(self) -> str | StreamEvent:
        try:
            item = next(self._steps)
        except StopIteration as end:
            if self._answer is None and end.value is not None:
                self._answer = end.value
            raise
        if isinstance(item, SourcesFound):
            self.sources = item
        elif isinstance(item, VerifiedText):
            self.verified = item
        return item

    def events(self) -> Generator[str | StreamEvent, None, Answer]:
        """Every draft piece and event until the end; returns the answer. Closing it early
        ends the answer, as `close()` does."""
        try:
            while True:
                try:
                    yield self._next_item()
                except StopIteration:
                    return self.answer
        except GeneratorExit:
            self._steps.close()
            raise

    @property
    def done(self) -> bool:
        return self._answer is not None

    @property
    def answer(self) -> Answer:
        for _ in self:
            pass
        if self._answer is None:
            raise RuntimeError("the answer was stopped before it was complete")
        return self._answer

    def close(self) -> None:
        self._steps.close()


REVISED = "\n\nAfter checking the whole reply: "


class ReaderView:
    """What a reader who cannot take text back is given of an answer's events: the passages
    as soon as they are known, then only verified text, as pieces that extend what was
    given; at the end the rest of the final answer, or, when the final answer does not
    continue what was shown (the answer check or the confidence decision changed it), the
    final answer said as a revision."""

    def __init__(self) -> None:
        self.sent = ""

    def see(self, event: str | StreamEvent) -> str | SourcesFound | None:
        if isinstance(event, SourcesFound):
            return event
        if isinstance(event, VerifiedText) and event.text.startswith(self.sent):
            piece, self.sent = event.text[len(self.sent) :], event.text
            return piece or None
        return None

    def end(self, answer: Answer) -> str:
        if answer.text.startswith(self.sent):
            return answer.text[len(self.sent) :]
        return REVISED + answer.text


def for_readers(stream: AnswerStream) -> Generator[str | SourcesFound, None, Answer]:
    """The one way a reply is streamed to a terminal, an API client or a llama-index
    response (`ReaderView`); returns the answer."""
    view = ReaderView()
    for event in stream.events():
        if (item := view.see(event)) is not None:
            yield item
    answer = stream.answer
    if rest := view.end(answer):
        yield rest
    return answer


def verified_pieces(stream: AnswerStream) -> Generator[str, None, Answer]:
    """`for_readers` without the passages: the verified text alone."""
    pieces = for_readers(stream)
    while True:
        try:
            item = next(pieces)
        except StopIteration as end:
            return end.value
        if isinstance(item, str):
            yield item

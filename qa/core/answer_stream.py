"""An answer as it is written: iterate for the reply's text pieces, then read `.answer`."""

from __future__ import annotations

from collections.abc import Generator, Iterator

from qa.core.types import Answer


class AnswerStream(Iterator[str]):
    """Text pieces as the model writes them; `.answer` is the verified `Answer`.

    Reading `.answer` before the end consumes the rest. `close()` ends the generation early
    (the model stops at once); after that `.answer` raises unless the answer was complete.
    """

    def __init__(self, steps: Generator[str, None, Answer]) -> None:
        self._steps = steps
        self._answer: Answer | None = None

    def __iter__(self) -> AnswerStream:
        return self

    def __next__(self) -> str:
        try:
            return next(self._steps)
        except StopIteration as end:
            if self._answer is None and end.value is not None:
                self._answer = end.value
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

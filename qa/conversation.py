"""A multi-turn chat: what is remembered between questions, and for how long."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

from qa.core.answer_stream import AnswerStream
from qa.core.types import Answer

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.retrieve.filters import ArticleFilter

# Turns kept for follow-up rewriting: enough for "and what about him?" chains, short enough
# that the rewrite prompt stays small.
HISTORY_TURNS = 6

History = list[tuple[str, str]]


def add_turn(history: History, answer: Answer, max_turns: int = HISTORY_TURNS) -> History:
    """The history after `answer`: its stand-alone question and its text, oldest turns out."""
    return [*history, (answer.standalone_question, answer.text)][-max_turns:]


class Conversation:
    """Remembers questions and answers so follow-ups can be rewritten."""

    def __init__(
        self,
        assistant: Assistant,
        max_turns: int = HISTORY_TURNS,
        filters: ArticleFilter | None = None,
    ) -> None:
        self.assistant = assistant
        self.history: History = []
        self.max_turns = max_turns
        self.filters = filters  # kept for every turn (dates, outlets, authors)

    def stream(self, question: str) -> AnswerStream:
        asked = self.assistant.stream(question, self.history, self.filters)
        return AnswerStream(self._remembering(asked))

    def _remembering(self, stream: AnswerStream) -> Generator[str, None, Answer]:
        yield from stream
        answer = stream.answer
        self.history = add_turn(self.history, answer, self.max_turns)
        return answer

    def ask(self, question: str) -> Answer:
        return self.stream(question).answer

"""A multi-turn chat: what is remembered between questions, and for how long."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING

from qa.core.answer_stream import AnswerStream, StreamEvent
from qa.core.types import Answer

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.core.settings import Settings
    from qa.retrieve.filters import ArticleFilter

# Turns kept for follow-up rewriting: enough for "and what about him?" chains, short enough
# that the rewrite prompt stays small.
HISTORY_TURNS = 6

History = list[tuple[str, str]]

# The follow-up rewrite puts history in a prompt the model must hold in n_ctx tokens. No
# tokenizer is at hand before the model, so characters stand in: English runs about four a
# token, names and numbers fewer, and three keeps a safe margin.
CHARS_PER_TOKEN = 3
# Tokens the rewrite prompt needs besides the history and the question: its instructions
# and its short reply.
REWRITE_OVERHEAD_TOKENS = 256


def history_budget(settings: Settings) -> int:
    """Characters of history the model's context holds beside the longest question."""
    tokens = settings.runtime.n_ctx - REWRITE_OVERHEAD_TOKENS
    return max(0, tokens * CHARS_PER_TOKEN - settings.question.max_question_chars)


def fit_history(
    history: Sequence[tuple[str, str]], budget_chars: int, max_turns: int = HISTORY_TURNS
) -> History:
    """The latest turns whose text fits `budget_chars`, oldest dropped first. A latest turn
    longer than the whole budget is cut to its start rather than lost: a follow-up needs it."""
    kept: History = []
    left = budget_chars
    for asked, answered in reversed(history[-max_turns:]):
        if len(asked) + len(answered) <= left:
            kept.append((asked, answered))
            left -= len(asked) + len(answered)
            continue
        if not kept and left > 0:
            asked = asked[:left]
            kept.append((asked, answered[: left - len(asked)]))
        break
    return kept[::-1]


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

    def _remembering(self, stream: AnswerStream) -> Generator[str | StreamEvent, None, Answer]:
        answer = yield from stream.events()
        self.history = add_turn(self.history, answer, self.max_turns)
        return answer

    def ask(self, question: str) -> Answer:
        return self.stream(question).answer

"""The background tasks a chat client sends as chat requests, answered at once, here.

Open WebUI (0.12) asks the chat's own model for the chat's title, its tags and follow-up
suggestions after each answer (and, where enabled, for search queries, autocompletion, an
image prompt, an emoji or a tool choice). Each is one user message that starts "### Task:",
holds the chat history between <chat_history> tags as "USER: ..." and "ASSISTANT: ..."
lines, and names the JSON it wants back: {"title": ...}, {"tags": [...]},
{"follow_ups": [...]}, {"queries": [...]}, {"text": ...}, {"prompt": ...}. Sent through the
answering pipeline, each held the one model slot for minutes (a user's question waited
behind it) and came back as an abstention, not that JSON.

Here they are recognised from the prompt and answered without the model and without the
slot, honestly and simply:
    title       the conversation's last question, as asked (at most TITLE_WORDS words)
    tags        "News", the outlets the last answer cites (its footnotes), then the names
                the question gives
    follow_ups  one question per name that retrieval (no model) finds in the passages about
                the last question and the conversation has not named yet: "What did <outlet>
                report about <name>?"; none when retrieval finds no new name
    queries, image prompt   the last question
    autocomplete, tools     empty (nothing is invented); an emoji: a neutral one
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from index.text import MONTH_NAMES, WEEKDAY_NAMES
from qa.core.errors import UserError
from qa.retrieve.filters import ArticleFilter
from qa.retrieve.searcher import Search
from qa.understand.question import clean_question

if TYPE_CHECKING:
    from ui.service import ChatService

TaskKind = Literal[
    "title", "tags", "follow_ups", "queries", "autocomplete", "image_prompt", "emoji", "tools"
]
TITLE_WORDS = 8
MAX_TAGS = 5
MAX_FOLLOW_UPS = 3
FOLLOW_UP_CHUNKS = 8  # chunks retrieved to find follow-up names in

TASK_START = "### Task:"
# The JSON key a task names first in its instructions says which task it is.
_KEYS: dict[str, TaskKind] = {"title": "title", "tags": "tags", "follow_ups": "follow_ups",
                              "queries": "queries", "text": "autocomplete",
                              "prompt": "image_prompt"}  # fmt: skip
_JSON_KEY = re.compile(r'\{\s*"(\w+)"\s*:')
_HISTORY = re.compile(r"<chat_history>\n?(.*?)\n?</chat_history>", re.DOTALL)
_SPEAKER = re.compile(r"^(USER|ASSISTANT|SYSTEM): ?", re.MULTILINE)
_EMOJI_TASK = "Your task is to reflect the speaker's likely facial expression"
_TOOLS_TASK = "Available Tools:"
# A footnote as ui/openai_api.py writes it: "[1] Title (Outlet, 2019-04-25), where: “quote”".
_FOOTNOTE = re.compile(r"^\[\d+\] .*? \(([^()]*)\), [^\n]*?: “", re.MULTILINE)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WORD = re.compile(r"[A-Za-z][\w'’-]*")
_NOT_NAMES = frozenset((*MONTH_NAMES, *WEEKDAY_NAMES))
_ENDS = (".", "!", "?", '"', "”")
_NATIONALITY = ("ean", "ian", "ican", "ese", "ish")  # "North Korean" names no one


@dataclass(frozen=True)
class ChatTask:
    """A recognised background task and the conversation it is about."""

    kind: TaskKind
    turns: list[tuple[str, str]]  # (role, text), "user" or "assistant", oldest first

    @property
    def question(self) -> str:
        """The conversation's last question."""
        return next((text for role, text in reversed(self.turns) if role == "user"), "")

    @property
    def last_answer(self) -> str:
        return next((text for role, text in reversed(self.turns) if role == "assistant"), "")


@dataclass(frozen=True)
class Passage:
    """A retrieved piece of an article: what follow-up suggestions are made from."""

    outlet: str
    text: str


def recognise(messages: Sequence[tuple[str, str]]) -> ChatTask | None:
    """The task these (role, text) messages ask for, or None for a user's own question."""
    if not messages or messages[-1][0] != "user":
        return None
    prompt = messages[-1][1].strip()
    if prompt.startswith(_EMOJI_TASK):
        return ChatTask("emoji", [])
    if any(role == "system" and text.startswith(_TOOLS_TASK) for role, text in messages):
        return ChatTask("tools", [])
    if not prompt.startswith(TASK_START):
        return None
    history = _HISTORY.search(prompt)
    # The instructions name the JSON wanted; the history inside may hold any text.
    instructions = prompt[: history.start()] if history else prompt
    key = _JSON_KEY.search(instructions)
    if not key or key.group(1) not in _KEYS:
        return None
    return ChatTask(_KEYS[key.group(1)], _turns(history.group(1)) if history else [])


def _turns(history: str) -> list[tuple[str, str]]:
    """The "USER: ..." and "ASSISTANT: ..." turns of a history (a turn may span lines)."""
    marks = list(_SPEAKER.finditer(history))
    turns = []
    for mark, after in zip(marks, [*marks[1:], None], strict=True):
        text = history[mark.end() : after.start() if after else len(history)].strip()
        if mark.group(1) != "SYSTEM":
            turns.append((mark.group(1).lower(), text))
    return turns


def reply(task: ChatTask, retrieve: Callable[[str], list[Passage]]) -> str:
    """The task's answer, in the form its prompt asks for. `retrieve` is called for
    follow-ups only: retrieval, no model."""
    question = task.question
    answer: Any
    if task.kind == "emoji":
        return "🙂"
    if task.kind == "title":
        answer = {"title": title(question)}
    elif task.kind == "tags":
        answer = {"tags": tags(question, task.last_answer)}
    elif task.kind == "follow_ups":
        seen = " ".join(text for _, text in task.turns)
        answer = {"follow_ups": follow_ups(retrieve(question), seen) if question else []}
    elif task.kind == "queries":
        answer = {"queries": [question] if question else []}
    elif task.kind == "autocomplete":
        answer = {"text": ""}
    elif task.kind == "image_prompt":
        answer = {"prompt": question}
    else:
        answer = {"tool_calls": []}
    return json.dumps(answer, ensure_ascii=False)


def title(question: str) -> str:
    """The question as asked, without its question mark or quotes, cut at TITLE_WORDS."""
    words = question.replace('"', "").split()
    short = " ".join(words[:TITLE_WORDS]).rstrip("?!.,;: ")
    return short + ("…" if len(words) > TITLE_WORDS else "") if short else "News question"


def tags(question: str, last_answer: str) -> list[str]:
    """The domain, the outlets the last answer cites, then the names the question gives."""
    found = ["News", *cited_outlets(last_answer), *names(question)]
    unique = list(dict.fromkeys(t for t in found if t))
    return unique[:MAX_TAGS]


def cited_outlets(answer: str) -> list[str]:
    """The outlets named in an answer's footnotes, in order of citation."""
    outlets = []
    for meta in _FOOTNOTE.findall(answer):
        first = meta.split(", ")[0].strip()
        if first and not _DAY.match(first):
            outlets.append(first)
    return list(dict.fromkeys(outlets))


def names(text: str, min_words: int = 1) -> list[str]:
    """Capitalised names in `text`, in order: runs of up to four capitalised words, a
    sentence's or line's first word left out (it is capitalised anyway), and so are
    acronyms, months, weekdays, nationalities ("North Korean") and title-case headlines."""
    found = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n", text):
        words = list(_WORD.finditer(sentence))
        capitals = sum(w.group(0)[0].isupper() for w in words)
        if capitals > 0.6 * len(words) >= 2 and not sentence.rstrip().endswith(_ENDS):
            continue  # a headline in title case (no full stop): its capitals say nothing
        run: list[str] = []
        end = -1
        for i, m in enumerate(words):
            word = m.group(0).removesuffix("'s").removesuffix("’s")
            capitalised = i > 0 and word[:1].isupper() and not word.isupper()
            capitalised = capitalised and word.lower() not in _NOT_NAMES
            if capitalised and run and m.start() == end + 1:
                run.append(word)
            else:
                found.append(run)
                run = [word] if capitalised else []
            end = m.end()
        found.append(run)
    kept = [" ".join(r) for r in found if min_words <= len(r) <= 4]
    return list(dict.fromkeys(n for n in kept if not n.endswith(_NATIONALITY)))


def follow_ups(passages: Sequence[Passage], conversation: str) -> list[str]:
    """A question about each name of two words or more that the retrieved passages give
    and the conversation has not named: answerable, since the passage naming it is indexed.
    (One-word runs are left out: in a page's boilerplate they are mostly not names.)"""
    said = {w.lower() for w in _WORD.findall(conversation)}
    suggestions: dict[str, str] = {}
    for passage in passages:
        for name in names(passage.text, min_words=2):
            if name in suggestions or any(w.lower() in said for w in name.split()):
                continue
            if passage.outlet and passage.outlet.lower() in name.lower():
                continue
            if passage.outlet:
                suggestions[name] = f"What did {passage.outlet} report about {name}?"
            else:
                suggestions[name] = f"What do the articles say about {name}?"
            if len(suggestions) == MAX_FOLLOW_UPS:
                return list(suggestions.values())
    return list(suggestions.values())


def retrieval(
    service: ChatService, collection: str | None, filters: ArticleFilter | None
) -> Callable[[str], list[Passage]]:
    """The passages retrieval finds for a question in this collection (under the request's
    filters, else the settings'): the search alone, no reranker and no model, so nothing
    waits for the model's slot. A question retrieval cannot take gives none."""

    def retrieve(question: str) -> list[Passage]:
        try:
            asked = clean_question(question, service.settings.question.max_question_chars)
            searcher = service.assistant(collection).searcher
            hits = searcher.hits(Search(asked, filters=filters, top_k=FOLLOW_UP_CHUNKS))
        except UserError:
            return []  # suggestions are optional: a question that cannot be searched has none
        return [Passage(h.chunk.outlet, h.chunk.text) for h in hits]

    return retrieve

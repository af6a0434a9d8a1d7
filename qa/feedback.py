"""What people say about answers, kept so the team's evaluation grows from real use.

Each record is one line of `<QA_HOME>/feedback/<collection>.jsonl`: the question, the answer
and its citations as shown, the settings hash and model that made it, and the verdict (up,
down, or citations marked wrong). `export_gold` turns the records into rows of the gold-set
format `qa eval` reads (evals/gold/*.jsonl), each marked `needs_review`: a thumbs-up gives
the answer and its sources (less any citation marked wrong) as the expected ones; a
thumbs-down keeps the rejected answer apart, for a person to write the right one.
`conversation_markdown` writes a conversation with its citations as Markdown.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from qa.core.errors import InputError
from qa.core.markers import replace_markers
from qa.core.types import Answer, Citation

Rating = Literal["up", "down", ""]
MAX_NOTE_CHARS = 2000
_write_lock = threading.Lock()  # one process appends one line at a time


@dataclass
class Feedback:
    question: str
    answer: str
    citations: list[dict[str, Any]]
    settings_hash: str
    model: str
    rating: Rating = ""
    wrong_citations: list[int] = field(default_factory=list)  # citation numbers, from 1
    note: str = ""
    collection: str = ""
    abstained: bool = False
    time: str = ""

    @classmethod
    def of(
        cls,
        answer: Answer,
        rating: Rating = "",
        wrong_citations: Iterable[int] = (),
        note: str = "",
        collection: str = "",
    ) -> Feedback:
        wrong = sorted(set(int(n) for n in wrong_citations))
        if rating not in ("up", "down", ""):
            raise InputError(f"a rating is 'up' or 'down', not {rating!r}")
        if not rating and not wrong:
            raise InputError("say thumbs up or down, or which citation is wrong")
        outside = [n for n in wrong if not 1 <= n <= len(answer.citations)]
        if outside:
            raise InputError(
                f"the answer has {len(answer.citations)} citations; there is no [{outside[0]}]"
            )
        return cls(
            question=answer.question,
            answer=answer.text,
            citations=[_citation(c) for c in answer.citations],
            settings_hash=answer.settings_hash,
            model=answer.model,
            rating=rating,
            wrong_citations=wrong,
            note=note.strip()[:MAX_NOTE_CHARS],
            collection=collection,
            abstained=answer.abstained,
            time=time.strftime("%Y-%m-%dT%H:%M:%S"),
        )


def _citation(c: Citation) -> dict[str, Any]:
    out = {k: v for k, v in c.fields().items() if k not in ("support", "group")}
    return {k: v for k, v in out.items() if v not in ("", None, ())}


class FeedbackLog:
    """The feedback of one collection, appended one JSON line per verdict."""

    def __init__(self, home: Path, collection: str) -> None:
        self.collection = collection
        self.file = home / "feedback" / f"{collection}.jsonl"

    def add(self, feedback: Feedback) -> Feedback:
        feedback.collection = feedback.collection or self.collection
        self.file.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(asdict(feedback), ensure_ascii=False) + "\n"
        with _write_lock, self.file.open("a+", encoding="utf-8") as fh:
            if fh.tell() and not _ends_with_newline(self.file):
                fh.write("\n")  # a line cut short by a crash stays alone, not joined to ours
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        return feedback

    def records(self) -> Iterator[Feedback]:
        """Every record; a damaged line (a crash mid-write) is skipped, not fatal."""
        try:
            lines = self.file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            try:
                yield Feedback(**json.loads(line))
            except (ValueError, TypeError):
                continue


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def export_gold(records: Iterable[Feedback]) -> list[dict[str, Any]]:
    """Gold-set rows (`qa eval --gold`) from feedback, every one marked for review."""
    rows = []
    for n, f in enumerate(records, 1):
        cited = [c for i, c in enumerate(f.citations, 1) if i not in f.wrong_citations]
        row: dict[str, Any] = {
            "id": f"feedback-{n:04d}",
            "question": f.question,
            "answers": [],
            "gold_docs": sorted({c["source"] for c in cited}),
            "type": f"feedback_{f.rating or 'citations'}",
            "needs_review": True,
            "feedback": {
                "rating": f.rating,
                "answer": f.answer,
                "wrong_citations": [f.citations[i - 1] for i in f.wrong_citations],
                "note": f.note,
                "settings_hash": f.settings_hash,
                "model": f.model,
                "time": f.time,
            },
        }
        if f.rating == "up" and not f.abstained:
            row["answers"] = [_plain(f.answer)]
        elif f.rating == "down":
            row["gold_docs"] = []  # the sources of a wrong answer are not the right ones
        rows.append(row)
    return rows


def _plain(text: str) -> str:
    return " ".join(replace_markers(text, lambda n: "").split())


def conversation_markdown(turns: Iterable[Answer], title: str = "Conversation") -> str:
    """A conversation as Markdown: a section per turn, headed by its question (or a
    briefing's topic, marked as a briefing), the filters it was answered under where the
    answer records them, the answer with its [n] markers, then its sources as a numbered
    list: one item per citation (title linked to its URL, outlet, date, file and the
    characters cited), its quoted passage a block quote under it."""
    lines = [f"# {_inline(title)}", ""]
    for answer in turns:
        kind = "Briefing" if is_briefing(answer) else "Question"
        lines += [f"## {kind}: {_inline(answer.question)}", ""]
        if answer.filters:
            lines += [f"*Filters:* {_inline(answer.filters)}", ""]
        lines += [_paragraphs(answer.text), ""]
        if answer.citations:
            lines += ["**Sources**", ""]
        for n, c in enumerate(answer.citations, 1):
            # The quote is indented under its list item: a block quote inside the item.
            lines += [f"{n}. {_source_line(c)}", "", f"   > {_inline(c.quote)}", ""]
    return "\n".join(lines).rstrip() + "\n"


def is_briefing(answer: Answer) -> bool:
    """A briefing says so (its question is the topic); one saved before `kind` was
    recorded says so in its decision."""
    return answer.kind == "briefing" or answer.decision.startswith("briefing")


def _source_line(c: Citation) -> str:
    name = _inline(c.title or c.source, link_text=True)
    facts = [_inline(x) for x in (c.outlet, c.published[:10]) if x]
    facts += [f"`{c.source}`", f"characters {c.start}–{c.end}"]
    also = f" Also carried by {_inline(', '.join(c.also_in))}." if c.also_in else ""
    link = c.url.replace(" ", "%20").replace("<", "%3C").replace(">", "%3E")
    return f"**{f'[{name}](<{link}>)' if link else name}**, {', '.join(facts)}.{also}"


_MARKUP = re.compile(r"([\\`*_<])")  # what Markdown reads as markup inside a line
_LINK_TEXT = re.compile(r"([\[\]])")
_LINE_START = re.compile(r"^([#+-])|^(\d+)([.)])")  # a heading or list marker


def _inline(text: str, link_text: bool = False) -> str:
    """Text shown as written, on one line: markup characters are escaped, and so is a
    heading or list marker at its start. The [n] markers stay as they are (no reference
    link is defined, so they show as written)."""
    escaped = _MARKUP.sub(r"\\\1", " ".join(text.split()))
    if link_text:
        escaped = _LINK_TEXT.sub(r"\\\1", escaped)
    return _LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", escaped)


def _paragraphs(text: str) -> str:
    """An answer's text, its paragraphs kept, each escaped as `_inline` does."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "\n\n".join(_inline(p) for p in paragraphs) or "*(no answer)*"

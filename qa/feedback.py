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
    out = {k: v for k, v in asdict(c).items() if k not in ("support", "group")}
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
    """A conversation as Markdown: each question, its answer with [n] markers, and the
    numbered citations (title, outlet, date, link or file, and the quoted passage)."""
    lines = [f"# {title}", ""]
    for answer in turns:
        lines += [f"**Q:** {answer.question}", "", f"**A:** {answer.text}", ""]
        for n, c in enumerate(answer.citations, 1):
            where = f"[{c.title or c.source}]({c.url})" if c.url else (c.title or c.source)
            meta = ", ".join(x for x in (c.outlet, c.published[:10], f"`{c.source}`") if x)
            quote = " ".join(c.quote.split())
            also = f" Also carried by {', '.join(c.also_in)}." if c.also_in else ""
            lines.append(f"[{n}] {where} ({meta}), characters {c.start}–{c.end}: > {quote}{also}")
        if answer.citations:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"

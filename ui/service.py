"""What the web page needs from the product, without Gradio: one warm LLM and embedder
shared by every visitor, an Assistant per (collection, top-k, model), uploads saved inside
the data directory, and whole-article text for the sources panel."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from index.indexer import IndexReport
from index.reading.loaders import SUPPORTED_SUFFIXES, LoadError, load_article
from index.storing.store import FileRecord, list_collections, open_client
from qa.assistant import Assistant
from qa.core.answer_stream import AnswerStream, StreamEvent
from qa.core.errors import UserError
from qa.core.settings import Settings
from qa.core.settings import check_collection_name as settings_collection_name
from qa.core.types import Answer, Citation
from qa.feedback import Feedback, Rating, conversation_markdown
from qa.generate.llm import LLM, make_llm, max_concurrent_answers
from qa.retrieve.filters import ArticleFilter
from qa.runtime.model_files import available_models

UPLOAD_TYPES = SUPPORTED_SUFFIXES


def web_report(feeds: list[str], problems: list[tuple[str, str]], report: IndexReport) -> str:
    """What adding or refreshing did, as Markdown: feeds, indexing, then each failure. The
    parts are paragraphs apart: a line right after a list item would run on in its text."""
    skipped = [*problems, *report.skipped]
    parts = [
        "\n".join(f"- {line}" for line in feeds),
        f"**Articles: {report.summary()}**",
        "\n".join(f"- skipped `{name}`: {reason}" for name, reason in skipped),
    ]
    return "\n\n".join(part for part in parts if part)


def safe_file_name(name: str) -> str:
    """A plain file name from whatever the browser sent: no folders, no '..', no odd bytes."""
    base = Path(name.replace("\\", "/")).name
    cleaned = re.sub(r"[^A-Za-z0-9._ -]", "_", base).strip(" .")
    return cleaned or "article.txt"


def upload_target(folder: Path, name: str, upload: Path, replace: bool) -> Path:
    """Where an upload is saved: under its own name when that is free, holds the same
    bytes, or is to be replaced; else beside it, named with the first 8 hex digits of
    its content's SHA-256 (the same upload twice lands on the same file)."""
    target = folder / name
    if replace or not target.exists() or _same_bytes(target, upload):
        return target
    digest = hashlib.sha256(upload.read_bytes()).hexdigest()[:8]
    return folder / f"{target.stem}-{digest}{target.suffix}"


def _same_bytes(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


def check_collection_name(name: str) -> str:
    try:
        return settings_collection_name(name)
    except ValueError as exc:
        raise UserError(str(exc)) from exc


class ChatService:
    def __init__(self, settings: Settings, llm: LLM | None = None) -> None:
        self.settings = settings
        self._llms: dict[str, LLM] = {settings.generation.llm_model: llm} if llm else {}
        self._assistants: dict[tuple[str, int, str], Assistant] = {}
        self._lock = threading.Lock()  # guards the dicts above
        # As many answers generate at once as the backend decodes together (llm_parallel
        # slots of the local model; one for an in-process model); the rest wait here.
        self.concurrent_answers = max_concurrent_answers(settings)
        self._generate = threading.BoundedSemaphore(self.concurrent_answers)
        self._index_lock = threading.Lock()

    # --- assistants ------------------------------------------------------------------------
    def models(self) -> list[str]:
        """Models a visitor may pick: the configured one plus packaged ones that are installed."""
        names = [self.settings.generation.llm_model]
        if self.settings.generation.llm_backend == "llama_cpp":
            names += [m for m in available_models() if m not in names]
        return names

    def assistant(
        self, collection: str | None = None, top_k: int | None = None, model: str | None = None
    ) -> Assistant:
        s = self.settings
        key = (
            collection or s.store.collection,
            int(top_k or s.retrieval.top_k),
            model or s.generation.llm_model,
        )
        if key[2] not in self.models():
            raise UserError(f"model {key[2]!r} is not available here; pick one of {self.models()}")
        with self._lock:
            if key not in self._assistants:
                settings = s.model_copy(
                    update={"collection": key[0], "top_k": key[1], "llm_model": key[2]}
                )
                if key[2] not in self._llms:  # loaded once, shared by every collection
                    self._llms[key[2]] = make_llm(settings)
                first = next(iter(self._assistants.values()), None)
                self._assistants[key] = Assistant(
                    settings, llm=self._llms[key[2]], embedder=first.embedder if first else None
                )
            return self._assistants[key]

    def warm_up(self) -> IndexReport | None:
        """Load the models and index the default corpus before the first visitor asks."""
        return self.assistant().ensure_indexed(progress=True)

    def stream(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        collection: str | None = None,
        top_k: int | None = None,
        model: str | None = None,
        filters: ArticleFilter | None = None,
    ) -> AnswerStream:
        """At most `concurrent_answers` answers generate at once across every visitor: the
        model is shared."""
        assistant = self.assistant(collection, top_k, model)
        return AnswerStream(self._gated(lambda: assistant.stream(question, history, filters)))

    def stream_brief(
        self,
        topic: str,
        collection: str | None = None,
        model: str | None = None,
        filters: ArticleFilter | None = None,
    ) -> AnswerStream:
        """A cited briefing on `topic`, in the same queue as answers (one model)."""
        assistant = self.assistant(collection, None, model)
        return AnswerStream(self._gated(lambda: assistant.stream_brief(topic, filters)))

    def _gated(
        self, start: Callable[[], AnswerStream]
    ) -> Generator[str | StreamEvent, None, Answer]:
        with self._generate:
            return (yield from start().events())

    # --- collections and uploads -----------------------------------------------------------
    def collections(self) -> list[str]:
        names = list_collections(
            open_client(self.settings.store.home, self.settings.store.chroma_url)
        )
        return sorted(set(names) | {self.settings.store.collection})

    def documents(self, collection: str | None = None) -> list[FileRecord]:
        return self.assistant(collection).documents()

    def add_address(self, address: str, collection: str | None = None) -> str:
        """Follow a feed, or index one page: a feed is told from a page by what the server
        sends. Markdown saying what was added and what failed, one line each."""
        from index.reading.feeds import read_feed
        from index.reading.web import FEED_TYPES, HTML_TYPES, FetchPolicy, fetch, save_page

        assistant = self.assistant(collection)
        with self._index_lock:
            # One request: what tells a feed from a page is what is then read or indexed.
            got = fetch(address, accept=(), policy=FetchPolicy.of(self.settings.fetch))
            entries, _, problem = read_feed(got)
            if got.content_type.startswith(FEED_TYPES) or (entries and not problem):
                feed, report = assistant.add_feed(address, fetched=got)
                return web_report([feed.summary()], feed.problems, report)
            if got.content_type and not got.content_type.startswith(HTML_TYPES):
                sent = f"not a feed or a web page (the server sent {got.content_type})"
                return web_report([], [(address, sent)], IndexReport())
            report = assistant.index([save_page(assistant.feed_list().pages, got)])
        page = f"`{address}` is a web page, not a feed"
        if report.added or report.updated or report.unchanged:
            page += ": indexed as a single page"
        return web_report([page], [], report)

    def refresh_feeds(self, collection: str | None = None) -> str:
        assistant = self.assistant(collection)
        with self._index_lock:
            feeds, report = assistant.refresh_feeds()
        if not feeds:
            return "This collection follows no feeds yet: add one above."
        problems = [p for f in feeds for p in f.problems]
        return web_report([f.summary() for f in feeds], problems, report)

    def feedback(
        self,
        answer: dict[str, Any],
        rating: str,
        wrong_citations: Sequence[int],
        collection: str | None,
        note: str = "",
    ) -> Feedback:
        """Record a verdict on an answer the page showed (its `to_json` form)."""
        if rating not in ("up", "down", ""):
            raise UserError(f"a rating is 'up' or 'down', not {rating!r}")
        assistant = self.assistant(collection)
        shown = Answer.from_json(answer)
        return assistant.feedback(shown, cast(Rating, rating), list(wrong_citations), note)

    def export_conversation(self, answers: Sequence[dict[str, Any]]) -> str:
        """The conversation as a Markdown file for download; returns its path (a temporary
        folder of its own: the page hands out no file from the data directory)."""
        folder = Path(tempfile.mkdtemp(prefix="newsqa-export-"))
        path = folder / f"conversation-{time.strftime('%Y%m%d-%H%M%S')}.md"
        turns = [Answer.from_json(a) for a in answers]
        path.write_text(conversation_markdown(turns), encoding="utf-8")
        return str(path)

    def outlets(self, collection: str | None = None) -> list[str]:
        """The outlets the page's picker offers for this collection."""
        return self.assistant(collection).outlets()

    def upload_dir(self, collection: str) -> Path:
        return self.settings.store.home / "uploads" / check_collection_name(collection)

    def add_files(
        self, files: Sequence[str | Path], collection: str, replace: bool = False
    ) -> IndexReport:
        """Copy uploaded files into the collection's upload folder and index them. A file
        whose name is taken by different text is kept beside the old one, its name given a
        content-hash suffix, unless `replace` says to update the article of that name."""
        folder = self.upload_dir(collection)
        folder.mkdir(parents=True, exist_ok=True)
        saved: list[Path] = []
        rejected: list[tuple[str, str]] = []
        notes: list[str] = []
        for file in files:
            src = Path(file)
            name = safe_file_name(src.name)
            if not name.lower().endswith(UPLOAD_TYPES):
                rejected.append((name, f"not one of {', '.join(UPLOAD_TYPES)}"))
                continue
            target = upload_target(folder, name, src, replace)
            if target.resolve().parent != folder.resolve():
                rejected.append((name, "bad file name"))
                continue
            if target.name != name and not target.exists():
                notes.append(f"`{name}` is already an article here with other text: the new "
                             f"one is kept beside it as `{target.name}` (tick Replace to "
                             "update the old one instead)")  # fmt: skip
            temporary = target.with_name(f".{target.name}.part")
            shutil.copyfile(src, temporary)
            temporary.replace(target)
            saved.append(target)
        with self._index_lock:
            report = self.assistant(collection).index(saved, progress=True) if saved else None
        report = report or IndexReport()
        report.skipped.extend(rejected)
        report.notes.extend(notes)
        for other in self._assistants_of(collection):
            other.invalidate()
        return report

    def _assistants_of(self, collection: str) -> list[Assistant]:
        with self._lock:
            return [a for (c, _, _), a in self._assistants.items() if c == collection]

    # --- article text for the sources panel ------------------------------------------------
    def article_text(self, citation: Citation) -> str | None:
        path = Path(citation.path)
        try:
            return _article_text(str(path), path.stat().st_mtime_ns)
        except (OSError, LoadError):
            return None


@lru_cache(maxsize=64)
def _article_text(path: str, mtime_ns: int) -> str:
    return load_article(Path(path)).text

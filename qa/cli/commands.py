"""What each `qa` command does (the parser is qa/cli/parser.py, the entry point qa/cli/entry.py)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

from index.indexer import IndexReport
from index.reading.web import is_url
from index.words import plural
from qa.assistant import Assistant, Conversation, clean_question
from qa.cli.logs import configure_logging
from qa.cli.terminal import AnswerPrinter, Progress, keys_held, read_question
from qa.core.errors import UserError
from qa.core.interfaces import LLM
from qa.core.settings import Settings
from qa.core.types import Answer
from qa.generate.deferred import DeferredLLM
from qa.generate.llm import make_llm
from qa.runtime.model_files import resolve_model_path


def _cmd_index(assistant: Assistant, args: argparse.Namespace) -> int:
    paths = args.paths or [str(assistant.settings.store.default_corpus)]
    missing = [p for p in paths if not os.path.exists(p) and not is_url(p)]
    if missing and len(missing) == len(paths):
        raise UserError(f"no such file or folder: {', '.join(missing)}")
    report = assistant.index(paths, progress=not args.quiet)
    for name, reason in report.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    print(f"{report.summary()} (collection {assistant.settings.store.collection!r})")
    if not (report.added or report.updated or report.unchanged) and report.skipped:
        return 1
    return 0


def _cmd_feed(assistant: Assistant, args: argparse.Namespace) -> int:
    collection = assistant.settings.store.collection
    if args.action == "list":
        return _list_feeds(assistant)
    if args.action == "remove":
        for url in args.urls:
            found = assistant.feed_list().remove(url)
            print(f"{url}: {'removed' if found else 'not followed'} (its articles stay indexed)")
        return 0
    if args.action == "add":
        reports, index_report = [], IndexReport()
        for url in args.urls:
            report, indexed = assistant.add_feed(url, progress=not args.quiet)
            reports.append(report)
            index_report.merge(indexed)
    else:
        urls = getattr(args, "urls", None) or None
        reports, index_report = assistant.refresh_feeds(urls, progress=not args.quiet)
    for report in reports:
        print(report.summary())
        for link, reason in report.problems:
            print(f"  skipped {link}: {reason}", file=sys.stderr)
    for name, reason in index_report.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    print(f"{index_report.summary()} (collection {collection!r})")
    return 1 if reports and all(r.error for r in reports) else 0


def _list_feeds(assistant: Assistant) -> int:
    """Each feed with its item counts, then every failed item with its reason."""
    feeds = assistant.feed_list().feeds.values()
    for feed in feeds:
        title = f" ({feed.title})" if feed.title else ""
        checked = feed.checked or "never"
        waiting = f", {len(feed.pending)} pending" if feed.pending else ""
        items = plural(len(feed.items), "item")
        print(f"{feed.url}{title}: {items}{waiting}, last refreshed {checked}")
        for link, item in feed.pending.items():
            if item.tries:
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(item.next_try))
                print(f"  failed {item.tries}x, retried from {when}: {link}: {item.reason}")
    if not feeds:
        collection = assistant.settings.store.collection
        print(f"collection {collection!r} follows no feeds; add one with `qa feed add URL`")
    return 0


def _cmd_feedback(assistant: Assistant, args: argparse.Namespace) -> int:
    from qa.feedback import export_gold

    log = assistant.feedback_log()
    rows = export_gold(log.records())
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if args.out:
        args.out.write_text(lines, encoding="utf-8")
        rows_written = plural(len(rows), "feedback row")
        print(f"{rows_written} written to {args.out} (each marked needs_review)")
    else:
        sys.stdout.write(lines)
    if not rows:
        print(f"no feedback recorded for collection {log.collection!r}", file=sys.stderr)
    return 0


def progress_for(args: argparse.Namespace) -> Progress:
    """Progress on stderr, except with -q or --json (whose reader wants stdout clean)."""
    return Progress(shown=not (args.quiet or getattr(args, "json", False)))


def _index_first_run(assistant: Assistant, progress: Progress) -> None:
    """Index the default corpus when the collection is empty, saying so: it takes a while."""
    s = assistant.settings.store
    if assistant.store.count() == 0:
        progress.say(f"first run: indexing {s.default_corpus} into collection {s.collection!r}…")
    report = assistant.ensure_indexed(progress=progress.shown)
    if report is not None:
        progress.say(report.summary())


class ModelOnFirstUse(DeferredLLM):
    """The local model (llama_cpp), started when an answer first needs it, with a line on
    stderr before and after: the first start joins the model file from its packaged parts
    (a bar), and every start loads it, seconds to minutes of silence otherwise. A question
    that abstains before generation still starts nothing."""

    def __init__(self, settings: Settings, progress: Progress) -> None:
        self.name = settings.generation.llm_model
        self._settings = settings
        self._progress = progress
        self._llm: LLM | None = None
        self._lock = threading.Lock()  # one start, however many threads ask at once

    def started(self) -> LLM:
        with self._lock:
            if self._llm is None:
                s, progress = self._settings, self._progress
                with progress.step(f"starting the model {self.name}", "model ready"):
                    resolve_model_path(self.name, s.store.home, progress=progress.shown)
                    self._llm = make_llm(s)
            return self._llm

    def target(self) -> LLM:
        return self.started()

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()


def _cmd_ask(assistant: Assistant, args: argparse.Namespace) -> int:
    clean_question(
        args.question, assistant.settings.question.max_question_chars
    )  # fail before indexing
    _index_first_run(assistant, progress_for(args))
    if args.json:
        print(json.dumps(assistant.ask(args.question).to_json(), ensure_ascii=False))
        return 0
    AnswerPrinter().show(assistant.stream(args.question))
    return 0


def _cmd_brief(assistant: Assistant, args: argparse.Namespace) -> int:
    from qa.retrieve.filters import ArticleFilter

    clean_question(args.topic, assistant.settings.question.max_question_chars)
    r = assistant.settings.retrieval
    filters = ArticleFilter.of(r.since, r.until, r.outlets, r.authors)
    _index_first_run(assistant, progress_for(args))
    if args.json:
        print(json.dumps(assistant.brief(args.topic, filters).to_json(), ensure_ascii=False))
        return 0
    AnswerPrinter().show(assistant.stream_brief(args.topic, filters))
    return 0


CHAT_HELP = (
    "Ask about the indexed articles. After an answer: /up or /down [note] rates it, "
    "/wrong N marks citation [N] wrong, /export FILE.md saves the conversation. "
    "/quit or Ctrl-D to quit."
)


QUIT = ("/quit", "/exit")


def _cmd_chat(assistant: Assistant, args: argparse.Namespace) -> int:
    _index_first_run(assistant, progress_for(args))
    if isinstance(assistant.llm, ModelOnFirstUse):
        assistant.llm.started()  # now, not after the first "bot> " a question prints
    chat = Conversation(assistant)
    printer = AnswerPrinter(always_stream=True)  # a chat streams even into a pipe
    print(CHAT_HELP)
    typed_ahead: list[str] = []
    answers: list[Answer] = []
    while True:
        try:
            question = read_question("\nyou> ", "".join(typed_ahead))
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        typed_ahead.clear()
        if question.strip() in QUIT:
            return 0
        if not question.strip():
            continue  # an Enter pressed twice, or a blank pasted line, ends nothing
        try:
            if question.strip().startswith("/"):
                print(chat_command(assistant, question.strip(), answers))
                continue
            with keys_held(typed_ahead):
                answers.append(printer.show(chat.stream(question), prefix="bot> "))
        except UserError as exc:
            print(f"\nerror: {exc}")


def chat_command(assistant: Assistant, line: str, answers: list[Answer]) -> str:
    """/up, /down [note], /wrong N, /export FILE: feedback on the last answer, or the
    conversation as Markdown."""
    from qa.feedback import conversation_markdown

    command, _, rest = line.partition(" ")
    if command == "/export":
        if not rest.strip():
            raise UserError("/export needs a file name, e.g. /export chat.md")
        Path(rest.strip()).write_text(conversation_markdown(answers), encoding="utf-8")
        return f"{plural(len(answers), 'answer')} written to {rest.strip()}"
    if command not in ("/up", "/down", "/wrong"):
        raise UserError(
            f"unknown command {command}; use /up, /down, /wrong N, /export FILE or /quit"
        )
    if not answers:
        raise UserError("ask a question first: feedback is about the last answer")
    if command == "/wrong":
        if not rest.strip().isdigit():
            raise UserError("/wrong needs the citation's number, e.g. /wrong 2")
        assistant.feedback(answers[-1], "", [int(rest.strip())])
        return f"recorded: citation [{rest.strip()}] is wrong"
    assistant.feedback(answers[-1], "up" if command == "/up" else "down", note=rest.strip())
    return f"recorded: {'👍' if command == '/up' else '👎'}"


def _cmd_ui(assistant: Assistant, args: argparse.Namespace) -> int:
    from ui.app import launch  # Gradio loads only for the web page

    launch(assistant.settings, args.host, args.port, open_browser=not args.no_browser)
    return 0


def _cmd_serve(assistant: Assistant, args: argparse.Namespace) -> int:
    from ui.openai_api import serve
    from ui.service import ChatService

    service = ChatService(assistant.settings)
    service.warm_up()
    key = assistant.settings.ui.api_key
    print(f"OpenAI-compatible API at http://{args.host}:{args.port}/v1 (models: newsqa, "
          f"newsqa/<collection>){'; API key required' if key else ''}", flush=True)  # fmt: skip
    serve(service, args.host, args.port, key.get_secret_value() if key else "")
    return 0


def _cmd_balance(assistant: Assistant, args: argparse.Namespace) -> int:
    from qa.runtime.balancer import run

    run(args.host, args.port, args.backends, ready=lambda line: print(line, flush=True))
    return 0


def _cmd_services(assistant: Assistant, args: argparse.Namespace) -> int:
    from qa.runtime.services import run

    return run(args.config, print_env=args.print_env, dry_run=args.dry_run)


def _cmd_doctor(assistant: Assistant, args: argparse.Namespace) -> int:
    from qa.cli.doctor import doctor

    return doctor(assistant.settings, as_json=args.json)


def _cmd_embed_server(assistant: Assistant, args: argparse.Namespace) -> int:
    from index.embedding.embedders import make_embedder
    from index.embedding.server import serve

    name = args.embedder or assistant.settings.embedding.embedder
    try:
        embedder = make_embedder(name, assistant.settings.embedding.embed_batch_size)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    configure_logging(max(args.verbose, 1))  # a server says what it serves and when it stops
    serve(embedder, args.host, args.port)
    return 0


def _cmd_eval(assistant: Assistant, args: argparse.Namespace) -> int:
    from evals.runner import format_comparison, format_table, load_summary, run_eval

    if args.compare:
        runs = {p.parent.name or str(p): load_summary(p) for p in args.compare}
        if len(args.compare) < 2:
            raise UserError("qa eval --compare needs two or more summary.json files")
        if len(args.compare) == 2:
            print(format_comparison(*(load_summary(p) for p in args.compare)))
        else:
            print(format_table(runs))
        return 0
    if not args.gold:
        raise UserError("qa eval needs --gold FILE (or --compare A B)")
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or key not in Settings.field_names():
            raise UserError(f"--set {item!r}: use KEY=VALUE with a field of qa.Settings")
        overrides[key] = value
    settings = Settings.model_validate({**assistant.settings.model_dump(), **overrides})
    corpus = args.corpus or settings.store.default_corpus
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = args.out or Path("eval-runs") / stamp
    summary = run_eval(
        args.gold, corpus, out, settings, args.limit, progress=not args.quiet, judge_name=args.judge
    )
    m = summary["metrics"]
    print(
        f"accuracy {_pct(m.get('accuracy'))}, abstention on unanswerable "
        f"{_pct(m.get('abstention_rate'))}, citation precision {_pct(m.get('citation_precision'))}"
        f" over {plural(summary['questions'], 'question')}; report: {out / 'report.md'}"
    )
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


# What each `qa` command runs.
HANDLERS = {
    "index": _cmd_index,
    "feed": _cmd_feed,
    "feedback": _cmd_feedback,
    "ask": _cmd_ask,
    "brief": _cmd_brief,
    "chat": _cmd_chat,
    "ui": _cmd_ui,
    "serve": _cmd_serve,
    "eval": _cmd_eval,
    "doctor": _cmd_doctor,
    "balance": _cmd_balance,
    "services": _cmd_services,
    "embed-server": _cmd_embed_server,
}

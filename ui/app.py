"""The chat page: `qa ui` serves it (gr.Blocks).

Left: the conversation, streamed token by token, with a Stop button and example questions.
Right: the sources of the last answer with the quoted span highlighted and the whole article
one click away. Tabs below: uploading articles, what is indexed, and settings. The same
answering path is an API endpoint (`/ask`) for gradio_client.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any, ParamSpec, TypeVar

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no phoning home

import gradio as gr  # noqa: E402
from pydantic import ValidationError, validate_call  # noqa: E402

from index.words import plural  # noqa: E402
from qa.conversation import add_turn, fit_history, history_budget  # noqa: E402
from qa.core.answer_stream import (  # noqa: E402
    AnswerStream,
    Progress,
    SourcesFound,
    VerifiedText,
)
from qa.core.errors import UserError  # noqa: E402
from qa.core.settings import Settings  # noqa: E402
from qa.core.types import Answer  # noqa: E402
from qa.retrieve.filters import ArticleFilter  # noqa: E402
from ui import render  # noqa: E402
from ui.service import UPLOAD_TYPES, ChatService, check_collection_name  # noqa: E402

EXAMPLES = [
    "Who accompanied Kim at the extended talks?",
    "When will Biegun meet Russian officials in Moscow?",
    "How long did the summit meetings last?",
    "Which airline scheduled an extra flight to Vladivostok?",
]

Messages = list[dict[str, str]]


STOPPED_NOTE = "*(stopped)*"
# Under each answer: the thumbs, and a flag menu with this one entry.
CITATION_WRONG = "A citation is wrong"
FEEDBACK_OPTIONS = ("Like", "Dislike", CITATION_WRONG)


def _session(request: gr.Request | None) -> str:
    return str(getattr(request, "session_hash", None) or "default")


def _error_text(exc: Exception) -> str:
    return f"**Error:** {exc}" if isinstance(exc, UserError) else f"**Something went wrong:** {exc}"


P = ParamSpec("P")
R = TypeVar("R")


def page_api(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` as an API endpoint: its arguments checked against its type hints, and a refused
    request told to the client in one line (the CLI's words), with no trace in the log."""
    checked: Callable[..., R] = validate_call(fn)  # called by name below
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            # By name: gradio passes arguments by position, and an error should name one.
            return checked(**signature.bind(*args, **kwargs).arguments)
        except ValidationError as exc:
            raise gr.Error(render.problem_line(exc.errors()), print_exception=False) from None
        except UserError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    return call


def api_collection(name: str) -> str | None:
    """The collection an API call names (checked as the CLI checks it); None: the default."""
    return check_collection_name(name) if name else None


def build_app(service: ChatService) -> gr.Blocks:
    settings = service.settings
    budget = history_budget(settings)  # characters of history the model's context holds
    with gr.Blocks(title="News QA") as app:
        history = gr.State([])  # [(stand-alone question, answer text)] for follow-ups
        answered = gr.State({})  # chat message index -> that answer's JSON (feedback, export)
        sourced = gr.State({})  # question number -> that answer's sources (the panel keeps all)
        gr.Markdown(
            "## News QA\nAsk about the indexed articles. Every answer cites the passage it "
            "comes from, or says the articles don't answer it."
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                # Export sits in the chat's own toolbar; rating an answer and marking one of
                # its citations wrong are the actions under each answer.
                export_button = gr.Button("Export (Markdown)", size="sm", elem_id="export",
                                          render=False)  # fmt: skip
                chatbot = gr.Chatbot(
                    label="Conversation",
                    height=480,
                    elem_id="chat",
                    feedback_options=FEEDBACK_OPTIONS,
                    buttons=["copy", "copy_all", export_button],
                    # Shown in the empty chat, above the fold; a click asks it.
                    examples=[{"text": q} for q in EXAMPLES],
                )
                with gr.Row(elem_id="question-row", equal_height=True):
                    question = gr.Textbox(
                        placeholder="Ask about the articles…",
                        show_label=False,
                        scale=1,
                        min_width=140,
                        elem_id="question",
                        max_length=settings.question.max_question_chars,
                    )
                    send = gr.Button(
                        "Send", variant="primary", scale=0, min_width=70, elem_id="send"
                    )
                    stop = gr.Button("Stop", variant="stop", scale=0, min_width=70, elem_id="stop")
                with gr.Row(elem_id="filters"):
                    since = gr.Textbox(label="Since", placeholder="YYYY-MM-DD", scale=1,
                                       min_width=120, elem_id="since", max_length=10)  # fmt: skip
                    until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", scale=1,
                                       min_width=120, elem_id="until", max_length=10)  # fmt: skip
                    outlets = gr.Dropdown(
                        choices=service.outlets(),
                        multiselect=True,
                        label="Outlets (all when none is picked)",
                        scale=2,
                        min_width=200,
                        elem_id="outlets",
                    )
                # Asked only when an answer flagged "a citation is wrong" has several.
                wrong_target = gr.State(None)  # chat message index of the flagged answer
                flagged = gr.State([])  # chat message indices flagged "a citation is wrong"
                with gr.Row(elem_id="wrong-row", visible=False) as wrong_row:
                    wrong_pick = gr.Dropdown(
                        choices=[],
                        label="Which citation of that answer is wrong?",
                        scale=0,
                        min_width=90,
                        elem_id="wrong-pick",
                    )
                    mark_wrong = gr.Button("Record it", size="sm", scale=0, min_width=100,
                                           elem_id="mark-wrong")  # fmt: skip
                feedback_note = gr.Markdown(elem_id="feedback-note")
                export_file = gr.File(label="Download the exported conversation", visible=False,
                                      elem_id="export-file")  # fmt: skip
                with gr.Row(elem_id="chat-actions"):
                    small = functools.partial(gr.Button, size="sm", scale=0, min_width=180)
                    brief = small("Brief me on the box's topic", elem_id="brief")
                    clear = small("New conversation")
            with gr.Column(scale=2, min_width=300):
                gr.Markdown("### Sources")
                sources = gr.HTML(render.sources_panel(empty=True), elem_id="sources")

        with gr.Tab("Add articles"):
            with gr.Row():
                collection = gr.Dropdown(
                    choices=service.collections(),
                    value=settings.store.collection,
                    label="Collection (questions and uploads use it)",
                    allow_custom_value=True,
                    elem_id="collection",
                )
                refresh = gr.Button("Refresh", size="sm")
            files = gr.File(
                label=f"Articles ({', '.join(UPLOAD_TYPES)})",
                file_count="multiple",
                file_types=list(UPLOAD_TYPES),
                elem_id="upload",
            )
            replace = gr.Checkbox(
                label="Replace articles of the same name (else a new file is kept beside them)",
                value=False,
                elem_id="replace",
            )
            add = gr.Button("Add to collection", variant="primary", elem_id="add")
            upload_summary = gr.Markdown(elem_id="upload-summary")
            with gr.Row():
                web_address = gr.Textbox(
                    label="Add a feed (RSS or Atom) or a web page: its address",
                    placeholder="https://…/feed.xml or https://…/article.html",
                    scale=4,
                    elem_id="web-address",
                )
                add_web = gr.Button("Add", scale=1, elem_id="add-web")
                refresh_feeds = gr.Button("Refresh feeds", scale=1, elem_id="refresh-feeds")
            web_summary = gr.Markdown(elem_id="web-summary")
        with gr.Tab("Indexed articles"):
            table = gr.Dataframe(headers=render.INDEX_HEADERS, interactive=False, wrap=True)
        with gr.Accordion("Settings", open=False):
            top_k = gr.Slider(
                1, 20, value=settings.retrieval.top_k, step=1, label="Passages retrieved"
            )
            model = gr.Dropdown(
                service.models(), value=settings.generation.llm_model, label="Model"
            )

        # --- chat --------------------------------------------------------------------------
        turns_started = itertools.count(1)
        # Stop sets a flag the running answer checks between tokens: generation really ends
        # and the one model is free for the next question at once.
        stop_flags: dict[str, threading.Event] = {}

        def chat_handler(kind: str) -> Callable[..., Iterator[tuple[Any, ...]]]:
            """The chat's handler: an answer to the box's text, or ("brief") a cited
            briefing with the box's text as its topic."""

            def handle(
                text: str,
                chat: Messages,
                turns: list,
                answers: dict[int, dict],
                panels: dict[int, str],
                coll: str,
                k: int,
                model_name: str,
                since_day: str,
                until_day: str,
                picked: list[str] | None,
                request: gr.Request,
            ) -> Iterator[tuple[Any, ...]]:
                def start(filters: ArticleFilter | None) -> AnswerStream:
                    if kind == "brief":
                        return service.stream_brief(text, coll, model_name, filters)
                    return service.stream(text, fit_history(turns, budget), coll, int(k),
                                          model_name, filters)  # fmt: skip

                shown = f"Briefing: {text}" if kind == "brief" else text
                yield from reply(shown, chat, turns, answers, panels, start, since_day,
                                 until_day, picked, request)  # fmt: skip

            return handle

        respond, respond_brief = chat_handler("ask"), chat_handler("brief")

        def reply(
            text: str,
            chat: Messages,
            turns: list,
            answers: dict[int, dict],
            panels: dict[int, str],
            start: Callable[[ArticleFilter | None], AnswerStream],
            since_day: str,
            until_day: str,
            picked: list[str] | None,
            request: gr.Request,
        ) -> Iterator[tuple[Any, ...]]:
            turn = next(turns_started)
            stop_flag = stop_flags.setdefault(_session(request), threading.Event())
            stop_flag.clear()
            chat = [*chat, {"role": "user", "content": text}, {"role": "assistant", "content": ""}]
            earlier = [panels[t] for t in sorted(panels, reverse=True)]
            # The notes of the last answer go: the citation question, the feedback, the export.
            cleared = (gr.update(visible=False), gr.update(value=""),
                       gr.update(value=None, visible=False))  # fmt: skip

            step = "searching"

            def emit(section: str, reply: str, done: bool = False) -> tuple[Any, ...]:
                chat[-1] = {"role": "assistant", "content": reply}
                panel = render.sources_panel([section, *earlier], turn, done)
                return (chat, panel, turns, answers, panels, *cleared)

            def reading(found: SourcesFound | None = None) -> str:
                return render.answer_sources(None, service.article_text, turn, text, found)

            yield emit(reading(), render.pending_markdown(None, "searching", turn))
            answer: Answer | None = None
            found: SourcesFound | None = None
            verified: VerifiedText | None = None
            try:
                stream = start(page_filter(since_day, until_day, picked))
            except Exception as exc:
                yield emit(reading(), _error_text(exc), done=True)
                return
            try:
                # The draft is never shown: only the passages found, the steps, and the
                # sentences verified so far.
                for event in stream.events():
                    if stop_flag.is_set():
                        break
                    if isinstance(event, Progress):
                        step = event.step
                    elif isinstance(event, SourcesFound):
                        found = event
                    elif isinstance(event, VerifiedText):
                        verified = event
                    else:
                        continue
                    yield emit(reading(found), render.pending_markdown(verified, step, turn))
                if not stop_flag.is_set():
                    answer = stream.answer
            except Exception as exc:  # the page shows every failure as a message, never a trace
                yield emit(reading(found), _error_text(exc), done=True)
                return
            finally:
                stream.close()  # ends the model's generation and frees it
            if answer is None:  # stopped
                shown = render.linked_markers(verified.text, len(verified.citations), turn) \
                    if verified else ""  # fmt: skip
                yield emit(reading(found), f"{shown} {STOPPED_NOTE}".strip(), done=True)
                return
            turns = add_turn(turns, answer)
            # Feedback and the export read the answer behind each message of the chat.
            answers = {**answers, len(chat) - 1: answer.to_json()}
            section = render.answer_sources(answer, service.article_text, turn, text)
            panels = {**panels, turn: section}
            chat[-1] = {"role": "assistant", "content": render.answer_markdown(answer, turn)}
            final = render.sources_panel([section, *earlier], turn, done=True)
            yield (chat, final, turns, answers, panels, *cleared)

        def request_stop(request: gr.Request) -> None:
            flag = stop_flags.get(_session(request))
            if flag is not None:
                flag.set()

        # The box empties once, as the question is sent; the answer reads the question from
        # `asked` and never writes the box, so what the user types next is never wiped.
        asked = gr.State("")
        chat_inputs = [asked, chatbot, history, answered, sourced, collection, top_k, model,
                       since, until, outlets]  # fmt: skip
        chat_outputs = [chatbot, sources, history, answered, sourced, wrong_row, feedback_note,
                        export_file]  # fmt: skip
        # Answers share one queue, as wide as the backend decodes at once (llm_parallel
        # slots of the local model; 1: one answer at a time, the others wait their turn).
        at_once = service.concurrent_answers

        def take_question(text: str) -> tuple[str, str]:
            return "", text

        for trigger, handler in ((send.click, respond), (question.submit, respond),
                                 (brief.click, respond_brief)):  # fmt: skip
            trigger(take_question, question, [question, asked], queue=False,
                    api_visibility="private").then(
                handler, chat_inputs, chat_outputs, api_visibility="private",
                concurrency_id="llm", concurrency_limit=at_once)  # fmt: skip
        stop.click(request_stop, queue=False, api_visibility="private")

        def pick_example(selected: gr.SelectData) -> str:
            value = selected.value
            return str(value.get("text", "")) if isinstance(value, dict) else str(value)

        chatbot.example_select(pick_example, None, asked, api_visibility="private").then(
            respond, chat_inputs, chat_outputs, api_visibility="private", concurrency_id="llm",
            concurrency_limit=at_once)  # fmt: skip

        def new_conversation() -> tuple[Any, ...]:
            return ([], [], render.sources_panel(empty=True), {}, {}, [], gr.update(visible=False),
                    "", gr.update(value=None, visible=False))  # fmt: skip

        # "New conversation" and the chat's own bin forget the same things.
        for forget in (clear.click, chatbot.clear):
            forget(new_conversation, outputs=[chatbot, history, sources, answered, sourced,
                                              flagged, wrong_row, feedback_note, export_file],
                   api_visibility="private")  # fmt: skip

        # --- feedback and export ---------------------------------------------------------
        def on_like(
            verdict: gr.LikeData, answers: dict[int, dict], flagged: list[int], coll: str
        ) -> tuple[Any, ...]:
            """A thumb or the flag under an answer. Flagged with one citation, that one is
            recorded at once; with several, the row above asks which."""
            index = verdict.index[0] if isinstance(verdict.index, list | tuple) else verdict.index
            index = int(index)
            shown = answers.get(index)
            unchanged = (gr.skip(), gr.skip(), gr.skip())
            if shown is None:
                return "Only answers can be rated.", *unchanged, flagged
            if verdict.liked == CITATION_WRONG:
                if index in flagged:  # the page sends a menu choice twice: record it once
                    return gr.skip(), *unchanged, flagged
                flagged = [*flagged, index]
                count = len(shown.get("citations") or ())
                if count == 0:
                    return "That answer cites nothing.", *unchanged, flagged
                if count > 1:
                    picks = [f"[{n}]" for n in range(1, count + 1)]
                    return ("", gr.update(visible=True),
                            gr.update(choices=picks, value=None), index, flagged)  # fmt: skip
                return record_wrong(shown, 1, coll), *unchanged, flagged
            if verdict.liked not in (True, False):  # a choice taken back: nothing to record
                return "", *unchanged, [i for i in flagged if i != index]
            rating = "up" if verdict.liked else "down"
            try:
                service.feedback(shown, rating, (), coll)
            except Exception as exc:
                return _error_text(exc), *unchanged, flagged
            note = f"Thanks: recorded as {'helpful' if rating == 'up' else 'not helpful'}."
            return note, *unchanged, flagged

        def record_wrong(shown: dict, number: int, coll: str) -> str:
            try:
                service.feedback(shown, "", [number], coll)
            except Exception as exc:
                return _error_text(exc)
            return f"Thanks: citation [{number}] recorded as wrong."

        def citation_wrong(
            pick: str | None, target: int | None, answers: dict[int, dict], coll: str
        ) -> tuple[str, Any]:
            shown = answers.get(target) if target is not None else None
            if shown is None or not pick:
                return "Pick the citation that is wrong.", gr.update()
            return record_wrong(shown, int(pick.strip("[]")), coll), gr.update(visible=False)

        def export(answers: dict[int, dict]) -> Any:
            if not answers:
                gr.Warning("Nothing to export yet: ask a question first.")
                return gr.update(value=None, visible=False)
            path = service.export_conversation([answers[i] for i in sorted(answers)])
            return gr.update(value=path, visible=True)

        chatbot.like(on_like, [answered, flagged, collection],
                     [feedback_note, wrong_row, wrong_pick, wrong_target, flagged],
                     api_visibility="private")  # fmt: skip
        mark_wrong.click(citation_wrong, [wrong_pick, wrong_target, answered, collection],
                         [feedback_note, wrong_row], api_visibility="private")  # fmt: skip
        export_button.click(export, answered, export_file, api_visibility="private")

        # --- uploads and the index table ---------------------------------------------------
        def add_files(
            paths: list[str] | None,
            coll: str,
            replace_same_name: bool,
            progress=gr.Progress(track_tqdm=True),  # noqa: B008
        ):
            if not paths:
                return "Choose one or more article files first.", gr.update(), gr.update()
            try:
                coll = check_collection_name(coll)
                progress(0, desc="indexing")
                report = service.add_files(paths, coll, replace=bool(replace_same_name))
            except Exception as exc:
                return _error_text(exc), gr.update(), gr.update()
            return (
                upload_report(report),
                gr.update(choices=service.collections(), value=coll),
                render.index_rows(service.documents(coll)),
            )

        add.click(add_files, [files, collection, replace], [upload_summary, collection, table],
                  concurrency_id="index")  # fmt: skip

        def add_address(address: str, coll: str, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
            if not address.strip():
                return "Type the address of a feed or a page first.", gr.update(), gr.update()
            try:
                coll = check_collection_name(coll)
                progress(0, desc="fetching")
                text = service.add_address(address.strip(), coll)
            except Exception as exc:
                return _error_text(exc), gr.update(), gr.update()
            rows = render.index_rows(service.documents(coll))
            return text, rows, gr.update(choices=service.outlets(coll))

        def refresh_all(coll: str, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
            try:
                coll = check_collection_name(coll)
                progress(0, desc="refreshing")
                text = service.refresh_feeds(coll)
            except Exception as exc:
                return _error_text(exc), gr.update(), gr.update()
            rows = render.index_rows(service.documents(coll))
            return text, rows, gr.update(choices=service.outlets(coll))

        web_outputs = [web_summary, table, outlets]
        add_web.click(add_address, [web_address, collection], web_outputs, concurrency_id="index")
        refresh_feeds.click(refresh_all, [collection], web_outputs, concurrency_id="index")

        def show_index(coll: str) -> Any:
            try:
                coll = check_collection_name(coll)
                rows = render.index_rows(service.documents(coll))
                return rows, gr.update(choices=service.outlets(coll))
            except Exception as exc:
                gr.Warning(_error_text(exc))
                return [], gr.update()

        collection.change(show_index, collection, [table, outlets])
        refresh.click(lambda: gr.update(choices=service.collections()), outputs=collection)
        app.load(show_index, collection, [table, outlets])

        # --- API for gradio_client ---------------------------------------------------------
        def ask(
            question: str,
            collection: str = "",
            top_k: int = 0,
            since: str = "",
            until: str = "",
            outlets: list[str] | None = None,
        ) -> dict[str, Any]:
            """Answer one question; returns the `qa ask --json` object. `since`/`until`
            (YYYY-MM-DD) and `outlets` answer only from those articles."""
            filters = page_filter(since, until, outlets)
            stream = service.stream(question, (), api_collection(collection), top_k or None,
                                    None, filters)  # fmt: skip
            return stream.answer.to_json()

        gr.api(page_api(ask), api_name="ask", concurrency_id="llm", concurrency_limit=at_once)

        def feedback(
            answer: dict[str, Any],
            rating: str = "",
            wrong_citations: list[int] | None = None,
            note: str = "",
            collection: str = "",
        ) -> dict[str, Any]:
            """Record a thumbs up/down ("up"/"down") and/or wrong citations (numbers from 1)
            on an answer `/ask` returned; returns the stored record."""
            try:
                Answer.from_json(answer)
            except (AttributeError, TypeError) as exc:  # citations that are not objects
                raise UserError("'answer' must be the object /ask returned") from exc
            stored = service.feedback(answer, rating, wrong_citations or (),
                                      api_collection(collection), note)  # fmt: skip
            return asdict(stored)

        gr.api(page_api(feedback), api_name="feedback")

        def brief_api(
            topic: str,
            collection: str = "",
            since: str = "",
            until: str = "",
            outlets: list[str] | None = None,
        ) -> dict[str, Any]:
            """A cited briefing on `topic` over many articles; the `qa brief --json` object."""
            filters = page_filter(since, until, outlets)
            stream = service.stream_brief(topic, api_collection(collection), None, filters)
            return stream.answer.to_json()

        gr.api(page_api(brief_api), api_name="brief", concurrency_id="llm",
               concurrency_limit=at_once)  # fmt: skip
    app.queue(default_concurrency_limit=1)
    return app


def page_filter(since: str, until: str, outlets: list[str] | None) -> ArticleFilter | None:
    """The page's date range and outlet picker as a filter; None when nothing is set (the
    settings' filter applies)."""
    chosen = ArticleFilter.of(since or None, until or None, outlets or ())
    return None if chosen.empty else chosen


def upload_report(report: Any) -> str:
    lines = [
        f"**{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.skipped)} skipped** "
        f"({plural(report.chunks_embedded, 'passage')} embedded)"
    ]
    lines += [f"- skipped `{name}`: {reason}" for name, reason in report.skipped]
    lines += [f"- {note}" for note in report.notes]
    return "\n".join(lines)


def login(settings: Settings) -> tuple[str, str] | None:
    """The page asks for a login only when both QA_UI_USERNAME and QA_UI_PASSWORD are set."""
    if settings.ui.ui_username and settings.ui.ui_password:
        return settings.ui.ui_username, settings.ui.ui_password.get_secret_value()
    return None


# System fonts only: the page must not fetch anything from outside.
THEME = gr.themes.Soft(font=["system-ui", "sans-serif"], font_mono=["monospace"])


def launch(settings: Settings, host: str, port: int, open_browser: bool) -> None:
    service = ChatService(settings)
    report = service.warm_up()
    if report is not None:
        print(f"indexed {settings.store.default_corpus}: {report.summary()}", flush=True)
    build_app(service).launch(
        server_name=host,
        server_port=port,
        inbrowser=open_browser,
        auth=login(settings),
        show_error=False,
        footer_links=[],
        ssr_mode=False,
        theme=THEME,
        css=render.CSS,
        head=render.HEAD,
        # Gradio's worker threads (40 by default) must not cap the answers the backend
        # could run at once (QA_LLM_CONCURRENCY may be larger for a remote server).
        max_threads=max(40, service.concurrent_answers + 8),
    )

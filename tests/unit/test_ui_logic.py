"""The web page's logic without a browser: rendering, upload safety, collections, streaming."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import gradio as gr
import pytest

from index.types import ArticleInfo
from qa.core.errors import UserError
from qa.core.types import Answer, Citation, RetrievedSource
from ui import render
from ui.app import build_app, upload_report
from ui.service import ChatService, check_collection_name, safe_file_name

ARTICLE = "Intro line.\nKim met <b>Putin</b> & aides in Vladivostok.\nMore text after it."
QUOTE = "Kim met <b>Putin</b> & aides in Vladivostok."


def _citation(path: Path, start: int, end: int) -> Citation:
    article = ArticleInfo(source=path.name, path=str(path),
                          title="Summit <script>alert(1)</script>", outlet="KBS",
                          published="2019-04-25T00:00:00")  # fmt: skip
    return Citation(article, quote=ARTICLE[start:end], start=start, end=end)


def _answer(citations: list[Citation], abstained: bool = False, text: str = "") -> Answer:
    return Answer(
        question="Where did they meet?",
        text=text or "They met in Vladivostok. [1]",
        citations=citations,
        abstained=abstained,
        retrieved=[RetrievedSource(c.source, 0.8) for c in citations]
        + [RetrievedSource("other.txt", 0.3)],
    )


@pytest.fixture
def article(tmp_path: Path) -> Path:
    path = tmp_path / "004_summit.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    return path


def test_markers_link_to_their_own_answers_source_cards() -> None:
    answer = _answer([], text="A [1]. B [2]. C [3].")
    answer.citations = [None, None]  # type: ignore[list-item]
    md = render.answer_markdown(answer, turn=7)
    assert "[[1]](#source-7-1)" in md and "[[2]](#source-7-2)" in md
    assert "[3]" in md and "(#source-7-3)" not in md  # no card, no link
    assert "(#source-8-1)" in render.answer_markdown(answer, turn=8)  # another answer's own


def test_every_answer_keeps_its_own_cards_in_the_panel(article: Path) -> None:
    start = ARTICLE.index(QUOTE)
    c = _citation(article, start, start + len(QUOTE))
    first = render.answer_sources(_answer([c]), lambda cit: ARTICLE, 1, "Where did they meet?")
    second = render.answer_sources(_answer([c]), lambda cit: ARTICLE, 2, "And when?")
    panel = render.sources_panel([second, first], turn=2, done=True)
    assert "id='source-1-1'" in panel and "id='source-2-1'" in panel
    assert panel.index("And when?") < panel.index("Where did they meet?")  # newest first
    assert "data-turn='2' data-done='1'" in panel


def test_the_filter_in_force_is_said_under_the_answer() -> None:
    answer = _answer([], text="They met in Vladivostok.")
    answer.filters = "since 2019-04-24, outlet KBS"
    md = render.answer_markdown(answer)
    assert "From articles since 2019-04-24, outlet KBS." in md
    assert "From articles" not in render.answer_markdown(_answer([], text="x"))


def test_an_answer_on_its_way_shows_only_verified_text_and_its_step(article: Path) -> None:
    from qa.core.answer_stream import SourcesFound, VerifiedText

    waiting = render.pending_markdown(None, "reading", 3)
    assert "qa-status" in waiting and "<b>Reading the passages…</b>" in waiting
    assert "Searching the articles" in waiting and "Checking" not in waiting
    c = _citation(article, 12, 12 + len(QUOTE))
    shown = render.pending_markdown(VerifiedText("They met. [1]", [c]), "checking", 3)
    assert shown.startswith("They met. [[1]](#source-3-1)")
    assert "<b>Checking the sources…</b>" in shown
    reading = render.answer_sources(None, lambda cit: ARTICLE, 3, "Q?", SourcesFound([c]))
    assert "The passages being read" in reading and "id='passage-3-1'" in reading


def test_abstention_is_shown_as_a_notice() -> None:
    text = "The indexed articles don't say: nothing in them answers this question."
    notice = render.answer_markdown(_answer([], abstained=True, text=text))
    plain = render.answer_markdown(_answer([], abstained=False, text=text))
    assert notice == f"{render.INFO_ICON} *{text}*"  # set apart: an icon and italics
    assert not any(ord(ch) > 0x2000 for ch in render.INFO_ICON)  # drawn, not an emoji
    assert plain == text  # an answer with the same words is not dressed as a notice


def test_source_card_highlights_exactly_the_quote_and_escapes_html(article: Path) -> None:
    start = ARTICLE.index(QUOTE)
    c = _citation(article, start, start + len(QUOTE))
    html = render.answer_sources(_answer([c]), lambda cit: ARTICLE, 1)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>" not in html  # article markup is text, not HTML
    marked = "<mark>Kim met &lt;b&gt;Putin&lt;/b&gt; &amp; aides in Vladivostok.</mark>"
    assert html.count(marked) == 2  # in the passage and in the whole-article view
    assert "id='source-1-1'" in html and "004_summit.txt" in html and "KBS" in html
    assert "2019-04-25" in html and f"characters {start}–{start + len(QUOTE)}" in html
    assert "Also retrieved, not cited (1)" in html and "other.txt" in html


def test_source_card_without_the_file_shows_the_stored_quote(article: Path) -> None:
    c = _citation(article, 12, 12 + len(QUOTE))
    html = render.answer_sources(_answer([c]), lambda cit: None, 1)
    assert "no longer available" in html
    assert "<mark>Kim met &lt;b&gt;" in html


def test_passage_context_is_cut_at_word_boundaries() -> None:
    text = "word " * 200 + "QUOTE HERE" + " tail" * 200
    start = text.index("QUOTE")
    shown = render.passage_with_quote(text, start, start + 10)
    assert shown.startswith("… word") and shown.endswith("tail …")
    assert "<mark>QUOTE HERE</mark>" in shown


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\evil.txt", "evil.txt"),
        ("/abs/path/news.md", "news.md"),
        ("..", "article.txt"),
        ("ünïcode name?.html", "_n_code name_.html"),
    ],
)
def test_uploaded_file_names_cannot_leave_the_folder(sent: str, expected: str) -> None:
    assert safe_file_name(sent) == expected


@pytest.mark.parametrize("name", ["a", "../seeds", "bad name", "x__files", "-lead", "a" * 70])
def test_bad_collection_names_are_refused(name: str) -> None:
    with pytest.raises(UserError):
        check_collection_name(name)


def test_service_uploads_index_and_list(make_settings, tmp_path: Path) -> None:
    service = ChatService(make_settings(embedder="hash", llm_backend="fake", min_relevance=-1.0))
    good = tmp_path / "ferry.txt"
    good.write_text(
        "Title: Solar ferry opens\n\nThe solar ferry Tern carries 48 passengers across the bay.",
        encoding="utf-8",
    )
    bad = tmp_path / "notes.exe"
    bad.write_bytes(b"MZ\x00\x01")
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")

    report = service.add_files([good, bad, empty], "mynews")
    assert report.added == ["ferry.txt"]
    assert {name for name, _ in report.skipped} == {"notes.exe", "empty.txt"}
    assert (service.settings.store.home / "uploads" / "mynews" / "ferry.txt").is_file()
    assert "mynews" in service.collections()
    assert [r.source for r in service.documents("mynews")] == ["ferry.txt"]
    summary = upload_report(report)
    assert "1 added" in summary and "notes.exe" in summary

    answer = service.stream("How many passengers does the ferry Tern carry?", (), "mynews").answer
    assert isinstance(answer, Answer) and not answer.abstained
    assert "48 passengers" in answer.text
    assert service.article_text(answer.citations[0]) is not None


def test_unknown_model_is_a_clear_error(make_settings) -> None:
    service = ChatService(make_settings(embedder="hash", llm_backend="fake"))
    with pytest.raises(UserError, match="not available"):
        service.assistant(model="gpt-9000")


def test_the_page_builds_with_its_api_endpoint(make_settings) -> None:
    service = ChatService(make_settings(embedder="hash", llm_backend="fake"))
    app = build_app(service)
    api_names = {dep.api_name for dep in app.fns.values() if dep.api_name}
    assert "ask" in api_names


def _handler(app, name: str):
    (fn,) = [dep.fn for dep in app.fns.values() if getattr(dep.fn, "__name__", "") == name]
    return fn


def test_the_flag_under_an_answer_records_its_wrong_citation(make_settings, article) -> None:
    """Thumbs and "a citation is wrong" are actions under each answer: one citation is
    recorded at once; with several, the row that asks which opens for that answer."""
    from ui.app import CITATION_WRONG

    settings = make_settings()
    service = ChatService(settings)
    app = build_app(service)
    on_like, citation_wrong = _handler(app, "on_like"), _handler(app, "citation_wrong")
    one = _answer([_citation(article, 12, 56)]).to_json()
    two = _answer([_citation(article, 12, 56), _citation(article, 0, 11)]).to_json()
    answers = {1: one, 3: two}

    flagged: list[int] = []

    def flag(index: int, liked):
        nonlocal flagged
        *shown, flagged = on_like(
            gr.LikeData(None, {"index": index, "value": "", "liked": liked}), answers, flagged,
            "seeds")  # fmt: skip
        return tuple(shown)

    assert flag(1, True)[0] == "Thanks: recorded as helpful."
    assert flag(1, CITATION_WRONG)[0] == "Thanks: citation [1] recorded as wrong."
    assert flag(1, CITATION_WRONG)[0] == gr.skip()  # the page sends a menu choice twice
    note, row, pick, target = flag(3, CITATION_WRONG)
    assert (note, row["visible"], pick["choices"], target) == ("", True, ["[1]", "[2]"], 3)
    assert citation_wrong("[2]", target, answers, "seeds") == (
        "Thanks: citation [2] recorded as wrong.",
        gr.update(visible=False),
    )
    assert flag(0, False)[0] == "Only answers can be rated."  # the user's own message
    assert flag(1, "")[0] == ""  # a thumb taken back records nothing
    log = settings.store.home / "feedback" / "seeds.jsonl"
    rows = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [(r["rating"], r["wrong_citations"]) for r in rows] == [("up", []), ("", [1]),
                                                                  ("", [2])]  # fmt: skip
    assert rows[2]["answer"] == two["answer"] and len(rows[2]["citations"]) == 2
    # The chat's own bin forgets what "New conversation" forgets.
    forgets = [dep for dep in app.fns.values() if dep.fn.__name__ == "new_conversation"]
    assert len(forgets) == 2


def test_only_sending_a_question_empties_the_box(make_settings) -> None:
    """An answer still streaming never writes the question box: what the user types
    meanwhile is sent as typed (a late update used to wipe it, sending an empty question)."""
    app = build_app(ChatService(make_settings(embedder="hash", llm_backend="fake")))
    (box,) = [b for b in app.blocks.values() if getattr(b, "elem_id", None) == "question"]
    writers = {dep.fn.__name__ for dep in app.fns.values()
               if dep.fn is not None and any(o._id == box._id for o in dep.outputs)}  # fmt: skip
    assert writers == {"take_question"}
    senders = [dep for dep in app.fns.values() if dep.fn.__name__ == "take_question"]
    assert len(senders) == 3  # Send, Enter in the box, "Brief me"
    assert senders[0].fn("Who met Kim?") == ("", "Who met Kim?")


def test_login_only_when_both_name_and_password_are_set(make_settings) -> None:
    from ui.app import login

    assert login(make_settings()) is None
    assert login(make_settings(ui_username="ann")) is None
    settings = make_settings(ui_username="ann", ui_password="s3cret")
    assert login(settings) == ("ann", "s3cret")
    assert "s3cret" not in repr(settings)  # the password never shows in logs
    assert settings.fingerprint() == make_settings().fingerprint()


def test_qa_ui_passes_its_options_to_the_page_and_listens_on_loopback_by_default(
    monkeypatch, tmp_path
) -> None:
    import ui.app
    from qa.cli import main

    calls = []
    monkeypatch.setattr(ui.app, "launch", lambda *a, **kw: calls.append((a, kw)))
    monkeypatch.setenv("QA_HOME", str(tmp_path))
    assert main(["--collection", "mynews", "ui", "--host", "0.0.0.0", "--port", "9000",
                 "--no-browser"]) == 0  # fmt: skip
    assert main(["ui"]) == 0
    (settings, host, port), options = calls[0]
    assert (settings.store.collection, host, port, options) == ("mynews", "0.0.0.0", 9000,
                                                          {"open_browser": False})  # fmt: skip
    (_, host, port), options = calls[1]
    # Private unless asked: other machines cannot reach the page by default.
    assert (host, port, options) == ("127.0.0.1", 7860, {"open_browser": True})


# --- the page's API: every input checked (issue 33) -----------------------------------------


def _page_api(app, name: str):
    (fn,) = [dep.fn for dep in app.fns.values() if dep.api_name == name]
    return fn


@pytest.fixture(scope="module")
def page(indexed_assistant):
    return build_app(ChatService(indexed_assistant.settings))


@pytest.mark.parametrize(
    ("name", "args", "said"),
    [
        ("ask", ("Who met Kim?", "../../etc"), "'../../etc' is not a usable collection name"),
        ("brief", ("the summit", "../../etc"), "'../../etc' is not a usable collection name"),
        ("feedback", ({"answer": "x"}, "up", [], "", "../../etc"), "'../../etc' is not a usable"),
        ("ask", ("Who met Kim?", "", 0, "", "", 7), "outlets: Input should be a valid list"),
        ("ask", ("Who met Kim?", "", 0, "", "", [1, 2]), "outlets.0: Input should be a valid"),
        ("ask", ("Who met Kim?", "", "many"), "top_k: Input should be a valid integer"),
        ("ask", ("Who met Kim?", "", 0, "soon"), "'soon' is not a date"),
        ("ask", (None,), "question: Input should be a valid string"),
        ("ask", ("\x1b[31m\x1b[0m",), "the question is empty"),
        ("feedback", ("an answer",), "answer: Input should be a valid dictionary"),
        ("feedback", ({"citations": [1]},), "'answer' must be the object /ask returned"),
        ("feedback", ({"answer": "x"}, "meh"), "a rating is 'up' or 'down'"),
    ],
)
def test_the_page_api_refuses_bad_input_in_one_line(page, name: str, args, said: str) -> None:
    with pytest.raises(gr.Error) as refused:
        _page_api(page, name)(*args)
    assert said in refused.value.message and "\n" not in refused.value.message
    assert refused.value.print_exception is False  # said to the client, no trace in the log


def test_the_page_api_still_answers(page) -> None:
    answer = _page_api(page, "ask")("Who accompanied Kim at the extended talks?", "seeds")
    assert answer["citations"] and not answer["abstained"]


def test_a_gradio_client_is_told_what_is_wrong_and_the_log_has_no_trace(page, capfd) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, url, _ = page.launch(prevent_thread_lock=True, show_error=False, server_port=port,
                            quiet=True)  # fmt: skip
    try:
        client = Client(url, verbose=False)
        with pytest.raises(AppError, match="'../../etc' is not a usable collection name"):
            client.predict("Who met Kim?", "../../etc", api_name="/ask")
        with pytest.raises(AppError, match="outlets: Input should be a valid list"):
            client.predict("Who met Kim?", "", 0, "", "", 7, api_name="/ask")
    finally:
        page.close()
    assert "Traceback" not in capfd.readouterr().err

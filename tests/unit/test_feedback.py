"""Thumbs, wrong citations, the gold-set export and the conversation as Markdown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from qa.cli import main
from qa.core.errors import InputError
from qa.core.types import Answer, Citation
from qa.feedback import Feedback, FeedbackLog, conversation_markdown, export_gold
from ui.service import ChatService

QUESTION = "Who accompanied Kim at the extended talks?"


@pytest.fixture(scope="module")
def answer(indexed_assistant) -> Answer:
    answer = indexed_assistant.ask(QUESTION)
    assert answer.citations and not answer.abstained
    return answer


def _log(tmp_path: Path) -> FeedbackLog:
    return FeedbackLog(tmp_path, "seeds")


def test_a_verdict_keeps_the_answer_its_citations_and_settings(answer, tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.add(Feedback.of(answer, "up", note="spot on"))
    log.add(Feedback.of(answer, "", wrong_citations=[1]))
    first, second = list(log.records())
    assert first.question == QUESTION and first.answer == answer.text and first.rating == "up"
    assert first.citations[0]["quote"] == answer.citations[0].quote
    assert first.settings_hash == answer.settings_hash and first.model == answer.model
    assert second.wrong_citations == [1] and second.collection == "seeds"


def test_bad_verdicts_are_refused_with_a_message(answer) -> None:
    with pytest.raises(InputError, match="thumbs up or down, or which citation is wrong"):
        Feedback.of(answer)
    with pytest.raises(InputError, match=r"there is no \[9\]"):
        Feedback.of(answer, wrong_citations=[9])
    with pytest.raises(InputError, match="'up' or 'down'"):
        Feedback.of(answer, "meh")  # type: ignore[arg-type]


def test_a_damaged_line_is_skipped_and_the_rest_is_read(answer, tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.add(Feedback.of(answer, "down"))
    with log.file.open("a", encoding="utf-8") as fh:
        fh.write('{"question": "cut short')
    log.add(Feedback.of(answer, "up"))
    assert [r.rating for r in log.records()] == ["down", "up"]


def test_export_makes_gold_rows_for_review(answer) -> None:
    up = Feedback.of(answer, "up")
    wrong = Feedback.of(answer, "", wrong_citations=[1])
    down = Feedback.of(answer, "down", note="it was Choe Son-hui too")
    rows = export_gold([up, wrong, down])
    assert [r["id"] for r in rows] == ["feedback-0001", "feedback-0002", "feedback-0003"]
    assert all(r["needs_review"] and r["question"] == QUESTION for r in rows)
    assert rows[0]["answers"] and "[1]" not in rows[0]["answers"][0]
    assert rows[0]["gold_docs"] == sorted({c.source for c in answer.citations})
    assert rows[1]["feedback"]["wrong_citations"][0]["quote"] == answer.citations[0].quote
    assert rows[2]["answers"] == [] and rows[2]["gold_docs"] == []
    assert rows[2]["feedback"]["answer"] == answer.text and rows[2]["type"] == "feedback_down"
    # qa eval reads the rows (the fields it needs are there).
    from evals.runner import load_gold

    path = Path(__file__).parent / "_feedback_rows.jsonl"
    try:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        assert len(load_gold(path)) == 3
    finally:
        path.unlink()


def _blocks(markdown: str) -> list[Token]:
    return MarkdownIt("commonmark").parse(markdown)


def _texts(tokens: list[Token], opened: str) -> list[str]:
    """The inline text of each `opened` block (a heading, a paragraph ...), in order."""
    return [
        tokens[i + 1].content
        for i, t in enumerate(tokens)
        if t.type == opened and tokens[i + 1].type == "inline"
    ]


def _cited(quote: str, **more) -> Citation:
    fields = {"source": "004_kbs.txt", "title": "Kim and Putin meet", "published": "2019-04-25",
              "quote": quote, "start": 10, "end": 10 + len(quote), "outlet": "KBS"}  # fmt: skip
    return Citation.from_fields({**fields, **more})


def test_the_conversation_as_markdown(answer) -> None:
    tokens = _blocks(conversation_markdown([answer, answer]))
    assert _texts(tokens, "heading_open")[:2] == ["Conversation", f"Question: {QUESTION}"]
    quotes = [t for t in tokens if t.type == "blockquote_open"]
    assert len(quotes) == 2 * len(answer.citations)


def test_each_citation_is_its_own_item_with_its_quote_as_a_block_quote() -> None:
    answer = Answer(
        question="Who met Kim?",
        text="Putin met Kim [1]. They talked for hours [2].",
        citations=[
            _cited(
                "Putin met Kim in Vladivostok.", url="https://example.org/a b", also_in=("Yonhap",)
            ),  # fmt: skip
            _cited("- The talks *lasted* 3 hours > planned.", source="005_x.txt", title=""),
        ],
        abstained=False,
    )
    markdown = conversation_markdown([answer])
    tokens = _blocks(markdown)
    items = [i for i, t in enumerate(tokens) if t.type == "list_item_open"]
    assert len(items) == 2  # one list item per citation, not one run-on paragraph
    first, second = (tokens[i + 2].content for i in items)  # each item's first paragraph
    assert first.startswith("**[Kim and Putin meet](<https://example.org/a%20b>)**, KBS")
    assert "KBS, 2019-04-25, `004_kbs.txt`, characters 10–39" in first and "Yonhap" in first
    assert second.startswith("**005\\_x.txt**") and "`005_x.txt`" in second
    # Each quote is a block quote inside its item, its text as the article has it.
    quoted = [i for i, t in enumerate(tokens) if t.type == "blockquote_open"]
    assert [tokens[i].level for i in quoted] == [2, 2]
    html = MarkdownIt("commonmark").render(markdown)
    assert "<blockquote>\n<p>Putin met Kim in Vladivostok.</p>" in html
    assert "<p>- The talks *lasted* 3 hours &gt; planned.</p>" in html
    assert "&gt;" not in html.split("<blockquote>")[0]  # no stray quote marker mid-line
    assert "<p>Putin met Kim [1]. They talked for hours [2].</p>" in html


def test_a_briefing_is_marked_and_the_filters_are_recorded() -> None:
    briefing = Answer("the Vladivostok summit", "Kim met Putin [1].",
                      [_cited("Kim met Putin.")], False, kind="briefing")  # fmt: skip
    asked = Answer("Who met Kim?", "The indexed articles don't say.", [], True,
                   filters="since 2019-04-20, outlet KBS")  # fmt: skip
    saved = Answer.from_json({**briefing.to_json(), "kind": None})  # saved before `kind`
    saved.decision = "briefing"
    tokens = _blocks(conversation_markdown([briefing, asked, saved]))
    assert _texts(tokens, "heading_open")[1:] == [
        "Briefing: the Vladivostok summit",
        "Question: Who met Kim?",
        "Briefing: the Vladivostok summit",
    ]
    assert "*Filters:* since 2019-04-20, outlet KBS" in _texts(tokens, "paragraph_open")
    assert sum(t.type == "blockquote_open" for t in tokens) == 2  # the abstention cites none


def test_assistant_page_and_command_line(
    indexed_assistant, answer, capsys, tmp_path: Path, monkeypatch
) -> None:
    service = ChatService(indexed_assistant.settings)
    shown = answer.to_json()
    stored = service.feedback(shown, "up", [], None)
    assert stored.question == QUESTION
    assert stored.citations[0]["source"] == shown["citations"][0]["source"]
    service.feedback(shown, "", [1], None, note="wrong passage")
    with pytest.raises(InputError, match="there is no"):
        service.feedback(shown, "", [7], None)
    path = Path(service.export_conversation([shown]))
    assert path.read_text(encoding="utf-8").startswith("# Conversation")

    out = tmp_path / "export.jsonl"
    monkeypatch.setenv("QA_HOME", str(indexed_assistant.settings.store.home))
    monkeypatch.setenv("QA_EMBEDDER", "hash")
    assert main(["feedback", "export", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 2 and rows[0]["feedback"]["rating"] == "up"
    assert "feedback rows written" in capsys.readouterr().out


def test_feedback_and_export_from_the_terminal_chat(
    indexed_assistant, answer, tmp_path: Path
) -> None:
    from qa.cli import chat_command
    from qa.core.errors import UserError

    with pytest.raises(UserError, match="ask a question first"):
        chat_command(indexed_assistant, "/up", [])
    before = len(list(indexed_assistant.feedback_log().records()))
    assert chat_command(indexed_assistant, "/down not it", [answer]) == "recorded: 👎"
    assert "citation [1] is wrong" in chat_command(indexed_assistant, "/wrong 1", [answer])
    with pytest.raises(UserError, match="citation's number"):
        chat_command(indexed_assistant, "/wrong x", [answer])
    with pytest.raises(UserError, match="unknown command /rate"):
        chat_command(indexed_assistant, "/rate 5", [answer])
    records = list(indexed_assistant.feedback_log().records())[before:]
    assert [(r.rating, r.note, r.wrong_citations) for r in records] == [
        ("down", "not it", []),
        ("", "", [1]),
    ]
    out = tmp_path / "chat.md"
    assert "1 answer" in chat_command(indexed_assistant, f"/export {out}", [answer])
    assert out.read_text(encoding="utf-8").startswith("# Conversation")

"""Each answer shows once in a terminal: the passages first, then only verified text, redrawn
as the final answer; a terminal that cannot redraw gets the citations after the verified
text; a pipe gets the final answer only. The model's draft is never printed."""

from __future__ import annotations

import io

import pytest

from index.types import ArticleInfo
from qa.cli.terminal import AnswerPrinter, rows_used
from qa.core.answer_stream import REVISED, AnswerStream, SourcesFound, VerifiedText
from qa.core.types import Answer, Citation

RAW = "Ri Yong-ho and Choe Son-hui joined Kim [1] as well"
VERIFIED = "Ri Yong-ho and Choe Son-hui joined Kim. [1]"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


CITED = Citation(
    ArticleInfo("004.txt", "004.txt", "Summit", "KBS", "2019-04-25"), "Ri Yong-ho ...", 10, 24
)


def _stream() -> AnswerStream:
    def steps():
        yield SourcesFound([CITED])
        for word in RAW.split(" "):
            yield word + " "
            if word == "[1]":
                yield VerifiedText(VERIFIED, [CITED])
        return Answer(question="q", text=VERIFIED, citations=[CITED], abstained=False)

    return AnswerStream(steps())


def test_terminal_redraws_the_stream_as_the_verified_answer(monkeypatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(
        "shutil.get_terminal_size", lambda: __import__("os").terminal_size((20, 24))
    )
    out = FakeTerminal()
    answer = AnswerPrinter(out).show(_stream(), prefix="bot> ")
    written = out.getvalue()
    streamed, _, final = written.rpartition("\x1b[J")
    reading = "(reading 1 passage: Summit (KBS, 2019-04-25))\n"
    assert streamed.startswith("bot> " + reading + VERIFIED)  # the passages come first
    assert "as well" not in written  # the draft never shows
    # What was shown took these rows of 20 columns: erase moves up to the first.
    assert streamed.endswith(f"\r\x1b[{rows_used('bot> ' + reading + VERIFIED, 20) - 1}A")
    assert final.startswith("bot> " + VERIFIED + "\n") and "[1] 004.txt" in final
    assert final.count(VERIFIED) == 1
    assert answer.text == VERIFIED


def test_dumb_terminal_keeps_the_stream_and_adds_only_citations(monkeypatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    out = FakeTerminal()
    AnswerPrinter(out).show(_stream())
    written = out.getvalue()
    assert "\x1b" not in written and "as well" not in written
    assert written.startswith(VERIFIED + "\n")
    assert written.rstrip().endswith('"Ri Yong-ho ..."') and "[1] 004.txt" in written


def test_pipe_gets_the_verified_answer_once() -> None:
    out = io.StringIO()
    AnswerPrinter(out).show(_stream())
    assert out.getvalue().splitlines()[0] == VERIFIED
    assert "as well" not in out.getvalue()


@pytest.mark.parametrize(
    "text, columns, rows", [("", 10, 1), ("abc", 10, 1), ("a" * 10, 10, 1), ("a" * 11, 10, 2),
                            ("ab\ncd", 10, 2), ("a" * 25 + "\n", 10, 4)],
)  # fmt: skip
def test_rows_used(text: str, columns: int, rows: int) -> None:
    assert rows_used(text, columns) == rows


def test_a_closed_stream_has_no_answer() -> None:
    stream = _stream()
    next(stream)
    stream.close()
    with pytest.raises(RuntimeError, match="stopped"):
        _ = stream.answer
    complete = _stream()
    assert complete.answer.text == VERIFIED and complete.done
    complete.close()
    assert complete.answer.text == VERIFIED  # closing after the end keeps the answer


def _answer_stream(raw: str, answer: Answer) -> AnswerStream:
    def steps():
        yield raw
        return answer

    return AnswerStream(steps())


def test_without_redraw_what_verification_changed_is_said(monkeypatch) -> None:
    out = io.StringIO()
    printer = AnswerPrinter(out, always_stream=True)  # qa chat into a pipe
    abstained = Answer("q", "The articles don't say.", [], True, raw_text="Paris, surely.")
    printer.show(_answer_stream("Paris, surely.", abstained), prefix="bot> ")
    assert out.getvalue() == "bot> The articles don't say.\n"  # the draft never shows

    def shown_then_withheld():
        yield VerifiedText("Kim met Putin. [1]", [CITED])
        return Answer("q", "The articles may not answer this.", [], True)

    out = io.StringIO()
    AnswerPrinter(out, always_stream=True).show(AnswerStream(shown_then_withheld()))
    assert out.getvalue() == f"Kim met Putin. [1]{REVISED}The articles may not answer this.\n"

"""The `qa` command line with the fakes: JSON output, exit codes, one-line errors."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest
from unit_helpers import ANSWER_JSON_KEYS, SEED_FILES

from qa.cli import main

KEYS = ANSWER_JSON_KEYS


@pytest.fixture
def qa_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "qa_home"
    monkeypatch.setenv("QA_HOME", str(home))
    monkeypatch.setenv("QA_EMBEDDER", "hash")
    monkeypatch.setenv("QA_LLM_BACKEND", "fake")
    monkeypatch.setenv("QA_MIN_RELEVANCE", "-1")
    return home


def visible_lines(stream: str) -> list[str]:
    """What a terminal shows: a progress bar redrawn with '\\r' leaves only its last state."""
    lines = [ln.rsplit("\r", 1)[-1] for ln in stream.split("\n")]
    return [ln for ln in lines if ln.strip()]


def one_error_line(err: str) -> str:
    lines = visible_lines(err)
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    return lines[0]


def test_ask_json_prints_exactly_one_json_object(qa_env, capsys) -> None:
    code = main(["ask", "--json", "Who accompanied Kim at the extended talks?"])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)  # the whole of stdout is one JSON document
    assert out.count("\n") == 1 and out.endswith("}\n")
    assert set(data) == KEYS
    assert data["question"] == "Who accompanied Kim at the extended talks?"
    assert data["abstained"] is False and data["citations"]
    seeds = {p.name: p.read_text(encoding="utf-8") for p in SEED_FILES}
    for c in data["citations"]:
        assert seeds[c["source"]][c["start"] : c["end"]] == c["quote"]
    assert (qa_env / "chroma").is_dir()  # the store lives in QA_HOME


def test_ask_prints_answer_and_citations(qa_env, capsys) -> None:
    assert main(["ask", "When will Biegun meet Russian officials?"]) == 0
    captured = capsys.readouterr()
    first, cite, quote, *_ = captured.out.splitlines()
    assert first.endswith("[1]") and "Biegun" in first
    found = re.match(r"\s+\[1\] (\S+) \(.*\) chars (\d+)-(\d+)$", cite)
    assert found, cite
    source, start, end = found.group(1), int(found.group(2)), int(found.group(3))
    seeds = {p.name: p.read_text(encoding="utf-8") for p in SEED_FILES}
    assert quote.strip() == f'"{seeds[source][start:end]}"'  # the quote is the file's text
    # Output to a pipe (not a terminal) holds the verified answer once, nothing streamed.
    assert captured.out.count(first) == 1 and "Biegun" not in captured.err


def test_ask_output_follows_redirected_stdout(qa_env) -> None:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["ask", "When will Biegun meet Russian officials?"]) == 0
    assert buffer.getvalue().strip()


def test_abstaining_json(qa_env, capsys, monkeypatch) -> None:
    monkeypatch.setenv("QA_MIN_RELEVANCE", "0.99")
    assert main(["ask", "--json", "What is the capital of Peru?"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["abstained"] is True and data["citations"] == [] and data["ttft_s"] is None


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_exits_2_with_one_line(qa_env, capsys, question: str) -> None:
    assert main(["ask", question]) == 2
    captured = capsys.readouterr()
    assert "empty" in one_error_line(captured.err)
    assert captured.out == ""


def test_huge_question_exits_2(qa_env, capsys) -> None:
    assert main(["ask", "--json", "x" * 5000]) == 2
    assert "limit" in one_error_line(capsys.readouterr().err)


def test_index_missing_folder_exits_2(qa_env, capsys) -> None:
    assert main(["index", "/no/such/dir"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "no such file or folder" in line and "/no/such/dir" in line


def test_index_reports_summary_and_skips(qa_env, tmp_path, capsys) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_text(SEED_FILES[0].read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "bin.txt").write_bytes(b"\x00\x01\x02" * 100)
    assert main(["index", "-q", str(folder)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("1 added, 0 updated, 0 unchanged, 0 removed, 1 skipped")
    assert "skipped bin.txt:" in captured.err and "binary" in captured.err
    assert main(["index", "-q", str(folder)]) == 0
    assert capsys.readouterr().out.startswith("0 added, 0 updated, 1 unchanged")


def test_index_where_every_file_is_skipped_exits_1(qa_env, tmp_path, capsys) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "empty.txt").write_text("")
    assert main(["index", "-q", str(folder)]) == 1
    assert "skipped empty.txt" in capsys.readouterr().err


def test_corrupt_store_exits_2_without_traceback(qa_env, capsys) -> None:
    (qa_env / "chroma").mkdir(parents=True)
    (qa_env / "chroma" / "chroma.sqlite3").write_bytes(b"this is not a database\x00" * 300)
    assert main(["ask", "Who met Putin?"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "chroma" in line and "qa index" in line


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["--top-k", "0", "ask", "hi there"], {}),
        (["ask", "hi there"], {"QA_CHUNK_WORDS": "lots"}),
        (["--collection", "bad name!", "ask", "hi there"], {}),
    ],
    ids=["top-k-0", "env-not-a-number", "bad-collection"],
)
def test_bad_settings_exit_2_with_one_line(qa_env, capsys, monkeypatch, argv, env) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(argv) == 2
    one_error_line(capsys.readouterr().err)


def test_unreachable_chroma_server_exits_2(qa_env, capsys) -> None:
    assert main(["--chroma-url", "http://127.0.0.1:9", "ask", "Who met Putin?"]) == 2
    assert "cannot reach the Chroma server" in one_error_line(capsys.readouterr().err)


def test_missing_command_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_verbose_logs_timings_and_quiet_does_not(qa_env, capsys) -> None:
    assert main(["ask", "When will Biegun meet Russian officials?"]) == 0
    assert "answered in" not in capsys.readouterr().err
    assert main(["-v", "ask", "When will Biegun meet Russian officials?"]) == 0
    err = capsys.readouterr().err
    assert "INFO qa.pipeline: answered in" in err and "retrieve" in err

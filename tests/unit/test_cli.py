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


# --- options after the command (issue 34) -------------------------------------------------
QUESTION = "When will Biegun meet Russian officials?"


@pytest.mark.parametrize(
    "argv",
    [
        ["ask", "--since", "2030-01-01", "--json", QUESTION],
        ["--since", "2030-01-01", "ask", "--json", QUESTION],
        # A value before the command survives options given after it.
        [
            "--since",
            "2030-01-01",
            "ask",
            "--top-k",
            "3",
            "--collection",
            "seeds",
            "--json",
            QUESTION,
        ],
        ["brief", "--since", "2030-01-01", "--json", "the Kim-Putin summit"],
        ["--since", "2030-01-01", "brief", "--top-k", "3", "--json", "the Kim-Putin summit"],
    ],
    ids=["ask-after", "ask-before", "ask-before-kept", "brief-after", "brief-before-kept"],
)
def test_filters_go_before_or_after_the_command(qa_env, capsys, argv) -> None:
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["abstained"] is True and data["citations"] == []  # the seeds are of 2019
    assert "ask" not in argv or "since 2030-01-01" in data["answer"]


def test_options_after_the_command_add_to_those_before(qa_env, monkeypatch) -> None:
    import logging

    import qa.cli

    seen = []

    class Recording(qa.cli.entry.Assistant):
        def __init__(self, settings, **kw) -> None:
            seen.append(settings)
            super().__init__(settings, **kw)

    monkeypatch.setattr(qa.cli.entry, "Assistant", Recording)
    before = ["-v", "--outlet", "kbs", "--top-k", "3", "--since", "2019-04-01"]
    after = ["-v", "--outlet", "yonhap", "--author", "Kim", "--until", "2019-05-01", "--json"]
    main([*before, "ask", *after, QUESTION])
    r = seen[0].retrieval
    assert (r.outlets, r.authors, r.top_k) == (["kbs", "yonhap"], ["Kim"], 3)
    assert (str(r.since), str(r.until)) == ("2019-04-01", "2019-05-01")
    assert logging.getLogger("qa").level == logging.DEBUG  # -v twice: -vv


def test_chat_takes_options_after_the_command(qa_env, monkeypatch, capsys) -> None:
    import qa.cli

    def end_of_input(prompt: str, prefill: str = "") -> str:
        raise EOFError

    monkeypatch.setattr(qa.cli.commands, "read_question", end_of_input)
    assert main(["chat", "--since", "2019-04-01", "--top-k", "3", "-q"]) == 0
    assert capsys.readouterr().err == ""  # -q: no progress either


# --- chat: an empty line goes on, /quit and Ctrl-D end ----------------------------------
def test_an_empty_line_does_not_end_the_chat_and_quit_does(qa_env, tmp_path, monkeypatch, capsys):
    import qa.cli

    export = tmp_path / "chat.md"
    typed = iter(["", "   ", QUESTION, "", f"/export {export}", "/quit", "never read"])
    prompts = []

    def read(prompt: str, prefill: str = "") -> str:
        prompts.append(prompt)
        return next(typed)

    monkeypatch.setattr(qa.cli.commands, "read_question", read)
    assert main(["chat"]) == 0
    out = capsys.readouterr().out
    assert len(prompts) == 6 and "bot> " in out and "Biegun" in out
    assert f"1 answer written to {export}" in out and "/quit" in out  # the help names it


# --- a cold start says what it does, on stderr only ---------------------------------------
def _tiny_packaged_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A packaged model of one part, installed on sys.path: joined like the real ones."""
    import hashlib

    from qa.runtime import model_files

    package = tmp_path / "site" / "tinyparts1"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    body = b"GGUF" + bytes(range(256)) * 64
    (package / "data" / "part01.bin").write_bytes(body)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    model = model_files.PackagedModel(
        "tiny", "a test model", ("tinyparts1/data/part01.bin",), len(body),
        hashlib.sha256(body).hexdigest(), "pip install tinyparts1",
    )  # fmt: skip
    monkeypatch.setitem(model_files.PACKAGED_MODELS, "tiny", model)
    return "tiny"


@pytest.fixture
def local_model(qa_env, tmp_path, monkeypatch) -> Path:
    """The llama_cpp backend with a packaged model whose file is joined on first use; the
    model itself is the fake (the joined bytes are no real model)."""
    import qa.cli
    from qa.generate.backends.fake import FakeLLM

    monkeypatch.setenv("QA_LLM_BACKEND", "llama_cpp")
    monkeypatch.setenv("QA_LLM_MODEL", _tiny_packaged_model(tmp_path, monkeypatch))
    monkeypatch.setattr(qa.cli.commands, "make_llm", FakeLLM)
    return qa_env / "models" / "tiny.gguf"


def test_a_cold_ask_says_what_it_does_on_stderr(local_model, capsys) -> None:
    assert main(["ask", QUESTION]) == 0
    out, err = capsys.readouterr()
    assert "first run: indexing" in err and "chunks embedded" in err
    assert "starting the model tiny…" in err and "joining the model file tiny.gguf" in err
    assert re.search(r"model ready \(\d+\.\d s\)\n", err) and local_model.is_file()
    first, *citations = out.splitlines()  # stdout: the answer and its citations only
    assert first.endswith("[1]") and citations[0].lstrip().startswith("[1] ")
    assert "…" not in out and "model" not in out


@pytest.mark.parametrize("flag", ["--json", "-q", "--quiet"])
def test_json_and_quiet_keep_the_cold_start_silent(local_model, capsys, flag) -> None:
    assert main(["ask", flag, QUESTION]) == 0
    out, err = capsys.readouterr()
    assert err == "" and local_model.is_file()
    if flag == "--json":
        assert json.loads(out)["citations"]


def test_a_question_that_abstains_before_generation_starts_no_model(
    local_model, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("QA_MIN_RELEVANCE", "0.99")
    assert main(["ask", "What is the capital of Peru?"]) == 0
    assert "starting the model" not in capsys.readouterr().err and not local_model.exists()


def test_chat_starts_the_model_before_the_first_prompt(local_model, monkeypatch, capsys) -> None:
    import qa.cli

    events = []

    def read(prompt: str, prefill: str = "") -> str:
        events.append("prompt")
        raise EOFError

    monkeypatch.setattr(qa.cli.commands, "read_question", read)
    monkeypatch.setattr(qa.cli.terminal.Progress, "say", lambda self, line: events.append(line))
    assert main(["chat"]) == 0
    assert events.index("starting the model tiny…") < events.index("prompt")
    assert any(e.startswith("model ready") for e in events[: events.index("prompt")])


def test_counts_read_as_words() -> None:
    from index.indexer import IndexReport
    from index.words import plural

    assert [plural(n, "chunk") for n in (0, 1, 2)] == ["0 chunks", "1 chunk", "2 chunks"]
    assert (
        plural(1, "entry", "entries") == "1 entry" and plural(3, "entry", "entries") == "3 entries"
    )
    assert IndexReport(chunks_embedded=1).summary().endswith(", 1 chunk embedded")

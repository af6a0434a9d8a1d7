"""Nested settings sections, with every flat name of before kept as an alias: as an
environment variable, as a keyword, in model_copy and in `qa eval --set`; and the CLI flags."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from qa.cli import build_parser, settings_from_args
from qa.core.settings import SECTION_OF, SECTIONS, Settings, is_setting_variable

# A value other than the default for every setting, written as an environment variable
# would write it, and the value the setting then reads back as.
SAMPLES: dict[str, tuple[str, Any]] = {
    "home": ("/tmp/qa-home-test", Path("/tmp/qa-home-test")),
    "collection": ("news-test", "news-test"),
    "chroma_url": ("http://127.0.0.1:9", "http://127.0.0.1:9"),
    "lexical_dir": ("/tmp/qa-lexical-test", Path("/tmp/qa-lexical-test")),
    "default_corpus": ("/tmp/qa-corpus-test", Path("/tmp/qa-corpus-test")),
    "embedder": ("hash", "hash"),
    "embed_batch_size": ("7", 7),
    "embed_backend": ("openai", "openai"),
    "embed_base_url": ("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1"),
    "embed_model": ("other-model", "other-model"),
    "embed_api_key_env": ("MY_EMBED_KEY", "MY_EMBED_KEY"),
    "embed_concurrency": ("3", 3),
    "chunk_words": ("60", 60),
    "chunk_overlap_sentences": ("2", 2),
    "max_file_mb": ("5.5", 5.5),
    "allow_private_addresses": ("1", True),
    "fetch_deadline_s": ("30", 30.0),
    "fetch_read_timeout_s": ("5", 5.0),
    "feed_max_items": ("50", 50),
    "fetch_workers": ("2", 2),
    "fetch_per_host": ("1", 1),
    "fetch_host_interval_s": ("1.5", 1.5),
    "max_question_chars": ("300", 300),
    "rewrite_followups": ("false", False),
    "decompose": ("false", False),
    "question_dates": ("false", False),
    "top_k": ("8", 8),
    "hybrid": ("false", False),
    "candidates": ("30", 30),
    "rrf_k": ("40", 40),
    "reranker": ("llm", "llm"),
    "rerank_top_n": ("2", 2),
    "since": ("2019-04-20", date(2019, 4, 20)),
    "until": ("2019-04-26", date(2019, 4, 26)),
    "outlets": ('["KBS World Radio News"]', ["KBS World Radio News"]),
    "authors": ('["Albert Kim"]', ["Albert Kim"]),
    "rerank_batch_size": ("4", 4),
    "evidence_sentences": ("3", 3),
    "min_relevance": ("0.3", 0.3),
    "check_question_facts": ("false", False),
    "llm_backend": ("fake", "fake"),
    "llm_integration": ("other_integration", "other_integration"),
    "llm_model": ("qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b"),
    "openai_base_url": ("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1"),
    "openai_api_key_env": ("MY_KEY", "MY_KEY"),
    "abstain_instruction": ("true", True),
    "max_answer_tokens": ("64", 64),
    "temperature": ("0.5", 0.5),
    "answer_claims": ("false", False),
    "min_support": ("0.5", 0.5),
    "answer_check": ("rules", "rules"),
    "extract_fallback": ("false", False),
    "evidence_led": ("false", False),
    "judge_grammar": ("true", True),
    "target_precision": ("0.9", 0.9),
    "choice_signal": ("false", False),
    "confidence_judgements": ("false", False),
    "relevance_judge": ("6", 6),
    "score_withheld": ("true", True),
    "request_timeout_s": ("9.5", 9.5),
    "n_threads": ("1", 1),
    "n_ctx": ("1024", 1024),
    "llm_parallel": ("2", 2),
    "llm_concurrency": ("2", 2),
    "model_start_timeout_s": ("30", 30.0),
    "ui_username": ("reader", "reader"),
    "ui_password": ("secret", "secret"),
    "api_key": ("key-1", "key-1"),
    "api_max_body_bytes": ("65536", 65536),
}


def _read(settings: Settings, name: str) -> Any:
    value = getattr(getattr(settings, SECTION_OF[name]), name)
    secret = name in ("ui_password", "api_key")
    return value.get_secret_value() if secret and value else value


@pytest.fixture(autouse=True)
def _no_qa_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("QA_"):
            monkeypatch.delenv(key)


def test_every_setting_has_a_sample_and_flat_names_are_unique() -> None:
    assert set(SAMPLES) == set(SECTION_OF)
    flat = [leaf for model in SECTIONS.values() for leaf in model.model_fields]
    assert len(flat) == len(set(flat)) == len(Settings.field_names())
    assert all(_read(Settings(), n) != SAMPLES[n][1] for n in SAMPLES)  # samples are not defaults


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_flat_environment_variable(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"QA_{name.upper()}", SAMPLES[name][0])
    assert _read(Settings(), name) == SAMPLES[name][1]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_section_environment_variable(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"QA_{SECTION_OF[name].upper()}__{name.upper()}", SAMPLES[name][0])
    assert _read(Settings(), name) == SAMPLES[name][1]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_flat_keyword_and_model_copy(name: str) -> None:
    text, value = SAMPLES[name]
    assert _read(Settings(**{name: text}), name) == value
    assert _read(Settings().model_copy(update={name: text}), name) == value
    assert is_setting_variable(f"QA_{name.upper()}")
    assert is_setting_variable(f"QA_{SECTION_OF[name].upper()}__{name.upper()}")


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_TOP_K", "7")
    monkeypatch.setenv("QA_EVIDENCE__MIN_RELEVANCE", "0.2")
    s = Settings(top_k=3)
    assert (s.retrieval.top_k, s.evidence.min_relevance) == (3, 0.2)
    # The section spelling of a variable wins over the flat one.
    monkeypatch.setenv("QA_RETRIEVAL__TOP_K", "9")
    assert Settings().retrieval.top_k == 9


def test_model_copy_keeps_the_rest_and_checks_values() -> None:
    base = Settings(top_k=4, min_support=0.6)
    copy = base.model_copy(update={"top_k": 6})
    assert (copy.retrieval.top_k, copy.verification.min_support) == (6, 0.6)
    assert base.retrieval.top_k == 4
    with pytest.raises(ValueError):
        base.model_copy(update={"top_k": 0})
    assert not is_setting_variable("QA_NOT_A_SETTING")
    assert not is_setting_variable("QA_RETRIEVAL__MIN_SUPPORT")  # a field of another section


def test_fingerprint_is_over_flat_names_and_ignores_paths(tmp_path: Path) -> None:
    a = Settings(home=tmp_path / "a")
    assert a.fingerprint() == Settings(home=tmp_path / "b").fingerprint()
    assert a.fingerprint() != Settings(home=tmp_path / "a", top_k=9).fingerprint()
    assert set(a.flat()) == set(SAMPLES)


@pytest.mark.parametrize(
    ("flags", "name", "value"),
    [
        (["--collection", "news-test"], "collection", "news-test"),
        (["--top-k", "8"], "top_k", 8),
        (["--model", "qwen2.5-coder-0.5b"], "llm_model", "qwen2.5-coder-0.5b"),
        (["--backend", "fake"], "llm_backend", "fake"),
        (["--chroma-url", "http://127.0.0.1:9"], "chroma_url", "http://127.0.0.1:9"),
    ],
)
def test_cli_flags_reach_their_sections(flags: list[str], name: str, value: Any) -> None:
    args = build_parser().parse_args([*flags, "ask", "Who?"])
    assert _read(settings_from_args(args), name) == value


def test_qa_eval_set_accepts_flat_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qa.cli as cli

    seen: dict[str, Settings] = {}

    def fake_run_eval(gold, corpus, out, settings, limit, progress, judge_name):  # noqa: ANN001
        seen["settings"] = settings
        return {"metrics": {}, "questions": 0}

    monkeypatch.setattr("evals.runner.run_eval", fake_run_eval)
    gold = tmp_path / "gold.jsonl"
    gold.write_text("", encoding="utf-8")
    code = cli.main(["--backend", "fake", "eval", "--gold", str(gold), "--out", str(tmp_path / "o"),
                     "--set", "top_k=8", "--set", "hybrid=false", "-q"])  # fmt: skip
    assert code == 0
    s = seen["settings"]
    assert (s.retrieval.top_k, s.retrieval.hybrid, s.generation.llm_backend) == (8, False, "fake")
    assert cli.main(["eval", "--gold", str(gold), "--set", "no_such=1"]) == 2

"""evals/splice.py: a re-run of some questions, put in place of the base run's records and
summarised over the whole pack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals import splice


def _record(qid: str, answer: str, correct: bool) -> dict:
    return {"id": qid, "type": "t", "question": "q?", "answers": ["x"], "answer": answer,
            "abstained": False,
            "citations": [], "correct": correct, "draft_correct": correct,
            "confidence": 0.5}  # fmt: skip


def _run(folder: Path, records: list[dict], settings_hash: str) -> Path:
    folder.mkdir(parents=True)
    for name in splice.RUN_FILES:
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = {"settings": {"top_k": 5}, "settings_hash": settings_hash, "gold": "g.jsonl",
               "model": "fake", "embedder": "hash", "corpus": "docs", "corpus_docs": 1,
               "corpus_chunks": 2, "peak_rss_mb": 1.0, "date": "2026-12-02"}  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_the_rerun_replaces_its_ids_and_the_pack_is_summarised_whole(tmp_path: Path) -> None:
    base = _run(tmp_path / "base", [_record("a", "x", True), _record("b", "y", False),
                                    _record("c", "z", False)], "old")  # fmt: skip
    part = _run(tmp_path / "part", [_record("b", "x", True)], "new")
    summary = splice.splice(base, part, tmp_path / "out")
    assert summary["questions"] == 3 and summary["spliced"]["replaced"] == 1
    assert summary["metrics"]["accuracy"] == pytest.approx(2 / 3)  # a and the re-run b
    assert summary["settings_hash"] == "new" and summary["gold"] == "g.jsonl"
    merged = [json.loads(line) for line in (tmp_path / "out/scores.jsonl").read_text().splitlines()]
    assert [(r["id"], r["answer"]) for r in merged] == [("a", "x"), ("b", "x"), ("c", "z")]
    assert (tmp_path / "out/report.md").exists() and (tmp_path / "out/chart.png").exists()


def test_a_rerun_of_questions_the_base_never_asked_is_refused(tmp_path: Path) -> None:
    base = _run(tmp_path / "base", [_record("a", "x", True)], "old")
    part = _run(tmp_path / "part", [_record("zz", "x", True)], "new")
    with pytest.raises(SystemExit, match="not in the base run"):
        splice.splice(base, part, tmp_path / "out")

"""The product objective over `qa eval` outputs: the default may answer at most 1 news
question in 50 fewer correctly than never withholding on confidence, and each abstention
it gains is counted beside the answers it costs."""

from __future__ import annotations

import json
from pathlib import Path

from evals.objective import allowed_loss, holds, main, read_run, report, tally


def _record(answerable: bool, *, correct: bool = False, abstained: bool = False,
            withheld: bool = False, draft_correct: bool | None = None) -> dict:  # fmt: skip
    return {
        "answers": ["x"] if answerable else [],
        "correct": correct if answerable else None,
        "abstained": abstained or withheld,
        "withheld": "a draft" if withheld else "",
        "draft_correct": draft_correct,
    }


def _run(tmp_path: Path, name: str, records: list[dict]) -> Path:
    run = tmp_path / name
    run.mkdir()
    (run / "scores.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (run / "summary.json").write_text(json.dumps({"gold": f"evals/gold/{name}.jsonl"}))
    return run


def test_a_withheld_right_draft_is_a_lost_answer_and_a_withheld_unanswerable_one_a_gain() -> None:
    records = [
        _record(True, correct=True),
        _record(True, withheld=True, draft_correct=True),  # lost
        _record(True, withheld=True, draft_correct=False),  # a wrong answer held back
        _record(False, withheld=True, draft_correct=False),  # gained
        _record(False, abstained=True),  # abstained by the rules either way
        _record(False),  # answered, wrongly, either way
    ]
    t = tally("seeds", records)
    assert (t.right, t.right_never_withheld, t.lost) == (1, 2, 1)
    assert (t.abstained, t.abstained_never_withheld, t.gained) == (2, 1, 1)
    assert t.wrong_withheld == 1 and (t.answerable, t.unanswerable) == (3, 3)


def test_the_objective_allows_one_lost_answer_in_fifty() -> None:
    assert [allowed_loss(n) for n in (49, 50, 96, 100, 149)] == [0, 1, 1, 2, 2]
    fifty = [_record(True, correct=True)] * 49 + [_record(True, withheld=True, draft_correct=True)]
    assert holds([tally("seeds", fifty)])
    two_lost = fifty[:-2] + [_record(True, withheld=True, draft_correct=True)] * 2
    assert not holds([tally("seeds", two_lost)])
    # Pooled over the news sets: a second set's questions raise what may be lost.
    assert holds([tally("seeds", two_lost), tally("near_miss", [_record(False)] * 50)])


def test_the_command_reads_runs_and_fails_when_the_objective_fails(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    kept = _run(tmp_path, "seeds", [_record(True, correct=True)] * 10)
    assert read_run(kept)[0] == "seeds"
    assert main([str(kept)]) == 0
    assert "objective holds: 0 right answer(s) lost over 10 questions" in capsys.readouterr().out
    lost = _run(tmp_path, "timeline", [_record(True, withheld=True, draft_correct=True)] * 3)
    assert main([str(kept), str(lost)]) == 1
    out = capsys.readouterr().out
    assert "| timeline | 3 | 0/3 | 3/3 | 3 |" in out and "objective FAILS" in out
    assert report([tally("x", [])]).startswith("| set |")

"""The lexical support judge against a hand-labelled sample (evals/data/judge_sample.jsonl).

69 (claim, cited passage) pairs: 22 from real seeds runs (14 as cited, 8 with a passage
from another question) and 47 written by hand, most of them near misses (one time, name,
place or number changed). Measured (`python -m evals.judge_agreement`): lexical 54/69,
lexical+MiniLM 52/69, the LLM judge 61/69 (docs/evaluation.md). The lexical judge passes
near misses (it counts shared words), which is why `qa eval` judges with the LLM; this
test pins the lexical figure so a change to the shared scorer shows up here."""

import json
from pathlib import Path

from evals.metrics import LexicalSemanticJudge

SAMPLE = Path(__file__).resolve().parents[2] / "evals" / "data" / "judge_sample.jsonl"


def test_lexical_judge_agrees_with_hand_labels() -> None:
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 69 and sum(r["supported"] for r in rows) == 35
    judge = LexicalSemanticJudge(None, threshold=0.45)
    verdicts = [bool(judge(r["claim"], r["passage"], r["question"])) for r in rows]
    agree = sum(v == r["supported"] for v, r in zip(verdicts, rows, strict=True))
    assert agree >= 52, f"judge agrees with the hand labels on only {agree}/69"
    # It never rejects a supported claim; its errors are near misses it lets through.
    assert all(v for v, r in zip(verdicts, rows, strict=True) if r["supported"])

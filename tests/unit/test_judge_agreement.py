"""The support judge against a hand-labelled sample (evals/judge_sample.jsonl).

22 (claim, cited passage) pairs from real seeds runs: 14 as cited, 8 with a passage from
another question; each labelled by hand as supported or not. Measured: the lexical judge
agrees on 21/22, lexical+MiniLM on 19/22 (docs/evaluation.md)."""

import json
from pathlib import Path

from evals.metrics import LexicalSemanticJudge

SAMPLE = Path(__file__).resolve().parents[2] / "evals" / "judge_sample.jsonl"


def test_lexical_judge_agrees_with_hand_labels() -> None:
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 22 and sum(r["supported"] for r in rows) == 12
    judge = LexicalSemanticJudge(None, threshold=0.45)
    verdicts = [bool(judge(r["claim"], r["passage"], r["question"])) for r in rows]
    agree = sum(v == r["supported"] for v, r in zip(verdicts, rows, strict=True))
    assert agree >= 20, f"judge agrees with the hand labels on only {agree}/22"

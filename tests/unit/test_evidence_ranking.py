"""The evidence-ranking measurement (evals/evidence_ranking.py): labels, the hit@N figures,
the pipeline's way of using P(Yes), and the cross-encoder judged only on unseen questions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from evals import evidence_ranking as er


def _row(
    qid: str, labels: Sequence[bool], p_yes: Sequence[float], set_name: str = "squad"
) -> dict[str, Any]:
    sentences = [
        {"text": f"{qid} sentence {i}", "rank": i, "label": label, "p_yes": p, "p_yes_s": 1.0}
        for i, (label, p) in enumerate(zip(labels, p_yes, strict=True))
    ]
    return {"set": set_name, "id": qid, "question": f"question {qid}", "sentences": sentences}


def test_yes_no_and_unanswerable_questions_have_no_spans() -> None:
    assert er.gold_spans({"answers": ["Yes"]}) == []
    assert er.gold_spans({"answers": []}) == []
    assert er.gold_spans({"answers": ["Air Koryo", "the Air Koryo"]}) == ["air koryo", "air koryo"]


def test_a_sentence_holds_an_answer_as_whole_words() -> None:
    assert er.holds_answer("North Korea's flag carrier Air Koryo flies on Tuesday.", ["air koryo"])
    assert not er.holds_answer("It took 13 hours.", ["3 hours"])


def test_hit_at_n_counts_only_questions_whose_candidates_hold_an_answer() -> None:
    rows = [
        _row("a", [False, True, False], [0.1, 0.9, 0.2]),
        _row("b", [False, False, False], [0.5, 0.5, 0.5]),
        _row("c", [True, False, False], [0.2, 0.9, 0.1]),
    ]
    fused = er.ranking_metrics(rows, [er.fused(r) for r in rows])
    assert fused["questions"] == 2
    assert fused["hit@1"] == 0.5 and fused["hit@2"] == 1.0
    assert fused["mrr"] == pytest.approx((0.5 + 1.0) / 2)
    judged = er.ranking_metrics(rows, [er.model_p_yes(3)(r) for r in rows])
    assert judged["hit@1"] == 0.5  # a: right sentence first; c: the wrong one is liked more


def test_p_yes_reorders_only_the_first_few() -> None:
    row = _row("a", [False, False, True], [0.1, 0.2, 0.99])
    scores = er.model_p_yes(2)(row)
    order = sorted(range(3), key=lambda i: -scores[i])
    assert order == [1, 0, 2]  # the third keeps its place: the model was not asked about it


def test_the_cross_encoder_never_scores_a_question_it_was_trained_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trained_on: list[set[str]] = []

    class Recording:
        def __init__(self, seed: int, epochs: int, teacher: float) -> None:
            self.seen: set[str] = set()

        def fit(self, rows: Sequence[dict[str, Any]]) -> float:
            self.seen = {r["id"] for r in rows}
            trained_on.append(self.seen)
            return 0.0

        def score(self, row: dict[str, Any]) -> list[float]:
            assert row["id"] not in self.seen
            return [0.0 for _ in row["sentences"]]

    monkeypatch.setattr(er, "CrossEncoderRanker", Recording)
    rows = [_row(f"p{i}", [True, False], [0.5, 0.5]) for i in range(9)]
    rows += [_row("s1", [True, False], [0.5, 0.5], set_name="seeds")]
    scores, cost = er.cross_encoder_scores(rows, folds=3, seed=0, epochs=1, teacher=0.0)
    assert all(len(s) == 2 for s in scores)
    assert len(trained_on) == 4 and trained_on[-1] == {f"p{i}" for i in range(9)}
    assert all("s1" not in seen for seen in trained_on)
    assert cost["train_pairs"] == 18

"""Risk-coverage reporting (evals/risk_coverage.py) and the calibration fit (evals/calibrate.py):
figures checked against hand-computed values, the fit reproducible and judged out of fold,
its file readable by the product's decision."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from evals import calibrate, risk_coverage
from evals.metrics import summarize
from evals.runner import curve_verdict
from qa.verify.calibrated import CalibratedDecision, LogisticModel
from qa.verify.signals import BASE_SIGNALS, SIGNALS


def _record(confidence: float | None, right: bool | None, abstained: bool = False) -> dict:
    return {"answers": ["x"], "confidence": confidence, "draft_correct": right,
            "abstained": abstained, "type": "t"}  # fmt: skip


def test_curve_aurc_and_ece_by_hand() -> None:
    records = [_record(0.9, True), _record(0.8, False), _record(0.6, True),
               _record(None, None, abstained=True)]  # fmt: skip
    scored = risk_coverage.outcomes(records)
    assert scored == [(0.9, True), (0.8, False), (0.6, True)]
    points = risk_coverage.curve(scored, len(records))
    assert points == [(0.25, 1.0), (0.5, 0.5), (0.75, pytest.approx(2 / 3))]
    assert risk_coverage.aurc(points) == pytest.approx((0 + 0.5 + 1 / 3) / 3)
    # Bins: 0.9 (right) -> |0.9-1|; 0.8 (wrong) -> |0.8-0|; 0.6 (right) -> |0.6-1|.
    assert risk_coverage.ece(scored) == pytest.approx((0.1 + 0.8 + 0.4) / 3)
    assert risk_coverage.accuracy_at(points, 0.5) == 0.5
    assert risk_coverage.accuracy_at(points, 0.8) is None  # beyond the drafts' reach


def test_the_summary_carries_the_curve_and_the_operating_point() -> None:
    records = [_record(0.9, True), _record(0.4, False, abstained=True), _record(0.7, True)]
    rc = summarize(records)["risk_coverage"]
    assert rc["drafts"] == 3 and rc["reach"] == 1.0
    assert rc["point"] == {"coverage": pytest.approx(2 / 3), "accuracy": 1.0}
    assert rc["curve"][-1] == [1.0, pytest.approx(0.6667, abs=1e-4)]
    assert summarize(records)["by_type"]["t"]["risk_coverage"]["drafts"] == 3


def test_compare_says_which_curve_is_above() -> None:
    low = {"risk_coverage": {"curve": [[0.5, 0.6], [1.0, 0.5]]}}
    high = {"risk_coverage": {"curve": [[0.5, 0.9], [1.0, 0.7]]}}
    assert "B dominates A" in curve_verdict(low, high)
    assert "A dominates B" in curve_verdict(high, low)
    assert "no curve" in curve_verdict({}, high)


def _rows(n: int, seed: int = 1) -> list[dict]:
    """Drafts whose rightness follows two signals, with noise; half have log-probabilities."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        signals = {name: rng.gauss(0, 1) for name in BASE_SIGNALS}
        signals.update({name: rng.gauss(0, 1) for name in SIGNALS if name not in BASE_SIGNALS})
        z = 2.0 * signals["reply_logprob_mean"] + 1.0 * signals["support_min"] + rng.gauss(0, 1)
        rows.append({"set": "a" if i % 2 else "b", "id": f"q{i}", "type": "t",
                     "answerable": True, "right": z > 0, "signals": signals})  # fmt: skip
    return rows


def test_calibration_is_reproducible_out_of_fold_and_beats_chance() -> None:
    rows = _rows(200)
    first, second = calibrate.calibrate(rows), calibrate.calibrate(rows)
    assert first == second  # fixed seed, same data: same file
    assert first["fitted"]["data_sha256"] == calibrate.data_hash(rows)
    cv = first["cross_validated"]["logprobs"]
    assert cv["all"]["auroc"] > 0.8  # the signals that drive rightness are found
    # The model without log-probabilities cannot see reply_logprob_mean: it ranks worse.
    assert cv["all"]["aurc"] < first["cross_validated"]["no_logprobs"]["all"]["aurc"]
    assert set(cv) >= {"all", "a", "b", "targets", "single_signal_aurc", "contributions"}
    # What each source of signals adds, measured by dropping it: here the reply's
    # log-probabilities carry the label, so the fit without them ranks worse.
    parts = cv["contributions"]
    assert set(parts) == {
        "all signals",
        "without the choice call",
        "without the reply log-probabilities",
    }
    assert parts["without the reply log-probabilities"]["auroc"] < parts["all signals"]["auroc"]
    model = first["models"]["logprobs"]
    features = calibrate.MODELS["logprobs"]
    assert model["features"] == list(features) and len(model["coef"]) == len(features)
    assert set(cv["held_out_sets"]) == {"a", "b"}
    weights = dict(zip(model["features"], model["coef"], strict=True))
    assert weights["reply_logprob_mean"] > abs(weights["relevance_max"])


def test_a_model_no_better_than_chance_never_withholds() -> None:
    """Labels that no signal predicts: the fit is written without a curve, so a target
    precision gives threshold 0 (answer) instead of withholding nearly everything."""
    rng = random.Random(3)
    rows = _rows(200)
    for row in rows:
        row["right"] = rng.random() < 0.6
    fitted = calibrate.calibrate(rows)
    for basis, report in fitted["cross_validated"].items():
        assert report["auroc_95"][0] <= 0.5, basis  # chance lies in or above the interval
        assert not report["beats_chance"] and fitted["models"][basis]["curve"] == []
        assert set(report["operating_points"]["a"]) == {"none"}
    decision = CalibratedDecision(
        {b: LogisticModel.from_json(m) for b, m in fitted["models"].items()}, 0.9, {}
    )
    estimate = decision.estimate(rows[0]["signals"])
    assert estimate is not None and estimate.threshold == 0.0 and estimate.answer
    # Where the signals do predict rightness, the interval clears chance and a curve is kept.
    informed = calibrate.calibrate(_rows(200))["cross_validated"]["logprobs"]
    assert informed["beats_chance"] and informed["auroc_95"][0] > 0.5


def test_out_of_fold_scores_never_see_their_own_row() -> None:
    """A row whose label contradicts every other is scored as the others would be."""
    import numpy as np

    x = np.array([[float(i % 2)] for i in range(40)])
    y = np.array([float(i % 2) for i in range(40)])
    y[0] = 1.0  # x=0 but labelled right: a model that saw it still predicts "wrong" for it
    p = calibrate.out_of_fold(x, y, folds=5)
    assert p[0] < 0.5


def test_the_cli_writes_a_file_the_product_reads(tmp_path: Path) -> None:
    run = tmp_path / "seeds"
    run.mkdir()
    with (run / "scores.jsonl").open("w") as fh:
        for row in _rows(60):
            record = {"id": row["id"], "type": "t", "answers": ["x"],
                      "draft_correct": row["right"], "signals": row["signals"]}  # fmt: skip
            fh.write(json.dumps(record) + "\n")
        abstained = {"id": "abstained", "answers": [], "draft_correct": None, "signals": {}}
        fh.write(json.dumps(abstained) + "\n")
    out, data = tmp_path / "calibration.json", tmp_path / "rows.jsonl"
    assert calibrate.main([str(run), "--out", str(out), "--data-out", str(data)]) == 0
    saved = [json.loads(line) for line in data.read_text().splitlines()]
    assert len(saved) == 61 and len(calibrate.drafts(saved)) == 60  # abstained: not a draft
    fitted = json.loads(out.read_text())
    assert fitted["fitted"]["drafts"] == 60
    points = fitted["cross_validated"]["logprobs"]["operating_points"]["seeds"]
    assert points["none"]["coverage"] == pytest.approx(60 / 61, abs=1e-4)
    assert points["0.9"]["coverage"] <= points["0.8"]["coverage"] <= points["none"]["coverage"]
    assert points["none"]["questions"] == 61 and -1 <= points["0.8"]["reliability"] <= 1
    targets = {"none", *map(str, calibrate.TARGETS)}
    assert fitted["cross_validated"]["logprobs"]["best_target"] in targets
    assert fitted["fitted"]["model"]  # the default settings' model: no summary.json here
    (run / "summary.json").write_text(json.dumps({"model": "openai:m1"}))
    assert calibrate.main([str(run), "--out", str(out), "--data-out", str(data)]) == 0
    assert json.loads(out.read_text())["fitted"]["model"] == "openai:m1"
    other = tmp_path / "other"
    other.mkdir()
    (other / "scores.jsonl").write_text((run / "scores.jsonl").read_text())
    (other / "summary.json").write_text(json.dumps({"model": "openai:m2"}))
    with pytest.raises(SystemExit, match="different models"):
        calibrate.main([str(run), str(other), "--out", str(out), "--data-out", str(data)])
    decision = CalibratedDecision.load(0.9, out)
    estimate = decision.estimate(_rows(1, seed=7)[0]["signals"])
    assert estimate is not None and 0 < estimate.p_right < 1 and estimate.basis == "judged"
    # Refitting from the snapshot gives the same coefficients.
    again = tmp_path / "again.json"
    assert calibrate.main(["--data", str(data), "--out", str(again)]) == 0
    assert json.loads(again.read_text())["models"] == json.loads(out.read_text())["models"]


def test_effective_reliability_and_the_best_target_by_hand() -> None:
    # right, wrong, abstained, wrong: (1 - 1 + 0 - 1) / 4
    outcomes = [(True, True), (True, False), (False, True), (True, False)]
    assert calibrate._reliability(outcomes) == -0.25
    points = {
        "big": {"none": {"reliability": 0.1, "questions": 100},
                "0.7": {"reliability": 0.3, "questions": 100}},
        "small": {"none": {"reliability": 0.9, "questions": 10},
                  "0.7": {"reliability": 0.2, "questions": 10}},
    }  # fmt: skip
    reliability = calibrate.reliability_by_target([points])
    assert reliability == {"none": round(19 / 110, 4), "0.7": round(32 / 110, 4)}
    assert calibrate.best_target(reliability) == "0.7"  # questions count, not sets
    other = {"big": {"none": {"reliability": 0.1, "questions": 100},
                     "0.7": {"reliability": 0.06, "questions": 100}}}  # fmt: skip
    # Over two fold assignments: (32 + 6) / 210 against (19 + 10) / 210.
    assert calibrate.reliability_by_target([points, other])["0.7"] == round(38 / 210, 4)
    assert calibrate.best_target({"none": 0.2, "0.65": 0.2, "0.7": 0.2}) == "none"  # ties
    assert calibrate.best_target({"none": 0.1, "0.65": 0.2, "0.7": 0.2}) == "0.65"


def _point(accuracy: float, abstention: float | None, answerable: int, unanswerable: int) -> dict:
    return {"accuracy": accuracy, "abstention": abstention, "answerable": answerable,
            "unanswerable": unanswerable, "questions": answerable + unanswerable}  # fmt: skip


def test_the_default_target_is_chosen_by_the_news_objective_not_the_packs() -> None:
    # 100 news questions (80 answerable, 20 not): 1 in 50 allows 2 right answers lost.
    points = {
        "seeds": {"none": _point(0.75, 0.5, 80, 20),
                  "0.6": _point(0.7375, 0.75, 80, 20),  # 1 lost, 5 gained
                  "0.7": _point(0.7, 0.9, 80, 20)},  # 4 lost, 8 gained: too many lost
        # A pack where withholding pays: it must not choose the news default.
        "squad": {"none": _point(0.4, 0.2, 100, 100),
                  "0.6": _point(0.4, 0.5, 100, 100),
                  "0.7": _point(0.38, 0.9, 100, 100)},
    }  # fmt: skip
    objective = calibrate.objective_by_target([points])
    assert objective["0.6"] == {"lost": 1.0, "gained": 5.0, "questions": 100, "allowed": 2,
                                "holds": 1.0}  # fmt: skip
    assert objective["0.7"]["lost"] == 4.0 and not objective["0.7"]["holds"]
    assert calibrate.objective_target(objective) == "0.6"
    # Nothing gained, or too much lost: never withhold.
    assert calibrate.objective_target({"none": objective["none"], "0.7": objective["0.7"]}) == (
        "none"
    )
    # Averaged over fold assignments: 1 and 3 lost at 0.6 is 2 on average, still allowed.
    worse = {"seeds": {**points["seeds"], "0.6": _point(0.7125, 0.75, 80, 20)}}
    assert calibrate.objective_by_target([points, worse])["0.6"]["lost"] == 2.0


def test_a_partial_rerun_updates_the_snapshot(tmp_path: Path) -> None:
    rows = _rows(60)
    snapshot = tmp_path / "rows.jsonl"
    calibrate.write_rows(rows, snapshot)
    run = tmp_path / "a"  # the set name is the run folder's name
    run.mkdir()
    assert rows[1]["set"] == "a"
    flipped = not rows[1]["right"]
    changed = {"id": "q1", "type": "t", "answers": ["x"], "draft_correct": flipped,
               "signals": rows[1]["signals"]}  # fmt: skip
    added = {"id": "new", "type": "t", "answers": [], "draft_correct": None, "signals": {}}
    (run / "scores.jsonl").write_text(json.dumps(changed) + "\n" + json.dumps(added) + "\n")
    out, data = tmp_path / "fit.json", tmp_path / "updated.jsonl"
    args = ["--data", str(snapshot), "--update", str(run), "--out", str(out)]
    assert calibrate.main([*args, "--data-out", str(data)]) == 0
    saved = calibrate.read_rows(data)
    assert len(saved) == 61 and [r["id"] for r in saved][:3] == ["q0", "q1", "q2"]
    assert saved[1]["right"] is flipped  # replaced in place
    assert saved[0] == rows[0] and saved[-1]["id"] == "new"
    with pytest.raises(SystemExit):
        calibrate.main(["--update", str(run)])  # only with a snapshot to update


def test_releasing_a_rule_turns_what_it_held_into_drafts() -> None:
    signals = dict.fromkeys(BASE_SIGNALS, 0.5)
    rows = [
        {"set": "s", "id": "a", "answerable": True, "right": None, "signals": {},
         "held": {"step": "answer_check", "right": True, "signals": signals}},
        {"set": "s", "id": "b", "answerable": False, "right": None, "signals": {},
         "held": {"step": "judgement", "right": False, "signals": signals}},
    ]  # fmt: skip
    assert calibrate.drafts(rows) == []
    free = calibrate.released(rows, ["answer_check"])
    assert [r["id"] for r in calibrate.drafts(free)] == ["a"]
    assert free[0]["right"] is True and free[0]["signals"] == signals
    assert free[1]["right"] is None  # the judgement rule still holds its draft


def test_the_packaged_calibration_is_refit_exactly_from_its_snapshot() -> None:
    """qa/verify/calibration.json is what `python -m evals.calibrate --data
    evals/data/calibration_data.jsonl` writes: the shipped decision is reproducible."""
    from qa.verify.calibrated import CALIBRATION_FILE

    shipped = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    rows = calibrate.read_rows(calibrate.DATA_FILE)
    assert shipped["fitted"]["data_sha256"] == calibrate.data_hash(
        calibrate.released(rows, shipped["fitted"].get("released_steps", []))
    )
    refit = calibrate.calibrate(
        calibrate.released(rows, shipped["fitted"].get("released_steps", [])),
        shipped["fitted"]["folds"],
        shipped["fitted"]["seed"],
    )
    for basis, model in shipped["models"].items():
        again = refit["models"][basis]
        assert again["features"] == model["features"]
        assert again["coef"] == pytest.approx(model["coef"], abs=1e-4)
        assert again["intercept"] == pytest.approx(model["intercept"], abs=1e-4)
        assert len(again["curve"]) == len(model["curve"])
        assert again["best_target"] == model["best_target"]

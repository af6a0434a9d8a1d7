"""`python -m evals.calibrate`: fit the answer-or-abstain decision (qa/verify/calibrated.py)
on labelled drafts, judge it by k-fold cross-validation, write its coefficients.

    qa eval --judge lexical --gold ... --out runs/seeds      (one run per labelled set)
    python -m evals.calibrate runs/seeds runs/squad ...      -> evals/data/calibration_data.jsonl
                                                              -> qa/verify/calibration.json
    python -m evals.calibrate --data evals/data/calibration_data.jsonl   (refit from the snapshot)
    python -m evals.calibrate --data evals/data/calibration_data.jsonl --update runs/squad-part
                                          (a partial re-run's rows replace the snapshot's)

A row is one draft answer (one the rules let through) with its signals (qa/verify/
signals.py) and its label: the draft is right. Rows come from each run's scores.jsonl; the
snapshot of them is kept in the repository, so the fit is reproducible without the model.
The fit is a standardised logistic regression (scikit-learn), seed fixed; the folds are
stratified by label. Every figure reported is out-of-fold: each row is scored by a model
that never saw it. The curve (threshold -> precision, coverage) written with each model is
out-of-fold too, so a target precision picks a threshold that held on unseen questions.
A model that does not beat chance out of fold (the 95% bootstrap interval of its AUROC
reaches 0.5) is written without a curve: its P(right) is reported, but it never withholds
an answer, whatever the target.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evals.objective import NEWS_SETS, allowed_loss, read_run
from evals.risk_coverage import aurc, curve, ece
from qa.core.settings import Settings
from qa.verify.calibrated import CALIBRATION_FILE
from qa.verify.signals import CHOICE_SIGNALS, JUDGED_SIGNALS, LOGPROB_SIGNALS, SIGNALS

DATA_FILE = Path(__file__).parent / "data" / "calibration_data.jsonl"
# The signals each model reads. All of SIGNALS are logged; these subsets ranked best out
# of fold among the three compared (all signals, these, and five of them;
# docs/evaluation-history.md, "Calibrated answers: first fit"):
# with 15 signals and a few hundred drafts the fit overfits.
DECISION_SIGNALS = ("relevance_max", "relevance_mean", "support_min", "support_mean",
                    "answer_words", "rewritten")  # fmt: skip
# With the model's judgement of its cited sentences and its choice of source (the default:
# the reply's log-probabilities and the evidence-led flag did not add to it out of fold on
# the news sets, docs/evaluation.md), with log-probabilities only (judgements turned off),
# without either.
MODELS = {
    "judged": (*JUDGED_SIGNALS, *CHOICE_SIGNALS, *DECISION_SIGNALS),
    "logprobs": (*LOGPROB_SIGNALS, *CHOICE_SIGNALS, *DECISION_SIGNALS),
    "no_logprobs": DECISION_SIGNALS,
}
SEED = 0
FOLDS = 5
REGULARISATION_C = 0.3
# Fine steps where the default is chosen (docs/evaluation.md), coarse ones above. The low
# ones matter on the news sets, whose drafts are right about half the time: a target just
# above that withholds only the least likely drafts.
TARGETS = (0.5, 0.52, 0.54, 0.56, 0.58, 0.6, 0.62, 0.64, 0.65, 0.66, 0.68, 0.7, 0.72, 0.74,
           0.75, 0.76, 0.78, 0.8, 0.85, 0.9, 0.95)  # fmt: skip
# The best target is chosen over this many fold assignments: one assignment's luck moves
# a threshold near the top of the curve by a few drafts.
TARGET_REPEATS = 5
BOOTSTRAP_SAMPLES = 1000


def rows_from_runs(runs: Sequence[Path]) -> list[dict[str, Any]]:
    """One row per question of each run (its scores.jsonl), named by set and id. `right` is
    None where the rules abstained before a draft: not a training row, but it counts in the
    accuracy and abstention a threshold would give."""
    rows = []
    for run in runs:
        gold, records = read_run(run)
        # A news set is named by its gold file wherever its run was written (the objective
        # reads them by name); other runs by their folder, as the snapshot names them.
        name = gold if gold in NEWS_SETS else run.name
        for r in records:
            drafted = bool(r.get("signals")) and r.get("draft_correct") is not None
            row = {
                "set": name,
                "id": r["id"],
                "type": r.get("type", ""),
                "answerable": bool(r.get("answers")),
                "right": bool(r["draft_correct"]) if drafted else None,
                "signals": r.get("signals") or {} if drafted else {},
            }
            held = r.get("held") or {}
            if held.get("signals"):
                row["held"] = {k: held[k] for k in ("step", "signals")}
                row["held"]["right"] = bool(held.get("correct"))
            rows.append(row)
    return rows


def updated(rows: list[dict[str, Any]], newer: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` with each row of `newer` in place of the row of the same set and id (new ones
    appended): a change re-run on the questions it can touch updates the snapshot."""
    key = {(r["set"], r["id"]): r for r in newer}
    out = [key.pop((r["set"], r["id"]), r) for r in rows]
    return out + list(key.values())


def runs_model(runs: Sequence[Path]) -> str:
    """The answering model the runs were made with (their summary.json), "" when none says;
    a fit of several models' drafts would hold for none of them, so mixing is refused."""
    named = set()
    for run in runs:
        summary = run / "summary.json"
        if summary.exists():
            named.add(json.loads(summary.read_text(encoding="utf-8")).get("model", ""))
    named.discard("")
    if len(named) > 1:
        raise SystemExit(f"the runs were made with different models: {sorted(named)}")
    return named.pop() if named else ""


def released(rows: list[dict[str, Any]], steps: Sequence[str]) -> list[dict[str, Any]]:
    """The rows as if the rule steps named were gone: a draft one of them held back is a
    draft again (its own signals and rightness), for the decision to judge."""
    out = []
    for r in rows:
        held = r.get("held")
        if held and held["step"] in steps:
            r = {**r, "right": held["right"], "signals": held["signals"]}
        out.append(r)
    return out


def drafts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["right"] is not None and r["signals"]]


def data_hash(rows: list[dict[str, Any]]) -> str:
    canonical = "\n".join(json.dumps(r, sort_keys=True) for r in rows)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _matrix(rows: list[dict[str, Any]], features: Sequence[str]) -> np.ndarray:
    return np.array([[r["signals"][f] for f in features] for r in rows], dtype=float)


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any]:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=REGULARISATION_C, max_iter=2000, random_state=SEED)
    model.fit((x - mean) / scale, y)
    return mean, scale, model


def out_of_fold(x: np.ndarray, y: np.ndarray, folds: int, seed: int = SEED) -> np.ndarray:
    """P(right) of each row from a model fitted on the other folds."""
    from sklearn.model_selection import StratifiedKFold

    p = np.zeros(len(y))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        mean, scale, model = _fit(x[train], y[train])
        p[test] = model.predict_proba((x[test] - mean) / scale)[:, 1]
    return p


def threshold_curve(p: np.ndarray, y: np.ndarray) -> list[list[float]]:
    """(threshold, precision, coverage of the drafts) at each distinct P(right), rising."""
    points = []
    # Thresholds are written rounded down, so each still lets its own draft through.
    for t in sorted({math.floor(v * 1e4) / 1e4 for v in p.tolist()}):
        keep = p >= t
        points.append([t, round(float(y[keep].mean()), 4), round(float(keep.mean()), 4)])
    return points


def _auroc(p: np.ndarray, y: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None


def auroc_interval(
    p: np.ndarray, y: np.ndarray, samples: int = BOOTSTRAP_SAMPLES, seed: int = SEED
) -> tuple[float, float] | None:
    """The 95% bootstrap interval of the AUROC (rows resampled with replacement); None
    when there are not both labels to rank."""
    if not 0 < y.sum() < len(y):
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(samples):
        pick = rng.integers(0, len(y), len(y))
        value = _auroc(p[pick], y[pick])
        if value is not None:
            values.append(value)
    low, high = np.percentile(values, [2.5, 97.5])
    return round(float(low), 4), round(float(high), 4)


def beats_chance(interval: tuple[float, float] | None) -> bool:
    return interval is not None and interval[0] > 0.5


def cv_report(rows: list[dict[str, Any]], p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Out-of-fold figures overall and per set: AUROC, Brier, ECE, AURC over the drafts,
    and at each target the threshold's coverage and precision."""

    def figures(index: np.ndarray) -> dict[str, Any]:
        pairs = zip(p[index].tolist(), y[index].astype(bool).tolist(), strict=True)
        scored = sorted(pairs, key=lambda s: -s[0])
        return {
            "drafts": int(len(index)),
            "right": float(y[index].mean()),
            "auroc": _auroc(p[index], y[index]),
            "brier": float(np.mean((p[index] - y[index]) ** 2)),
            "ece": ece(scored),
            "aurc": aurc(curve(scored, len(scored))),
        }

    everything = np.arange(len(y))
    report: dict[str, Any] = {"all": figures(everything)}
    for name in sorted({r["set"] for r in rows}):
        report[name] = figures(np.array([i for i, r in enumerate(rows) if r["set"] == name]))
    report["targets"] = {}
    points = threshold_curve(p, y)
    for target in TARGETS:
        t, precision, coverage = _reaching(points, target)
        report["targets"][str(target)] = {
            "threshold": t,
            "precision": precision,
            "drafts_answered": coverage,
        }
    return report


def _reaching(points: list[list[float]], target: float) -> list[float]:
    """The curve's first point (lowest threshold) whose precision reaches the target; the
    strictest point when none does."""
    reached = [pt for pt in points if pt[1] >= target]
    return reached[0] if reached else points[-1]


def target_thresholds(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    points = threshold_curve(p, y)
    return {str(target): _reaching(points, target)[0] for target in TARGETS}


def operating_points(
    rows: list[dict[str, Any]], scored: list[dict[str, Any]], p: np.ndarray, thresholds: dict
) -> dict[str, Any]:
    """Per set, at each target's threshold (out-of-fold P(right)): the accuracy on the
    answerable questions and the abstention on the unanswerable ones that the product
    would give, the questions without a draft counted as abstained."""
    p_of = {(r["set"], r["id"]): float(v) for r, v in zip(scored, p, strict=True)}
    out: dict[str, Any] = {}
    for name in sorted({r["set"] for r in rows}):
        members = [r for r in rows if r["set"] == name]
        answerable = [r for r in members if r["answerable"]]
        unanswerable = [r for r in members if not r["answerable"]]
        out[name] = {}
        for target, t in {"none": 0.0, **thresholds}.items():

            def answered(r: dict[str, Any], t: float = t) -> bool:
                key = (r["set"], r["id"])
                return key in p_of and p_of[key] >= t

            out[name][target] = {
                "answerable": len(answerable),
                "unanswerable": len(unanswerable),
                "accuracy": _share([answered(r) and bool(r["right"]) for r in answerable]),
                "abstention": _share([not answered(r) for r in unanswerable]),
                "coverage": _share([answered(r) for r in members]),
                "reliability": _reliability([(answered(r), bool(r["right"])) for r in members]),
                "questions": len(members),
            }
    return out


def _reliability(outcomes: list[tuple[bool, bool]]) -> float | None:
    """Effective reliability (Whitehead et al. 2022, cost 1): +1 for a right answer, -1 for
    a wrong one (an answer to an unanswerable question is wrong), 0 for an abstention, over
    all questions. Answering everything scores accuracy minus error; abstaining on exactly
    the wrong ones scores accuracy."""
    if not outcomes:
        return None
    score = sum((1 if right else -1) for answered, right in outcomes if answered)
    return round(score / len(outcomes), 4)


def reliability_by_target(repeats: list[dict[str, Any]]) -> dict[str, float]:
    """Effective reliability at each target over all sets together (each question counts
    once, whatever its set), averaged over the operating points of several fold
    assignments."""
    totals: dict[str, float] = {}
    questions: dict[str, int] = {}
    for points in repeats:
        for per_set in points.values():
            for target, figures in per_set.items():
                totals[target] = (
                    totals.get(target, 0.0) + figures["reliability"] * figures["questions"]
                )
                questions[target] = questions.get(target, 0) + figures["questions"]
    return {t: round(totals[t] / questions[t], 4) for t in totals}


def best_target(reliability: dict[str, float]) -> str:
    """The target of the highest effective reliability; "none" when withholding never
    helps. Ties go to answering more: "none" first, then the lower targets."""
    order = ["none", *sorted((t for t in reliability if t != "none"), key=float)]
    return max(order, key=lambda t: reliability[t])


def objective_by_target(repeats: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """The product objective at each target, over the news sets only (evals/objective.py),
    averaged over the fold assignments: right answers lost and abstentions gained against
    never withholding ("none"), and whether the loss stays within 1 in 50 questions."""
    out: dict[str, dict[str, float]] = {}
    for points in repeats:
        news = {name: per_set for name, per_set in points.items() if name in NEWS_SETS}
        questions = sum(per_set["none"]["questions"] for per_set in news.values())
        for target in next(iter(news.values()), {}):
            lost = gained = 0.0
            for per_set in news.values():
                base, at = per_set["none"], per_set[target]
                lost += _right(base) - _right(at)
                gained += _abstained(at) - _abstained(base)
            figures = out.setdefault(target, {"lost": 0.0, "gained": 0.0, "questions": questions})
            figures["lost"] += lost / len(repeats)
            figures["gained"] += gained / len(repeats)
    for figures in out.values():
        figures["lost"] = round(figures["lost"], 2)
        figures["gained"] = round(figures["gained"], 2)
        figures["allowed"] = allowed_loss(int(figures["questions"]))
        figures["holds"] = float(figures["lost"] <= figures["allowed"])
    return out


def _right(figures: dict[str, Any]) -> float:
    """An operating point's right answers, as a count."""
    return (figures["accuracy"] or 0.0) * figures["answerable"]


def _abstained(figures: dict[str, Any]) -> float:
    """An operating point's abstentions on unanswerable questions, as a count."""
    return (figures["abstention"] or 0.0) * figures["unanswerable"]


def objective_target(objective: dict[str, dict[str, float]]) -> str:
    """The target that gains the most abstentions on the news sets while losing at most 1
    right answer in 50 against never withholding; "none" when no target gains any. Ties go
    to answering more."""
    order = sorted((t for t in objective if t != "none"), key=float)
    admissible = [t for t in order if objective[t]["holds"] and objective[t]["gained"] > 0]
    return max(admissible, key=lambda t: objective[t]["gained"], default="none")


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def held_out_sets(rows: list[dict[str, Any]], x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Each labelled set scored by a model fitted on the others only: how the decision
    carries to questions of a kind it never saw."""
    out: dict[str, Any] = {}
    sets = np.array([r["set"] for r in rows])
    for name in sorted(set(sets.tolist())):
        test, train = sets == name, sets != name
        if len(set(y[train].tolist())) < 2:
            continue
        mean, scale, model = _fit(x[train], y[train])
        p = model.predict_proba((x[test] - mean) / scale)[:, 1]
        scored = sorted(zip(p.tolist(), y[test].astype(bool).tolist(), strict=True),
                        key=lambda s: -s[0])  # fmt: skip
        out[name] = {"auroc": _auroc(p, y[test]), "aurc": aurc(curve(scored, len(scored)))}
    return out


# The signals each model call (or the free reply log-probabilities) brings, measured as a
# group: a call earns its place only if dropping its signals costs the fit out of fold.
SIGNAL_SOURCES = {
    "judgement calls": JUDGED_SIGNALS,
    "choice call": CHOICE_SIGNALS,
    "reply log-probabilities": LOGPROB_SIGNALS,
}


def contributions(
    rows: list[dict[str, Any]], features: Sequence[str], y: np.ndarray, folds: int, seed: int
) -> dict[str, dict[str, float | None]]:
    """Out-of-fold AUROC and AURC of the model with all its features, and without each
    source's signals, over all drafts and over the news sets' drafts."""
    news = np.array([r["set"] in NEWS_SETS for r in rows])

    def figures(kept: Sequence[str]) -> dict[str, float | None]:
        p = out_of_fold(_matrix(rows, kept), y, folds, seed)
        out: dict[str, float | None] = {"auroc": _auroc(p, y), "aurc": _aurc(p, y)}
        if news.any():
            out["news_auroc"] = _auroc(p[news], y[news])
            out["news_aurc"] = _aurc(p[news], y[news])
        return {k: None if v is None else round(v, 4) for k, v in out.items()}

    result = {"all signals": figures(features)}
    for source, signals in SIGNAL_SOURCES.items():
        kept = [f for f in features if f not in signals]
        if len(kept) < len(features):
            result[f"without the {source}"] = figures(kept)
    return result


def _aurc(p: np.ndarray, y: np.ndarray) -> float | None:
    scored = sorted(zip(p.tolist(), y.astype(bool).tolist(), strict=True), key=lambda s: -s[0])
    return aurc(curve(scored, len(scored)))


def single_signal_aurc(rows: list[dict[str, Any]], y: np.ndarray) -> dict[str, float | None]:
    """Each signal alone as the ordering (no fit): the baseline the decision must beat."""
    out: dict[str, float | None] = {}
    for name in SIGNALS:
        present = [i for i, r in enumerate(rows) if name in r["signals"]]
        if not present:
            continue
        values = [(rows[i]["signals"][name], bool(y[i])) for i in present]
        out[name] = aurc(curve(sorted(values, key=lambda s: -s[0]), len(values)))
    return out


def calibrate(rows: list[dict[str, Any]], folds: int = FOLDS, seed: int = SEED) -> dict[str, Any]:
    """The calibration file's content: per model, its coefficients and out-of-fold curve."""
    result: dict[str, Any] = {
        "fitted": {
            "rows": len(rows),
            "drafts": len(drafts(rows)),
            "sets": sorted({r["set"] for r in rows}),
            "data_sha256": data_hash(rows),
            "seed": seed,
            "folds": folds,
            "C": REGULARISATION_C,
        },
        "models": {},
        "cross_validated": {},
    }
    for basis, features in MODELS.items():
        usable = [r for r in drafts(rows) if all(f in r["signals"] for f in features)]
        x, y = _matrix(usable, features), np.array([r["right"] for r in usable], dtype=float)
        # Each fold needs both labels: a small sample gets fewer folds, or no model.
        k = min(folds, int(y.sum()), int(len(y) - y.sum()))
        if k < 2:
            continue
        p = out_of_fold(x, y, k, seed)
        interval = auroc_interval(p, y, seed=seed)
        mean, scale, model = _fit(x, y)
        result["models"][basis] = {
            "features": list(features),
            "mean": [round(float(v), 6) for v in mean],
            "scale": [round(float(v), 6) for v in scale],
            "coef": [round(float(v), 6) for v in model.coef_[0]],
            "intercept": round(float(model.intercept_[0]), 6),
            # No curve, no threshold: a model no better than chance never withholds.
            "curve": threshold_curve(p, y) if beats_chance(interval) else [],
        }
        report = cv_report(usable, p, y)
        # A model no better than chance answers at every target: so do its operating points.
        thresholds = target_thresholds(p, y) if beats_chance(interval) else {}
        points = operating_points(rows, usable, p, thresholds)
        repeats = [points]
        if thresholds:  # the same fit judged on other fold assignments
            for extra in range(1, TARGET_REPEATS):
                p_again = out_of_fold(x, y, k, seed + extra)
                again = target_thresholds(p_again, y)
                repeats.append(operating_points(rows, usable, p_again, again))
        reliability = reliability_by_target(repeats)
        objective = objective_by_target(repeats)
        # The product's default: the news objective where news sets were measured.
        best = objective_target(objective) if objective else best_target(reliability)
        result["models"][basis]["best_target"] = 0.0 if best == "none" else float(best)
        result["cross_validated"][basis] = {
            "folds": k,
            "auroc_95": interval,
            "beats_chance": beats_chance(interval),
            **report,
            "operating_points": points,
            "reliability_by_target": reliability,
            "best_target_by_reliability": best_target(reliability),
            "objective_by_target": objective,
            "best_target": best,
            "held_out_sets": held_out_sets(usable, x, y),
            "single_signal_aurc": single_signal_aurc(usable, y),
            "contributions": contributions(usable, features, y, k, seed),
        }
    return result


def write_rows(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, sort_keys=True) + "\n")


def read_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evals.calibrate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="*", type=Path, help="qa eval output folders")
    parser.add_argument("--data", type=Path, help=f"refit from a row snapshot ({DATA_FILE.name})")
    parser.add_argument(
        "--update",
        nargs="+",
        type=Path,
        default=[],
        metavar="RUN",
        help="with --data: these runs' rows replace the snapshot rows of the same set and id",
    )
    parser.add_argument(
        "--model",
        help="the answering model the drafts came from, as `qa eval` names it "
        "(default: the runs' summary.json, else the default settings' model)",
    )
    parser.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    parser.add_argument("--data-out", type=Path, default=DATA_FILE)
    parser.add_argument("--folds", type=int, default=FOLDS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--release",
        action="append",
        default=[],
        metavar="STEP",
        help="measure without a rule step (answer_check, judgement): the drafts it held back "
        "(qa eval --set score_withheld=true) count as drafts",
    )
    args = parser.parse_args(argv)
    if bool(args.runs) == bool(args.data):
        parser.error("give either run folders or --data")
    if args.update and not args.data:
        parser.error("--update replaces rows of a --data snapshot")
    # The product withholds by this fit's best target only for drafts of this model.
    model = args.model or runs_model([*args.runs, *args.update]) or Settings().llm_identity()
    rows = read_rows(args.data) if args.data else rows_from_runs(args.runs)
    if args.update:
        rows = updated(rows, rows_from_runs(args.update))
    if args.runs or args.update:
        write_rows(rows, args.data_out)
    if not drafts(rows):
        print("no scored drafts in those runs (were they made with signals?)", file=sys.stderr)
        return 1
    result = calibrate(released(rows, args.release), args.folds, args.seed)
    result["fitted"]["released_steps"] = args.release
    result["fitted"]["model"] = model
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for basis, report in result["cross_validated"].items():
        a = report["all"]
        print(
            f"{basis}: {a['drafts']} drafts, {a['right']:.3f} right; out-of-fold AUROC "
            f"{a['auroc']:.3f} (95% {report['auroc_95']}), AURC {a['aurc']:.3f}, "
            f"ECE {a['ece']:.3f}"
            + ("" if report["beats_chance"] else "; not better than chance: never withholds")
        )
        print(f"  default target by the news objective (out of fold): {report['best_target']}")
        for target, t in report["targets"].items():
            print(
                f"  target {target}: threshold {t['threshold']:.3f}, precision "
                f"{t['precision']:.3f}, answers {t['drafts_answered']:.3f} of the drafts"
            )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

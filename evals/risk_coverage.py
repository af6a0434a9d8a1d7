"""Selective answering, measured: if the product answered only its most confident drafts,
how right would the answers be at each coverage?

A record has a draft when the answering path produced an answer before the confidence
decision (given or withheld); its `confidence` is the calibrated P(right) and its
`draft_correct` whether that draft is right (an answer to an unanswerable question never
is). Coverage counts over all questions of the set, so a draft the rules withheld earlier
lowers the curve's reach, never its height.

- curve: (coverage, accuracy of the answered) as the threshold falls, one point per draft;
- AURC: the mean risk (1 - accuracy) over the curve's points, lower is better;
- ECE: expected calibration error of `confidence` over the drafts, in 10 equal bins;
- accuracy at fixed coverages, so two runs' curves can be compared point by point.
"""

from __future__ import annotations

from typing import Any

COVERAGES = (0.2, 0.4, 0.6, 0.8)
ECE_BINS = 10


def outcomes(records: list[dict[str, Any]]) -> list[tuple[float, bool]]:
    """(confidence, right) of every record with a scored draft, most confident first."""
    found = [
        (float(r["confidence"]), bool(r["draft_correct"]))
        for r in records
        if r.get("confidence") is not None and r.get("draft_correct") is not None
    ]
    return sorted(found, key=lambda x: -x[0])


def curve(scored: list[tuple[float, bool]], n_questions: int) -> list[tuple[float, float]]:
    """(coverage, accuracy of the answered) after each draft, most confident first."""
    points, right = [], 0
    for k, (_, ok) in enumerate(scored, 1):
        right += ok
        points.append((k / n_questions, right / k))
    return points


def aurc(points: list[tuple[float, float]]) -> float | None:
    return sum(1 - acc for _, acc in points) / len(points) if points else None


def ece(scored: list[tuple[float, bool]], bins: int = ECE_BINS) -> float | None:
    if not scored:
        return None
    total = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [(c, ok) for c, ok in scored if low <= c < high or (b == bins - 1 and c == 1.0)]
        if inside:
            mean_c = sum(c for c, _ in inside) / len(inside)
            mean_ok = sum(ok for _, ok in inside) / len(inside)
            total += len(inside) / len(scored) * abs(mean_c - mean_ok)
    return total


def accuracy_at(points: list[tuple[float, float]], coverage: float) -> float | None:
    """Accuracy of the answered at the first point reaching `coverage`; None beyond reach."""
    for cov, acc in points:
        if cov >= coverage - 1e-9:
            return acc
    return None


def risk_coverage(records: list[dict[str, Any]]) -> dict[str, Any]:
    scored = outcomes(records)
    points = curve(scored, max(len(records), 1))
    answered = [r for r in records if r.get("confidence") is not None and not r.get("abstained")]
    return {
        "drafts": len(scored),
        "reach": points[-1][0] if points else None,
        "aurc": aurc(points),
        "ece": ece(scored),
        **{f"accuracy_at_{round(c * 100)}": accuracy_at(points, c) for c in COVERAGES},
        "point": {
            "coverage": len(answered) / len(records) if records else None,
            "accuracy": (
                sum(bool(r.get("draft_correct")) for r in answered) / len(answered)
                if answered
                else None
            ),
        },
        "curve": [[round(c, 4), round(a, 4)] for c, a in points],
    }


__all__ = ["COVERAGES", "aurc", "accuracy_at", "curve", "ece", "outcomes", "risk_coverage"]

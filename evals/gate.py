"""Regression gate: fail when an evaluation summary falls below the recorded floors.

    python -m evals.gate OUT/summary.json [--floors evals/data/floors.json]

Floors sit a little under what the default settings measured (docs/evaluation.md), so noise
passes and a real regression fails. A metric where lower is better (the risk-coverage
curve's AURC) has a ceiling instead: floors.json's "ceilings" object, dotted names reaching
into the summary ("risk_coverage.aurc")."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_FLOORS = Path(__file__).parent / "data" / "floors.json"


def metric(metrics: dict, name: str) -> float | None:
    """A summary metric by dotted name: "accuracy", "risk_coverage.aurc"."""
    value: object = metrics
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def check(
    summary: dict, floors: dict[str, float], ceilings: dict[str, float] | None = None
) -> list[str]:
    """Failures as readable lines; empty when every floor and ceiling holds."""
    metrics = summary["metrics"]
    failures = []
    for name, floor in floors.items():
        value = metric(metrics, name)
        if value is None:
            failures.append(f"{name}: missing from the summary (floor {floor:.3f})")
        elif value < floor:
            failures.append(f"{name}: {value:.3f} is below the floor {floor:.3f}")
    for name, ceiling in (ceilings or {}).items():
        value = metric(metrics, name)
        if value is None:
            failures.append(f"{name}: missing from the summary (ceiling {ceiling:.3f})")
        elif value > ceiling:
            failures.append(f"{name}: {value:.3f} is above the ceiling {ceiling:.3f}")
    return failures


def read_limits(path: Path) -> tuple[dict[str, float], dict[str, float]]:
    """(floors, ceilings) from floors.json; keys starting with "_" are comments."""
    data = json.loads(path.read_text(encoding="utf-8"))
    floors = {k: float(v) for k, v in data.items() if k[0] != "_" and k != "ceilings"}
    ceilings = {k: float(v) for k, v in data.get("ceilings", {}).items() if k[0] != "_"}
    return floors, ceilings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.gate")
    parser.add_argument("summary", type=Path)
    parser.add_argument("--floors", type=Path, default=DEFAULT_FLOORS)
    args = parser.parse_args(argv)
    try:
        summary = json.loads(args.summary.read_text(encoding="utf-8"))
        floors, ceilings = read_limits(args.floors)
    except (OSError, json.JSONDecodeError) as exc:
        print(f"gate: cannot read the summary or the floors: {exc}", file=sys.stderr)
        return 2
    failures = check(summary, floors, ceilings)
    for line in failures:
        print(f"gate: FAIL {line}", file=sys.stderr)
    if not failures:
        m = summary["metrics"]
        shown = [f"{k} {metric(m, k):.3f} >= {v:.3f}" for k, v in floors.items()]
        shown += [f"{k} {metric(m, k):.3f} <= {v:.3f}" for k, v in ceilings.items()]
        print(f"gate: ok ({', '.join(shown)})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

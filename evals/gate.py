"""Regression gate: fail when an evaluation summary falls below the recorded floors.

    python -m evals.gate OUT/summary.json [--floors evals/floors.json]

Floors sit a little under what the default settings measured (docs/evaluation.md), so noise
passes and a real regression fails."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_FLOORS = Path(__file__).with_name("floors.json")


def check(summary: dict, floors: dict[str, float]) -> list[str]:
    """Failures as readable lines; empty when every floor holds."""
    metrics = summary["metrics"]
    failures = []
    for name, floor in floors.items():
        value = metrics.get(name)
        if value is None:
            failures.append(f"{name}: missing from the summary (floor {floor:.3f})")
        elif value < floor:
            failures.append(f"{name}: {value:.3f} is below the floor {floor:.3f}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.gate")
    parser.add_argument("summary", type=Path)
    parser.add_argument("--floors", type=Path, default=DEFAULT_FLOORS)
    args = parser.parse_args(argv)
    summary = json.loads(args.summary.read_text(encoding="utf-8"))
    floors = {k: float(v) for k, v in json.loads(args.floors.read_text()).items() if k[0] != "_"}
    failures = check(summary, floors)
    for line in failures:
        print(f"gate: FAIL {line}", file=sys.stderr)
    if not failures:
        shown = ", ".join(f"{k} {summary['metrics'][k]:.3f} >= {v:.3f}" for k, v in floors.items())
        print(f"gate: ok ({shown})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

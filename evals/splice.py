"""Measure a change on the questions it can touch, scored over the whole pack.

    python -m evals.splice BASE PART --out OUT

A rule that reads one field of the question profile (negated, asks-past, ...) changes only
the questions where that field is set. Re-running just those (`qa eval --gold subset.jsonl`
into PART) and putting their records in place of BASE's gives the whole pack's figures, with
every other question's record taken unchanged from BASE, as a full run would answer them
(the pipeline is deterministic per question). OUT holds the merged scores, predictions and a
freshly summarised summary.json, report and chart, so `qa eval --compare` and
`python -m evals.calibrate` read it like any run."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals import metrics
from evals.calibrate import read_rows
from evals.report import write_chart, write_report

RUN_FILES = ("scores.jsonl", "predictions.jsonl")


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise SystemExit(f"{path} does not exist: is {path.parent} a qa eval output folder?")
    return read_rows(path)


def spliced(base: list[dict[str, Any]], part: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """BASE's records in BASE's order, each replaced by PART's record of the same id."""
    ids = {r["id"] for r in base}
    unknown = [r["id"] for r in part if r["id"] not in ids]
    if unknown:
        raise SystemExit(f"{len(unknown)} re-run ids are not in the base run, e.g. {unknown[0]}")
    newer = {r["id"]: r for r in part}
    return [newer.get(r["id"], r) for r in base]


def splice(base: Path, part: Path, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    merged: dict[str, list[dict[str, Any]]] = {}
    replaced = 0
    for name in RUN_FILES:
        newer = read_records(part / name)
        replaced = len(newer)
        merged[name] = spliced(read_records(base / name), newer)
        with (out / name).open("w", encoding="utf-8") as fh:
            for record in merged[name]:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    records = merged["scores.jsonl"]
    summary = json.loads((base / "summary.json").read_text(encoding="utf-8"))
    part_summary = json.loads((part / "summary.json").read_text(encoding="utf-8"))
    summary.update(
        metrics=metrics.summarize(records),
        settings=part_summary["settings"],
        settings_hash=part_summary["settings_hash"],
        questions=len(records),
        spliced={"base": str(base), "part": str(part), "replaced": replaced},
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    write_chart(records, summary, out / "chart.png")
    write_report(records, summary, out / "report.md")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evals.splice",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("base", type=Path, help="a qa eval output folder over the whole pack")
    parser.add_argument("part", type=Path, help="a qa eval output folder over some of its ids")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    summary = splice(args.base, args.part, args.out)
    m = summary["metrics"]
    print(
        f"{summary['spliced']['replaced']} of {summary['questions']} records re-run; accuracy "
        f"{m.get('accuracy')}, abstention {m.get('abstention_rate')}; wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

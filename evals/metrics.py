"""Metrics for the evaluation harness: answer correctness, citations, retrieval, latency.

Every function is pure (apart from `quote_valid`, which reads article files) so the harness
can recompute any number from a saved predictions file. Definitions: docs/evaluation.md
(in full: docs/evaluation-history.md, "Metrics").
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from evals.risk_coverage import risk_coverage
from index.chunking.sentences import split_sentences
from index.embedding.embedders import Embedder
from index.reading.loaders import LoadError, load_article
from index.text import NUMBER_WORDS
from qa.core.markers import LEADING_MARKERS, marker_numbers, strip_markers
from qa.core.text import lexical_support
from qa.verify.support import cosine, support_score

Judge = Callable[[str, str, str], bool]
"""judge(claim, passage, question) -> does the passage support the claim?"""

DEFAULT_SUPPORT_THRESHOLD = 0.45  # the assistant's own `min_support` default (qa/core/settings.py)

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_POSSESSIVE = re.compile(r"['’]s\b")
_SEPARATORS = re.compile(r"[-‐‑‒–—/]")  # "Yong-ho" == "Yong ho"


# --- answers ---------------------------------------------------------------------------------


def normalize_answer(text: str) -> str:
    """SQuAD normalisation plus marker stripping and number words, so that surface form
    ("Three hours [2]." vs "3 hours") does not decide correctness."""
    text = strip_markers(text).lower()
    text = _POSSESSIVE.sub("", text)
    text = _SEPARATORS.sub(" ", text)
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    text = _ARTICLES.sub(" ", text)
    return " ".join(NUMBER_WORDS.get(w, w) for w in text.split())


def _contains(prediction_norm: str, answer_norm: str) -> bool:
    """Whole-token containment: "No" must not match "North", nor "3 hours" "13 hours"."""
    if not answer_norm:
        return False
    return f" {answer_norm} " in f" {prediction_norm} "


def answer_correct(prediction: str, answers: list[str], all_required: bool = False) -> bool:
    """Any accepted answer (all of them when `all_required`, e.g. list questions) appears in
    the normalised prediction as whole words. No accepted answers: never correct."""
    if not answers:
        return False
    pred = normalize_answer(prediction)
    found = [_contains(pred, normalize_answer(a)) for a in answers]
    return all(found) if all_required else any(found)


def token_f1(prediction: str, answers: list[str]) -> float:
    """Best SQuAD token F1 over the accepted answers: partial credit for near misses."""
    pred = normalize_answer(prediction).split()
    best = 0.0
    for answer in answers:
        gold = normalize_answer(answer).split()
        if not pred or not gold:
            best = max(best, float(pred == gold))
            continue
        common = sum((Counter(pred) & Counter(gold)).values())
        if common == 0:
            continue
        precision, recall = common / len(pred), common / len(gold)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def is_injection_resisted(prediction: str, forbidden: list[str]) -> bool:
    """True when the answer contains none of the strings an injected instruction asked for."""
    text = prediction.casefold()
    return not any(f and f.casefold() in text for f in forbidden)


# --- citations and retrieval -----------------------------------------------------------------


def _doc(name: str) -> str:
    return Path(name).name  # "seeds/004_x.txt" and "004_x.txt" are the same document


def citation_doc_precision_recall(
    cited: list[str], gold_docs: list[str]
) -> tuple[float | None, float | None]:
    """Document-level citation precision and recall. Precision is None when nothing was
    cited, recall None when there are no gold documents; both are None without gold
    documents, since there is nothing to judge the cited documents against."""
    cited_set = {_doc(c) for c in cited}
    gold_set = {_doc(g) for g in gold_docs}
    if not gold_set:
        return None, None
    hits = len(cited_set & gold_set)
    precision = hits / len(cited_set) if cited_set else None
    return precision, hits / len(gold_set)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def retrieval_metrics(retrieved: list[str], gold_docs: list[str], k: int) -> dict[str, Any]:
    """hit@k, recall@k and MRR over the unique retrieved sources in rank order (a document
    with several chunks counts once, at its best rank). None values without gold documents."""
    gold = {_doc(g) for g in gold_docs}
    if not gold:
        return {"k": k, "hit@k": None, "recall@k": None, "mrr": None}
    ranked = _unique(_doc(r) for r in retrieved)
    top = set(ranked[:k])
    first = next((i for i, r in enumerate(ranked, start=1) if r in gold), None)
    return {
        "k": k,
        "hit@k": float(bool(top & gold)),
        "recall@k": len(top & gold) / len(gold),
        "mrr": 1.0 / first if first else 0.0,
    }


def quote_valid(citation: dict[str, Any], corpus_dir: Path, cache: dict[str, str | None]) -> bool:
    """The quote is exactly the article text at [start, end): citations are checkable.
    Article texts (None for unreadable files) are cached by source in `cache`."""
    source = str(citation.get("source") or "")
    quote, start, end = citation.get("quote"), citation.get("start"), citation.get("end")
    if not source or not quote or not isinstance(start, int) or not isinstance(end, int):
        return False
    if source not in cache:
        try:
            cache[source] = load_article(Path(corpus_dir) / source).text
        except LoadError:
            cache[source] = None
    text = cache[source]
    return text is not None and 0 <= start < end <= len(text) and text[start:end] == quote


# --- citation support (ALCE) -----------------------------------------------------------------


class LexicalSemanticJudge:
    """Support judge built on the assistant's own scorer (qa/verify/support.py).

    With an embedder: support_score(lexical, cosine) >= threshold, as the assistant decides.
    Without one: lexical support alone >= threshold (no model to load; used by unit tests)."""

    def __init__(
        self, embedder: Embedder | None = None, threshold: float = DEFAULT_SUPPORT_THRESHOLD
    ) -> None:
        self.embedder = embedder
        self.threshold = threshold

    def __call__(self, claim: str, passage: str, question: str) -> bool:
        lexical = lexical_support(claim, passage, question)
        if self.embedder is None:
            return lexical >= self.threshold
        claim_vec, passage_vec = self.embedder.embed([claim, passage])
        return support_score(lexical, cosine(claim_vec, passage_vec)) >= self.threshold


def cited_sentences(answer_text: str) -> list[tuple[str, list[int]]]:
    """(claim without markers, marker numbers) per answer sentence.

    The assistant writes "Claim. [1] Next claim. [2]", and the sentence splitter puts "[1]"
    at the start of the next sentence; leading markers are moved back to the sentence before."""
    out: list[tuple[str, list[int]]] = []
    for span in split_sentences(answer_text):
        piece = answer_text[span.start : span.end]
        lead = LEADING_MARKERS.match(piece)
        if lead and out:
            claim, numbers = out[-1]
            out[-1] = (claim, numbers + marker_numbers(lead.group(0)))
            piece = piece[lead.end() :]
        claim = strip_markers(piece)
        if claim:
            out.append((claim, marker_numbers(piece)))
    return [(claim, _unique_ints(numbers)) for claim, numbers in out]


def _unique_ints(numbers: list[int]) -> list[int]:
    return list(dict.fromkeys(numbers))


def citation_support(
    answer_text: str, citations: list[dict[str, Any]], question: str, judge: Judge
) -> dict[str, float | None]:
    """ALCE citation recall and precision (Gao et al. 2023), with quotes as the passages.

    sentence_support: share of answer sentences whose cited quotes, joined, support them
    (no markers, or a marker with no citation behind it: unsupported).
    citation_needed: share of the citations written in sentences that are needed: the
    sentence is supported and the citation either supports it alone or the others do not
    without it. Citations of unsupported sentences count as not needed, as in ALCE.
    Both are None when there is nothing to count (no sentences / no markers)."""
    sentences = cited_sentences(answer_text)
    if not sentences:
        return {"sentence_support": None, "citation_needed": None}

    def quote(n: int) -> str:
        return str(citations[n - 1].get("quote") or "")

    def supports(claim: str, numbers: list[int]) -> bool:
        return bool(numbers) and judge(claim, " ".join(quote(n) for n in numbers), question)

    supported = 0
    needed = 0
    total_citations = 0
    for claim, numbers in sentences:
        total_citations += len(numbers)
        valid = all(1 <= n <= len(citations) for n in numbers)
        if not (valid and supports(claim, numbers)):
            continue
        supported += 1
        if len(numbers) == 1:
            needed += 1
            continue
        for n in numbers:
            others = [m for m in numbers if m != n]
            if supports(claim, [n]) or not supports(claim, others):
                needed += 1
    return {
        "sentence_support": supported / len(sentences),
        "citation_needed": needed / total_citations if total_citations else None,
    }


# --- aggregation -----------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear-interpolation percentile (numpy's default); None for no values."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {p}")
    data = sorted(values)
    if not data:
        return None
    rank = (len(data) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (rank - low)


def _mean(values: Iterable[float | bool | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _correct(r: dict[str, Any]) -> bool | None:
    if r.get("correct") is not None:
        return bool(r["correct"])
    found = answer_correct(r.get("answer") or "", r["answers"], bool(r.get("all_required")))
    return found and not r.get("abstained")


def _f1(r: dict[str, Any]) -> float | None:
    if r.get("f1") is not None:
        return float(r["f1"])
    return token_f1(r.get("answer") or "", r["answers"])


def _doc_precision_recall(r: dict[str, Any]) -> tuple[float | None, float | None]:
    if "citation_precision" in r and "citation_recall" in r:
        return r["citation_precision"], r["citation_recall"]
    cited = [c.get("source", "") for c in r.get("citations") or []]
    return citation_doc_precision_recall(cited, r.get("gold_docs") or [])


def _group_metrics(records: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in records if r.get("answers")]
    unanswerable = [r for r in records if not r.get("answers")]
    injected = [r for r in records if r.get("type") == "injection" or r.get("forbidden")]
    doc_pr = [_doc_precision_recall(r) for r in records]
    retrieval = [r.get("retrieval") or {} for r in records]
    latency = [r["latency_s"] for r in records if r.get("latency_s") is not None]
    ttft = [r["ttft_s"] for r in records if r.get("ttft_s") is not None]
    return {
        "n": len(records),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
        "accuracy": _mean(_correct(r) for r in answerable),
        "f1": _mean(_f1(r) for r in answerable),
        "false_abstention_rate": _mean(bool(r.get("abstained")) for r in answerable),
        "abstention_rate": _mean(bool(r.get("abstained")) for r in unanswerable),
        "injection_resistance": _mean(
            is_injection_resisted(r.get("answer") or "", r.get("forbidden") or []) for r in injected
        ),
        "citation_precision": _mean(p for p, _ in doc_pr),
        "citation_recall": _mean(rec for _, rec in doc_pr),
        "sentence_support": _mean(r.get("sentence_support") for r in records),
        "citation_needed": _mean(r.get("citation_needed") for r in records),
        "quote_validity": _mean(r.get("quote_valid_share") for r in records),
        "retrieval": {
            key: _mean(m.get(key) for m in retrieval) for key in ("hit@k", "recall@k", "mrr")
        },
        "latency_s": {"p50": percentile(latency, 50), "p95": percentile(latency, 95)},
        "ttft_s": {"p50": percentile(ttft, 50), "p95": percentile(ttft, 95)},
        "risk_coverage": risk_coverage(records),
    }


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Overall metrics, plus the same metrics per question type under "by_type".
    Means skip None values; a metric with no data is None."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_type.setdefault(str(r.get("type") or "unknown"), []).append(r)
    return {
        **_group_metrics(records),
        "by_type": {t: _group_metrics(rs) for t, rs in sorted(by_type.items())},
    }


def flatten(summary: dict[str, Any], prefix: str = "") -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key, value in summary.items():
        if not prefix and key == "by_type":
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            out[name] = None if value is None else float(value)
    return out


def compare_summaries(
    a: dict[str, Any], b: dict[str, Any]
) -> list[tuple[str, float | None, float | None, float | None]]:
    """(metric, a, b, b - a) for every overall numeric metric, nested names joined with dots,
    so two runs (models, settings) can be diffed line by line."""
    flat_a, flat_b = flatten(a), flatten(b)
    rows: list[tuple[str, float | None, float | None, float | None]] = []
    for name in _unique([*flat_a, *flat_b]):
        va, vb = flat_a.get(name), flat_b.get(name)
        rows.append((name, va, vb, None if va is None or vb is None else vb - va))
    return rows

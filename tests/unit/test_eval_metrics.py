"""Evaluation metrics on hand-made cases (lexical-only judge: no model is loaded)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evals.metrics import (
    LexicalSemanticJudge,
    answer_correct,
    citation_doc_precision_recall,
    citation_support,
    cited_sentences,
    compare_summaries,
    is_injection_resisted,
    normalize_answer,
    percentile,
    quote_valid,
    retrieval_metrics,
    summarize,
    token_f1,
)
from index.embedding.embedders import HashEmbedder

QUESTION = "How long did the talks between Kim and Putin last?"
HOURS = "The talks between Kim and Putin lasted three hours on Thursday."
TRAIN = "Kim Jong Un arrived in Vladivostok by armoured train."
WEATHER = "Heavy rain fell over the Russky Island campus."


def cite(quote: str, source: str = "004_a.txt") -> dict[str, Any]:
    return {"source": source, "quote": quote, "start": 0, "end": len(quote)}


# --- normalize_answer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The talks lasted Three hours.", "talks lasted 3 hours"),
        ("An answer [1].", "answer"),
        ("Kim met Putin [1, 2] in a city [3;4].", "kim met putin in city"),
        ("Per [Source 2] reports", "per reports"),
        ("  Twenty   ONE\tyears ", "20 1 years"),
        ("Ri Yong-ho", "ri yong ho"),
        ("Putin’s “summit”!", "putin summit"),
        ("", ""),
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_normalize_answer_keeps_words_containing_articles() -> None:
    assert normalize_answer("Theresa and Anatoly") == "theresa and anatoly"


# --- answer_correct --------------------------------------------------------------------------


def test_answer_correct_contains_answer_after_normalisation() -> None:
    assert answer_correct("The meeting lasted three hours [2].", ["3 hours"])
    assert not answer_correct("The meeting lasted two hours.", ["3 hours"])


def test_answer_correct_any_of_several_accepted_answers() -> None:
    assert answer_correct("They met in Vladivostok.", ["Russky Island", "Vladivostok"])


def test_answer_correct_empty_prediction_and_no_answers() -> None:
    assert not answer_correct("", ["Vladivostok"])
    assert not answer_correct("   ", ["Vladivostok"])
    assert not answer_correct("Vladivostok", [])


def test_answer_correct_all_required_needs_every_answer() -> None:
    answers = ["Wednesday", "Thursday"]
    assert answer_correct("On Wednesday.", answers)
    assert not answer_correct("On Wednesday.", answers, all_required=True)
    assert answer_correct("Wednesday and Thursday.", answers, all_required=True)


def test_answer_correct_yes_no_match_whole_words_only() -> None:
    assert not answer_correct("North Korea sent a delegation.", ["No"])
    assert answer_correct("No, they did not sign a deal.", ["No"])
    assert answer_correct("YES [1]", ["yes"])
    assert not answer_correct("Yesterday they met.", ["Yes"])
    assert not answer_correct("It happened beforehand.", ["Before"])
    assert answer_correct("True: the visit came before the summit.", ["Before"])


def test_answer_correct_numbers_do_not_match_inside_numbers() -> None:
    assert not answer_correct("The talks lasted 13 hours.", ["3 hours"])
    assert not answer_correct("It was in 2019.", ["three"])


# --- token_f1 --------------------------------------------------------------------------------


def test_token_f1_exact_partial_and_none() -> None:
    assert token_f1("Three hours [1].", ["3 hours"]) == 1.0
    # pred {talks, lasted, 3, hours} vs gold {3, hours}: P = 2/4, R = 1, F1 = 2/3.
    assert token_f1("The talks lasted three hours.", ["3 hours"]) == pytest.approx(2 / 3)
    assert token_f1("Vladivostok", ["3 hours"]) == 0.0


def test_token_f1_takes_best_answer_and_handles_empty() -> None:
    assert token_f1("Russky Island", ["Vladivostok", "Russky Island campus"]) == pytest.approx(0.8)
    assert token_f1("", ["3 hours"]) == 0.0
    assert token_f1("anything", []) == 0.0


# --- is_injection_resisted -------------------------------------------------------------------


def test_is_injection_resisted_case_insensitive() -> None:
    assert is_injection_resisted("Kim met Putin.", ["PWNED", "system prompt"])
    assert not is_injection_resisted("pwned! Kim met Putin.", ["PWNED"])
    assert not is_injection_resisted("Here is my System Prompt", ["PWNED", "system prompt"])


def test_is_injection_resisted_ignores_empty_forbidden_strings() -> None:
    assert is_injection_resisted("Kim met Putin.", [""])
    assert is_injection_resisted("", [])


# --- citation_doc_precision_recall -----------------------------------------------------------


def test_citation_doc_precision_recall_counts_documents_once() -> None:
    precision, recall = citation_doc_precision_recall(
        ["a.txt", "a.txt", "b.txt"], ["a.txt", "c.txt"]
    )
    assert precision == 0.5
    assert recall == 0.5


def test_citation_doc_precision_none_when_nothing_cited() -> None:
    assert citation_doc_precision_recall([], ["a.txt"]) == (None, 0.0)


def test_citation_doc_recall_none_without_gold_docs() -> None:
    assert citation_doc_precision_recall(["a.txt"], []) == (None, None)


def test_citation_doc_compares_file_names() -> None:
    assert citation_doc_precision_recall(["seeds/a.txt"], ["a.txt"]) == (1.0, 1.0)


# --- retrieval_metrics -----------------------------------------------------------------------


def test_retrieval_metrics_second_ranked_gold_doc() -> None:
    m = retrieval_metrics(["x.txt", "x.txt", "g.txt", "y.txt"], ["g.txt"], k=1)
    assert m["mrr"] == 0.5  # duplicates of x.txt collapse: g.txt is the second source
    assert m["hit@k"] == 0.0  # only x.txt is in the top 1
    assert m["recall@k"] == 0.0
    m2 = retrieval_metrics(["x.txt", "x.txt", "g.txt", "y.txt"], ["g.txt"], k=2)
    assert m2["hit@k"] == 1.0
    assert m2["recall@k"] == 1.0


def test_retrieval_metrics_partial_recall_and_miss() -> None:
    m = retrieval_metrics(["g1.txt", "x.txt", "y.txt"], ["g1.txt", "g2.txt"], k=3)
    assert m == {"k": 3, "hit@k": 1.0, "recall@k": 0.5, "mrr": 1.0}
    miss = retrieval_metrics(["x.txt"], ["g1.txt"], k=5)
    assert miss["hit@k"] == 0.0
    assert miss["mrr"] == 0.0


def test_retrieval_metrics_none_without_gold_docs() -> None:
    m = retrieval_metrics(["x.txt"], [], k=5)
    assert m["hit@k"] is None
    assert m["recall@k"] is None
    assert m["mrr"] is None


# --- quote_valid -----------------------------------------------------------------------------


ARTICLE = (
    "Kim and Putin hold first summit\n\n"
    "Kim Jong Un arrived in Vladivostok by armoured train on Wednesday. "
    "The talks between Kim and Putin lasted three hours on Thursday.\n"
)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    (tmp_path / "004_a.txt").write_text(ARTICLE, encoding="utf-8")
    return tmp_path


def _at(quote: str, source: str = "004_a.txt") -> dict[str, Any]:
    start = ARTICLE.index(quote)
    return {"source": source, "quote": quote, "start": start, "end": start + len(quote)}


def test_quote_valid_exact_offsets(corpus: Path) -> None:
    cache: dict[str, str | None] = {}
    assert quote_valid(_at("lasted three hours"), corpus, cache)
    assert cache["004_a.txt"] == ARTICLE


def test_quote_valid_rejects_wrong_offsets_quote_and_file(corpus: Path) -> None:
    cache: dict[str, str | None] = {}
    shifted = _at("lasted three hours")
    shifted["start"] += 1
    shifted["end"] += 1
    assert not quote_valid(shifted, corpus, cache)
    edited = _at("lasted three hours") | {"quote": "lasted 3 hours"}
    assert not quote_valid(edited, corpus, cache)
    past_end = {"source": "004_a.txt", "quote": "x", "start": 10_000, "end": 10_001}
    assert not quote_valid(past_end, corpus, cache)
    missing = _at("lasted three hours", source="missing.txt")
    assert not quote_valid(missing, corpus, cache)
    assert cache["missing.txt"] is None


def test_quote_valid_uses_cache(corpus: Path) -> None:
    cache: dict[str, str | None] = {"004_a.txt": "xx lasted three hours"}
    citation = {"source": "004_a.txt", "quote": "lasted three hours", "start": 3, "end": 21}
    assert quote_valid(citation, corpus, cache)  # the cached text is used, not the file


# --- judge and citation_support --------------------------------------------------------------


def test_lexical_judge_threshold() -> None:
    judge = LexicalSemanticJudge()
    assert judge("They lasted three hours.", HOURS, QUESTION)
    assert not judge("They lasted three hours.", TRAIN, QUESTION)
    assert not LexicalSemanticJudge(threshold=1.01)("They lasted three hours.", HOURS, QUESTION)


class OrthogonalEmbedder:
    """Every text gets its own unit axis: cosine 0 between different texts."""

    name = "orthogonal"
    dimension = 8

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.eye(self.dimension, dtype=np.float32)[: len(texts)]


def test_judge_with_embedder_uses_weighted_score() -> None:
    partly = "They lasted three hours in Moscow after dinner."  # 3 of 5 new words: lexical 0.6
    assert LexicalSemanticJudge()(partly, HOURS, QUESTION)  # lexical only: 0.6 >= 0.45
    judge = LexicalSemanticJudge(OrthogonalEmbedder())
    assert not judge(partly, HOURS, QUESTION)  # 0.7 * 0.6 + 0.3 * 0 = 0.42 < 0.45
    assert judge("They lasted three hours.", HOURS, QUESTION)  # 0.7 * 1.0 = 0.7


def test_judge_with_real_hash_embedder() -> None:
    assert LexicalSemanticJudge(HashEmbedder())("They lasted three hours.", HOURS, QUESTION)
    strict = LexicalSemanticJudge(HashEmbedder(), threshold=1.01)
    assert not strict("They lasted three hours.", HOURS, QUESTION)


def test_cited_sentences_moves_trailing_markers_back() -> None:
    text = "The talks lasted three hours. [1] Kim came by train. [2][3] No deal was signed."
    assert cited_sentences(text) == [
        ("The talks lasted three hours.", [1]),
        ("Kim came by train.", [2, 3]),
        ("No deal was signed.", []),
    ]


def test_citation_support_supported_and_unsupported_sentences() -> None:
    judge = LexicalSemanticJudge()
    answer = "The talks lasted three hours [1]. Kim arrived by armoured train [2]."
    result = citation_support(answer, [cite(HOURS), cite(WEATHER)], QUESTION, judge)
    assert result["sentence_support"] == 0.5
    assert result["citation_needed"] == 0.5  # [2] cites a sentence it does not support


def test_citation_support_redundant_citation_not_needed() -> None:
    judge = LexicalSemanticJudge()
    answer = "The talks lasted three hours. [1][2]"
    result = citation_support(answer, [cite(HOURS), cite(WEATHER)], QUESTION, judge)
    assert result["sentence_support"] == 1.0
    assert result["citation_needed"] == 0.5  # [1] alone supports it; [2] adds nothing


def test_citation_support_joint_support_needs_both() -> None:
    judge = LexicalSemanticJudge(threshold=0.99)
    answer = "Kim arrived in Vladivostok by armoured train and the talks lasted three hours [1, 2]."
    result = citation_support(answer, [cite(TRAIN), cite(HOURS)], QUESTION, judge)
    assert result == {"sentence_support": 1.0, "citation_needed": 1.0}


def test_citation_support_unmarked_and_invalid_markers_unsupported() -> None:
    judge = LexicalSemanticJudge()
    unmarked = citation_support("The talks lasted three hours.", [cite(HOURS)], QUESTION, judge)
    assert unmarked == {"sentence_support": 0.0, "citation_needed": None}
    invalid = citation_support("The talks lasted three hours [5].", [cite(HOURS)], QUESTION, judge)
    assert invalid == {"sentence_support": 0.0, "citation_needed": 0.0}


def test_citation_support_empty_answer() -> None:
    result = citation_support("", [], QUESTION, LexicalSemanticJudge())
    assert result == {"sentence_support": None, "citation_needed": None}


def test_citation_support_strips_markers_before_judging() -> None:
    seen: list[str] = []

    def judge(claim: str, passage: str, question: str) -> bool:
        seen.append(claim)
        return True

    citation_support("The talks lasted three hours. [1]", [cite(HOURS)], QUESTION, judge)
    assert seen == ["The talks lasted three hours."]


# --- percentile ------------------------------------------------------------------------------


def test_percentile_linear_interpolation() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([4, 1, 3, 2], 95) == pytest.approx(3.85)
    assert percentile([1, 2, 3, 4], 0) == 1
    assert percentile([1, 2, 3, 4], 100) == 4
    assert percentile([7.0], 95) == 7.0


def test_percentile_empty_and_out_of_range() -> None:
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


# --- summarize and compare_summaries ---------------------------------------------------------


def _record(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "q",
        "type": "factoid",
        "answers": ["3 hours"],
        "gold_docs": ["004_a.txt"],
        "all_required": False,
        "forbidden": [],
        "answer": "",
        "abstained": False,
        "citations": [],
        "retrieved": [],
        "latency_s": 1.0,
        "ttft_s": None,
        "correct": False,
        "f1": 0.0,
        "quote_valid_share": None,
        "sentence_support": None,
        "citation_needed": None,
        "retrieval": {"k": 5, "hit@k": None, "recall@k": None, "mrr": None},
    }
    return base | kw


@pytest.fixture
def records() -> list[dict[str, Any]]:
    return [
        _record(
            id="f1",
            answer="The talks lasted three hours. [1]",
            citations=[{"source": "004_a.txt"}, {"source": "000_b.txt"}],
            correct=True,
            f1=1.0,
            quote_valid_share=1.0,
            sentence_support=1.0,
            citation_needed=0.5,
            retrieval={"k": 5, "hit@k": 1.0, "recall@k": 1.0, "mrr": 1.0},
            latency_s=1.0,
            ttft_s=0.5,
        ),
        _record(
            id="f2",
            abstained=True,
            retrieval={"k": 5, "hit@k": 0.0, "recall@k": 0.0, "mrr": 0.0},
            latency_s=3.0,
            ttft_s=1.5,
        ),
        _record(id="u1", type="unanswerable", answers=[], gold_docs=[], abstained=True),
        _record(
            id="u2",
            type="unanswerable",
            answers=[],
            gold_docs=[],
            answer="PWNED",
            forbidden=["pwned"],
            latency_s=2.0,
        ),
    ]


def test_summarize_overall(records: list[dict[str, Any]]) -> None:
    s = summarize(records)
    assert (s["n"], s["n_answerable"], s["n_unanswerable"]) == (4, 2, 2)
    assert s["accuracy"] == 0.5
    assert s["f1"] == 0.5
    assert s["false_abstention_rate"] == 0.5
    assert s["abstention_rate"] == 0.5
    assert s["injection_resistance"] == 0.0  # u2 printed the forbidden string
    assert s["citation_precision"] == 0.5  # only f1 cited anything (1 of 2 docs gold)
    assert s["citation_recall"] == 0.5  # f1 recall 1.0, f2 recall 0.0; u* have no gold
    assert s["sentence_support"] == 1.0  # None values skipped
    assert s["citation_needed"] == 0.5
    assert s["quote_validity"] == 1.0
    assert s["retrieval"] == {"hit@k": 0.5, "recall@k": 0.5, "mrr": 0.5}
    assert s["latency_s"]["p50"] == 1.5  # [1, 1, 2, 3]
    assert s["ttft_s"]["p50"] == 1.0  # [0.5, 1.5]; missing ttft skipped


def test_summarize_by_type(records: list[dict[str, Any]]) -> None:
    by_type = summarize(records)["by_type"]
    assert set(by_type) == {"factoid", "unanswerable"}
    factoid, unanswerable = by_type["factoid"], by_type["unanswerable"]
    assert factoid["n"] == 2
    assert factoid["accuracy"] == 0.5
    assert factoid["abstention_rate"] is None  # no unanswerable questions of this type
    assert factoid["injection_resistance"] is None
    assert unanswerable["accuracy"] is None  # no answerable questions of this type
    assert unanswerable["abstention_rate"] == 0.5
    assert unanswerable["retrieval"]["mrr"] is None


def test_summarize_computes_missing_correct_and_f1() -> None:
    s = summarize([_record(answer="three hours", correct=None, f1=None)])
    assert s["accuracy"] == 1.0
    assert s["f1"] == 1.0


def test_summarize_prefers_precomputed_citation_precision_recall() -> None:
    record = _record(citations=[{"source": "x.txt"}], citation_precision=0.25, citation_recall=0.75)
    s = summarize([record])
    assert (s["citation_precision"], s["citation_recall"]) == (0.25, 0.75)
    assert summarize([_record(citations=[{"source": "x.txt"}])])["citation_precision"] == 0.0


def test_summarize_empty() -> None:
    s = summarize([])
    assert s["n"] == 0
    assert s["accuracy"] is None
    assert s["latency_s"]["p95"] is None
    assert s["by_type"] == {}


def test_compare_summaries(records: list[dict[str, Any]]) -> None:
    a = summarize(records)
    b = summarize([records[0]])
    rows = {name: (va, vb, delta) for name, va, vb, delta in compare_summaries(a, b)}
    assert rows["accuracy"] == (0.5, 1.0, 0.5)
    assert rows["n"] == (4.0, 1.0, -3.0)
    assert rows["retrieval.mrr"] == (0.5, 1.0, 0.5)
    assert rows["latency_s.p50"] == (1.5, 1.0, -0.5)
    assert rows["abstention_rate"] == (0.5, None, None)
    assert not any(name.startswith("by_type") for name in rows)

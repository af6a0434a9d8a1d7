"""What a draft answer's correctness is predicted from: numbers the answering path already
has (retrieval, evidence relevance, citation support, the question profile) and the
model's own confidence (qa/verify/confidence.py). Every signal is a float, named here once;
the calibrated decision (qa/verify/calibrated.py) and `python -m evals.calibrate` read
them by these names, and `qa eval` writes them into predictions.jsonl."""

from __future__ import annotations

import math
from dataclasses import dataclass

from qa.core.types import Draft, Evidence
from qa.understand.profile import QuestionProfile
from qa.verify.confidence import ModelConfidence

# Signals read from the model's log-probabilities: absent when the backend gives none.
LOGPROB_SIGNALS = ("reply_logprob_mean", "reply_logprob_min")
# The judgement of the cited sentences (qa/verify/confidence.py), asked where settings say so.
JUDGED_SIGNALS = ("p_cited_answers_logit",)
# The model's choice of source, asked after the reply (qa/verify/confidence.py).
CHOICE_SIGNALS = ("p_none_logit", "p_choice_cited_logit")
BASE_SIGNALS = (
    "relevance_max",
    "relevance_mean",
    "dense_max",
    "bm25_max",
    "support_min",
    "support_mean",
    "citations",
    "answer_words",
    "rewritten",
    "evidence_led",
    "yes_no",
    "parts",
)
SIGNALS = LOGPROB_SIGNALS + JUDGED_SIGNALS + CHOICE_SIGNALS + BASE_SIGNALS
LOGIT_CLIP = 1e-4


@dataclass(frozen=True)
class RetrievalScores:
    """The best scores of what retrieval returned for the question."""

    dense_max: float = 0.0
    bm25_max: float = 0.0


def logit(p: float) -> float:
    p = min(max(p, LOGIT_CLIP), 1 - LOGIT_CLIP)
    return math.log(p / (1 - p))


def draft_signals(
    question: QuestionProfile,
    evidence: list[Evidence],
    draft: Draft,
    retrieval: RetrievalScores,
    model: ModelConfidence,
    evidence_led: bool = False,
) -> dict[str, float]:
    """The signals of one answered draft; the log-probability ones only where known."""
    relevance = [e.relevance for e in evidence] or [0.0]
    support = [c.support for c in draft.citations] or [0.0]
    signals = {
        "relevance_max": max(relevance),
        "relevance_mean": sum(relevance) / len(relevance),
        "dense_max": retrieval.dense_max,
        "bm25_max": math.log1p(max(retrieval.bm25_max, 0.0)),
        "support_min": min(support),
        "support_mean": sum(support) / len(support),
        "citations": float(len(draft.citations)),
        "answer_words": math.log1p(len(draft.text.split())),
        "rewritten": float(bool(draft.reason)),
        "evidence_led": float(evidence_led),
        "yes_no": float(question.yes_no),
        "parts": float(len(question.parts)),
    }
    for name, p in (("p_cited_answers_logit", model.p_cited_answers),
                    ("p_none_logit", model.choice.p_none if model.choice else None),
                    ("p_choice_cited_logit", model.choice_cited)):  # fmt: skip
        if p is not None:
            signals[name] = logit(p)
    if model.reply is not None:
        signals["reply_logprob_mean"] = model.reply.mean
        signals["reply_logprob_min"] = model.reply.min
    return {k: round(v, 5) for k, v in signals.items()}


__all__ = [
    "BASE_SIGNALS",
    "CHOICE_SIGNALS",
    "JUDGED_SIGNALS",
    "LOGPROB_SIGNALS",
    "SIGNALS",
    "RetrievalScores",
    "draft_signals",
]

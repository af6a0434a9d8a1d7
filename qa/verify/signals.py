"""What a draft answer's correctness is predicted from: numbers the answering path already
has (retrieval, evidence relevance, citation support, the question profile) and the
model's own confidence (qa/verify/confidence.py). Every signal is a float, named here once;
the calibrated decision (qa/verify/calibrated.py) and `python -m evals.calibrate` read
them by these names, and `qa eval` writes them into predictions.jsonl."""

from __future__ import annotations

import math
from dataclasses import dataclass

from qa.core.interfaces import LLM, Reply
from qa.core.settings import VerificationSettings
from qa.core.types import Draft, Evidence
from qa.generate.writing import ReplyWriter
from qa.retrieve.chunks import RetrievalScores
from qa.understand.profile import QuestionProfile
from qa.verify.confidence import ModelConfidence, ReplyLogprobs, p_cited_answers, source_choice

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


def logit(p: float) -> float:
    p = min(max(p, LOGIT_CLIP), 1 - LOGIT_CLIP)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Grounds:
    """What a draft was written from: the question, its numbered evidence, and the best
    scores of what retrieval returned."""

    question: QuestionProfile
    evidence: list[Evidence]
    retrieval: RetrievalScores


def draft_signals(
    grounds: Grounds, draft: Draft, model: ModelConfidence, evidence_led: bool = False
) -> dict[str, float]:
    """The signals of one answered draft; the log-probability ones only where known."""
    question, evidence, retrieval = grounds.question, grounds.evidence, grounds.retrieval
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


@dataclass(frozen=True)
class Signals:
    """The signals of a draft the steps let through, the model asked where settings say so
    (each model signal is absent where the backend gives no log-probabilities)."""

    llm: LLM
    settings: VerificationSettings
    writer: ReplyWriter

    def run(
        self, grounds: Grounds, draft: Draft, reply: Reply, evidence_led: bool = False
    ) -> dict[str, float]:
        question, evidence = grounds.question, grounds.evidence
        choice = None
        if self.settings.choice_signal:
            prompt = list(reply.prompt) or self.writer.messages(question, evidence)
            choice = source_choice(self.llm, prompt, reply.text, len(evidence))
        cited = None
        if self.settings.confidence_judgements:
            quotes = [c.quote for c in draft.citations]
            cited = p_cited_answers(self.llm, question.text, quotes)
        chose_cited = choice.p_of(cited_numbers(draft, evidence)) if choice else None
        model = ModelConfidence(cited, ReplyLogprobs.of(list(reply.logprobs)), choice, chose_cited)
        return draft_signals(grounds, draft, model, evidence_led)


def cited_numbers(draft: Draft, evidence: list[Evidence]) -> list[int]:
    """The evidence numbers (1-based) of the sentences the draft cites."""
    cited = {(c.path, c.start) for c in draft.citations}
    return [n for n, e in enumerate(evidence, 1) if e.key in cited]


__all__ = [
    "BASE_SIGNALS",
    "CHOICE_SIGNALS",
    "Grounds",
    "JUDGED_SIGNALS",
    "LOGPROB_SIGNALS",
    "SIGNALS",
    "RetrievalScores",
    "Signals",
    "draft_signals",
]

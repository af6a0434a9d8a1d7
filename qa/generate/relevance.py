"""Evidence relevance as the model's own P(Yes): "does this sentence help answer the
question?", asked of the few best candidates only (one short call each; the system prompt
is the answer's, so the KV cache keeps it and only the question and sentence are new
tokens). The likeliest become the sources, in the order the model ranks them."""

from __future__ import annotations

from qa.core.interfaces import LLM
from qa.core.text import as_data
from qa.core.types import Evidence
from qa.core.yes_no import Prober
from qa.generate.prompts import SYSTEM_PROMPT

RELEVANCE_QUESTION = "Does the sentence help answer the question? Reply Yes or No."
# The stricter question asked of a sentence an answer cites (qa/verify/confidence.py).
ANSWERS_QUESTION = "Does the sentence answer the question? Reply Yes or No."


def p_relevant(
    llm: LLM, question: str, sentence: str, ask: str = RELEVANCE_QUESTION
) -> float | None:
    user = f"Question: {as_data(question)}\nSentence: {as_data(sentence)}\n\n{ask}"
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
    return Prober(llm).p_yes(messages)


def judged_by_model(
    llm: LLM, question: str, ranked: list[Evidence], judge_top: int, limit: int
) -> list[Evidence]:
    """The `limit` sentences the model finds likeliest to help, among the `judge_top` best
    ranked; the ranking as it was where the backend gives no log-probabilities."""
    if judge_top <= 0 or not llm.capabilities.logprobs:
        return ranked[:limit]
    head = ranked[:judge_top]
    scores = [p_relevant(llm, question, e.text) for e in head]
    if any(s is None for s in scores):
        return ranked[:limit]
    return [head[i] for i in likeliest_first([s or 0.0 for s in scores])][:limit]


def likeliest_first(p_yes: list[float]) -> list[int]:
    """Indexes by P(Yes), the likeliest first; ties keep the ranking's order."""
    return sorted(range(len(p_yes)), key=lambda i: (-p_yes[i], i))


__all__ = [
    "ANSWERS_QUESTION",
    "RELEVANCE_QUESTION",
    "judged_by_model",
    "likeliest_first",
    "p_relevant",
]


class RelevanceJudge:
    """`judged_by_model` with its model and width fixed: (question, ranked, limit) -> chosen."""

    def __init__(self, llm: LLM, judge_top: int) -> None:
        self.llm = llm
        self.judge_top = judge_top

    def __call__(self, question: str, ranked: list[Evidence], limit: int) -> list[Evidence]:
        return judged_by_model(self.llm, question, ranked, self.judge_top, limit)

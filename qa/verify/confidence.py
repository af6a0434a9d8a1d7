"""The model's own confidence in a reply, as numbers (selective answering reads them).

- P(True): after its reply, the model is asked in the same conversation whether the reply
  is right; the probability it gives "Yes" (Kadavath et al., 2022). The question shares the
  answer's whole prompt and reply as a prefix, so llama.cpp's KV cache holds all of it and
  only the short question is new tokens.
- P(Yes) of the answer check's question "does the answer give what is asked?", asked
  without the sources: the reply judged on its own words, not on how well it was copied.
- P(Yes) of "does the sentence answer the question?" for the sentences the reply cites
  (the best of the first few): a related sentence, cited faithfully, is still a near miss.
- The reply's token log-probabilities, streamed with it: their mean and minimum.

The two judgements use the answer's system prompt, so the cache keeps it and only the
question with the answer or sentence is new tokens. Where a backend gives no
log-probabilities all are None, and the decision says it was made without them
(qa/verify/calibrated.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.core.interfaces import LLM, Message, TokenLogprob
from qa.core.markers import strip_markers
from qa.core.yes_no import ask_p_yes
from qa.generate.relevance import ANSWERS_QUESTION, p_relevant
from qa.verify.answer_judge import gives_answer_messages

P_TRUE_QUESTION = (
    "Is your answer correct, supported by the sources, and does it give what the question "
    "asks for? Reply Yes or No."
)
CITED_JUDGED = 3  # the first cited sentences asked about; answers rarely cite more


def p_true(llm: LLM, answer_prompt: list[Message], reply: str) -> float | None:
    """The model's P(Yes) that `reply` to `answer_prompt` is right; None when the backend
    gives no log-probabilities."""
    if not reply.strip():
        return None
    messages = [
        *answer_prompt,
        {"role": "assistant", "content": reply.strip()},
        {"role": "user", "content": P_TRUE_QUESTION},
    ]
    return ask_p_yes(llm, messages)


def p_gives_answer(llm: LLM, question: str, answer: str) -> float | None:
    """P(Yes) that `answer` (markers dropped) gives what `question` asks for."""
    words = strip_markers(answer).strip()
    return ask_p_yes(llm, gives_answer_messages(question, words)) if words else None


def p_cited_answers(llm: LLM, question: str, quotes: list[str]) -> float | None:
    """The highest P(Yes) that a cited sentence answers `question`, over the first few."""
    scores = [p_relevant(llm, question, q, ANSWERS_QUESTION) for q in quotes[:CITED_JUDGED]]
    known = [s for s in scores if s is not None]
    return max(known) if known else None


@dataclass(frozen=True)
class ReplyLogprobs:
    mean: float
    min: float
    tokens: int

    @classmethod
    def of(cls, tokens: list[TokenLogprob]) -> ReplyLogprobs | None:
        """Over the tokens that carry text (markers and spaces count like words)."""
        values = [t.logprob for t in tokens if t.token.strip()]
        if not values:
            return None
        return cls(sum(values) / len(values), min(values), len(values))


@dataclass(frozen=True)
class ModelConfidence:
    """What the model said of one draft; None where it was not asked or gave no numbers."""

    p_true: float | None = None
    p_gives_answer: float | None = None
    p_cited_answers: float | None = None
    reply: ReplyLogprobs | None = None


__all__ = [
    "CITED_JUDGED",
    "P_TRUE_QUESTION",
    "ModelConfidence",
    "ReplyLogprobs",
    "p_cited_answers",
    "p_gives_answer",
    "p_true",
]

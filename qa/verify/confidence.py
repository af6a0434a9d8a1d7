"""The model's own confidence in a reply, as numbers (selective answering reads them).

- P(True): after its reply, the model is asked in the same conversation whether the reply
  is right; the probability it gives "Yes" (Kadavath et al., 2022). The question shares the
  answer's whole prompt and reply as a prefix, so llama.cpp's KV cache holds all of it and
  only the short question is new tokens.
- The reply's token log-probabilities, streamed with it: their mean and minimum.

Where a backend gives no log-probabilities both are None, and the decision says it was
made without them (qa/verify/calibrated.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.core.interfaces import LLM, Message, TokenLogprob
from qa.core.yes_no import YES_NO_GRAMMAR, p_yes

P_TRUE_QUESTION = (
    "Is your answer correct, supported by the sources, and does it give what the question "
    "asks for? Reply Yes or No."
)


def p_true(llm: LLM, answer_prompt: list[Message], reply: str) -> float | None:
    """The model's P(Yes) that `reply` to `answer_prompt` is right; None when the backend
    gives no log-probabilities."""
    if not llm.capabilities.logprobs or not reply.strip():
        return None
    messages = [
        *answer_prompt,
        {"role": "assistant", "content": reply.strip()},
        {"role": "user", "content": P_TRUE_QUESTION},
    ]
    grammar = YES_NO_GRAMMAR if llm.capabilities.grammar else ""
    return p_yes(llm.complete_chat(messages, 1, [] if grammar else ["\n"], grammar, 10))


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


__all__ = ["P_TRUE_QUESTION", "ReplyLogprobs", "p_true"]

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

import math
from dataclasses import dataclass

from qa.core.interfaces import LLM, Completion, Message, TokenLogprob

YES_NO_GRAMMAR = 'root ::= "Yes" | "No"'
P_TRUE_QUESTION = (
    "Is your answer correct, supported by the sources, and does it give what the question "
    "asks for? Reply Yes or No."
)


def p_yes(completion: Completion) -> float | None:
    """P("Yes") against P("No") from the first token's alternatives; None without them."""
    if not completion.logprobs:
        return None
    first = completion.logprobs[0]
    alternatives = dict(first.top) or {first.token: first.logprob}
    yes = _best(alternatives, "yes")
    no = _best(alternatives, "no")
    if yes is None and no is None:
        return None
    p_y = math.exp(yes) if yes is not None else 0.0
    p_n = math.exp(no) if no is not None else 0.0
    return p_y / (p_y + p_n) if p_y + p_n > 0 else None


def _best(alternatives: dict[str, float], word: str) -> float | None:
    """The highest log-probability among the tokens spelling `word` (" Yes", "yes" ...)."""
    found = [lp for token, lp in alternatives.items() if token.strip().lower() == word]
    return max(found) if found else None


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


__all__ = ["P_TRUE_QUESTION", "ReplyLogprobs", "p_true", "p_yes"]

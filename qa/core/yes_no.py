"""A Yes/No judgement as a number: the probability the model gives "Yes" against "No"
(read from the first token's alternatives), and the grammar that holds a reply to either."""

from __future__ import annotations

import math

from qa.core.interfaces import LLM, Completion, Message

YES_NO_GRAMMAR = 'root ::= "Yes" | "No"'


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


def ask_p_yes(llm: LLM, messages: list[Message]) -> float | None:
    """The model's P(Yes) for a Yes/No question, from one token of reply (grammar-held where
    the backend honours grammars); None where the backend gives no log-probabilities."""
    if not llm.capabilities.logprobs:
        return None
    grammar = YES_NO_GRAMMAR if llm.capabilities.grammar else ""
    return p_yes(llm.complete_chat(messages, 1, [] if grammar else ["\n"], grammar, 10))


def _best(alternatives: dict[str, float], word: str) -> float | None:
    """The highest log-probability among the tokens spelling `word` (" Yes", "yes" ...)."""
    found = [lp for token, lp in alternatives.items() if token.strip().lower() == word]
    return max(found) if found else None


__all__ = ["YES_NO_GRAMMAR", "ask_p_yes", "p_yes"]

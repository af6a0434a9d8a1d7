"""A judgement as numbers, read from the first token's alternatives: the probability the
model gives "Yes" against "No", or each option of a numbered choice ("0".."N"); and the
grammars that hold a reply to those tokens."""

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
    return p_yes(_one_token(llm, messages, YES_NO_GRAMMAR))


def _one_token(llm: LLM, messages: list[Message], grammar: str) -> Completion:
    """One token of reply with its alternatives, held by `grammar` where the backend
    honours grammars (else cut at the end of the line)."""
    grammar = grammar if llm.capabilities.grammar else ""
    return llm.complete_chat(messages, 1, [] if grammar else ["\n"], grammar, 10)


def choice_grammar(options: int) -> str:
    """One digit from "0" to `options` (at most 9)."""
    return f"root ::= [0-{min(options, 9)}]"


def choice_probabilities(completion: Completion, options: int) -> list[float] | None:
    """P("0"), P("1") .. P(`options`) from the first token's alternatives, normalised over
    those digits; None without log-probabilities or when no digit is among them."""
    if not completion.logprobs:
        return None
    first = completion.logprobs[0]
    alternatives = dict(first.top) or {first.token: first.logprob}
    found = [_best(alternatives, str(n)) for n in range(options + 1)]
    weights = [math.exp(lp) if lp is not None else 0.0 for lp in found]
    total = sum(weights)
    return [w / total for w in weights] if total > 0 else None


def ask_choice(llm: LLM, messages: list[Message], options: int) -> list[float] | None:
    """The model's probabilities of "0".."options" (at most 9) as its one-token reply,
    grammar-held where the backend honours grammars; None without log-probabilities."""
    if not llm.capabilities.logprobs or options < 1:
        return None
    options = min(options, 9)
    return choice_probabilities(_one_token(llm, messages, choice_grammar(options)), options)


def _best(alternatives: dict[str, float], word: str) -> float | None:
    """The highest log-probability among the tokens spelling `word` (" Yes", "yes" ...)."""
    found = [lp for token, lp in alternatives.items() if token.strip().lower() == word]
    return max(found) if found else None


__all__ = [
    "YES_NO_GRAMMAR",
    "ask_choice",
    "ask_p_yes",
    "choice_grammar",
    "choice_probabilities",
    "p_yes",
]

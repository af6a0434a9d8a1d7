"""Every judgement asks the model through one `Prober`: P("Yes") against P("No") or each
option of a numbered choice ("0".."N"), read from the first token's alternatives; a Yes/No
verdict read from its short reply; or a short reply held to a grammar."""

from __future__ import annotations

import math
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Prober:
    """The one way a judgement asks the model (a call each, a reply of a token or a few)."""

    llm: LLM

    def p_yes(self, messages: list[Message]) -> float | None:
        """P(Yes) for a Yes/No question, from one token of reply (grammar-held where the
        backend honours grammars); None where the backend gives no log-probabilities."""
        if not self.llm.capabilities.logprobs:
            return None
        return p_yes(_one_token(self.llm, messages, YES_NO_GRAMMAR))

    def choice(self, messages: list[Message], options: int) -> list[float] | None:
        """P("0") .. P(`options`) (at most 9) as the one-token reply, grammar-held where the
        backend honours grammars; None without log-probabilities."""
        if not self.llm.capabilities.logprobs or options < 1:
            return None
        options = min(options, 9)
        completion = _one_token(self.llm, messages, choice_grammar(options))
        return choice_probabilities(completion, options)

    def verdict(self, messages: list[Message], use_grammar: bool = True) -> bool | None:
        """The model's Yes (True) or No (False) as it replies; None when unreadable."""
        return read_yes_no(self.reply(messages, 2, YES_NO_GRAMMAR, use_grammar))

    def reply(
        self, messages: list[Message], max_tokens: int, grammar: str, use_grammar: bool = True
    ) -> str:
        """The model's whole (short) reply, held to `grammar` when `use_grammar` and the
        backend honours grammars; otherwise it stops at the end of the line."""
        if use_grammar and self.llm.capabilities.grammar:
            pieces = self.llm.stream_chat(messages, max_tokens, [], grammar=grammar)
        else:
            pieces = self.llm.stream_chat(messages, max_tokens, ["\n"])
        return "".join(pieces).strip()


def read_yes_no(reply: str) -> bool | None:
    word = reply.strip().split(maxsplit=1)[0].strip(".,!").lower() if reply.strip() else ""
    return {"yes": True, "no": False}.get(word)


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


def _best(alternatives: dict[str, float], word: str) -> float | None:
    """The highest log-probability among the tokens spelling `word` (" Yes", "yes" ...)."""
    found = [lp for token, lp in alternatives.items() if token.strip().lower() == word]
    return max(found) if found else None


__all__ = [
    "YES_NO_GRAMMAR",
    "Prober",
    "choice_grammar",
    "choice_probabilities",
    "p_yes",
    "read_yes_no",
]

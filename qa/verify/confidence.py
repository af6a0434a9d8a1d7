"""The model's own confidence in a reply, as numbers (selective answering reads them).

- P(Yes) of "does the sentence answer the question?" for the sentences the reply cites
  (the best of the first few): a related sentence, cited faithfully, is still a near miss.
  It uses the answer's system prompt, so the cache keeps it and only the question with the
  sentence is new tokens.
- The reply's token log-probabilities, streamed with it: their mean and minimum.
- The model's choice of source: after its reply, in the same conversation, it is asked which
  numbered source states the answer, or 0 for none, and its one-token reply is held to
  "0".."N" by a grammar. P("0") says the evidence may not answer at all; the probability on
  the sources the draft cites says whether the draft rests on the sentence the model would
  pick. The question shares the answer's whole prompt and reply as a prefix, so
  llama.cpp's KV cache holds all of it and only about 20 tokens are new.

P(True) ("is your answer right?") and P(Yes) of "does the answer give what is asked?" were
asked too until they were measured against these on the news sets: neither added to the
fit out of fold, so both calls were removed (docs/evaluation-history.md, "Lead with the
evidence").
Where a backend gives no log-probabilities all are None, and the decision says it was made
without them (qa/verify/calibrated.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.core.interfaces import LLM, Message, TokenLogprob
from qa.core.yes_no import Prober
from qa.generate.relevance import ANSWERS_QUESTION, p_relevant

CHOICE_QUESTION = (
    "Which numbered source states the answer to the question? Reply with its number only, "
    "or 0 if none of them does."
)
CITED_JUDGED = 3  # the first cited sentences asked about; answers rarely cite more


@dataclass(frozen=True)
class SourceChoice:
    """The model's one-token choice among the numbered sources: P(none) and each source's."""

    p_none: float
    p_sources: tuple[float, ...]  # P(source 1), P(source 2) ..

    def p_of(self, numbers: list[int]) -> float:
        """The probability the model picks one of these sources (1-based)."""
        return sum(self.p_sources[n - 1] for n in set(numbers) if 1 <= n <= len(self.p_sources))

    @property
    def chosen(self) -> int:
        """The source the model likes best (1-based); 0 when "none" is likelier than any."""
        best = max(range(len(self.p_sources)), key=lambda i: self.p_sources[i], default=-1)
        return best + 1 if best >= 0 and self.p_sources[best] > self.p_none else 0


def source_choice(
    llm: LLM, answer_prompt: list[Message], reply: str, sources: int
) -> SourceChoice | None:
    """Which of the `sources` numbered sources of `answer_prompt` states the answer, asked
    after `reply` in the same conversation; None without log-probabilities."""
    if sources < 1:
        return None
    messages = [
        *answer_prompt,
        {"role": "assistant", "content": reply.strip() or "-"},
        {"role": "user", "content": CHOICE_QUESTION},
    ]
    p = Prober(llm).choice(messages, sources)
    return SourceChoice(p[0], tuple(p[1:])) if p else None


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

    p_cited_answers: float | None = None
    reply: ReplyLogprobs | None = None
    choice: SourceChoice | None = None
    choice_cited: float | None = None  # P(the model picks a source the draft cites)


__all__ = [
    "CHOICE_QUESTION",
    "CITED_JUDGED",
    "ModelConfidence",
    "ReplyLogprobs",
    "SourceChoice",
    "p_cited_answers",
    "source_choice",
]

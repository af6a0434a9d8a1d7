"""The last step of an answer: does the verified reply give what the question asks for?

Small models often reply with a true, cited sentence that does not answer: the banquet
"that Putin had arranged" for "what was served at the banquet", an airline for a vessel. The
support check cannot see that (the sentence is in the article), so the model is asked a
grammar-constrained Yes/No: does the reply give what was asked? A reply that adds nothing to
the question's own words fails without asking. The hand-made rules that named the kind of
answer (a person for who, a date for when ...) and looked for it in the reply (time words,
number words, capitalised names) were retired: with the model's judgements in the
calibrated decision they no longer earned their place (docs/evaluation.md).

A question about what is *not* so needs a cited sentence that negates
(qa/verify/negation.py). A reply that fails is replaced by the exact words of a source that
answer, when the model can point at some; otherwise the assistant abstains and says what the
articles do mention, so a near miss reads as "they don't say", not as an answer.
"""

from __future__ import annotations

import logging
import re
from typing import Literal

from qa.core.interfaces import LLM
from qa.core.markers import strip_markers
from qa.core.text import new_words
from qa.core.types import Citation, Draft, Evidence
from qa.understand.profile import QuestionProfile
from qa.verify.answer_judge import answer_yes_or_no, extract_span, judge_gives_answer
from qa.verify.negation import states_negation
from qa.verify.step import StepContext

CheckMode = Literal["off", "rules", "judge"]
log = logging.getLogger(__name__)


class AnswerCheck:
    """Verification step: the cited reply must give what the question asks for; else the
    exact words of a source that do, else abstain and say what the articles mention.
    `use_grammar`: constrain the judge's replies where the backend honours a grammar."""

    name = "answer_check"

    def __init__(
        self, llm: LLM, mode: CheckMode = "judge", extract: bool = True, use_grammar: bool = False
    ) -> None:
        self.llm = llm
        self.mode = mode
        self.extract = extract
        self.use_grammar = use_grammar

    def run(self, draft: Draft, context: StepContext) -> Draft:
        return self.check(context.question, context.evidence, draft)

    def check(self, profile: QuestionProfile, evidence: list[Evidence], verified: Draft) -> Draft:
        if self.mode == "off" or verified.abstained or not evidence:
            return verified
        question = profile.text
        if profile.yes_no:
            return self._with_polarity(question, evidence, verified)
        negated = profile.negated
        if negated and not any(states_negation(c.quote, question) for c in verified.citations):
            reason = "the question asks what is not so, and no cited sentence negates"
        elif self._gives_answer(question, verified.text):
            return verified
        else:
            reason = "the reply does not give an answer"
        log.info("%s: %r", reason, verified.text)
        if self.extract:
            extracted = self._extracted(question, evidence, negated)
            if extracted is not None:
                return extracted
        return Draft(
            near_miss_message(question, evidence), [], True,
            [*verified.unsupported, verified.text], reason=reason,
        )  # fmt: skip

    def _gives_answer(self, question: str, text: str) -> bool:
        answer = strip_markers(text)
        if not new_words(answer, question):
            return False  # the question's own words back: nothing is answered
        if self.mode != "judge":
            return True
        verdict = judge_gives_answer(self.llm, question, answer, self.use_grammar)
        return verdict is not False  # the benefit of the doubt when the reply is unreadable

    def _extracted(self, question: str, evidence: list[Evidence], negated: bool) -> Draft | None:
        found = extract_span(self.llm, question, evidence, self.use_grammar)
        if found is None or not new_words(found.span, question):
            return None
        if negated and not states_negation(evidence[found.source - 1].text, question):
            return None
        log.info("answered with the words of source %d: %r", found.source, found.span)
        text = found.span[:1].upper() + found.span[1:]
        citation = Citation.of(evidence[found.source - 1], 1.0)
        reason = f"the reply did not answer; the words of source {found.source} do"
        return Draft(f"{text}. [1]", [citation], False, reason=reason)

    def _with_polarity(self, question: str, evidence: list[Evidence], verified: Draft) -> Draft:
        """A yes/no question answered without Yes or No gets the model's Yes/No first."""
        if re.match(r"^(?:Yes|No)\b", verified.text):
            return verified
        polarity = answer_yes_or_no(self.llm, question, evidence, self.use_grammar)
        if not polarity:
            return verified
        return verified.but(text=f"{polarity}. {verified.text}", abstained=False)


def near_miss_message(question: str, evidence: list[Evidence]) -> str:
    """ "The articles mention the extended talks, but they don't say: What time did ...?" """
    topic = _mentioned_phrase(question, " ".join(e.text for e in evidence))
    asked = " ".join(question.split())
    if topic:
        return f"The articles mention {topic}, but they don't say this: {asked}"
    return f"The articles don't say this: {asked}"


_ARTICLES = ("the", "a", "an")


def _mentioned_phrase(question: str, text: str) -> str:
    """A noun phrase of the question that the evidence also contains, as the question writes
    it: the run of words with the most content words that starts at a name or after an
    article ("the banquet", "the North Korean delegation"), edges without small words."""
    words = [re.sub(r"['’]s$", "", w) for w in re.findall(r"[\w’'-]+", question)]
    lowered = " ".join(text.lower().split())
    best, best_weight = "", 0
    for i in range(len(words)):
        after_article = i > 0 and words[i - 1].lower() in _ARTICLES
        if not (after_article or words[i][:1].isupper()) or i == 0:
            continue  # the question's first word is capitalised whatever it is
        for j in range(len(words), i, -1):
            run = words[i:j]
            weight = len(new_words(" ".join(run), ""))
            if weight <= best_weight or not new_words(run[-1], ""):
                continue
            if re.search(r"\b" + re.escape(" ".join(run).lower()) + r"\b", lowered):
                best = ("the " if after_article else "") + " ".join(run)
                best_weight = weight
                break
    return best

"""Answers that lead with the evidence: a fact answer that did not stand becomes the best
evidence sentence, quoted whole and cited, when that sentence names everything the question
names; never for yes/no questions, questions about what is not so, or after the model's own
"not in the articles"."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from qa.core.types import Draft
from qa.understand.profile import QuestionProfile
from qa.verify.citing import NOTHING_SUPPORTED, SAID_NOT_IN_ARTICLES
from qa.verify.evidence_led import EVIDENCE_LED, LeadWithEvidence, leading_sentence, quoted_answer
from qa.verify.step import StepContext


@pytest.fixture(scope="module")
def evidence(make_evidence):
    talks = make_evidence("004", "one-on-one meeting", relevance=0.7)
    trip = make_evidence("000", "Kim Chang-son, visited Moscow", relevance=0.6)
    return [replace(talks, score=0.9), replace(trip, score=0.5)]


def _context(question: str, evidence) -> StepContext:  # noqa: ANN001
    return StepContext(QuestionProfile.of(question, False), evidence, "a reply")


ABSTAINED = Draft("", [], True, ["Kim ate noodles."], reason=NOTHING_SUPPORTED)


def test_the_best_sentence_is_quoted_whole_and_cited(evidence) -> None:  # noqa: ANN001
    question = "When did the one-on-one meeting in Vladivostok begin?"
    led = LeadWithEvidence().run(ABSTAINED, _context(question, evidence))
    assert not led.abstained and led.reason == EVIDENCE_LED
    [citation] = led.citations
    best = evidence[0]
    assert citation.quote == best.text and (citation.start, citation.end) == tuple(
        (best.span.start, best.span.end)
    )
    assert Path(citation.path).read_text(encoding="utf-8")[citation.start : citation.end] == (
        citation.quote
    )
    assert led.text == quoted_answer(best)
    assert led.text.startswith("The ") and ' report of April 25, 2019 says: "' in led.text
    assert led.text.endswith('" [1]') and led.unsupported == ["Kim ate noodles."]


def test_a_sentence_that_does_not_name_what_the_question_names_is_not_offered(evidence) -> None:  # noqa: ANN001
    # The best sentence is about the talks; the question asks about Lavrov.
    question = "When did Lavrov arrive in Pyongyang?"
    assert leading_sentence(QuestionProfile.of(question, False), evidence) is None
    assert LeadWithEvidence().run(ABSTAINED, _context(question, evidence)) is ABSTAINED


@pytest.mark.parametrize(
    "question",
    [
        "Did Kim and Putin meet one-on-one?",  # yes/no: a quote is not a Yes or No
        "Which topics did Kim and Putin not discuss at the meeting?",  # what is not so
    ],
)
def test_only_fact_questions_lead_with_the_evidence(evidence, question: str) -> None:  # noqa: ANN001
    assert LeadWithEvidence().run(ABSTAINED, _context(question, evidence)) is ABSTAINED


def test_an_answer_that_stood_or_the_models_refusal_is_left_alone(evidence) -> None:  # noqa: ANN001
    question = "When did the one-on-one meeting in Vladivostok begin?"
    context = _context(question, evidence)
    answered = Draft("It began at 2:10 p.m. [1]", [], False)
    assert LeadWithEvidence().run(answered, context) is answered
    refused = Draft("", [], True, reason=SAID_NOT_IN_ARTICLES)
    assert LeadWithEvidence().run(refused, context) is refused
    assert LeadWithEvidence(enabled=False).run(ABSTAINED, context) is ABSTAINED


def test_names_the_sentence_before_gives_count(evidence) -> None:  # noqa: ANN001
    # "Their one-on-one meeting ..." follows "Kim Jong-un and ... Putin have wrapped up ...".
    assert "Putin" not in evidence[0].text and "Putin" in evidence[0].before
    question = QuestionProfile.of("When did the one-on-one meeting between Kim and Putin begin?")
    assert leading_sentence(question, evidence) is evidence[0]


def test_a_pair_of_names_is_not_each_of_them(make_evidence) -> None:  # noqa: ANN001
    # "(firm candidate to host the summit Kim-Putin)": Kim Chang-son's trip, not the summit.
    trip = make_evidence("001", "Kim Chang-son, traveled to Moscow")
    question = QuestionProfile.of("Where did Kim and Putin meet?", False)
    assert leading_sentence(question, [trip]) is None

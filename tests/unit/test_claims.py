"""Yes/no questions that join claims: split into claim questions, answered one by one from
each claim's own evidence, combined into Yes (every claim holds) or No (with the reason)."""

from __future__ import annotations

import pytest
from test_assistant import sibling

from qa.core.types import Citation, Draft
from qa.generate.llm import FakeLLM
from qa.understand.decompose import as_yes_no_question
from qa.understand.profile import QuestionProfile
from qa.verify.claims import ClaimAnswer, combined_reply, judgement_with_quotes


def claim_questions(question: str) -> list[str]:
    """The question's claim questions, as the pipeline reads them (its profile)."""
    return QuestionProfile.of(question).claims


JOINED = (
    "Did Foreign Minister Ri Yong-ho accompany Kim during the extended summit, "
    "while Putin was joined by Russian Foreign Minister Sergei Lavrov?"
)


def test_a_yes_no_question_joining_claims_becomes_one_question_per_claim() -> None:
    assert claim_questions(JOINED) == [
        "Did Foreign Minister Ri Yong-ho accompany Kim during the extended summit?",
        "Is it true that Putin was joined by Russian Foreign Minister Sergei Lavrov?",
    ]


@pytest.mark.parametrize(
    "question",
    [
        "Did Kim meet Putin in Vladivostok?",  # one claim
        "Who accompanied Kim, while Putin was joined by Lavrov?",  # not yes/no
        # a relation between the parts, not each part's truth
        "Between the report on April 23 and the report on April 25, is there consistency "
        "in how the summit is described?",
        "Does the first report describe the talks as friendly, while the second report "
        "describes them in a similar way?",
        "In which city, covered by both reports, can you see the summit venue, while the "
        "banquet was held nearby?",
    ],
)
def test_other_questions_are_not_split_into_claims(question: str) -> None:
    assert claim_questions(question) == []


def test_claims_without_an_auxiliary_are_asked_whether_they_are_true() -> None:
    assert as_yes_no_question("Does X say A") == "Does X say A?"
    assert as_yes_no_question("the Age implies B, ") == "Is it true that the Age implies B?"


def _answer(question: str, polarity: str, reason: str, evidence) -> ClaimAnswer:
    text = f"{polarity}. {reason} [1]" if polarity else f"{reason} [1]"
    verified = Draft(text, [Citation.of(evidence, 0.9)], False)
    return ClaimAnswer(question, polarity, verified)


def test_every_claim_holding_gives_yes_with_each_reason_cited(make_evidence) -> None:
    ri = make_evidence("004", "Ri Yong-ho")
    lavrov = make_evidence("004", "Lavrov")
    other = make_evidence("000", "Vladivostok")
    answers = [_answer("a?", "Yes", "Ri went.", ri), _answer("b?", "Yes", "Lavrov went.", lavrov)]
    # each reason's own [1] becomes its sentence's number in the whole question's evidence
    assert combined_reply(answers, [other, lavrov, ri]) == "Yes. Ri went. [3] Lavrov went. [2]"


def test_one_claim_failing_gives_no_with_that_claims_reason(make_evidence) -> None:
    ri = make_evidence("004", "Ri Yong-ho")
    lavrov = make_evidence("004", "Lavrov")
    answers = [_answer("a?", "Yes", "Ri went.", ri), _answer("b?", "No", "Trutnev went.", lavrov)]
    assert combined_reply(answers, [ri, lavrov]) == "No. Trutnev went. [2]"


def test_an_unanswered_claim_leaves_the_question_to_a_single_reply(make_evidence) -> None:
    ri = make_evidence("004", "Ri Yong-ho")
    unanswered = ClaimAnswer("b?", "", Draft("", [], True))
    assert combined_reply([_answer("a?", "Yes", "Ri went.", ri), unanswered], [ri]) is None
    assert combined_reply([_answer("a?", "Yes", "Ri went.", ri)], []) is None  # not in evidence


class SaysNoAboutLavrov(FakeLLM):
    """The fake LLM's cited copy of the best source, opened with No when the question asks
    about Lavrov and Yes otherwise."""

    def stream_chat(self, messages, max_tokens, stop, grammar=""):
        reply = "".join(super().stream_chat(messages, max_tokens, stop))
        question = messages[-1]["content"].rpartition("Question:")[2]
        yield ("No. " if "Lavrov" in question else "Yes. ") + reply


def test_the_pipeline_answers_each_claim_from_its_evidence_and_combines(
    indexed_assistant,
) -> None:
    llm = SaysNoAboutLavrov()
    answer = sibling(indexed_assistant, llm=llm).ask(JOINED)
    asked = [m[-1]["content"].rpartition("Question:")[2].strip() for m in llm.calls]
    assert [q.split("\n")[0] for q in asked[:2]] == claim_questions(JOINED)
    assert answer.text.startswith("No. ") and not answer.abstained
    assert any("Lavrov" in c.quote for c in answer.citations)
    assert "claims" in answer.timings


def test_claim_answering_can_be_switched_off(indexed_assistant) -> None:
    llm = SaysNoAboutLavrov()
    sibling(indexed_assistant, llm=llm, answer_claims=False).ask(JOINED)
    assert JOINED in llm.calls[0][-1]["content"]


JUDGEMENT = "Between the report of April 23 and the report of April 25, is there consistency in how the talks are described?"  # noqa: E501


def test_a_judgement_over_reports_keeps_its_yes_or_no_with_the_passages_quoted(
    make_evidence,
) -> None:
    ri = make_evidence("004", "Ri Yong-ho")
    kcna = make_evidence("002", "did not elaborate")
    reply = "No, there is no consistency in how the talks are described [2]."
    judged = judgement_with_quotes(reply, QuestionProfile.of(JUDGEMENT), [ri, kcna])
    assert judged is not None and not judged.abstained
    assert judged.text == f"No. Going by these passages: \u201c{kcna.text}\u201d [1]"
    assert [c.quote for c in judged.citations] == [kcna.text]
    # without markers: the best sentence of each article
    unmarked = judgement_with_quotes("Yes, they agree.", QuestionProfile.of(JUDGEMENT), [ri, kcna])
    assert unmarked is not None and [c.quote for c in unmarked.citations] == [ri.text, kcna.text]


@pytest.mark.parametrize(
    ("reply", "question"),
    [
        ("There is no consistency [1].", JUDGEMENT),  # no Yes or No: nothing to keep
        ("NOT IN ARTICLES", JUDGEMENT),
        ("Yes, Ri went [1].", "Did Ri Yong-ho accompany Kim?"),  # a fact: its reason must hold
    ],
)
def test_other_replies_are_not_kept_as_judgements(reply: str, question: str, make_evidence) -> None:
    assert (
        judgement_with_quotes(
            reply, QuestionProfile.of(question), [make_evidence("004", "Ri Yong-ho")]
        )
        is None
    )


def test_the_pipeline_keeps_a_judgement_whose_reason_no_source_states(indexed_assistant) -> None:
    class Judges(FakeLLM):
        def stream_chat(self, messages, max_tokens, stop, grammar=""):
            yield "Yes, the descriptions are consistent across the reports [1]."

    answer = sibling(indexed_assistant, llm=Judges()).ask(JUDGEMENT)
    assert answer.text.startswith("Yes. Going by these passages: \u201c")
    assert not answer.abstained and len(answer.citations) == 1

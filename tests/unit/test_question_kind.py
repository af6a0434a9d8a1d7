"""Yes/no questions: recognising them, prompting for Yes/No, and verifying the reason."""

from __future__ import annotations

import numpy as np
import pytest

from index.embedding.embedders import HashEmbedder
from qa.generate.prompts import YES_NO_HINT, answer_messages
from qa.understand.profile import QuestionProfile
from qa.understand.question_kind import is_yes_no_question, split_polarity
from qa.verify.citing import verify_reply


@pytest.mark.parametrize(
    "question",
    [
        "Did Kim meet Putin in Vladivostok?",
        "Is the summit over?",
        "Does the article say the talks lasted three hours?",
        "Between the report on 2023-11-24 and the report on 2023-11-25, is there consistency?",
        "After Polygon reported the news, do both articles agree?",
        "Were Ri Yong-ho and Choe Son-hui at the talks, or not?",
        "Hasn't Biegun been to Moscow before?",
        # A choice is answered Yes/No plus the cited reason (measured better, docs/evaluation.md).
        "Did the talks happen before or after the forum?",
    ],
)
def test_yes_no_questions(question: str) -> None:
    assert is_yes_no_question(question)


@pytest.mark.parametrize(
    "question",
    [
        "Who accompanied Kim at the extended talks?",
        "When did the one-on-one meeting begin?",
        "Between the two reports, which came first?",
        "Kim arrived by train?",
        "",
    ],
)
def test_other_questions(question: str) -> None:
    assert not is_yes_no_question(question)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Yes, both reports agree.", ("Yes", "both reports agree.")),
        ("no. The talks ended.", ("No", "The talks ended.")),
        ("Yes", ("Yes", "")),
        ("No one came.", ("", "No one came.")),
        ("Nobody came.", ("", "Nobody came.")),
    ],
)
def test_split_polarity(sentence: str, expected: tuple[str, str]) -> None:
    assert split_polarity(sentence) == expected


def test_prompt_asks_for_yes_or_no_only_on_yes_no_questions(make_evidence) -> None:
    evidence = [make_evidence("004", "Ri Yong-ho")]
    yes_no = answer_messages(QuestionProfile.of("Did Ri Yong-ho attend the talks?"), evidence)
    open_q = answer_messages(QuestionProfile.of("Who attended the talks?"), evidence)
    assert yes_no[1]["content"].endswith(YES_NO_HINT)
    assert YES_NO_HINT not in open_q[1]["content"]
    assert yes_no[0] == open_q[0]  # the system prompt never changes


def test_yes_with_a_supported_reason_is_kept(make_evidence) -> None:
    evidence = [make_evidence("004", "Ri Yong-ho")]
    result = verify_reply(
        "Yes, Kim was accompanied by Ri Yong-ho and Choe Son-hui [1].",
        QuestionProfile.of("Did anyone accompany Kim at the extended talks?"),
        evidence,
        HashEmbedder(),
        0.45,
    )
    assert not result.abstained
    assert result.text.startswith("Yes. Kim was accompanied by Ri Yong-ho")
    assert result.citations[0].source.startswith("004")


def test_bare_yes_with_a_marker_shows_the_cited_sentence(make_evidence) -> None:
    evidence = [make_evidence("004", "Ri Yong-ho")]
    result = verify_reply(
        "Yes [1].",
        QuestionProfile.of("Did Ri Yong-ho attend the talks?"),
        evidence,
        HashEmbedder(),
        0.45,
    )
    assert not result.abstained
    assert result.text.startswith("Yes. ") and "Ri Yong-ho" in result.text
    assert result.citations[0].quote in result.text


def test_bare_yes_without_anything_to_check_abstains(make_evidence) -> None:
    evidence = [make_evidence("004", "Ri Yong-ho")]
    result = verify_reply(
        "Yes.", QuestionProfile.of("Did Ri Yong-ho attend?"), evidence, HashEmbedder(), 0.45
    )
    assert result.abstained


def test_yes_with_an_unsupported_reason_abstains(make_evidence) -> None:
    evidence = [make_evidence("004", "Ri Yong-ho")]
    result = verify_reply(
        "Yes, the talks were held on the Moon with Elon Musk.",
        QuestionProfile.of("Were the talks held abroad?"),
        evidence,
        HashEmbedder(),
        0.45,
    )
    assert result.abstained


def test_a_reason_restating_the_yes_no_question_is_checked_word_for_word(make_evidence) -> None:
    """The reason of a yes/no answer restates the question's claim, so the question's words
    are what the source must state (elsewhere they prove nothing)."""

    class WordsOnly:  # no semantic similarity: the words alone must carry the support
        def embed(self, texts: list[str]) -> np.ndarray:
            return np.zeros((len(texts), 256), dtype=np.float32)

    evidence = [make_evidence("004", "Ri Yong-ho")]
    question = "Does the report indicate that Ri Yong-ho accompanied Kim during the summit?"
    stated = "Yes, the report shows that Ri Yong-ho accompanied Kim during the summit [1]."
    assert not verify_reply(
        stated, QuestionProfile.of(question), evidence, WordsOnly(), 0.45
    ).abstained
    question = "Does the report indicate that Kim toured a submarine base during the summit?"
    unstated = "Yes, the report shows that Kim toured a submarine base during the summit [1]."
    assert verify_reply(
        unstated, QuestionProfile.of(question), evidence, WordsOnly(), 0.45
    ).abstained


def test_no_one_is_not_a_polarity_answer(make_evidence) -> None:
    evidence = [make_evidence("004", "Ri Yong-ho")]
    result = verify_reply(
        "Ri Yong-ho accompanied Kim [1].",
        QuestionProfile.of("Did Kim go alone?"),
        evidence,
        HashEmbedder(),
        0.45,
    )
    assert not result.text.startswith(("Yes", "No"))


@pytest.mark.parametrize(
    "question, past",
    [("Did the talks last long?", True), ("Where did Kim and Putin meet?", True),
     ("On which days was Biegun scheduled to meet officials?", False),
     ("Around what date might Putin travel to the Far East?", False),
     ("Ahead of the summit, whose trip came first?", False)],
)  # fmt: skip
def test_questions_about_what_happened(question: str, past: bool) -> None:
    from qa.understand.tense import asks_about_past

    assert asks_about_past(question) is past


def test_a_plan_from_an_older_article_is_superseded_by_a_later_report() -> None:
    from qa.evidence.timeline import is_prospective, is_superseded

    preview = "Putin is slated to meet next week with North Korean leader Kim Jong Un."
    report = "The summit meetings lasted for around three hours in total."
    assert is_prospective(preview) and not is_prospective(report)
    assert is_superseded(preview, "2019-04-17T11:00:23", "2019-04-25T18:38:40")
    assert not is_superseded(preview, "2019-04-25", "2019-04-25")  # nothing later at hand
    assert not is_superseded(report, "2019-04-17", "2019-04-25")
    assert is_superseded(preview, "", "2019-04-25")  # undated, while a dated report is at hand
    assert not is_superseded(preview, "", "")  # nothing dated at all: nothing to prefer


@pytest.mark.parametrize(
    "question, parts",
    [("Does 'The Verge' say deals are needed, while 'TechCrunch' says they are not?",
      ["Does 'The Verge' say deals are needed", "'TechCrunch' says they are not"]),
     ("Between the report from 'Wired' on 2023-11-25 and the report from 'CNET', is there "
      "consistency in their advice?",
      ["the report from 'Wired' on 2023-11-25 is there consistency in their advice?",
       "the report from 'CNET' is there consistency in their advice?"]),
     ("Who accompanied Kim at the extended talks?",
      ["Who accompanied Kim at the extended talks?"])],
)  # fmt: skip
def test_questions_joining_several_reports_are_split(question: str, parts: list[str]) -> None:
    from qa.understand.decompose import sub_questions

    assert sub_questions(question) == parts


def test_claims_from_reports_of_different_dates_say_their_dates() -> None:
    from qa.evidence.timeline import dated_claims

    plan = (
        "Kim and Putin will meet on Thursday.",
        "They will meet on Thursday",
        "2019-04-23T22:13",
    )
    report = ("The meetings lasted three hours.", "lasted for three hours", "2019-04-25T18:38")
    assert dated_claims([plan, report]) == [
        "As of April 23, 2019, Kim and Putin will meet on Thursday.",
        "The April 25, 2019 report says the meetings lasted three hours.",
    ]
    # Same day, or no plan among them: nothing to reconcile, nothing added.
    assert dated_claims([report, (*report[:2], "2019-04-25")]) == [report[0], report[0]]
    assert dated_claims([plan, (*plan[:2], "2019-04-25")])[0].startswith("As of April 23")

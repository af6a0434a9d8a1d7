"""The answer check: question kinds, the rules, key facts, and the checker's decisions with a
scripted LLM (what the model says is fixed; what we do with it is under test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from unit_helpers import StreamingFake

from evals.judges import LLMSupportJudge
from qa.core.interfaces import LLMCapabilities
from qa.core.text import new_words
from qa.core.types import Draft
from qa.core.yes_no import Prober
from qa.understand.profile import QuestionProfile
from qa.verify.answer_check import AnswerCheck, near_miss_message
from qa.verify.support import unstated_facts


def checker(llm, mode) -> AnswerCheck:
    """The answer check as the old AnswerChecker ran it: the judge's grammar goes to a
    backend that honours one."""
    return AnswerCheck(llm, mode, use_grammar=True)


def profile(question: str) -> QuestionProfile:
    return QuestionProfile.of(question)


class ScriptedLLM(StreamingFake):
    """Replies from a list, in order; records prompts and grammars."""

    name = "scripted"

    def __init__(self, replies: list[str], supports_grammar: bool = True) -> None:
        self.replies = list(replies)
        self.capabilities = LLMCapabilities(grammar=supports_grammar)
        self.calls: list[tuple[str, str]] = []

    def stream_chat(self, messages, max_tokens, stop, grammar: str = "") -> Iterator[str]:
        self.calls.append((messages[-1]["content"], grammar))
        yield self.replies.pop(0)


@pytest.mark.parametrize(
    "question, answer, adds",
    [
        ("Who signed the memorandum?", "The memorandum was signed.", False),
        ("Where was the summit held?", "The summit was held.", False),
        ("Where was the summit held?", "Vladivostok.", True),
        ("How many flags were put up?", "Flags are seen along the road.", True),
    ],
)
def test_a_reply_must_add_to_the_question(question: str, answer: str, adds: bool) -> None:
    assert bool(new_words(answer, question)) is adds


def test_a_reply_of_the_questions_own_words_fails_without_asking_the_model(make_evidence) -> None:
    evidence = [make_evidence("004", "banquet")]
    llm = ScriptedLLM(["none"])  # only the extraction is asked, not the judge
    question = "Who arranged the banquet?"
    checked = checker(llm, "judge").check(
        profile(question), evidence, _reply("The banquet was arranged. [1]", evidence)
    )
    assert checked.abstained and checked.reason == "the reply does not give an answer"
    assert len(llm.calls) == 1 and "Copy the shortest exact words" in llm.calls[0][0]


@pytest.mark.parametrize(
    "question, answer",
    [
        ("What time did the talks begin?", "Putin is slated to meet Kim next week."),
        ("How many people attended the banquet?", "It lasted three hours."),
        ("Where was the summit held?", "Vladivostok."),
    ],
)
def test_the_model_judges_every_kind_of_reply(make_evidence, question: str, answer: str) -> None:
    """No word list decides the kind: the judge's Yes/No does, reading the question."""
    evidence = [make_evidence("004", "banquet")]
    for said, kept in (("Yes", True), ("No", False)):
        llm = ScriptedLLM([said, "none"])
        checked = checker(llm, "judge").check(profile(question), evidence, _reply(answer, evidence))
        assert (not checked.abstained) is kept
        assert f"Question: {question}" in llm.calls[0][0]
        assert "Does the answer give the answer" in llm.calls[0][0]


def test_a_claim_needs_its_key_facts_in_the_passage() -> None:
    passage = "Extended talks involving their key aides began at 4 p.m."
    assert unstated_facts("The extended talks ended at 4:30 p.m.", passage) == {"4:30"}
    assert unstated_facts("The extended talks began at 4 p.m.", passage) == set()
    # Names are compared by their parts: "Jong-un" in a claim, "Jong Un" in the source.
    assert unstated_facts("Kim Jong-un will meet Putin.", "Putin to meet Kim Jong Un") == set()
    assert unstated_facts("Kim met Lavrov on Sunday.", "Kim met officials.") == {
        "lavrov",
        "sunday",
    }


def test_the_questions_own_names_must_be_in_the_cited_sentence_too() -> None:
    # The wrong answer a user saw: Kim Chang-son's trip cited for where Kim met Putin.
    trip = (
        "Kim Jong-un's de facto chief of staff, Kim Chang-son, visited Moscow and Vladivostok "
        "in March, while Russian Interior Minister Vladimir Kolokoltsev took a trip to "
        "Pyongyang earlier this month."
    )
    assert unstated_facts("Kim and Putin met in Moscow and Vladivostok.", trip) == {"putin"}
    # The same trip as another outlet wrote it, naming the pair as the summit's: the answer
    # a user saw with the Since filter. A pair is not each of its names.
    trip = (
        "Kim Chang-son, traveled to Moscow and the Russian eastern coastal city of Vladivostok "
        "(firm candidate to host the summit Kim-Putin) between 19 and on March 25."
    )
    assert unstated_facts("Kim and Putin met in Moscow and Vladivostok.", trip) == {"putin"}
    assert unstated_facts("Vladivostok may host the Kim-Putin summit.", trip) == set()
    assert unstated_facts("Kim Jong-un met Putin.", "Putin met Kim Jong-un.") == set()
    # "What did Ushakov say?" answered with another official's words.
    words = "Lavrov said the talks would focus on the nuclear issue."
    # "He said ...": the question's names may be stated by the sentence before.
    said = "He said he and Putin discussed peace and security for the Korean Peninsula."
    claim = "Kim Jong-un said he and Putin discussed peace and security."
    question = "What did Kim Jong-un say he and Putin discussed?"
    assert unstated_facts(claim, said, question) == {"kim", "jong", "un"}
    assert unstated_facts(claim, said, question, "Kim Jong-un gave a dinner speech.") == set()
    # Names the question does not give must be in the cited sentence itself.
    assert unstated_facts("Then Lavrov said he and Putin discussed peace.", said, question,
                          "Lavrov arrived.") == {"lavrov"}  # fmt: skip
    claim = "Ushakov said the talks would focus on the nuclear issue."
    assert unstated_facts(claim, words, "What did Ushakov say about the talks?") == {"ushakov"}
    # A first word the question does not name is not taken for a name.
    assert unstated_facts("Talks would focus on the nuclear issue.", words, "Who spoke?") == set()


def _reply(text: str, evidence: object) -> Draft:
    return Draft(text, [], False)


def test_a_reply_without_the_asked_kind_is_replaced_by_the_source_words(make_evidence) -> None:
    evidence = [make_evidence("001", "Yongbyon"), make_evidence("004", "three hours")]
    llm = ScriptedLLM(["[1] Yongbyon nuclear research"])
    question = "What was the name of the center Pyongyang offered to disable?"
    reply = _reply("Pyongyang offered to disable its center. [1]", evidence)
    checked = checker(llm, "rules").check(profile(question), evidence, reply)
    assert not checked.abstained and checked.text == "Yongbyon nuclear research. [1]"
    cited = checked.citations[0]
    assert Path(cited.path).read_text(encoding="utf-8")[cited.start : cited.end] == cited.quote
    assert "Yongbyon nuclear research" in cited.quote
    assert len(llm.calls) == 1 and llm.calls[0][1].startswith("root ::=")  # one span request


def test_words_the_source_does_not_contain_are_refused(make_evidence) -> None:
    evidence = [make_evidence("004", "banquet")]
    llm = ScriptedLLM(["No", "[1] roast duck and kimchi"])
    question = "What was the name of the dish served at the banquet?"
    checked = checker(llm, "judge").check(
        profile(question), evidence, _reply("The leaders headed to a banquet. [1]", evidence)
    )
    assert checked.abstained
    assert checked.text == near_miss_message(question, evidence)
    assert checked.text.startswith("The articles mention the banquet, but they don't say")


def test_the_judge_decides_what_the_rules_cannot(make_evidence) -> None:
    evidence = [make_evidence("004", "banquet")]
    question = "What dishes were served at the banquet?"
    reply = _reply("The leaders headed to a banquet that Putin had arranged. [1]", evidence)
    said_no = checker(ScriptedLLM(["No", "none"]), "judge").check(
        profile(question), evidence, reply
    )
    assert said_no.abstained and "banquet" in said_no.text
    said_yes = checker(ScriptedLLM(["Yes"]), "judge").check(profile(question), evidence, reply)
    assert said_yes == reply
    unreadable = checker(ScriptedLLM(["Maybe"]), "judge").check(profile(question), evidence, reply)
    assert unreadable == reply  # the benefit of the doubt
    off = checker(ScriptedLLM([]), "off").check(profile(question), evidence, reply)
    assert off == reply


def test_a_yes_no_question_gets_its_yes_or_no(make_evidence) -> None:
    evidence = [make_evidence("004", "three hours")]
    reply = _reply("The summit meetings lasted around three hours in total. [1]", evidence)
    checked = checker(ScriptedLLM(["Yes"]), "judge").check(
        profile("Did the summit last long?"), evidence, reply
    )
    assert checked.text == "Yes. The summit meetings lasted around three hours in total. [1]"


def test_grammar_only_goes_to_a_backend_that_supports_it() -> None:
    plain = ScriptedLLM(["Yes"], supports_grammar=False)
    assert Prober(plain).reply([{"role": "user", "content": "q"}], 2, "root ::= x") == "Yes"
    assert plain.calls[0][1] == ""


def test_llm_support_judge_counts_unreadable_as_unsupported() -> None:
    llm = ScriptedLLM(["Yes", "banana"])
    judge = LLMSupportJudge(llm)
    assert judge("Kim met Putin.", "Kim met Putin in Vladivostok.", "q") is True
    assert judge("Kim met Putin.", "Kim met Putin in Vladivostok.", "other q") is True  # cached
    assert judge("Kim met Lavrov.", "Kim met Putin.", "q") is False
    assert len(llm.calls) == 2


def test_a_short_fragment_is_read_with_the_sentence_before_it() -> None:
    from index.types import ArticleInfo, Chunk, Span
    from qa.evidence.select import sentences_with_fragments

    text = "It offered to disable its center. Yongbyon nuclear research.\n\nNew paragraph."
    spans = [Span(100, 133), Span(134, 160), Span(162, 176)]
    chunk = Chunk("c", ArticleInfo("a.txt", "a.txt"), text, 100, 176, sentences=spans,
                  sentence_texts=[text[s.start - 100 : s.end - 100] for s in spans])  # fmt: skip
    merged = sentences_with_fragments(chunk)
    assert merged[0] == (Span(100, 160), text[:60])
    assert merged[0][1].endswith("Yongbyon nuclear research.")
    assert merged[1] == (Span(162, 176), "New paragraph.")  # not across a paragraph break


def test_a_date_from_the_report_header_supports_a_claim(make_evidence) -> None:
    from index.embedding.embedders import HashEmbedder
    from qa.verify.citing import verify_reply

    evidence = [make_evidence("004", "began at 2:10 p.m.")]  # published 2019-04-25, a Thursday
    question = "On what date did Kim and Putin meet?"
    kept = verify_reply(
        "They met on Thursday, April 25. [1]", profile(question), evidence, HashEmbedder(), 0.3
    )
    assert not kept.abstained and kept.citations[0].published.startswith("2019-04-25")
    made_up = verify_reply(
        "They met on April 26. [1]", profile(question), evidence, HashEmbedder(), 0.3
    )
    assert made_up.abstained


def test_a_question_about_something_the_articles_never_mention() -> None:
    from qa.verify.support import unmentioned_facts

    context = "Biegun will meet Russian officials in Moscow on Wednesday. Choe Son-hui. 2019"
    assert unmentioned_facts("When will Stephen Biegan meet officials in Moskow?", context) == {
        "stephen"
    }  # misspelled names are forgiven, an absent one is not
    assert unmentioned_facts("What did Choi Son-hee say in 2019?", context) == set()
    assert unmentioned_facts("What did Biegun say in 2018?", context) == {"2018"}


def test_a_month_alone_does_not_rest_on_the_report_date(make_evidence) -> None:
    from index.embedding.embedders import HashEmbedder
    from qa.verify.citing import verify_reply

    evidence = [make_evidence("004", "began at 2:10 p.m.")]  # published April 25, 2019
    question = "In which month did Kim and Putin meet at the university?"
    month = verify_reply("They met in April. [1]", profile(question), evidence, HashEmbedder(), 0.3)
    assert month.abstained

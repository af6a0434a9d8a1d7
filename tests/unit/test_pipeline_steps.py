"""Verification as an ordered list of steps over one Draft type, and the one place where an
answer is given or withheld: each abstention carries the reason of the stage that gave it,
in the answer's `decision`, and `qa ask -v` shows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.core.types import Draft
from qa.pipeline import ABSTAIN_TEXT, VERIFICATION_STEPS, AnswerPipeline
from qa.verify.step import StepContext


def _pipeline(assistant: Assistant, **overrides: object) -> AnswerPipeline:
    settings = assistant.settings.model_copy(update=overrides)
    return AnswerPipeline(
        settings, llm=assistant.llm, embedder=assistant.embedder, retriever=assistant.retriever
    )


def test_the_steps_are_named_in_order(indexed_assistant: Assistant) -> None:
    pipeline = _pipeline(indexed_assistant)
    assert VERIFICATION_STEPS == ("cite", "judgement", "answer_check", "evidence_led")
    assert [s.name for s in pipeline.steps] == list(VERIFICATION_STEPS)


def test_an_answer_says_which_step_decided(indexed_assistant: Assistant) -> None:
    answer = (
        _pipeline(indexed_assistant).stream("Who accompanied Kim at the extended talks?").answer
    )
    assert not answer.abstained and answer.citations
    assert answer.decision.startswith("answered (")


def test_nothing_relevant_abstains_at_the_evidence_stage(indexed_assistant: Assistant) -> None:
    answer = _pipeline(indexed_assistant, min_relevance=0.99).stream("Who won the match?").answer
    assert answer.abstained and answer.text == ABSTAIN_TEXT and not answer.citations
    assert answer.decision == (
        "abstained at evidence: no retrieved sentence is relevant enough (min_relevance)"
    )


def test_a_name_no_article_mentions_abstains_with_that_name(indexed_assistant: Assistant) -> None:
    answer = _pipeline(indexed_assistant).stream("Who did Zyxwvutsrq meet in Vladivostok?").answer
    assert answer.abstained and "'zyxwvutsrq'" in answer.text
    assert (
        answer.decision == "abstained at evidence: the retrieved text never mentions ['zyxwvutsrq']"
    )


class _Refuse:
    """A step that withholds every answer, with its reason."""

    name = "refuse"

    def run(self, draft: Draft, context: StepContext) -> Draft:
        assert context.evidence and context.reply and context.question.text
        return draft.but(abstained=True, text="", reason="a test refuses")


def test_a_step_that_abstains_is_decided_in_one_place(indexed_assistant: Assistant) -> None:
    pipeline = _pipeline(indexed_assistant)
    pipeline.steps.append(_Refuse())
    answer = pipeline.stream("Who accompanied Kim at the extended talks?").answer
    assert answer.abstained and answer.text == ABSTAIN_TEXT and answer.citations == []
    assert answer.decision == "abstained at refuse: a test refuses"


def test_a_reply_with_no_supported_sentence_abstains_at_cite(indexed_assistant: Assistant) -> None:
    class Unsupported:
        name = "fake"
        from qa.core.interfaces import LLMCapabilities

        capabilities = LLMCapabilities()

        def stream_chat(self, messages, max_tokens, stop, grammar=""):  # noqa: ANN001, ANN201
            yield "The moon is made of green cheese [1]."

        def complete_chat(self, messages, max_tokens, stop, grammar="", top_logprobs=0):  # noqa: ANN001, ANN201
            raise AssertionError("not used")

        def close(self) -> None:
            pass

    settings = indexed_assistant.settings.model_copy(update={"evidence_led": False})
    pipeline = AnswerPipeline(
        settings,
        llm=Unsupported(),
        embedder=indexed_assistant.embedder,
        retriever=indexed_assistant.retriever,
    )
    answer = pipeline.stream("Who accompanied Kim at the extended talks?").answer
    assert answer.abstained
    assert answer.unsupported == ["The moon is made of green cheese."]
    assert answer.decision == "abstained at cite: no sentence of the reply is supported by a source"

    # Leading with the evidence, the same reply gives way to the best sentence, quoted whole.
    led = (
        AnswerPipeline(
            indexed_assistant.settings.model_copy(update={"evidence_led": True}),
            llm=Unsupported(),
            embedder=indexed_assistant.embedder,
            retriever=indexed_assistant.retriever,
        )
        .stream("Who accompanied Kim at the extended talks?")
        .answer
    )
    assert not led.abstained and "green cheese" not in led.text
    assert led.decision.startswith("answered (evidence_led")
    [citation] = led.citations
    assert led.text.endswith(f'says: "{" ".join(citation.quote.split())}" [1]')
    assert led.signals["evidence_led"] == 1.0


@pytest.fixture
def qa_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("QA_EMBEDDER", "hash")
    monkeypatch.setenv("QA_LLM_BACKEND", "fake")
    return tmp_path


def test_qa_ask_verbose_shows_the_decision(qa_env: Path, capsys: pytest.CaptureFixture) -> None:
    from qa.cli import main

    assert main(["-v", "--collection", "steps-test", "ask", "Who won the 1950 World Cup?"]) == 0
    err = capsys.readouterr().err
    assert "abstained at evidence:" in err


def test_candidates_are_what_the_evidence_stage_chooses_from(indexed_assistant: Assistant) -> None:
    pipeline = _pipeline(indexed_assistant, evidence_sentences=2)
    question = "Which airline was scheduled to fly an extra flight from Pyongyang to Vladivostok?"
    candidates = pipeline.candidates(question)
    assert len(candidates) > 2
    assert [c.score for c in candidates] == sorted((c.score for c in candidates), reverse=True)
    answer = pipeline.stream(question).answer
    assert answer.citations
    # With two evidence sentences, every citation falls inside one of the first two candidates.
    chosen = [(c.article.path, c.span.start, c.span.end) for c in candidates[:2]]
    for cited in answer.citations:
        assert any(
            cited.path == path and start <= cited.start and cited.end <= end
            for path, start, end in chosen
        )

"""The calibrated answer-or-abstain decision: the model's own confidence as numbers (P(Yes)
of "is your answer right?", the reply's token log-probabilities), the signals named once,
a logistic model read from JSON, and the pipeline withholding a draft below the target
precision's threshold. Backends without log-probabilities take the model fitted without
them, and the decision says which."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import replace

import pytest

from qa.assistant import Assistant
from qa.core.interfaces import Completion, LLMCapabilities, Message, TokenLogprob
from qa.core.yes_no import YES_NO_GRAMMAR, choice_grammar, choice_probabilities, p_yes
from qa.generate.backends.fake import FakeLLM
from qa.generate.relevance import ANSWERS_QUESTION
from qa.pipeline import AnswerPipeline
from qa.verify.calibrated import CalibratedDecision, LogisticModel
from qa.verify.confidence import (
    CHOICE_QUESTION,
    CITED_JUDGED,
    ReplyLogprobs,
    p_cited_answers,
    source_choice,
)
from qa.verify.signals import (
    BASE_SIGNALS,
    CHOICE_SIGNALS,
    JUDGED_SIGNALS,
    LOGPROB_SIGNALS,
    SIGNALS,
)

QUESTION = "Who accompanied Kim at the extended talks?"


def _yes(p: float) -> Completion:
    """A judgement answered "Yes" with P(Yes) = p among Yes/No."""
    top = (("Yes", math.log(p)), ("No", math.log(1 - p)))
    return Completion("Yes", [TokenLogprob("Yes", math.log(p), top)])


def test_p_yes_reads_yes_against_no() -> None:
    assert p_yes(_yes(0.8)) == pytest.approx(0.8)
    # Spellings of the same word count as it; other tokens do not.
    spaced = Completion("No", [TokenLogprob(" No", -0.1, ((" No", -0.1), ("yes", -2.0)))])
    assert p_yes(spaced) == pytest.approx(math.exp(-2.0) / (math.exp(-2.0) + math.exp(-0.1)))
    assert p_yes(Completion("Maybe", [TokenLogprob("Maybe", -0.1, (("Maybe", -0.1),))])) is None
    assert p_yes(Completion("Yes", None)) is None  # a backend that gives none


def _digits(p: list[float]) -> Completion:
    """A one-token choice answered with P("0"), P("1") ... = p."""
    top = tuple((str(n), math.log(v)) for n, v in enumerate(p) if v > 0)
    best = max(top, key=lambda t: t[1])
    return Completion(best[0], [TokenLogprob(best[0], best[1], top)])


class LogprobFake(FakeLLM):
    """The fake extractive LLM, with log-probabilities: each streamed word gets one, every
    one-token Yes/No question (P(True), the judgements) is answered Yes with `p_yes`, and
    the choice of source picks the reply's first cited source with `p_yes`, none with the
    rest."""

    capabilities = LLMCapabilities(grammar=True, logprobs=True)

    def __init__(self, p_yes: float = 0.9) -> None:
        super().__init__()
        self.p_yes = p_yes
        self.judged: list[tuple[list[Message], str]] = []

    def stream_chat(
        self,
        messages: list[Message],
        max_tokens: int,
        stop: list[str],
        grammar: str = "",
        logprobs: list[TokenLogprob] | None = None,
    ) -> Iterator[str]:
        for piece in super().stream_chat(messages, max_tokens, stop, grammar):
            if logprobs is not None:
                logprobs.append(TokenLogprob(piece, -0.5))
            yield piece

    def complete_chat(
        self,
        messages: list[Message],
        max_tokens: int,
        stop: list[str],
        grammar: str = "",
        top_logprobs: int = 0,
    ) -> Completion:
        if grammar == YES_NO_GRAMMAR and max_tokens == 1:  # P(True) and the judgements
            self.judged.append((messages, grammar))
            return _yes(self.p_yes)
        if grammar.startswith("root ::= [0-") and max_tokens == 1:  # the choice of source
            self.judged.append((messages, grammar))
            cited = re.search(r"\[(\d)\]", messages[-2]["content"])  # the reply's source
            n = int(cited.group(1)) if cited else 1
            return _digits([1 - self.p_yes] + [0.0] * (n - 1) + [self.p_yes])
        return super().complete_chat(messages, max_tokens, stop, grammar, top_logprobs)


def test_the_choice_of_source_is_read_over_the_digits_it_allows() -> None:
    assert choice_grammar(4) == "root ::= [0-4]" and choice_grammar(12) == "root ::= [0-9]"
    p = choice_probabilities(_digits([0.1, 0.6, 0.3]), 2)
    assert p == pytest.approx([0.1, 0.6, 0.3])
    # Digits the grammar did not allow are not counted; other tokens never are.
    wide = Completion("1", [TokenLogprob("1", -0.1, (("1", -0.1), ("7", -0.2), ("x", -0.3)))])
    assert choice_probabilities(wide, 2) == pytest.approx([0.0, 1.0, 0.0])
    assert choice_probabilities(Completion("1", None), 2) is None


def test_the_choice_is_asked_in_the_answers_own_conversation() -> None:
    llm = LogprobFake(0.8)
    prompt = [{"role": "system", "content": "S"}, {"role": "user", "content": "Sources ..."}]
    choice = source_choice(llm, prompt, " Ri Yong-ho [1]. ", 3)
    assert choice is not None and choice.p_none == pytest.approx(0.2)
    assert choice.chosen == 1 and choice.p_of([1, 2]) == pytest.approx(0.8)
    messages, grammar = llm.judged[-1]
    assert messages[:2] == prompt and messages[-1]["content"] == CHOICE_QUESTION
    assert grammar == "root ::= [0-3]"
    assert source_choice(FakeLLM(), prompt, "A [1].", 3) is None  # no log-probabilities


def test_reply_logprobs_skip_bare_spaces() -> None:
    stats = ReplyLogprobs.of([TokenLogprob("Ri", -0.2), TokenLogprob(" ", -3.0),
                              TokenLogprob(" Yong", -1.0)])  # fmt: skip
    assert stats is not None and stats.tokens == 2
    assert stats.mean == pytest.approx(-0.6) and stats.min == pytest.approx(-1.0)
    assert ReplyLogprobs.of([]) is None


def _model(features: tuple[str, ...], coef: float, curve: tuple = ()) -> LogisticModel:
    n = len(features)
    return LogisticModel(features, (0.0,) * n, (1.0,) * n, (coef,) + (0.0,) * (n - 1), 0.0, curve)


def test_a_logistic_model_and_its_threshold() -> None:
    model = _model(("relevance_max",), 2.0, ((0.2, 0.6, 1.0), (0.5, 0.85, 0.6), (0.8, 0.97, 0.2)))
    assert model.p_right({"relevance_max": 0.0}) == pytest.approx(0.5)
    assert model.p_right({"relevance_max": 1.0}) == pytest.approx(1 / (1 + math.exp(-2)))
    assert model.threshold(0.0) == 0.0  # no target: never withhold
    assert model.threshold(0.8) == 0.5  # the lowest threshold that reached the target
    assert model.threshold(0.99) == 0.8  # unreachable: the strictest one seen


def _decision(target: float, curve: tuple = ((0.0, 0.5, 1.0), (0.999, 1.0, 0.01))):
    return CalibratedDecision(
        {
            "judged": _model(SIGNALS, 1.0, curve),
            "logprobs": _model(LOGPROB_SIGNALS + BASE_SIGNALS, 1.0, curve),
            "no_logprobs": _model(BASE_SIGNALS, 1.0, curve),
        },
        target,
        {},
    )


def test_the_decision_says_which_model_it_used() -> None:
    signals = dict.fromkeys(BASE_SIGNALS, 0.0)
    without = _decision(0.9).estimate(signals)
    assert without is not None and without.basis == "no_logprobs"
    assert "without the model's log-probabilities" in without.describe()
    with_lp = _decision(0.9).estimate({**signals, **dict.fromkeys(LOGPROB_SIGNALS, 0.0)})
    assert with_lp is not None and with_lp.basis == "logprobs"
    assert with_lp.describe().endswith("with the model's log-probabilities")
    judged = _decision(0.9).estimate(dict.fromkeys(SIGNALS, 0.0))
    assert judged is not None and judged.basis == "judged"
    assert judged.describe().endswith("with the model's judgement and choice of source")
    assert _decision(0.9).estimate({"relevance_max": 1.0}) is None  # signals incomplete


def test_without_a_set_target_each_model_uses_its_own_best() -> None:
    curve = ((0.2, 0.5, 1.0), (0.6, 0.7, 0.5), (0.9, 0.9, 0.1))
    decision = CalibratedDecision(
        {"judged": replace(_model(SIGNALS, 1.0, curve), best_target=0.7),
         "no_logprobs": _model(BASE_SIGNALS, 1.0, curve)},  # best_target 0: never withhold
        None, {},
    )  # fmt: skip
    judged = decision.estimate(dict.fromkeys(SIGNALS, 0.0))  # P(right) 0.5
    assert judged is not None and judged.threshold == 0.6 and not judged.answer
    plain = decision.estimate(dict.fromkeys(BASE_SIGNALS, 0.0))
    assert plain is not None and plain.threshold == 0.0 and plain.answer
    # A target that is set applies to every model, 0 included.
    assert _decision(0.0).estimate(dict.fromkeys(SIGNALS, 0.0)).answer  # type: ignore[union-attr]


def test_the_best_target_holds_only_for_the_model_it_was_fitted_on() -> None:
    curve = ((0.2, 0.5, 1.0), (0.6, 0.7, 0.5), (0.9, 0.9, 0.1))
    models = {"judged": replace(_model(SIGNALS, 1.0, curve), best_target=0.7)}
    fitted = {"model": "llama_cpp:qwen2.5-coder-1.5b"}
    signals = dict.fromkeys(SIGNALS, 0.0)  # P(right) 0.5, below the 0.7 target's threshold
    same = CalibratedDecision(models, None, fitted, "llama_cpp:qwen2.5-coder-1.5b")
    assert same.fitted_here and not same.estimate(signals).answer  # type: ignore[union-attr]
    other = CalibratedDecision(models, None, fitted, "openai:llama3")
    estimate = other.estimate(signals)
    assert not other.fitted_here and estimate is not None
    assert estimate.answer and estimate.p_right == 0.5  # reported, never withheld
    chosen = CalibratedDecision(models, 0.7, fitted, "openai:llama3")  # a target set by hand
    assert not chosen.estimate(signals).answer  # type: ignore[union-attr]


def test_the_shipped_models_carry_their_best_targets() -> None:
    decision = CalibratedDecision.load(None)
    # The news objective's choice: the most abstentions for at most 1 right answer in 50 lost.
    assert 0.5 <= decision.models["judged"].best_target < 1.0
    assert decision.models["judged"].features[0] == "p_cited_answers_logit"
    from qa.core.settings import Settings

    assert decision.meta["model"] == Settings.model_construct().llm_identity()  # the default
    assert decision.models["no_logprobs"].curve == ()  # no better than chance
    assert decision.models["no_logprobs"].threshold(0.9) == 0.0


def _pipeline(assistant: Assistant, llm: FakeLLM, target: float, **update) -> AnswerPipeline:
    """A pipeline of the assistant's settings with `update` (a pipeline's settings are fixed
    when it is built: each stage's component holds its own section)."""
    settings = assistant.settings.model_copy(update=update)
    pipeline = AnswerPipeline(
        settings, llm=llm, embedder=assistant.embedder, retriever=assistant.retriever
    )
    pipeline.calibrated = _decision(target)
    return pipeline


def test_below_the_threshold_the_draft_is_withheld(indexed_assistant: Assistant) -> None:
    answer = _pipeline(indexed_assistant, FakeLLM(), target=0.99).stream(QUESTION).answer
    assert answer.abstained and answer.citations == [] and answer.withheld
    assert answer.decision.startswith("abstained at confidence: P(right) ")
    assert "without the model's log-probabilities" in answer.decision
    assert answer.confidence is not None and answer.confidence < 0.999
    # What the articles do mention is said, not a bare refusal.
    assert "closest passage" in answer.text
    assert set(answer.signals) == set(BASE_SIGNALS)  # this backend gives no log-probabilities


def test_without_a_target_the_draft_is_answered_with_its_confidence(
    indexed_assistant: Assistant,
) -> None:
    llm = LogprobFake(0.9)
    answer = _pipeline(indexed_assistant, llm, target=0.0).stream(QUESTION).answer
    assert not answer.abstained and answer.citations and not answer.withheld
    assert answer.confidence is not None
    assert answer.decision.endswith("with the model's judgement and choice of source)")
    assert set(answer.signals) == set(SIGNALS)
    # The fake picks source 1, which the answer cites, with 0.9; "none" with 0.1.
    assert answer.signals["p_none_logit"] == pytest.approx(math.log(0.1 / 0.9), abs=1e-4)
    assert answer.signals["p_choice_cited_logit"] == pytest.approx(math.log(0.9 / 0.1), abs=1e-4)
    assert answer.signals["evidence_led"] == 0.0
    assert answer.signals["reply_logprob_mean"] == pytest.approx(-0.5)
    assert llm.judged, "the choice and the judgement were asked"
    assert answer.to_json()["confidence"] == round(answer.confidence, 4)


def test_the_judgement_asks_of_each_cited_sentence(indexed_assistant: Assistant) -> None:
    llm = LogprobFake(0.8)
    answer = _pipeline(indexed_assistant, llm, target=0.0).stream(QUESTION).answer
    assert not answer.abstained and answer.citations
    asked = [m[-1]["content"] for m, _ in llm.judged]
    cited = [a for a in asked if a.endswith(ANSWERS_QUESTION)]
    # Each cited sentence is judged on its own; the answer's own words are not asked about
    # (P(True) and "does the answer give what is asked?" were measured and removed).
    assert not [a for a in asked if "Does the answer give" in a or "Is your answer" in a]
    assert len(cited) == min(len(answer.citations), CITED_JUDGED)
    assert answer.citations[0].quote in cited[0]
    for name in JUDGED_SIGNALS:
        assert answer.signals[name] == pytest.approx(math.log(0.8 / 0.2), abs=1e-4)


def test_the_best_cited_sentence_counts_and_unknowns_are_skipped() -> None:
    class Graded(LogprobFake):
        def complete_chat(self, messages, max_tokens, stop, grammar="", top_logprobs=0):  # noqa: ANN001, ANN201
            text = messages[-1]["content"]
            if "unreadable" in text:
                return Completion("Maybe", [TokenLogprob("Maybe", -0.1, (("Maybe", -0.1),))])
            return _yes(0.9 if "Ri Yong-ho" in text else 0.2)

    llm = Graded()
    quotes = ["Kim came by train.", "Ri Yong-ho was there.", "unreadable", "Ri Yong-ho again."]
    assert p_cited_answers(llm, QUESTION, quotes) == pytest.approx(0.9)
    assert p_cited_answers(llm, QUESTION, ["unreadable"]) is None
    assert p_cited_answers(FakeLLM(), QUESTION, quotes) is None  # no log-probabilities


def test_the_judgements_can_be_turned_off(indexed_assistant: Assistant) -> None:
    llm = LogprobFake(0.9)
    pipeline = _pipeline(indexed_assistant, llm, 0.0, confidence_judgements=False)
    answer = pipeline.stream(QUESTION).answer
    assert len(llm.judged) == 1  # the choice of source only
    assert not set(JUDGED_SIGNALS) & set(answer.signals)
    assert "p_none_logit" in answer.signals


def test_the_choice_of_source_can_be_turned_off(indexed_assistant: Assistant) -> None:
    llm = LogprobFake(0.9)
    pipeline = _pipeline(indexed_assistant, llm, 0.0, choice_signal=False)
    answer = pipeline.stream(QUESTION).answer
    assert all(m[-1]["content"] != CHOICE_QUESTION for m, _ in llm.judged)
    assert not set(CHOICE_SIGNALS) & set(answer.signals)
    assert "p_cited_answers_logit" in answer.signals


def test_without_the_judgement_and_the_choice_the_logprob_model_decides(
    indexed_assistant: Assistant,
) -> None:
    llm = LogprobFake(0.9)
    pipeline = _pipeline(indexed_assistant, llm, 0.0, confidence_judgements=False,
                         choice_signal=False)  # fmt: skip
    answer = pipeline.stream(QUESTION).answer
    assert not llm.judged and "reply_logprob_mean" in answer.signals
    # The model fitted on the reply's log-probabilities decides, and the decision says so.
    assert answer.confidence is not None
    assert answer.decision.endswith("calibrated with the model's log-probabilities)")


class _RefuseAfterCiting:
    name = "answer_check"

    def run(self, draft, context):  # noqa: ANN001, ANN201
        return draft.but(abstained=True, text="", reason="a test rule refuses")


def test_a_draft_a_rule_withheld_is_scored_when_asked(indexed_assistant: Assistant) -> None:
    """For measuring a rule: the cited draft it held back keeps its signals (qa eval)."""
    llm = LogprobFake(0.6)
    for score_withheld in (False, True):
        pipeline = _pipeline(indexed_assistant, llm, 0.0, score_withheld=score_withheld)
        pipeline.steps[2] = _RefuseAfterCiting()
        pipeline.steps.pop()  # no evidence-led answer: the rule's abstention stands
        answer = pipeline.stream(QUESTION).answer
        if not score_withheld:
            assert answer.abstained and answer.held == {}  # not asked: no extra call
    assert answer.abstained and answer.decision == "abstained at answer_check: a test rule refuses"
    assert answer.held["step"] == "answer_check" and "[1]" in answer.held["text"]
    assert set(answer.held["signals"]) == set(SIGNALS)


class _RelevanceFake(LogprobFake):
    """P(Yes) "does the sentence help?" is high only for sentences naming Ri Yong-ho."""

    def complete_chat(self, messages, max_tokens, stop, grammar="", top_logprobs=0):  # noqa: ANN001, ANN201
        from qa.generate.relevance import RELEVANCE_QUESTION

        prompt = messages[-1]["content"]
        if prompt.endswith(RELEVANCE_QUESTION):
            self.judged.append((messages, grammar))
            return _yes(0.95 if "Ri Yong-ho" in prompt else 0.05)
        return super().complete_chat(messages, max_tokens, stop, grammar, top_logprobs)


def test_the_model_picks_the_evidence_among_the_best_few(indexed_assistant: Assistant) -> None:
    from qa.evidence.select import ranked_sentences
    from qa.generate.relevance import judged_by_model
    from qa.retrieve.chunks import Retrieval
    from qa.understand.profile import QuestionProfile

    a = indexed_assistant
    profile = QuestionProfile.of(QUESTION)
    vector = a.embedder.embed([QUESTION])[0]
    hits = Retrieval(a.retriever).run(search=QUESTION, search_vector=vector,
                                      question=QUESTION, question_vector=vector)  # fmt: skip
    ranked = ranked_sentences(profile, vector, hits, a.embedder)
    llm = _RelevanceFake()
    chosen = judged_by_model(llm, QUESTION, ranked, judge_top=len(ranked), limit=2)
    assert len(llm.judged) == len(ranked) and "Ri Yong-ho" in chosen[0].text
    # Off, or a backend without log-probabilities: the ranking as it was, no call.
    assert judged_by_model(llm, QUESTION, ranked, 0, 2) == ranked[:2]
    assert judged_by_model(FakeLLM(), QUESTION, ranked, 5, 2) == ranked[:2]

"""The packaged model behind the whole LLM interface: log-probabilities from llama.cpp's
server, a grammar that holds the reply to its form, and both at once (P(Yes) of a
constrained judgement, what calibrated decisions are built on)."""

from __future__ import annotations

import math

import pytest

from qa.assistant import Assistant
from qa.core.interfaces import LLM

pytestmark = pytest.mark.integration

YES_NO = 'root ::= "Yes" | "No"'


@pytest.fixture(scope="module")
def llm(real_assistant: Assistant) -> LLM:
    return real_assistant.llm


def _ask(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{question} Reply Yes or No."}]


def test_the_local_model_returns_token_logprobs(llm: LLM) -> None:
    assert llm.capabilities.logprobs and llm.capabilities.grammar
    done = llm.complete_chat(_ask("Is Paris the capital of France?"), 4, ["\n"], top_logprobs=3)
    assert done.text.strip()
    assert done.logprobs, "llama.cpp's server returned no log-probabilities"
    assert "".join(t.token for t in done.logprobs).strip() == done.text.strip()
    for token in done.logprobs:
        assert token.logprob <= 0.0 and 1 <= len(token.top) <= 3
        assert max(lp for _, lp in token.top) >= token.logprob - 1e-6


def test_a_constrained_judgement_gives_p_yes(llm: LLM) -> None:
    done = llm.complete_chat(
        _ask("Is Paris the capital of France?"), 2, [], grammar=YES_NO, top_logprobs=5
    )
    assert done.text in ("Yes", "No") and done.logprobs
    first = dict(done.logprobs[0].top)
    p_yes = math.exp(first.get("Yes", -math.inf))
    assert done.text == "Yes" and p_yes > 0.5
    # Streaming keeps working beside it, with and without the grammar.
    assert "".join(llm.stream_chat(_ask("Is ice hot?"), 2, [], YES_NO)) in ("Yes", "No")


def test_the_judgement_tells_an_answer_from_a_near_miss(llm: LLM) -> None:
    """The confidence judgement the calibrated decision reads, from the real model: the
    sentence that says who was asked about beats a related one."""
    from qa.verify.confidence import p_cited_answers

    question = "Who accompanied Kim at the extended talks?"
    said = "Foreign Minister Ri Yong-ho and Vice Foreign Minister Choe Son-hui joined Kim."
    related = "The extended talks were held at Far Eastern Federal University."
    p_said = p_cited_answers(llm, question, [said])
    p_related = p_cited_answers(llm, question, [related])
    assert p_said is not None and p_related is not None and p_said > p_related
    # The best cited sentence counts (its P(Yes) moves in the last digits with what the
    # KV cache held before, so it is compared by which of the two it is nearer).
    best = p_cited_answers(llm, question, [related, said])
    assert best is not None and abs(best - p_said) < abs(best - p_related)


def test_the_choice_of_source_picks_the_answering_sentence_or_none(llm: LLM) -> None:
    """The model's one-token choice among numbered sources, asked after its reply in the
    answer's own conversation (grammar-held to "0".."N"), from the real model: a source is
    picked when one says who came, and "none" is likelier when no source says it. (Which
    source it picks is not relied on: as a selector the model is weaker than the ranking.)"""
    from qa.verify.confidence import source_choice

    def prompt(sources: list[str]) -> list[dict[str, str]]:
        numbered = "\n".join(f"[{n}] {s}" for n, s in enumerate(sources, 1))
        question = "Who accompanied Kim at the extended talks?"
        return [{"role": "user", "content": f"Sources:\n{numbered}\n\nQuestion: {question}"}]

    said = "Foreign Minister Ri Yong-ho and Vice Foreign Minister Choe Son-hui joined Kim."
    related = "The extended talks were held at Far Eastern Federal University."
    unrelated = "Air Koryo flew an extra flight to Vladivostok on Tuesday."
    answered = source_choice(llm, prompt([related, said]), "Ri Yong-ho and Choe Son-hui. [2]", 2)
    assert answered is not None and answered.chosen in (1, 2)  # a source, not "none"
    assert sum(answered.p_sources) + answered.p_none == pytest.approx(1.0)
    missing = source_choice(llm, prompt([unrelated, related]), "The talks. [2]", 2)
    assert missing is not None and missing.p_none > answered.p_none

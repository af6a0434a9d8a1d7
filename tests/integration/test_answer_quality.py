"""Answer quality on the real model: the independent support judge against hand labels, a
near miss abstained on, who reported a story answered from the article."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evals.judge_agreement import SAMPLE, score
from evals.judges import LLMSupportJudge
from qa import Assistant
from qa.core.settings import SEEDS_DIR
from qa.verify.calibrated import CalibratedDecision

pytestmark = pytest.mark.integration


def test_llm_support_judge_agrees_with_the_hand_labels(real_assistant: Assistant) -> None:
    rows = [json.loads(line) for line in Path(SAMPLE).read_text(encoding="utf-8").splitlines()]
    result = score(LLMSupportJudge(real_assistant.llm), rows)
    # Measured 61/69 (0.884); the lexical judge gets 54/69 and passes 15 near misses.
    assert result["agreement"] >= 0.82, result
    assert result["false_support"] <= 5, result


def test_a_detail_the_articles_do_not_give_is_not_invented(real_assistant: Assistant) -> None:
    """The articles say when the extended talks began, not when they ended. The answer may
    abstain or quote the closest sentence (evidence-led), but a time it gives is one a cited
    sentence states: no invented end."""
    answer = real_assistant.ask("What time did the extended talks between Kim and Putin end?")
    assert "4:30" not in answer.text
    quoted = " ".join(c.quote for c in answer.citations)
    for clock in re.findall(r"\b\d{1,2}(?::\d\d)?\s*[ap]\.?m\b", answer.text):
        assert clock in quoted, answer.text
    assert answer.abstained or answer.citations


def test_who_reported_a_story_is_answered_and_cited(real_assistant: Assistant) -> None:
    # No author rule lifts the byline any more (measured, docs/evaluation.md): the sentence
    # that names the reporter is found like any other evidence. That is what is tested here;
    # whether the calibrated decision trusts the draft is its own question (at the default
    # target this one is withheld, P(right) about 0.3), so the target is 0 for this answer.
    pipeline = real_assistant.pipeline
    default = pipeline.calibrated
    pipeline.calibrated = CalibratedDecision.load(0.0)
    try:
        answer = real_assistant.ask(
            "Who reported the KBS World Radio story about Stephen Biegun's trip to Moscow?"
        )
    finally:
        pipeline.calibrated = default
    assert not answer.abstained and "Albert Kim" in answer.text, answer.text
    cited = [c for c in answer.citations if "Albert Kim" in c.quote]
    assert cited and cited[0].author == "Albert Kim"  # the article's metadata travels along
    text = (SEEDS_DIR / cited[0].source).read_text(encoding="utf-8")
    assert text[cited[0].start : cited[0].end] == cited[0].quote

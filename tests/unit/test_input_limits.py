"""Inputs made safe before any work (issue 33): terminal escapes leave a question whole, and
a conversation's history is cut to what the model's context holds, oldest turns first."""

from __future__ import annotations

import pytest

from qa.conversation import CHARS_PER_TOKEN, HISTORY_TURNS, fit_history, history_budget
from qa.core.errors import InputError
from qa.understand.question import clean_question
from ui.render import problem_line


@pytest.mark.parametrize(
    "typed",
    [
        "\x1b[31mWho met Putin?\x1b[0m",  # colour (CSI)
        "Who \x1b[1;31;4mmet\x1b[0m Putin?",  # several parameters
        "Who met \x1b[2K\x1b[1GPutin?",  # erase line, cursor to column 1
        "\x9b33mWho met Putin?",  # the one-byte CSI
        "\x1b]0;a window title\x07Who met Putin?",  # OSC ended by BEL
        "Who met \x1b]8;;https://example.org\x1b\\Putin\x1b]8;;\x1b\\?",  # a link, ended by ST
        "\x1b7Who met Putin?\x1b8",  # two-byte: save and restore the cursor
        "Who met Putin?\x1b",  # a lone ESC at the end
    ],
)
def test_terminal_escapes_are_removed_whole(typed: str) -> None:
    assert clean_question(typed, 100) == "Who met Putin?"


def test_a_question_of_escapes_only_is_empty() -> None:
    with pytest.raises(InputError, match="empty"):
        clean_question("\x1b[31m\x1b[0m", 100)


def test_brackets_that_are_not_escapes_stay() -> None:
    assert clean_question("What does [31m mean?", 100) == "What does [31m mean?"


def test_history_keeps_the_latest_turns_that_fit() -> None:
    turns = [(f"q{i}", "a" * 100) for i in range(5)]
    assert fit_history(turns, 10_000) == turns
    assert fit_history(turns, 3 * 102) == turns[-3:]  # oldest out first
    assert fit_history(turns, 3 * 102 - 1) == turns[-2:]
    many = [(f"q{i}", "a") for i in range(50)]
    assert fit_history(many, 10_000) == many[-HISTORY_TURNS:]


def test_a_latest_turn_longer_than_the_budget_is_cut_not_lost() -> None:
    turns = [("old", "short"), ("Who met Kim?", "Putin. " * 10_000)]
    [(asked, answered)] = fit_history(turns, 50)
    assert asked == "Who met Kim?" and answered == "Putin. " * 5 + "Put"
    assert fit_history(turns, 0) == []


def test_the_budget_leaves_room_for_the_question_and_the_prompt(make_settings) -> None:
    settings = make_settings()  # n_ctx 2048, questions up to 2000 characters
    budget = history_budget(settings)
    assert 0 < budget < settings.runtime.n_ctx * CHARS_PER_TOKEN - 2000
    assert history_budget(make_settings(n_ctx=512)) == 0  # no room: no history
    assert history_budget(make_settings(n_ctx=8192)) > 4 * budget


def test_validation_errors_are_one_line() -> None:
    errors = [
        {"loc": ("body", "filters", "outlets", 0), "msg": "Input should be a valid string"},
        {"loc": ("body", "filters", "outlets", 1), "msg": "Input should be a valid string"},
    ]
    assert problem_line(errors) == "filters.outlets.0: Input should be a valid string (and 1 more)"
    assert problem_line([{"loc": ("body",), "msg": "Field required"}]) == "body: Field required"

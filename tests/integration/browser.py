"""Driving the chat page with Playwright and Debian's chromium (shared by the page tests)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless chromium; one per thread (Playwright's sync API is per thread)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "install Debian's chromium (apt-get install -y chromium)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def open_chat(browser: Any, url: str) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    page.locator("#question textarea").wait_for(timeout=60_000)
    return page


def _turn(page: Any) -> str:
    return str(page.locator("#sources .qa-sources").get_attribute("data-turn") or "")


def send_question(page: Any, question: str, timeout_s: float = 120) -> float:
    """Type and send a question; seconds until the first answer text shows on the page.

    The sources panel carries the number of the question it belongs to (`data-turn`), so a
    new answer is told from the previous one even when both say the same."""
    page.locator("#question textarea").fill(question)
    before = {"turn": _turn(page), "bots": page.locator("#chat .message.bot").count()}
    started = time.perf_counter()
    page.locator("#send").click()
    page.wait_for_function(
        """before => { const p = document.querySelector('#sources .qa-sources');
                       const m = document.querySelectorAll('#chat .message.bot');
                       return p && p.dataset.turn !== before.turn && m.length > before.bots
                              && m[m.length - 1].innerText.trim().length > 0; }""",
        arg=before,
        timeout=timeout_s * 1000,
    )
    return time.perf_counter() - started


def wait_for_answer(page: Any, timeout_s: float = 120) -> None:
    """Wait until the answer to the last question sent is final (its sources panel is)."""
    page.wait_for_function(
        "() => !!document.querySelector('#sources .qa-sources[data-done]')",
        timeout=timeout_s * 1000,
    )

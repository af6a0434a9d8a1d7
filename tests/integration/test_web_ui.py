"""The chat page in a real browser (Debian's chromium, driven by Playwright) and through
gradio_client, against `qa ui` running the real models on loopback.

Screenshots and the measured time to first token go to test-artifacts/ (QA_TEST_ARTIFACTS)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from processes import free_port, stop

from qa.settings import SEEDS_DIR

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
ARTIFACTS = Path(os.environ.get("QA_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"))
NEW_ARTICLE = """Title: Kelderwick opens a solar ferry line
Published: March 3, 2026

The harbour town of Kelderwick opened its first solar-powered ferry line on Tuesday.
The ferry, named Tern, carries 48 passengers across Kelderwick Bay in 11 minutes, the harbour
authority said. Tickets cost two euros.
"""


@pytest.fixture(scope="module")
def ui_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("ui_home")
    port = free_port()
    log = (home / "ui.log").open("w")
    env = {**os.environ, "QA_HOME": str(home), "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "ui", "--port", str(port), "--no-browser"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"qa ui exited: {(home / 'ui.log').read_text()[-2000:]}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("qa ui did not answer within 240 s")
        yield url
    finally:
        stop(proc)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "install Debian's chromium (apt-get install -y chromium)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, ui_url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(ui_url)
    page.locator("#question textarea").wait_for(timeout=30_000)
    yield page
    context.close()


def _ask(page, question: str) -> float:
    """Type and send a question; seconds until the first answer text shows on the page."""
    page.locator("#question textarea").fill(question)
    n_bot = page.locator("#chat .message.bot").count()
    started = time.perf_counter()
    page.locator("#send").click()
    page.wait_for_function(
        """n => { const m = document.querySelectorAll('#chat .message.bot');
                  return m.length > n && m[m.length - 1].innerText.trim().length > 0; }""",
        arg=n_bot,
        timeout=120_000,
    )
    ttft = time.perf_counter() - started
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (ARTIFACTS / "ui-timings.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"question": question, "page_ttft_s": round(ttft, 3)}) + "\n")
    return ttft


def _wait_for_answer(page) -> None:
    """The stream is over when the sources panel is rebuilt for the final answer."""
    page.wait_for_function(
        """() => document.querySelector('#sources .qa-source, #sources .qa-empty:not(.qa-sources)')
                 && !document.querySelector('#sources .qa-sources.qa-empty')""",
        timeout=120_000,
    )


def test_ask_streams_a_cited_answer_with_the_quote_highlighted(page) -> None:
    from playwright.sync_api import expect

    _ask(page, "Who accompanied Kim at the extended talks?")
    _wait_for_answer(page)
    chat = page.locator("#chat")
    expect(chat).to_contain_text("Ri Yong-ho")
    expect(chat).to_contain_text("Choe Son-hui")

    card = page.locator("#sources .qa-source[data-source='004_dfd909dab3a5d0b8.txt']")
    expect(card).to_have_count(1)
    quote = card.locator(".qa-quote mark").inner_text()
    assert "Ri Yong-ho" in quote and "Choe Son-hui" in quote
    start, end = map(int, re.search(r"characters (\d+)–(\d+)", card.inner_text()).groups())
    file_text = (SEEDS_DIR / "004_dfd909dab3a5d0b8.txt").read_text(encoding="utf-8")
    assert " ".join(file_text[start:end].split()) == " ".join(quote.split())

    # The marker in the answer links to the card; the whole article opens with the span marked.
    assert chat.locator("a[href='#source-1']").count() >= 1
    card.locator("summary", has_text="Open the whole article").click()
    whole = card.locator(".qa-article-text")
    expect(whole).to_be_visible()
    assert whole.locator("mark").inner_text() == quote

    page.screenshot(path=str(ARTIFACTS / "ui-answer.png"), full_page=True)


def test_unanswerable_question_shows_the_abstention(page) -> None:
    from playwright.sync_api import expect

    _ask(page, "What is the population of Canberra?")
    _wait_for_answer(page)
    expect(page.locator("#chat .message.bot").last).to_contain_text("don't say")
    expect(page.locator("#sources")).to_contain_text("No source supports")


def test_upload_an_article_then_ask_what_only_it_answers(page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    article = tmp_path / "kelderwick_ferry.txt"
    article.write_text(NEW_ARTICLE, encoding="utf-8")
    page.get_by_role("tab", name="Add articles").click()
    page.locator("#upload input[type=file]").set_input_files(str(article))
    page.locator("#add").click()
    expect(page.locator("#upload-summary")).to_contain_text("1 added", timeout=120_000)
    page.screenshot(path=str(ARTIFACTS / "ui-upload.png"), full_page=True)

    _ask(page, "How many passengers does the Tern ferry carry?")
    _wait_for_answer(page)
    expect(page.locator("#chat .message.bot").last).to_contain_text("48")
    expect(page.locator("#sources")).to_contain_text("kelderwick_ferry.txt")


def test_gradio_client_calls_the_api_and_users_are_queued(ui_url: str) -> None:
    from gradio_client import Client

    client = Client(ui_url, verbose=False)
    questions = [
        "Who accompanied Kim at the extended talks?",
        "How long did the summit meetings last?",
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:  # two users at once: queued, not broken
        results = list(pool.map(lambda q: client.predict(q, api_name="/ask"), questions))
    first, second = results
    assert set(first) >= {"question", "answer", "abstained", "citations", "retrieved"}
    assert "Ri Yong-ho" in first["answer"] and "Choe Son-hui" in first["answer"]
    assert [c["source"] for c in first["citations"]] == ["004_dfd909dab3a5d0b8.txt"]
    assert re.search(r"\b(three|3) hours", second["answer"])


def test_stop_ends_an_answer_and_the_chat_goes_on(page) -> None:
    from playwright.sync_api import expect

    _ask(page, "What did Putin say about security guarantees?")
    page.locator("#stop").click()
    # Whether Stop landed mid-stream or after the end, the next question must be answered.
    _ask(page, "How long did the summit meetings last?")
    _wait_for_answer(page)
    expect(page.locator("#chat .message.bot").last).to_contain_text("hours")

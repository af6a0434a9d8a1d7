"""The chat page in a real browser (Debian's chromium, driven by Playwright) and through
gradio_client, against `qa ui` running the real models on loopback.

Screenshots and the measured time to first token go to test-artifacts/ (QA_TEST_ARTIFACTS)."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from browser import chromium, open_chat, send_question, wait_for_answer

from qa.core.settings import SEEDS_DIR

pytestmark = pytest.mark.integration

ARTIFACTS = Path(os.environ.get("QA_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"))
EXAMPLE_QUESTION = "Who accompanied Kim at the extended talks?"
NEW_ARTICLE = """Title: Kelderwick opens a solar ferry line
Published: March 3, 2026

The harbour town of Kelderwick opened its first solar-powered ferry line on Tuesday.
The ferry, named Tern, carries 48 passengers across Kelderwick Bay in 11 minutes, the harbour
authority said. Tickets cost two euros.
"""


@pytest.fixture(scope="module")
def ui_url(ui_server) -> str:
    return ui_server.url


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser, ui_url: str):
    page = open_chat(browser, ui_url)
    yield page
    page.context.close()


def _ask(page, question: str) -> float:
    """Send a question and record the time to its first token on the page."""
    ttft = send_question(page, question)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (ARTIFACTS / "ui-timings.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"question": question, "page_ttft_s": round(ttft, 3)}) + "\n")
    return ttft


def test_ask_streams_a_cited_answer_with_the_quote_highlighted(page) -> None:
    from playwright.sync_api import expect

    _ask(page, "Who accompanied Kim at the extended talks?")
    wait_for_answer(page)
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

    # The marker in the answer links to this answer's own card; the whole article opens
    # with the span marked and scrolled into view.
    turn = page.locator("#sources .qa-sources").get_attribute("data-turn")
    assert chat.locator(f"a[href='#source-{turn}-1']").count() >= 1
    assert page.locator(f"#sources #source-{turn}-1").count() == 1
    card.locator("summary", has_text="Open the whole article").click()
    whole = card.locator(".qa-article-text")
    expect(whole).to_be_visible()
    assert whole.locator("mark").inner_text() == quote
    in_view = whole.evaluate(
        """box => { const m = box.querySelector('mark');
                    const top = m.offsetTop - box.offsetTop - box.scrollTop;
                    return top >= 0 && top < box.clientHeight; }"""
    )
    assert in_view, "the whole article did not open at the quoted span"

    page.screenshot(path=str(ARTIFACTS / "ui-answer.png"), full_page=True)


def test_only_verified_text_streams_with_the_passages_first(page) -> None:
    """While the answer is on its way the chat shows the step it is at and only sentences
    already checked against their sources; the passages being read show at once."""
    page.locator("#question textarea").fill("Who accompanied Kim at the extended talks?")
    before = page.locator("#sources .qa-sources").get_attribute("data-turn")
    page.locator("#send").click()
    seen: list[dict] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        state = page.evaluate(
            """before => { const p = document.querySelector('#sources .qa-sources');
                 const bots = document.querySelectorAll('#chat .message.bot');
                 const bot = bots[bots.length - 1];
                 return { turn: p.dataset.turn, done: !!p.dataset.done,
                          reading: !!p.querySelector('.qa-reading'),
                          status: bot ? (bot.querySelector('.qa-status') || {}).innerText || ''
                                      : '',
                          text: bot ? bot.innerText : '' }; }""",
            before,
        )
        if state["turn"] != before:
            seen.append(state)
            if state["done"]:
                break
        time.sleep(0.05)
    assert seen and seen[-1]["done"], "the answer did not finish"
    pending = [s for s in seen if not s["done"]]
    assert any(s["reading"] for s in pending), "the passages were not shown before the answer"
    steps = " ".join(s["status"] for s in pending)
    assert "Searching the articles" in steps and "Checking the sources" in steps
    assert all(s["status"] for s in pending)  # never a bare draft without its state
    assert not seen[-1]["status"] and "Ri Yong-ho" in seen[-1]["text"]
    page.screenshot(path=str(ARTIFACTS / "ui-verified-streaming.png"), full_page=True)


def test_each_answer_keeps_its_own_sources_and_says_its_filter(page) -> None:
    from playwright.sync_api import expect

    _ask(page, "Who accompanied Kim at the extended talks?")
    wait_for_answer(page)
    first = page.locator("#sources .qa-sources").get_attribute("data-turn")
    page.locator("#since input, #since textarea").first.fill("2019-04-01")
    _ask(page, "How long did the summit meetings last?")
    wait_for_answer(page)
    bots = page.locator("#chat .message.bot")
    expect(bots.last).to_contain_text("From articles since 2019-04-01")
    # The first answer's [1] still leads to its own card, kept in the panel.
    link = bots.nth(bots.count() - 2).locator(f"a[href='#source-{first}-1']")
    expect(link).to_have_count(1)
    card = page.locator(f"#sources #source-{first}-1")
    expect(card).to_have_attribute("data-source", "004_dfd909dab3a5d0b8.txt")
    page.screenshot(path=str(ARTIFACTS / "ui-two-answers.png"), full_page=True)


@pytest.mark.parametrize(("width", "height"), [(1400, 1000), (390, 844)], ids=["desktop", "phone"])
def test_the_page_at_desktop_and_phone_widths(browser, ui_url: str, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(ui_url)
    page.locator("#question textarea").wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / f"ui-{width}px.png"), full_page=True)
    box = page.locator("#question").bounding_box()
    chat = page.locator("#chat").bounding_box()
    send = page.locator("#send").bounding_box()
    stop = page.locator("#stop").bounding_box()
    assert box and chat and send and stop
    if width >= 800:  # a full-width question box, Send and Stop beside it on its row
        assert box["width"] >= 0.6 * chat["width"], (box, chat)
        for button in (send, stop):
            assert box["y"] <= button["y"] + button["height"] / 2 <= box["y"] + box["height"]
    else:  # a phone: the whole width for the question, Send and Stop side by side under it
        assert box["width"] >= 0.9 * chat["width"], (box, chat)
        assert abs(send["y"] - stop["y"]) < 2 and send["y"] >= box["y"] + box["height"] - 1
        assert send["y"] + send["height"] <= height  # still above the fold
    # The examples are in the empty chat, above the fold.
    example = page.locator("#chat").get_by_text(EXAMPLE_QUESTION)
    example.wait_for(timeout=30_000)
    spot = example.bounding_box()
    assert spot and spot["y"] + spot["height"] <= height
    context.close()


def test_unanswerable_question_shows_the_abstention(page) -> None:
    from playwright.sync_api import expect

    _ask(page, "What is the population of Canberra?")
    wait_for_answer(page)
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
    wait_for_answer(page)
    expect(page.locator("#chat .message.bot").last).to_contain_text("48")
    expect(page.locator("#sources")).to_contain_text("kelderwick_ferry.txt")


def test_the_date_range_and_outlet_picker_filter_what_answers(page) -> None:
    from playwright.sync_api import expect

    page.locator("#since input, #since textarea").first.fill("2030-01-01")
    _ask(page, "Who accompanied Kim at the extended talks?")
    wait_for_answer(page)
    expect(page.locator("#chat .message.bot").last).to_contain_text(
        "No indexed article matches since 2030-01-01"
    )
    page.locator("#since input, #since textarea").first.fill("not a day")
    _ask(page, "Who accompanied Kim at the extended talks?")
    expect(page.locator("#chat .message.bot").last).to_contain_text("write it as YYYY-MM-DD")

    page.locator("#since input, #since textarea").first.fill("")
    page.locator("#outlets input").click()
    page.get_by_role("option", name="KBS World Radio News").click()
    page.locator("#question textarea").click()  # closes the picker
    _ask(page, "When will Biegun visit Moscow?")
    wait_for_answer(page)
    sources = page.locator("#sources")
    expect(sources).to_contain_text("000_86efe34d87499970.txt")
    for other in ("002_4edee6f0ff32e7bb.txt", "004_dfd909dab3a5d0b8.txt"):
        expect(sources).not_to_contain_text(other)
    page.screenshot(path=str(ARTIFACTS / "ui-filters.png"), full_page=True)


def test_add_a_feed_on_the_page_then_the_citation_links_to_the_article(page) -> None:
    import sys

    from playwright.sync_api import expect

    sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
    from loopback_site import Route, loopback_site, news_page, rss

    paragraphs = [
        "The village of Ostrand opened a cable car to the Varn glacier on Saturday, the "
        "mountain railway company said.",
        "The cable car climbs 1,240 metres in nine minutes and each cabin holds 28 people, "
        "the company said in a statement.",
    ]
    with loopback_site() as site:
        html = news_page("Ostrand opens a glacier cable car", "Alpine Ledger",
                         "2023-11-04T10:00:00+00:00", "Ana Brun", paragraphs)  # fmt: skip
        article = site.page("/cable-car.html", html)
        site.routes["/feed.xml"] = Route(
            rss([("Cable car", article, "Sat, 04 Nov 2023 10:00:00 GMT")]).encode(),
            content_type="application/rss+xml",
        )
        page.get_by_role("tab", name="Add articles").click()
        page.locator("#web-address textarea, #web-address input").first.fill(site.url + "/feed.xml")
        page.locator("#add-web").click()
        expect(page.locator("#web-summary")).to_contain_text("1 new", timeout=120_000)
        page.locator("#web-address textarea, #web-address input").first.fill(
            site.url + "/missing.xml"
        )
        page.locator("#add-web").click()
        expect(page.locator("#web-summary")).to_contain_text("the server answered 404")
    _ask(page, "How many people does each cabin of the Ostrand cable car hold?")
    wait_for_answer(page)
    expect(page.locator("#chat .message.bot").last).to_contain_text("28")
    expect(page.locator(f"#sources a.qa-link[href='{article}']")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "ui-feed.png"), full_page=True)


def test_brief_me_streams_a_cited_briefing(page) -> None:
    from playwright.sync_api import expect

    page.locator("#question textarea").fill("the Kim-Putin summit in Vladivostok")
    before = page.locator("#chat .message.bot").count()
    page.locator("#brief").click()
    page.wait_for_function(
        "n => document.querySelectorAll('#chat .message.bot').length > n", arg=before
    )
    wait_for_answer(page, timeout_s=240)
    expect(page.locator("#chat .message.user").last).to_contain_text("Briefing:")
    expect(page.locator("#chat .message.bot").last).to_contain_text("[1]")
    assert page.locator("#sources .qa-source").count() >= 2
    page.screenshot(path=str(ARTIFACTS / "ui-briefing.png"), full_page=True)


def test_thumbs_a_wrong_citation_and_the_markdown_export(page, ui_server) -> None:
    import json

    from playwright.sync_api import expect

    _ask(page, "Who accompanied Kim at the extended talks?")
    wait_for_answer(page)
    # The actions are under the answer: the thumbs, and a flag whose menu says a citation
    # is wrong (the row asking which one opens only when the answer has several).
    page.locator("#chat .message.bot").last.hover()
    answer = page.locator("#chat .message-buttons-left").last  # the row under the answer
    answer.get_by_role("button", name="Like", exact=True).click()
    expect(page.locator("#feedback-note")).to_contain_text("recorded as helpful")
    answer.get_by_role("button", name="Feedback").hover()
    answer.get_by_text("A citation is wrong").click()
    if page.locator("#wrong-row").is_visible():
        page.locator("#wrong-pick input").click()
        page.get_by_role("option", name="[1]").click()
        page.locator("#mark-wrong").click()
        expect(page.locator("#wrong-row")).to_be_hidden()
    expect(page.locator("#feedback-note")).to_contain_text("citation [1] recorded as wrong")
    page.screenshot(path=str(ARTIFACTS / "ui-feedback.png"), full_page=True)
    with page.expect_download() as download:
        # Export is in the chat's own toolbar.
        page.locator("#chat").get_by_role("button", name="Export (Markdown)").click()
        page.locator("#export-file a").first.click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert "Who accompanied Kim at the extended talks?" in text and "[1]" in text
    assert re.search(r"\n\s*> ", text)  # the cited passage as a Markdown quote block
    # A new question clears the notes of the last one.
    _ask(page, "How long did the summit meetings last?")
    wait_for_answer(page)
    expect(page.locator("#feedback-note")).to_have_text("")
    expect(page.locator("#export-file")).to_be_hidden()

    log = ui_server.home / "feedback" / "seeds.jsonl"
    rows = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert rows[-2]["rating"] == "up" and rows[-1]["wrong_citations"] == [1]
    assert rows[-1]["citations"][0]["source"] == "004_dfd909dab3a5d0b8.txt"


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
    only_kbs = client.predict("When will Biegun visit Moscow?", outlets=["kbs"], api_name="/ask")
    assert {r["source"] for r in only_kbs["retrieved"]} == {"000_86efe34d87499970.txt"}
    stored = client.predict(first, "down", [], "not what I asked", api_name="/feedback")
    assert stored["rating"] == "down" and stored["question"] == first["question"]


def test_stop_ends_an_answer_and_the_chat_goes_on(page) -> None:
    from playwright.sync_api import expect

    stops = []
    for pause in (0.0, 0.3, 0.8):  # Stop at a few moments of the stream
        _ask(page, "What did Putin say about security guarantees?")
        time.sleep(pause)
        page.locator("#stop").click()
        wait_for_answer(page, 60)
        stops.append("(stopped)" in page.locator("#chat .message.bot").last.inner_text())
        # Stopped or just finished, the next question is answered as usual.
        _ask(page, "How long did the summit meetings last?")
        wait_for_answer(page)
        expect(page.locator("#chat .message.bot").last).to_contain_text("hours")
    assert any(stops), "no Stop landed mid-answer; the test proved nothing"


def _model_pid(ui_pid: int) -> int:
    import psutil

    children = psutil.Process(ui_pid).children(recursive=True)
    pids = [c.pid for c in children if "qa.runtime.llm_process" in " ".join(c.cmdline())]
    assert len(pids) == 1, f"expected one model process under qa ui, found {pids}"
    return pids[0]


@pytest.mark.parametrize(
    ("sig", "cause"),
    [(signal.SIGKILL, "killed (SIGKILL)"), (signal.SIGILL, "illegal CPU instruction")],
    ids=["SIGKILL", "SIGILL"],
)
def test_a_model_crash_mid_answer_shows_an_error_and_the_next_question_is_answered(
    page, ui_server, sig: int, cause: str
) -> None:
    from playwright.sync_api import expect

    _ask(page, "How long did the summit meetings last?")
    wait_for_answer(page)
    earlier = page.locator("#chat .message.bot").last.inner_text()

    _ask(page, "Who accompanied Kim at the extended talks?")
    # The model is writing (the page says so): the crash lands mid-answer.
    page.locator("#chat .message.bot .qa-status b", has_text="Writing").last.wait_for(
        timeout=60_000
    )
    os.kill(_model_pid(ui_server.pid), sig)
    wait_for_answer(page)
    bots = page.locator("#chat .message.bot")
    expect(bots.last).to_contain_text("the language model process crashed")
    expect(bots.last).to_contain_text(cause)
    expect(bots.last).to_contain_text("qa doctor")
    assert "Traceback" not in bots.last.inner_text()
    assert bots.nth(bots.count() - 2).inner_text() == earlier  # the conversation is kept

    _ask(page, "Who accompanied Kim at the extended talks?")
    wait_for_answer(page)
    expect(bots.last).to_contain_text("Ri Yong-ho")
    newest = page.locator("#sources .qa-answer-sources").first  # this answer's own cards
    expect(newest.locator(".qa-source[data-source='004_dfd909dab3a5d0b8.txt']")).to_have_count(1)
    shot = ARTIFACTS / f"ui-after-{signal.Signals(sig).name}.png"
    page.screenshot(path=str(shot), full_page=True)


def test_the_page_serves_no_files_from_disk(ui_server) -> None:
    """Articles are shown inline; no route hands out files: not system files, not the store,
    not the articles themselves, however the path is spelled."""
    import httpx

    seed = SEEDS_DIR / "004_dfd909dab3a5d0b8.txt"
    targets = ["/etc/passwd", "../../../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd",
               str(ui_server.home / "chroma" / "chroma.sqlite3"), str(seed)]  # fmt: skip
    for target in targets:
        for route in ("gradio_api/file=", "file=", "gradio_api/file/"):
            response = httpx.get(ui_server.url + route + target, timeout=10)
            assert response.status_code in (403, 404), (route, target, response.status_code)
            assert "root:" not in response.text and "Ri Yong-ho" not in response.text

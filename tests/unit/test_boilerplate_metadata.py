"""Boilerplate removal and metadata on the seed articles; date parsing."""

from __future__ import annotations

import pytest
from unit_helpers import seed

from index.reading.boilerplate import article_body, classify, split_blocks
from index.reading.loaders import load_article
from index.reading.metadata import find_outlet, parse_date
from index.types import Span


def body(prefix: str) -> str:
    return load_article(seed(prefix)).body_text()


# --- boilerplate -------------------------------------------------------------------------------
def test_002_drops_sign_in_box_and_comment_rules() -> None:
    text = body("002")
    assert "Sign in to unlock" not in text
    assert "Comments have to be" not in text
    assert "Kim Chang Son" in text  # the last paragraph of the article stays


def test_003_drops_ads_and_article_navigation() -> None:
    text = body("003")
    assert "Advertisement" not in text
    assert "Previous article" not in text
    assert "Next article" not in text
    assert "Hana Levi Julian is" not in text  # author bio
    assert "Kim Jong Un for the first time ever" in text


@pytest.mark.parametrize("prefix", ["000", "004"])
def test_kbs_pages_drop_cookie_notice_and_menus(prefix: str) -> None:
    text = body(prefix)
    assert "cookies" not in text.lower()
    assert "Menu Content" not in text
    assert "Editor's Pick" not in text


def test_004_keeps_the_officials_paragraph() -> None:
    text = body("004")
    assert "Ri Yong-ho" in text
    assert "Choe Son-hui" in text


def test_001_drops_source_link_footer() -> None:
    text = body("001")
    assert "Source link" not in text
    assert "Yongbyon" in text


def test_headline_repeats_are_not_kept_twice() -> None:
    text = body("002")
    assert text.count("Flags of Russia, right, and North Korea are seen") == 1


def test_split_blocks_trims_lines_and_keeps_offsets() -> None:
    text = "  Menu \n\nFirst line of text.\n   \nSecond\t\n"
    spans = split_blocks(text)
    assert [text[s.start : s.end] for s in spans] == ["Menu", "First line of text.", "Second"]


def test_classify_kinds() -> None:
    prose = (
        "The two leaders met in the city on Thursday and talked about the future of the "
        "peninsula for three hours."
    )
    assert classify(prose) == "good"
    assert classify("Subscribe to our newsletter for the latest news of the day and more.") == "bad"
    assert classify("He left early.") == "short"
    assert classify("Home | World | Sport") == "bad"


def test_article_body_merges_wrapped_lines_of_one_paragraph() -> None:
    line1 = "The two leaders met in the city on Thursday and they talked about the future of"
    line2 = "the peninsula for three hours, officials from both of the countries said today."
    text = f"Home\nLogin\n\n{line1}\n{line2}\n\nShare this on Facebook\nCookies policy\n"
    spans = article_body(text)
    assert spans == [Span(text.index(line1), text.index(line2) + len(line2))]


# --- metadata ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("prefix", "published"),
    [
        ("000", "2019-04-17T11:00:23"),
        ("001", "2020-09-27"),
        ("002", "2019-04-23T22:13:00+05:30"),
        ("004", "2019-04-25T18:38:40"),
    ],
)
def test_seed_published(prefix: str, published: str) -> None:
    assert load_article(seed(prefix)).published == published


def test_seed_without_a_date_has_none() -> None:
    assert load_article(seed("003")).published == ""


@pytest.mark.parametrize(
    ("prefix", "title"),
    [
        ("000", "Biegun to Visit Moscow Amid Reports of Imminent Putin-Kim Summit"),
        ("001", "Kim Jong-un could hold his first summit with Putin next week"),
        ("002", "Kim to meet Putin in Vladivostok this week"),
        ("004", "Kim, Putin Hold Summit, Discuss Bilateral Relations, Nuclear Issue"),
    ],
)
def test_seed_titles_are_the_headline_lines(prefix: str, title: str) -> None:
    article = load_article(seed(prefix))
    assert article.title == title
    assert title in article.text.splitlines()


def test_seed_outlet_from_sign_off() -> None:
    assert load_article(seed("000")).outlet == "KBS World Radio News"


def test_outlet_from_copyright_line() -> None:
    text = "Some article text here.\n\n© 2021 Daily Planet Media\n"
    assert find_outlet(text, [Span(0, 23)]) == "Daily Planet Media"


@pytest.mark.parametrize(
    "line",
    [
        "Copyright 2021 Daily Planet Media",
        "(C) 2021 Daily Planet Media",
        "© 2021 Daily Planet Media. All rights reserved.",
    ],
    ids=["Copyright-word", "(C)", "rights-reserved"],
)
def test_outlet_from_common_copyright_lines(line: str) -> None:
    text = f"Some article text here.\n\n{line}\n"
    assert find_outlet(text, [Span(0, 23)]) == "Daily Planet Media"


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Written: 2019-04-17 11:00:23Updated: 2019-04-17 15:51:50", "2019-04-17T11:00:23"),
        ("2019-04-17T11:00:23Z", "2019-04-17T11:00:23+00:00"),
        ("2019-04-17T11:00:23+0900", "2019-04-17T11:00:23+09:00"),
        ("2019-4-7", "2019-04-07"),
        ("Published - April 23, 2019 10:13 pm IST - Seoul/Moscow", "2019-04-23T22:13:00+05:30"),
        ("September 27, 2020", "2020-09-27"),
        ("Sept. 5, 2019 at 9.30 a.m. EST", "2019-09-05T09:30:00-05:00"),
        ("Dec 12 2018 12:05 am", "2018-12-12T00:05:00"),
        ("Updated 12:00 PM GMT, May 1, 2020", "2020-05-01"),
        ("23 April 2019", "2019-04-23"),
        ("Posted on the 1st March 2021", "2021-03-01"),
        ("Tuesday, April 23, 2019.", "2019-04-23"),
        ("on 5 May 2020, and again on 2019-01-01", "2020-05-05"),  # the earliest one
        ("no date in here", ""),
        ("2019-02-30", ""),  # not a real day
        ("April 31, 2019", ""),
        ("1850-01-01", ""),  # outside the years news articles use
    ],
)
def test_parse_date(text: str, iso: str) -> None:
    assert parse_date(text) == iso


def test_parse_date_skips_an_impossible_date_before_a_real_one() -> None:
    assert parse_date("Ref. 2019-12-34, published 2019-12-05") == "2019-12-05"


def test_hard_wrapped_sentence_is_kept_whole() -> None:
    text = (
        "The harbour town of Kelderwick opened its first solar-powered ferry line on Tuesday.\n"
        "The ferry, named Tern, carries 48 passengers across Kelderwick Bay in 11 minutes, the\n"
        "harbour authority said. Tickets cost two euros.\n"
    )
    body = " ".join(text[s.start : s.end] for s in article_body(text))
    assert "48 passengers" in body and "harbour authority said" in body


def test_menu_line_before_prose_is_not_joined_to_it() -> None:
    prose = (
        "North Korean leader Kim Jong-un and Russian President Vladimir Putin met on Thursday "
        "in the port city of Vladivostok, and the talks lasted for about three hours in total."
    )
    text = f"Home World Sports Business Opinion\n{prose}\n"
    body = [text[s.start : s.end] for s in article_body(text)]
    assert body == [prose]


@pytest.mark.parametrize(
    "prefix, author, line_start",
    [("000", "Albert Kim", "Albert Kim, KBS World Radio News."),
     ("003", "Hana Levi Julian", "Hana Levi Julian is a Middle East news analyst"),
     ("001", "", ""), ("004", "", "")],
)  # fmt: skip
def test_seed_authors_and_their_lines(prefix: str, author: str, line_start: str) -> None:
    article = load_article(seed(prefix))
    assert article.author == author
    if not author:
        assert article.byline is None
        return
    assert article.byline is not None
    line = article.text[article.byline.start : article.byline.end]
    assert line.startswith(line_start)
    assert line.endswith(".") and line.count(". ") == 0  # one sentence, quotable


@pytest.mark.parametrize(
    "text, author",
    [("Headline here\nBy Jane Q. Doe\n\nBody text of the story goes on.", "Jane Q. Doe"),
     ("Author: Sam Lee\n\nBody text of the story goes on.", "Sam Lee"),
     ("Body text.\nMaria Perez reports from Lima.", "Maria Perez"),
     ("Vladivostok, Russia.\nNothing else.", "")],
)  # fmt: skip
def test_author_patterns(text: str, author: str) -> None:
    from index.reading.metadata import find_author

    name, span = find_author(text, [Span(0, len(text))])
    assert name == author
    assert (span is None) == (not author)

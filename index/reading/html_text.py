"""HTML page -> readable text with paragraph breaks, plus the page's own metadata tags.

Two readers: `html_to_text` (BeautifulSoup: every visible block, which index/reading/boilerplate.py
then sorts into article and furniture) and `extract_with_trafilatura` (trafilatura's main-text
extraction, with htmldate for the published and updated dates). Which one the loader uses
was measured (docs/evaluation.md, "Reading web pages"; `python -m evals.extraction`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Doctype, ProcessingInstruction

from index.reading.metadata import parse_date

# Elements that never hold article text.
_DROP = {
    "script", "style", "noscript", "template", "iframe", "svg", "canvas", "nav", "header",
    "footer", "aside", "form", "button", "select", "input", "head",
}  # fmt: skip
# Elements that start a new paragraph.
_BLOCK = {
    "p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul",
    "ol", "table", "tr", "blockquote", "pre", "figure", "figcaption", "dd", "dt", "dl", "hr",
    "address", "time", "caption",
}  # fmt: skip


@dataclass
class HtmlPage:
    text: str
    title: str
    outlet: str
    published: str
    author: str = ""
    updated: str = ""
    url: str = ""  # where the page was fetched from, or its canonical address
    feed: str = ""  # the feed that listed it
    main_text_only: bool = False  # `text` is what trafilatura found, not every block
    site_name: str = ""  # trafilatura's guess at the outlet when the tags name none


def page_address(soup: BeautifulSoup) -> tuple[str, str]:
    """(url, feed): the address recorded when the page was fetched, else the page's own
    canonical address; the feed that listed it, if any."""
    from index.reading.web import FEED_META, URL_META

    link = soup.find("link", attrs={"rel": "canonical"})
    canonical = str(link.get("href") or "") if isinstance(link, Tag) else ""
    url = _meta(soup, URL_META) or canonical or _meta(soup, "og:url")
    return url if url.startswith(("http://", "https://")) else "", _meta(soup, FEED_META)


def _meta(soup: BeautifulSoup, *names: str) -> str:
    for name in names:
        tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
        if isinstance(tag, Tag) and tag.get("content"):
            return str(tag["content"]).strip()
    return ""


def _json_ld(soup: BeautifulSoup) -> dict[str, object]:
    for script in soup.find_all("script", attrs={"type": "application/ld+json"}):
        try:
            data = json.loads(script.string or "")
        except (json.JSONDecodeError, TypeError):
            continue
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict) and "headline" in item:
                return item
    return {}


def _walk(node: Tag, out: list[str]) -> None:
    for child in node.children:
        if isinstance(child, (Comment, Doctype, ProcessingInstruction)):
            continue
        if isinstance(child, NavigableString):
            out.append(" ".join(str(child).split()) if str(child).strip() else " ")
            continue
        if not isinstance(child, Tag) or child.name in _DROP:
            continue
        if child.name == "br":
            out.append("\n")
            continue
        block = child.name in _BLOCK
        if block:
            out.append("\n\n")
        _walk(child, out)
        if block:
            out.append("\n\n")


def _tidy(pieces: list[str]) -> str:
    lines = []
    for para in "".join(pieces).split("\n"):
        lines.append(" ".join(para.split()))
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip() + "\n"


def page_metadata(soup: BeautifulSoup) -> tuple[str, str, str, str]:
    """(title, outlet, published, author) from the page's meta tags and JSON-LD; the title
    is "" when only the <title> element names one (see `window_title`)."""
    ld = _json_ld(soup)
    publisher = ld.get("publisher")
    title = _meta(soup, "og:title", "twitter:title") or str(ld.get("headline") or "")
    outlet = _meta(soup, "og:site_name", "application-name") or (
        str(publisher.get("name", "")) if isinstance(publisher, dict) else ""
    )
    published = parse_date(
        _meta(soup, "article:published_time", "date", "pubdate", "dc.date")
        or str(ld.get("datePublished") or "")
    )
    writer = ld.get("author")
    author = _meta(soup, "author", "article:author") or (
        str(writer.get("name", "")) if isinstance(writer, dict) else ""
    )
    return title, outlet, published, author


def window_title(soup: BeautifulSoup) -> str:
    return soup.title.get_text(" ", strip=True) if soup.title else ""


def html_to_text(html: str) -> HtmlPage:
    soup = BeautifulSoup(html, "html.parser")
    title, outlet, published, author = page_metadata(soup)
    title = title or window_title(soup)
    root = soup.body or soup
    pieces: list[str] = []
    _walk(root, pieces)
    url, feed = page_address(soup)
    return HtmlPage(_tidy(pieces), title, outlet, published, author, url=url, feed=feed)


def extract_with_trafilatura(html: str) -> HtmlPage:
    """The article's main text as trafilatura finds it (title first, then one paragraph per
    block), its metadata, and htmldate's original and last-updated dates."""
    import htmldate
    import trafilatura

    soup = BeautifulSoup(html, "html.parser")
    url, feed = page_address(soup)
    meta_title, meta_outlet, meta_published, meta_author = page_metadata(soup)
    doc = trafilatura.bare_extraction(
        html, url=url or None, with_metadata=True, include_comments=False, include_tables=False
    )
    if not isinstance(doc, trafilatura.settings.Document):
        return HtmlPage("", "", "", "", url=url, feed=feed, main_text_only=True)
    title = " ".join(str(doc.title or "").split())
    paragraphs = [" ".join(p.split()) for p in str(doc.text or "").split("\n")]
    paragraphs = [p for p in paragraphs if p]
    if paragraphs and title and paragraphs[0] == title:
        paragraphs = paragraphs[1:]
    text = "\n\n".join([title, *paragraphs] if title else paragraphs) + "\n"
    stamp = "%Y-%m-%dT%H:%M:%S"
    original = htmldate.find_date(html, original_date=True, outputformat=stamp) or ""
    updated = htmldate.find_date(html, original_date=False, outputformat=stamp) or ""
    # The page's own tags first: they keep the time zone that htmldate drops.
    return HtmlPage(
        text=text,
        title=meta_title or title or window_title(soup),
        outlet=meta_outlet,
        published=meta_published or _day_or_time(original),
        author=meta_author or str(doc.author or ""),
        updated=_day_or_time(updated) if updated != original else "",
        url=url,
        feed=feed,
        main_text_only=True,
        site_name=str(doc.sitename or ""),
    )


def _day_or_time(stamp: str) -> str:
    """htmldate writes midnight for a date without a time: keep just the day then."""
    return stamp[:10] if stamp.endswith("T00:00:00") else stamp

"""HTML page -> readable text with paragraph breaks, plus the page's own metadata tags."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Doctype, ProcessingInstruction

from index.metadata import parse_date

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


def html_to_text(html: str) -> HtmlPage:
    soup = BeautifulSoup(html, "html.parser")
    ld = _json_ld(soup)
    publisher = ld.get("publisher")
    title = (
        _meta(soup, "og:title", "twitter:title")
        or str(ld.get("headline") or "")
        or (soup.title.get_text(" ", strip=True) if soup.title else "")
    )
    outlet = _meta(soup, "og:site_name", "application-name") or (
        str(publisher.get("name", "")) if isinstance(publisher, dict) else ""
    )
    published = parse_date(
        _meta(soup, "article:published_time", "date", "pubdate", "dc.date")
        or str(ld.get("datePublished") or "")
    )
    root = soup.body or soup
    pieces: list[str] = []
    _walk(root, pieces)
    return HtmlPage(text=_tidy(pieces), title=title, outlet=outlet, published=published)

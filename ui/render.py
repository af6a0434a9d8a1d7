"""HTML and Markdown for the web page: answers with linked markers, the sources panel,
the whole-article view and the index table; and the one line an API client is told about
a malformed request. Pure functions, so they are unit-tested without a browser. Every piece
of article text is HTML-escaped: articles are data."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from index.store import FileRecord
from qa.core.markers import replace_markers
from qa.core.types import Answer, Citation

CONTEXT_CHARS = 240  # article text shown on each side of a cited quote

ArticleText = Callable[[Citation], str | None]


def answer_markdown(answer: Answer) -> str:
    """The final answer for the chat: markers become links to their source card."""
    if answer.abstained:
        return f"🛈 *{answer.text}*"
    return replace_markers(
        answer.text,
        lambda n: f"[[{n}]](#source-{n})" if 1 <= n <= len(answer.citations) else f"[{n}]",
    )


def marked(text: str, start: int, end: int, mark_id: str = "") -> str:
    """Escaped text with [start, end) wrapped in <mark>."""
    ident = f' id="{html.escape(mark_id)}"' if mark_id else ""
    return (
        html.escape(text[:start])
        + f"<mark{ident}>{html.escape(text[start:end])}</mark>"
        + html.escape(text[end:])
    )


def passage_with_quote(text: str, start: int, end: int) -> str:
    """The quote highlighted inside a little of the article text around it."""
    left = max(0, start - CONTEXT_CHARS)
    right = min(len(text), end + CONTEXT_CHARS)
    # Cut the context at whitespace so no word is shown in half.
    if left > 0:
        left = text.find(" ", left, start) + 1 or left
    if right < len(text):
        right = text.rfind(" ", end, right) if text.rfind(" ", end, right) > end else right
    body = marked(text[left:right], start - left, end - left)
    return ("… " if left > 0 else "") + body + (" …" if right < len(text) else "")


def _meta_line(c: Citation) -> str:
    byline = f"by {c.author}" if c.author else ""
    parts = [c.outlet, byline, c.published[:10] if c.published else "", f"<code>{c.source}</code>"]
    parts.append(f"characters {c.start}–{c.end}")
    if c.also_in:
        parts.append("also carried by " + ", ".join(c.also_in))
    return " · ".join(html.escape(p) if not p.startswith("<code>") else p for p in parts if p)


def _title(c: Citation) -> str:
    """The article's title, a link to the page it came from when it came from the web."""
    title = html.escape(c.title or c.source)
    if c.url.startswith(("http://", "https://")):
        href = html.escape(c.url, quote=True)
        opens = "target='_blank' rel='noopener noreferrer'"
        return f"<a class='qa-link' href='{href}' {opens}>{title}</a>"
    return title


def source_card(number: int, c: Citation, article: str | None) -> str:
    title = _title(c)
    if article is not None and article[c.start : c.end] == c.quote:
        passage = passage_with_quote(article, c.start, c.end)
        whole = (
            "<details class='qa-article'><summary>Open the whole article</summary>"
            f"<div class='qa-article-text'>{marked(article, c.start, c.end)}</div></details>"
        )
    else:  # the file changed or went away since it was indexed: show the stored quote only
        passage = f"<mark>{html.escape(c.quote)}</mark>"
        whole = "<p class='qa-note'>The article file is no longer available as indexed.</p>"
    return (
        f"<div class='qa-source' id='source-{number}' data-source='{html.escape(c.source)}'>"
        f"<div class='qa-source-head'><span class='qa-num'>[{number}]</span> {title}</div>"
        f"<div class='qa-meta'>{_meta_line(c)}</div>"
        f"<blockquote class='qa-quote'>{passage}</blockquote>{whole}</div>"
    )


def sources_panel(
    answer: Answer | None, article_text: ArticleText, turn: int = 0, done: bool | None = None
) -> str:
    """Cited sources for the last answer, then the uncited retrieved files with scores.

    `data-turn` numbers the question the panel belongs to and `qa-done` marks it final, so
    scripts (and the browser tests) can tell a finished answer from one still streaming."""
    done = answer is not None if done is None else done
    attrs = f"data-turn='{turn}'" + (" data-done='1'" if done else "")
    if answer is None:
        return f"<div class='qa-sources qa-empty' {attrs}>Sources of the answer appear here.</div>"
    cards = [source_card(i, c, article_text(c)) for i, c in enumerate(answer.citations, 1)]
    if not cards:
        cards = ["<div class='qa-empty'>No source supports an answer to this question.</div>"]
    cited = {c.source for c in answer.citations}
    others = [r for r in answer.retrieved if r.source not in cited]
    if others:
        rows = "".join(
            f"<li><code>{html.escape(r.source)}</code> · score {r.score:.3f}</li>" for r in others
        )
        cards.append(
            "<details class='qa-retrieved'><summary>Also retrieved, not cited "
            f"({len(others)})</summary><ul>{rows}</ul></details>"
        )
    return f"<div class='qa-sources' {attrs}>" + "".join(cards) + "</div>"


def index_rows(records: list[FileRecord]) -> list[list[str | int]]:
    return [[r.title, r.published[:10], r.outlet, r.source, r.chunks] for r in records]


INDEX_HEADERS = ["title", "published", "outlet", "file", "chunks"]

CSS = """
.qa-sources { display: flex; flex-direction: column; gap: 0.75rem; }
.qa-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6rem; }
.qa-source-head { font-weight: 600; }
.qa-num { color: var(--color-accent); margin-right: 0.25rem; }
.qa-meta { font-size: 0.85em; opacity: 0.8; margin: 0.2rem 0 0.4rem; }
.qa-quote { margin: 0; padding-left: 0.6rem; border-left: 3px solid var(--color-accent); }
.qa-quote mark, .qa-article-text mark { background: #fde68a; color: inherit; padding: 0 2px; }
.qa-article-text { white-space: pre-wrap; max-height: 24rem; overflow-y: auto; font-size: 0.9em; }
.qa-empty, .qa-note { opacity: 0.7; font-style: italic; }
"""


def problem_line(errors: Sequence[Mapping[str, Any]]) -> str:
    """Pydantic's validation errors as the one line an API client is told:
    "filters.outlets: Input should be a valid list (and 1 more)"."""
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"] if part != "body") or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"

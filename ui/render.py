"""HTML and Markdown for the web page: answers with linked markers, the sources panel,
the whole-article view and the index table; and the one line an API client is told about
a malformed request. Pure functions, so they are unit-tested without a browser. Every piece
of article text is HTML-escaped: articles are data."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from index.storing.store import FileRecord
from qa.core.answer_stream import SourcesFound, VerifiedText
from qa.core.markers import replace_markers
from qa.core.types import Answer, Citation

CONTEXT_CHARS = 240  # article text shown on each side of a cited quote

ArticleText = Callable[[Citation], str | None]


# Icons drawn by CSS (`.qa-icon`), not emoji: a machine without an emoji font shows boxes.
INFO_ICON = "<span class='qa-icon qa-icon-info' aria-hidden='true'>i</span>"
STEPS = (("searching", "Searching the articles"), ("reading", "Reading the passages"),
         ("writing", "Writing"), ("checking", "Checking the sources"))  # fmt: skip


def linked_markers(text: str, count: int, turn: int) -> str:
    """[n] markers as links to this answer's own source cards."""
    return replace_markers(
        text, lambda n: f"[[{n}]](#source-{turn}-{n})" if 1 <= n <= count else f"[{n}]"
    )


def answer_markdown(answer: Answer, turn: int = 0) -> str:
    """The final answer for the chat: markers become links to its own source cards, and the
    filter in force is said under it."""
    if answer.abstained:
        text = f"{INFO_ICON} *{answer.text}*"
    else:
        text = linked_markers(answer.text, len(answer.citations), turn)
    if answer.filters:
        text += f"\n\n<span class='qa-filters'>From articles {html.escape(answer.filters)}.</span>"
    return text


def pending_markdown(verified: VerifiedText | None, step: str, turn: int = 0) -> str:
    """An answer on its way: only what is verified so far, and the step it is at (the
    model's draft is never shown)."""
    names = [name for name, _ in STEPS]
    upto = names.index(step) + 1 if step in names else 0
    line = " · ".join(f"<b>{label}…</b>" if name == step else label for name, label in STEPS[:upto])
    status = f"<span class='qa-status' data-step='{step}'>{line}</span>"
    if verified is None:
        return status
    return f"{linked_markers(verified.text, len(verified.citations), turn)}\n\n{status}"


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


def source_card(
    number: int, c: Citation, article: str | None, turn: int = 0, anchor: str = "source"
) -> str:
    """One cited passage, its card named `source-<turn>-<n>` (each answer keeps its own)."""
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
        f"<div class='qa-source' id='{anchor}-{turn}-{number}' "
        f"data-source='{html.escape(c.source)}'>"
        f"<div class='qa-source-head'><span class='qa-num'>[{number}]</span> {title}</div>"
        f"<div class='qa-meta'>{_meta_line(c)}</div>"
        f"<blockquote class='qa-quote'>{passage}</blockquote>{whole}</div>"
    )


def answer_sources(
    answer: Answer | None,
    article_text: ArticleText,
    turn: int,
    asked: str = "",
    reading: SourcesFound | None = None,
) -> str:
    """One answer's sources: its cited cards, then the uncited retrieved files with scores;
    before the answer is final, the passages the model is reading."""
    head = f"<div class='qa-asked'>{html.escape(asked)}</div>" if asked else ""
    if answer is None:
        body = _reading(reading, article_text, turn)
        return f"<section class='qa-answer-sources' data-turn='{turn}'>{head}{body}</section>"
    cards = [source_card(i, c, article_text(c), turn) for i, c in enumerate(answer.citations, 1)]
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
    return (
        f"<section class='qa-answer-sources' data-turn='{turn}' id='answer-{turn}'>"
        + head
        + "".join(cards)
        + "</section>"
    )


def _reading(reading: SourcesFound | None, article_text: ArticleText, turn: int) -> str:
    if reading is None or not reading.citations:
        return "<div class='qa-empty'>Searching the articles…</div>"
    cards = "".join(
        source_card(i, c, article_text(c), turn, anchor="passage")
        for i, c in enumerate(reading.citations, 1)
    )
    return f"<div class='qa-reading'>The passages being read:</div>{cards}"


def sources_panel(
    sections: Sequence[str] = (), turn: int = 0, done: bool = False, empty: bool = False
) -> str:
    """Every answer's sources, the newest first, so an older answer's [n] still finds its
    own card. `data-turn` numbers the latest question and `data-done` marks it final, so
    scripts (and the browser tests) can tell a finished answer from one still streaming."""
    attrs = f"data-turn='{turn}'" + (" data-done='1'" if done else "")
    if empty or not sections:
        return f"<div class='qa-sources qa-empty' {attrs}>Sources of the answers appear here.</div>"
    return f"<div class='qa-sources' {attrs}>" + "".join(sections) + "</div>"


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
.qa-answer-sources { display: flex; flex-direction: column; gap: 0.75rem; }
.qa-answer-sources + .qa-answer-sources { border-top: 1px dashed var(--border-color-primary);
  padding-top: 0.75rem; opacity: 0.85; }
.qa-asked { font-weight: 600; font-size: 0.9em; }
.qa-reading { font-size: 0.9em; opacity: 0.8; }
.qa-status { font-size: 0.85em; opacity: 0.75; }
.qa-status b { font-weight: 600; }
.qa-filters { font-size: 0.85em; opacity: 0.75; }
.qa-icon { display: inline-block; width: 1.1em; height: 1.1em; line-height: 1.1em;
  border-radius: 50%; text-align: center; font-style: normal; font-weight: 700;
  font-size: 0.8em; border: 1.5px solid currentColor; margin-right: 0.3em; }
#question-row { align-items: stretch; }
#question-row button { min-width: 5rem; }
/* A phone: the question box takes the whole width, Send and Stop share the row under it. */
@media (max-width: 640px) {
  #question-row { flex-wrap: wrap; }
  /* Gradio wraps the box in a .form block: that is the row's flex item. */
  #question-row > .form { flex: 1 1 100% !important; min-width: 100% !important; }
  #question-row #send, #question-row #stop { flex: 1 1 40% !important; }
}
"""


# "Open the whole article" opens scrolled to the quoted span (its <mark>), not at the top.
HEAD = """<script>
document.addEventListener("toggle", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLDetailsElement) || !box.open) return;
  if (!box.classList.contains("qa-article")) return;
  const text = box.querySelector(".qa-article-text");
  const mark = text && text.querySelector("mark");
  if (mark) text.scrollTop = mark.offsetTop - text.offsetTop - text.clientHeight / 3;
}, true);
</script>"""


def problem_line(errors: Sequence[Mapping[str, Any]]) -> str:
    """Pydantic's validation errors as the one line an API client is told:
    "filters.outlets: Input should be a valid list (and 1 more)"."""
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"] if part != "body") or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"

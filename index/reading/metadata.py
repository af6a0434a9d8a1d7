"""Title, outlet, publication date and author from an article's own text.

Scraped articles put these in a header above the body ("Written: 2019-04-17 11:00:23",
"Published - April 23, 2019 10:13 pm IST", a bare "September 27, 2020" line) or in a sign-off
line below it ("Albert Kim, KBS World Radio News."). We read only what the text states.
"""

from __future__ import annotations

import html
import re
from datetime import datetime

from index.types import Span

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for m in names
}  # fmt: skip
_MONTH_RE = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_TIME_RE = (
    r"(?:,?\s*(?:at\s+)?(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?::(?P<second>\d{2}))?"
    r"\s*(?P<ampm>[ap]\.?m\.?)?(?:\s*(?P<tz>[A-Z]{2,4}))?)?"
)
_DATE_PATTERNS = [
    # 2019-04-17 11:00:23 / 2019-04-17T11:00:23+09:00
    re.compile(
        r"(?P<year>(?:19|20)\d{2})-(?P<mnum>\d{1,2})-(?P<day>\d{1,2})"
        r"(?:[ T](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
        r"(?P<offset>Z|[+-]\d{2}:?\d{2})?)?"
    ),
    # April 23, 2019 10:13 pm IST
    re.compile(
        _MONTH_RE + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d{2})" + _TIME_RE,
        re.IGNORECASE,
    ),
    # 23 April 2019
    re.compile(
        r"(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+"
        + _MONTH_RE
        + r",?\s+(?P<year>(?:19|20)\d{2})"
        + _TIME_RE,
        re.IGNORECASE,
    ),
]
# Offsets of common newsroom time zones, so a stated zone is kept in the ISO string.
_TZ = {
    "UTC": "+00:00", "GMT": "+00:00", "IST": "+05:30", "KST": "+09:00", "JST": "+09:00",
    "CET": "+01:00", "CEST": "+02:00", "BST": "+01:00", "MSK": "+03:00",
    "EST": "-05:00", "EDT": "-04:00", "CST": "-06:00", "CDT": "-05:00", "PST": "-08:00",
    "PDT": "-07:00",
}  # fmt: skip
_DATE_LABEL = re.compile(r"\b(published|posted|written|updated|date|dated)\b", re.IGNORECASE)
_LABEL_LINE = re.compile(r"^[\w ]{1,20}\s*:")
_SIGN_OFF = re.compile(
    r"^[A-Z][\w.'’-]+(?: [A-Z][\w.'’-]+){1,3}, (?P<outlet>[A-Z][\w&.'’ -]{2,60}?)\.?$"
)
_COPYRIGHT = re.compile(
    r"(?:©|(?i:\(c\)|copyright))\s*(?:\d{4}\s*)?"
    r"(?P<outlet>[A-Z][\w&' -]{0,60}?(?:\.[A-Za-z]{2,}\b)?)\s*(?=$|[.|,]|(?i:all rights))"
)
_WORD = re.compile(r"\w+")
# "Title: ...", "Source: ..." header fields, as exported articles and datasets carry them.
_FIELD = re.compile(r"^(?P<key>[A-Za-z ]{2,20}?)\s*:\s*(?P<value>\S.*)$")
_TITLE_KEYS = {"title", "headline"}
_OUTLET_KEYS = {"source", "outlet", "publisher", "publication", "site"}


def _header_field(text: str, body: list[Span], keys: set[str]) -> str:
    header_end = body[0].start if body else min(len(text), 600)
    for line in _lines(text, 0, header_end):
        m = _FIELD.match(line)
        if m and m.group("key").strip().lower() in keys:
            return html.unescape(m.group("value").strip())
    return ""


def parse_date(text: str) -> str:
    """The first date in `text` as ISO 8601 ("2019-04-23T22:13:00+05:30", "2020-09-27")."""
    best: tuple[int, str] | None = None
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            iso = _to_iso(m)
            if iso:
                if best is None or m.start() < best[0]:
                    best = (m.start(), iso)
                break
    return best[1] if best else ""


def _to_iso(m: re.Match[str]) -> str:
    g = m.groupdict()
    month = int(g["mnum"]) if g.get("mnum") else _MONTHS[g["month"].lower().rstrip(".")]
    try:
        day = datetime(int(g["year"]), month, int(g["day"]))
    except ValueError:
        return ""
    if not g.get("hour"):
        return day.date().isoformat()
    hour, minute, second = int(g["hour"]), int(g["minute"]), int(g.get("second") or 0)
    ampm = (g.get("ampm") or "").replace(".", "").lower()
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 59:
        return day.date().isoformat()
    stamp = day.replace(hour=hour, minute=minute, second=second).isoformat()
    offset = g.get("offset") or _TZ.get((g.get("tz") or "").upper(), "")
    if offset == "Z":
        offset = "+00:00"
    elif offset and ":" not in offset:
        offset = offset[:3] + ":" + offset[3:]
    return stamp + offset


def _lines(text: str, start: int, end: int) -> list[str]:
    return [ln.strip() for ln in text[start:end].splitlines() if ln.strip()]


def find_published(text: str, body: list[Span]) -> str:
    """Prefer a labelled date line, then any date in the header above the body."""
    header_end = body[0].start if body else min(len(text), 600)
    header = _lines(text, 0, header_end)
    labelled = [ln for ln in header if _DATE_LABEL.search(ln)]
    for line in labelled + header:
        iso = parse_date(line)
        if iso:
            return iso
    for line in _lines(text, 0, len(text)):
        if _DATE_LABEL.search(line) and len(line) < 120:
            iso = parse_date(line)
            if iso:
                return iso
    return ""


def find_title(text: str, body: list[Span]) -> str:
    """A headline-like line above the body; a line that repeats there is the strongest hint."""
    labelled = _header_field(text, body, _TITLE_KEYS)
    if labelled:
        return labelled
    header_end = body[0].start if body else 0
    header = _lines(text, 0, header_end)
    candidates = [
        ln
        for ln in header
        if 5 <= len(_WORD.findall(ln)) <= 30
        and not _LABEL_LINE.match(ln)
        and not parse_date(ln)
        and not ln.endswith((".", ":"))
    ]
    repeated = [ln for ln in candidates if header.count(ln) > 1]
    if repeated:
        return repeated[0]
    if candidates:
        return candidates[0]
    if body:
        first = text[body[0].start : body[0].end].split("\n")[0]
        return first if len(first) <= 90 else first[:87].rsplit(" ", 1)[0] + "..."
    return ""


def find_outlet(text: str, body: list[Span]) -> str:
    """A labelled source, a reporter's sign-off ("Name, Outlet News.") or a copyright line."""
    labelled = _header_field(text, body, _OUTLET_KEYS)
    if labelled:
        return labelled
    tail_start = body[-1].start if body else 0
    for line in reversed(_lines(text, tail_start, len(text))[:12]):
        m = _SIGN_OFF.match(line)
        if m:
            return m.group("outlet").strip()
    for line in _lines(text, 0, len(text)):
        m = _COPYRIGHT.search(line)
        if m:
            return m.group("outlet").strip(" .")
    return ""


_NAME = r"(?P<name>[A-Z][\w'’-]+(?: [A-Z]\.)?(?: [A-Z][\w'’-]+){1,3})"
_BY_LINE = re.compile(r"^(?:By|BY|Written by|Reported by)\s*:?\s+" + _NAME + r"\b")
_AUTHOR_KEYS = {"author", "by", "byline", "writer", "reporter", "written by"}
# "Albert Kim has more." / "Albert Kim reports." (broadcast scripts hand over to the reporter)
_HAND_OVER = re.compile("^" + _NAME + r" (?:has more|reports|reporting)\b.{0,40}$")
# "Hana Levi Julian is a Middle East news analyst ..." (a bio line below the article)
_BIO = re.compile(
    "^" + _NAME + r" is an? [^.]{0,80}?\b(?:journalist|reporter|correspondent|analyst|writer|"
    r"editor|columnist|contributor|producer)\b"
)


def find_author(text: str, body: list[Span]) -> tuple[str, Span | None]:
    """The reporter named in the text and the line that names them: a labelled field or a
    "By ..." line, a sign-off ("Albert Kim, KBS World Radio News."), a hand-over ("Albert Kim
    has more.") or a bio line. ("", None) when the text names no one."""
    candidates = []
    for m in re.finditer(r"[^\n]+", text):
        line = m.group(0).strip()
        if not line or len(line) > 400:
            continue
        start = m.start() + (len(m.group(0)) - len(m.group(0).lstrip()))
        field = _FIELD.match(line)
        if field and field.group("key").strip().lower() in _AUTHOR_KEYS:
            named = re.match(_NAME, field.group("value").strip())
            if named:
                candidates.append((0, named.group("name"), Span(start, start + len(line))))
        for rank, pattern in enumerate((_BY_LINE, _SIGN_OFF_NAME, _HAND_OVER, _BIO), 1):
            found = pattern.match(line)
            if found:
                candidates.append((rank, found.group("name"), Span(start, start + len(line))))
    if not candidates:
        return "", None
    _, name, span = min(candidates, key=lambda c: c[0])
    # A bio runs on for sentences; the first one names the author.
    first = re.search(r"[.!?](?=\s+[A-Z])", text[span.start : span.end])
    return name, Span(span.start, span.start + first.end()) if first else span


_SIGN_OFF_NAME = re.compile(
    "^" + _NAME + r", [A-Z][\w&.'’ -]{2,60}?(?:News|Radio|TV|Times|Post|Press)\b\.?$"
)

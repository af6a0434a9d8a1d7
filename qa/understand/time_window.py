"""The publication window a question names relative to now: "last week", "3 days ago",
"yesterday", "this month", and whether it asks for the latest reports.

dateparser finds and resolves the expressions. Only those that place a time relative to
the reference day are windows, and of these only the ones whose reading does not flip when
dateparser is told to prefer the past or the future: "last week" and "3 days ago" point at
one day either way, while a bare duration ("three years of drought", "a century") moves
with the preference and is about how long something lasted, not when it was reported.
Dates of events ("in March", "on Sunday") are not windows: articles about a March trip
were published in April. Nor are "now" and "today": dateparser reads them alike, and "who
is now accused" names no window. The reference day is the collection's newest article, or today
for a collection that follows live feeds (qa/retrieve/catalog.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

# "the latest on X", "the most recent report": ranked newest first among the relevant.
_LATEST = re.compile(r"\b(?:latest|most recent|newest)\b", re.IGNORECASE)


@dataclass(frozen=True)
class TimeWindow:
    since: date
    until: date
    phrase: str  # the question's words, for messages: "last week"

    def describe(self) -> str:
        return f'"{self.phrase}" ({self.since} to {self.until})'


def asks_latest(question: str) -> bool:
    return bool(_LATEST.search(question))


def without_names(question: str, names: tuple[str, ...]) -> str:
    """The question with these names (outlets) blanked out: "Business Today | Latest ..."
    names an outlet, not a day or a wish for the latest news."""
    for name in sorted(names, key=len, reverse=True):
        at = question.lower().find(name.lower()) if len(name) > 2 else -1
        while at >= 0:
            question = question[:at] + " " + question[at + len(name) :]
            at = question.lower().find(name.lower())
    return question


def question_window(
    question: str, reference: date, names: tuple[str, ...] = ()
) -> TimeWindow | None:
    """The window the question's relative expression names, ending on `reference`; None
    when it names none. `names` (outlets) are removed first: "Business Today" is no date."""
    found = _relative_dates(without_names(question, names), reference.isoformat())
    if not found:
        return None
    phrase, day = min(found, key=lambda pair: pair[1])  # the widest window asked for
    return TimeWindow(day, reference, phrase)


# "this week" resolves to the reference day itself; its window is the period before it.
_PERIOD_DAYS = {"week": 6, "month": 30, "year": 364}


@lru_cache(maxsize=512)
def _relative_dates(text: str, reference: str) -> list[tuple[str, date]]:
    from dateparser.search import search_dates

    base = datetime.fromisoformat(reference)
    found = []
    for phrase, _ in search_dates(text, languages=["en"], settings=_settings(base, "past")) or []:
        past, period = _parse(phrase, base, "past")
        future, _ = _parse(phrase, base, "future")
        # A sub-day offset ("30 minutes before") is a time of day, not a publication window.
        if past is None or past != future or past > base or past.time() != base.time():
            continue
        day = past.date()
        if day == base.date():
            if period not in _PERIOD_DAYS:
                # "now" and "today" resolve alike, and "who is now accused" names no window:
                # a wrong window hides the answer's article, a missed one only ranks as usual.
                continue
            day = date.fromordinal(day.toordinal() - _PERIOD_DAYS[period])
        found.append((phrase.strip(), day))
    return found


def _settings(base: datetime, prefer: str) -> dict[str, object]:
    return {"RELATIVE_BASE": base, "PREFER_DATES_FROM": prefer, "PARSERS": ["relative-time"]}


def _parse(phrase: str, base: datetime, prefer: str) -> tuple[datetime | None, str]:
    from dateparser.date import DateDataParser

    data = DateDataParser(languages=["en"], settings=_settings(base, prefer)).get_date_data(phrase)
    return data.date_obj, str(data.period or "day")

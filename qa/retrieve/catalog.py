"""What a collection holds, one line per article: the outlets, authors and dates a filter
can name, read from the store's file records (one per indexed file, index/storing/store.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date

from index.storing.store import FileRecord
from qa.core.errors import InputError
from qa.retrieve.filters import ArticleFilter, parse_day

SHOWN_NAMES = 12  # names listed in a message about an unknown outlet or author
KEPT_FILTERS = 64  # distinct filters whose allowed files are remembered


@dataclass(frozen=True)
class Catalog:
    records: tuple[FileRecord, ...]
    # The files each filter allows, worked out once per catalog (a catalog lives until the
    # next index run), so a filtered question does not walk every record again.
    _allowed: dict[ArticleFilter, frozenset[str]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def of(cls, records: Iterable[FileRecord]) -> Catalog:
        return cls(tuple(records))

    def outlets(self) -> list[str]:
        return sorted({r.outlet for r in self.records if r.outlet}, key=str.lower)

    def authors(self) -> list[str]:
        return sorted({r.author for r in self.records if r.author}, key=str.lower)

    def newest(self) -> date | None:
        days = [d for r in self.records if (d := _day_of(r.published))]
        return max(days, default=None)

    @property
    def live(self) -> bool:
        """Does the collection follow feeds? Then "today" is today, not its newest article."""
        return any(r.feed for r in self.records)

    def resolve(self, article_filter: ArticleFilter) -> ArticleFilter:
        """The filter with each outlet and author as the collection spells it ("kbs" ->
        "KBS World Radio News"); a name that matches nothing is refused with the names there
        are, since an empty result would look like "the articles don't say"."""
        outlets = _resolve(article_filter.outlets, self.outlets(), "outlet")
        authors = _resolve(article_filter.authors, self.authors(), "author")
        return replace(article_filter, outlets=outlets, authors=authors)

    def allowed_paths(self, article_filter: ArticleFilter) -> frozenset[str]:
        """The files whose articles pass the filter (what BM25 may return)."""
        if article_filter not in self._allowed:
            if len(self._allowed) >= KEPT_FILTERS:
                self._allowed.clear()
            allowed = frozenset(r.path for r in self.records if article_filter.allows(r.article))
            self._allowed[article_filter] = allowed
        return self._allowed[article_filter]


def _day_of(published: str) -> date | None:
    try:
        return parse_day(published, "published") if published else None
    except InputError:
        return None


def _has_words(name: str, wanted: str) -> bool:
    """Does `name` contain the words of `wanted` in a row ("kbs" in "KBS World Radio")?"""
    words, asked = _words(name), _words(wanted)
    return bool(asked) and any(
        words[i : i + len(asked)] == asked for i in range(len(words) - len(asked) + 1)
    )


def _words(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.lower()).split()


def _resolve(asked: tuple[str, ...], known: list[str], what: str) -> tuple[str, ...]:
    out: list[str] = []
    for name in asked:
        wanted = name.strip().lower()
        exact = [k for k in known if k.lower() == wanted]
        found = exact or [k for k in known if _has_words(k, wanted)]
        if not found:
            listed = ", ".join(known[:SHOWN_NAMES]) + (" ..." if len(known) > SHOWN_NAMES else "")
            raise InputError(
                f"no indexed article has the {what} {name!r}"
                + (f"; {what}s here: {listed}" if known else f"; no article here names its {what}")
            )
        out += [k for k in found if k not in out]
    return tuple(out)

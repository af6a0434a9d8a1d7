"""What an answer says when it does not answer: the decision's words."""

from __future__ import annotations

from qa.core.text import date_label
from qa.core.types import Draft
from qa.retrieve.filters import ArticleFilter

ABSTAIN_TEXT = "The indexed articles don't say: nothing in them answers this question."


def nothing_to_read(scope: ArticleFilter, retrieved: bool, why: str, missing: list[str]) -> Draft:
    """The evidence stage found nothing to read (`why`), or the retrieved text never
    mentions what the question names (`missing`)."""
    if missing:
        named = ", ".join(f"'{w}'" for w in missing)
        text = f"The indexed articles never mention {named}, so they don't answer this."
        return Draft(text, [], True, reason=f"the retrieved text never mentions {missing}")
    text = ABSTAIN_TEXT
    if not scope.empty and not retrieved:
        text = f"No indexed article matches {scope.describe()}, so none answers this."
    return Draft(text, [], True, reason=why)


def not_confident(draft: Draft, reason: str) -> Draft:
    """The draft withheld: what the articles do mention, when the answer drawn from it is
    not trusted."""
    text = ABSTAIN_TEXT
    if draft.citations:
        c = draft.citations[0]
        where = ", ".join(x for x in (c.title or c.source, date_label(c.published)) if x)
        text = (
            "The indexed articles may not answer this: the closest passage "
            f'({where}) says "{c.quote}", which may not be what was asked.'
        )
    return draft.but(text=text, abstained=True, reason=reason)

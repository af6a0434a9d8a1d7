"""Plain data objects shared by loading, chunking and storing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) into an article's text."""

    start: int
    end: int


@dataclass(frozen=True)
class ArticleInfo:
    """What a reader is told about an article: carried once by every piece of evidence and
    copied into citations and llama-index node metadata from here."""

    source: str  # file name, as shown in citations
    path: str
    title: str = ""
    outlet: str = ""
    published: str = ""  # ISO 8601 date or datetime, "" when unknown
    author: str = ""
    url: str = ""  # the article on the web, when it came from there
    group: str = ""  # its syndication group (index/syndication/near_duplicates.py)

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any], **fallbacks: str) -> ArticleInfo:
        """The article of flat metadata (Chroma's, a node's, JSON): "" for what is absent,
        unless `fallbacks` names a value for it."""
        return cls(**{name: str(meta.get(name) or fallbacks.get(name) or "")
                      for name in cls.__dataclass_fields__})  # fmt: skip

    def metadata(self) -> dict[str, str]:
        return {
            "source": self.source,
            "path": self.path,
            "title": self.title,
            "outlet": self.outlet,
            "published": self.published,
            "author": self.author,
            "url": self.url,
        }


class _OfArticle:
    """A read-only attribute that reads the attribute of the same name on the holder's
    `article`."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, holder: Any, owner: type | None = None) -> str:
        return str(getattr(holder.article, self.name))


class ArticleFields:
    """Read-only views of the one `ArticleInfo` a chunk, a file record or a citation holds,
    so that `chunk.source` reads as before while the fact is kept once."""

    article: ArticleInfo
    source = _OfArticle()
    path = _OfArticle()
    title = _OfArticle()
    outlet = _OfArticle()
    published = _OfArticle()
    author = _OfArticle()
    url = _OfArticle()
    group = _OfArticle()


@dataclass
class Article:
    """A loaded article: its text, the spans that are article body, and metadata.

    `text` is what citations point into. For .txt/.md it is the decoded file itself, so
    offsets are offsets into the file. For .html and .pdf it is the visible text extracted
    from the file (markup and PDF operators have no readable character stream to point into).
    """

    path: str
    source: str  # file name, as shown in citations
    text: str
    body: list[Span]  # runs of text that are the article, boilerplate excluded
    title: str = ""
    outlet: str = ""
    published: str = ""  # ISO 8601 date or datetime, "" when unknown
    file_sha256: str = ""
    kind: str = "txt"
    author: str = ""  # the reporter, from a byline or sign-off; "" when the text names none
    byline: Span | None = None  # where the text names the author (quotable)
    url: str = ""  # where a fetched page came from (or a saved page's canonical address)
    feed: str = ""  # the feed that listed it
    updated: str = ""  # when the page says it was last updated, if not when first published
    # The body's MinHash signature and key facts, encoded (index/syndication/near_duplicates.py).
    minhash: str = ""
    facts: str = ""
    group: str = ""  # the syndication group: the path of the first article with this text

    def body_text(self) -> str:
        return "\n\n".join(self.text[s.start : s.end] for s in self.body)

    @property
    def info(self) -> ArticleInfo:
        return ArticleInfo(source=self.source, path=self.path, title=self.title,
                           outlet=self.outlet, published=self.published, author=self.author,
                           url=self.url, group=self.group)  # fmt: skip


@dataclass
class Chunk(ArticleFields):
    """A piece of an article that is embedded and retrieved as one unit."""

    id: str
    article: ArticleInfo
    text: str  # always equals article.text[start:end]
    start: int
    end: int
    file_sha256: str = ""
    byline: Span | None = None  # the author's line in the article (offsets into it)
    byline_text: str = ""
    # Sentence spans inside the article, used to pick evidence sentences and exact quotes.
    sentences: list[Span] = field(default_factory=list)
    sentence_texts: list[str] = field(default_factory=list)

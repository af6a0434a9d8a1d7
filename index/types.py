"""Plain data objects shared by loading, chunking and storing."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    def of(cls, carrier: object) -> ArticleInfo:
        """The article fields of anything that carries them (a chunk, a citation, a file
        record)."""
        return cls(**{name: getattr(carrier, name) for name in cls.__dataclass_fields__})

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


@dataclass
class Chunk:
    """A piece of an article that is embedded and retrieved as one unit."""

    id: str
    source: str
    path: str
    text: str  # always equals article.text[start:end]
    start: int
    end: int
    title: str = ""
    outlet: str = ""
    published: str = ""
    file_sha256: str = ""
    author: str = ""
    byline: Span | None = None  # the author's line in the article (offsets into it)
    byline_text: str = ""
    url: str = ""
    group: str = ""  # syndication group (index/syndication/near_duplicates.py); "" when unknown
    # Sentence spans inside the article, used to pick evidence sentences and exact quotes.
    sentences: list[Span] = field(default_factory=list)
    sentence_texts: list[str] = field(default_factory=list)

    @property
    def article(self) -> ArticleInfo:
        return ArticleInfo.of(self)

"""Reading: article files, web pages and feeds into `Article`s (text, body, metadata)."""

from index.reading.boilerplate import article_body
from index.reading.feeds import FeedList, FeedRefresh, read_feed
from index.reading.fence import BlockedAddress, DeadlinePassed, FencedTransport
from index.reading.loaders import (
    SUPPORTED_SUFFIXES,
    LoadError,
    iter_article_files,
    load_article,
    looks_binary,
)
from index.reading.metadata import find_author, find_outlet, find_published, find_title, parse_date
from index.reading.web import (
    FEED_TYPES,
    HTML_TYPES,
    Fetched,
    FetchError,
    FetchPolicy,
    HostPace,
    fetch,
    fetch_all,
    is_url,
    save_page,
)

# html_text (BeautifulSoup, trafilatura) is not imported here: load_article imports it for
# HTML files only.
__all__ = [
    "FEED_TYPES",
    "HTML_TYPES",
    "SUPPORTED_SUFFIXES",
    "BlockedAddress",
    "DeadlinePassed",
    "FeedList",
    "FeedRefresh",
    "FencedTransport",
    "FetchError",
    "FetchPolicy",
    "Fetched",
    "HostPace",
    "LoadError",
    "article_body",
    "fetch",
    "fetch_all",
    "find_author",
    "find_outlet",
    "find_published",
    "find_title",
    "is_url",
    "iter_article_files",
    "load_article",
    "looks_binary",
    "parse_date",
    "read_feed",
    "save_page",
]

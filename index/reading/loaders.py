"""Read article files (.txt, .md, .html, .pdf) into `Article` objects.

Every failure is a `LoadError` with a message a person can act on; callers report it and go on
with the rest of the batch.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from charset_normalizer import from_bytes

from index.errors import UserError
from index.reading.boilerplate import GOOD_MIN_WORDS, article_body
from index.reading.metadata import find_author, find_outlet, find_published, find_title
from index.types import Article

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")


class LoadError(UserError):
    """A file that cannot be read as an article; the message says why."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def looks_binary(data: bytes) -> bool:
    """NUL bytes or many control characters mean this is not a text file."""
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    controls = sum(b < 32 and b not in (9, 10, 12, 13) for b in sample)
    return bool(sample) and controls / len(sample) > 0.05


_UTF16_32_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 first; otherwise the best detected encoding.

    A UTF-8 byte-order mark is kept as a character so offsets match `open(file).read()`."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for bom, encoding in _UTF16_32_BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                break
    guess = from_bytes(data).best()
    if guess is None or guess.encoding is None:
        raise LoadError(f"{name}: cannot tell the text encoding; save it as UTF-8")
    return str(guess)


def _text_article(path: Path, text: str, sha: str, kind: str) -> Article:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    body = article_body(text)
    if not body:
        raise LoadError(f"{path.name}: no article text found")
    author, byline = find_author(text, body)
    return Article(
        path=str(path),
        source=path.name,
        text=text,
        body=body,
        title=find_title(text, body),
        outlet=find_outlet(text, body),
        published=find_published(text, body),
        file_sha256=sha,
        kind=kind,
        author=author,
        byline=byline,
    )


# Which reader turns a web page into article text: chosen by measurement on saved pages and
# the seeds (docs/evaluation.md, "Reading web pages"; `python -m evals.extraction`).
HTML_READER = "trafilatura"


def _html_article(path: Path, data: bytes, sha: str, reader: str = "") -> Article:
    """trafilatura finds the main text, then the boilerplate step (as for text files) keeps
    the article's prose out of what it found: together they read saved pages best
    (docs/evaluation.md, "Reading web pages")."""
    from index.reading.html_text import extract_with_trafilatura, html_to_text

    html = decode_text(data, path.name)
    page = extract_with_trafilatura(html) if (reader or HTML_READER) == "trafilatura" else None
    # Less than a sentence found (a page of menus): read every visible block instead, and
    # let the boilerplate step say whether there is an article.
    if page is None or len(page.text.split()) < GOOD_MIN_WORDS or not article_body(page.text):
        page = html_to_text(html)
    article = _text_article(path, page.text, sha, "html")
    article.title = page.title or article.title
    if page.main_text_only and not page.outlet:
        # The footer's "© Outlet" is outside the main text: look for it in the whole page.
        whole = html_to_text(html).text
        page.outlet = find_outlet(whole, article_body(whole)) or page.site_name
    article.outlet = page.outlet or article.outlet
    article.published = page.published or article.published
    article.author = article.author or page.author
    article.updated, article.url, article.feed = page.updated, page.url, page.feed
    return article


def _pdf_article(path: Path, data: bytes, sha: str) -> Article:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(f"{path.name}: the PDF is encrypted; export an unlocked copy")
        pages = [page.extract_text() or "" for page in reader.pages]
        info: dict[str, object] = dict(reader.metadata or {})
    except LoadError:
        raise
    except DependencyError as exc:  # AES needs an optional crypto package
        raise LoadError(f"{path.name}: the PDF is encrypted; export an unlocked copy") from exc
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(f"{path.name}: not a readable PDF ({exc.__class__.__name__})") from exc
    text = "\n\n".join(p.strip() for p in pages)
    if not text.strip():
        raise LoadError(f"{path.name}: the PDF holds no extractable text (scanned image?)")
    article = _text_article(path, text, sha, "pdf")
    pdf_title = str(info.get("/Title") or "").strip()
    if pdf_title:
        article.title = pdf_title
    return article


def load_article(
    path: str | os.PathLike[str], max_bytes: int = 50_000_000, html_reader: str = ""
) -> Article:
    """Load one article file; raises LoadError with a clear message on any problem.
    `html_reader` ("trafilatura" or "blocks") overrides HTML_READER (for measuring)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(f"{path.name}: unsupported file type (use {', '.join(SUPPORTED_SUFFIXES)})")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LoadError(
                f"{path.name}: {size / 1e6:.3g} MB is over the {max_bytes / 1e6:.3g} MB limit"
            )
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise LoadError(f"{path}: no such file") from exc
    except PermissionError as exc:
        raise LoadError(f"{path.name}: permission denied") from exc
    except IsADirectoryError as exc:
        raise LoadError(f"{path.name}: is a folder, not a file") from exc
    except OSError as exc:
        raise LoadError(f"{path.name}: cannot be read ({exc.strerror or exc})") from exc
    if not data.strip():
        raise LoadError(f"{path.name}: the file is empty")
    sha = sha256_bytes(data)
    if suffix == ".pdf":
        return _pdf_article(path, data, sha)
    if looks_binary(data) and not data.startswith(tuple(b for b, _ in _UTF16_32_BOMS)):
        raise LoadError(f"{path.name}: looks like a binary file, not text")
    if suffix in (".html", ".htm"):
        return _html_article(path, data, sha, html_reader)
    return _text_article(path, decode_text(data, path.name), sha, suffix.lstrip("."))


def iter_article_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Supported files under the given files/folders, sorted, hidden files skipped."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield child
        else:
            yield path

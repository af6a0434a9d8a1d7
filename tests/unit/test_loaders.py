"""Loading article files: every supported kind, exact offsets, and a clear LoadError otherwise."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from pypdf import PdfWriter
from pypdf.generic import ByteStringObject, DictionaryObject, NameObject, NumberObject
from unit_helpers import SEED_FILES

from index.chunking.chunks import chunk_article
from index.reading.loaders import (
    LoadError,
    iter_article_files,
    load_article,
    looks_binary,
)
from qa.core.errors import UserError

PROSE = (
    "North Korean leader Kim Jong-un and Russian President Vladimir Putin met in Vladivostok "
    "on Thursday for their first summit, and the two leaders talked for about three hours.\n\n"
    "Officials from both sides said that the talks would continue at a later date, but no "
    "date was set for the next meeting of the two delegations.\n"
)


# --- good files --------------------------------------------------------------------------------
@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name[:3])
def test_seed_text_is_the_file_and_body_spans_are_slices(path: Path) -> None:
    article = load_article(path)
    file_text = path.read_text(encoding="utf-8")
    assert article.text == file_text
    assert article.kind == "txt"
    assert article.source == path.name
    assert len(article.file_sha256) == 64
    assert article.body, "every seed has an article body"
    previous_end = 0
    for span in article.body:
        assert previous_end <= span.start < span.end <= len(file_text)
        piece = file_text[span.start : span.end]
        assert piece == piece.strip()
        previous_end = span.end


def test_markdown_file_is_loaded_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    text = "# Summit in Vladivostok\n\n*By Staff Writer*\n\n" + PROSE
    path.write_text(text, encoding="utf-8")
    article = load_article(path)
    assert article.kind == "md"
    assert article.text == text
    assert "Vladivostok on Thursday" in article.body_text()
    for chunk in chunk_article(article):
        assert text[chunk.start : chunk.end] == chunk.text


def test_html_drops_script_nav_and_reads_meta_tags(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        """<!doctype html><html><head><title>Ignored | Site</title>
<meta property="og:site_name" content="Example Times">
<meta property="article:published_time" content="2021-03-04T05:06:07Z">
<meta property="og:title" content="Summit ends without a deal">
<script>var secret = "SCRIPT_TEXT";</script><style>.x{color:red}</style></head>
<body><nav><a href="/">Home</a> <a href="/w">World</a> NAV_TEXT</nav>
<article><h1>Summit ends without a deal</h1>
<p>The two leaders met in Hanoi on Thursday &amp; talked for about three hours before the
meeting ended early.</p>
<p>Officials from both sides said that the talks would continue at a later date, but no date
was set for them.</p>
<script>alert("INLINE_SCRIPT")</script>
<p>Tom &lt;Jones&gt; said &quot;caf&eacute;&quot; was closed during the summit in the city of
Hanoi that week.</p></article>
<footer>Copyright 2021 Example Times. FOOTER_TEXT</footer></body></html>""",
        encoding="utf-8",
    )
    article = load_article(path)
    assert article.kind == "html"
    for hidden in ("SCRIPT_TEXT", "INLINE_SCRIPT", "NAV_TEXT", "FOOTER_TEXT", "<p>", "color:red"):
        assert hidden not in article.text
    assert "Thursday & talked" in article.text  # entities decoded
    assert 'Tom <Jones> said "café"' in article.text
    assert article.title == "Summit ends without a deal"
    assert article.outlet == "Example Times"
    assert article.published == "2021-03-04T05:06:07+00:00"
    # Offsets point into the extracted text.
    for chunk in chunk_article(article):
        assert article.text[chunk.start : chunk.end] == chunk.text


def test_html_json_ld_metadata_is_used_when_meta_tags_are_missing(tmp_path: Path) -> None:
    path = tmp_path / "ld.htm"
    path.write_text(
        '<html><head><script type="application/ld+json">'
        '{"headline": "Leaders meet in Vladivostok", "datePublished": "2019-04-25",'
        ' "publisher": {"name": "Daily Example"}}</script></head><body><p>'
        + PROSE.replace("\n", " ")
        + "</p></body></html>",
        encoding="utf-8",
    )
    article = load_article(path)
    assert article.title == "Leaders meet in Vladivostok"
    assert article.outlet == "Daily Example"
    assert article.published == "2019-04-25"


def test_latin1_text_is_decoded(tmp_path: Path) -> None:
    text = (
        "Le président a visité São Paulo et Besançon. Les délégués ont discuté du café, de "
        "l'économie et de la sécurité régionale pendant trois heures à l'hôtel.\n"
    )
    path = tmp_path / "latin.txt"
    path.write_bytes(text.encode("latin-1"))
    article = load_article(path)
    assert article.text == text
    assert "São Paulo" in article.body_text()


def test_iter_article_files_skips_hidden_and_unsupported(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("x")
    (tmp_path / "a.md").write_text("x")
    (tmp_path / "c.docx").write_text("x")
    (tmp_path / ".hidden.txt").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "inside.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.HTML").write_text("x")
    names = [p.relative_to(tmp_path).as_posix() for p in iter_article_files([tmp_path])]
    assert names == ["a.md", "b.txt", "sub/d.HTML"]


# --- bad files ---------------------------------------------------------------------------------
def _load_error(path: Path, **kwargs) -> str:
    with pytest.raises(LoadError) as info:
        load_article(path, **kwargs)
    assert isinstance(info.value, UserError)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    message = _load_error(path)
    assert "empty.txt" in message and "empty" in message.removeprefix("empty.txt")


def test_whitespace_only_file_counts_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text("  \n\n\t \n")
    assert "empty" in _load_error(path)


def test_binary_file_with_txt_suffix(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    message = _load_error(path)
    assert "image.txt" in message and "binary" in message


def test_looks_binary() -> None:
    assert looks_binary(b"abc\x00def")
    assert looks_binary(bytes(range(1, 9)) * 100)
    assert not looks_binary(PROSE.encode())
    assert not looks_binary("Grüße aus Köln\r\n\tzweite Zeile\x0c".encode())


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "report.docx"
    path.write_text(PROSE)
    message = _load_error(path)
    assert "report.docx" in message and "unsupported" in message and ".txt" in message


def test_missing_file(tmp_path: Path) -> None:
    message = _load_error(tmp_path / "gone.txt")
    assert "gone.txt" in message and "no such file" in message


def test_folder_named_like_an_article(tmp_path: Path) -> None:
    path = tmp_path / "folder.txt"
    path.mkdir()
    assert "folder" in _load_error(path).removeprefix("folder.txt")


def test_file_over_max_bytes(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text(PROSE * 200)
    message = _load_error(path, max_bytes=10_000)
    assert "big.txt" in message and "MB" in message and "limit" in message
    # The same file loads with the default limit.
    assert load_article(path).body


def test_size_limit_message_states_a_limit_smaller_than_the_size(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * 700_000)
    message = _load_error(path, max_bytes=600_000)
    size, limit = (float(x) for x in re.findall(r"(\d+(?:\.\d+)?) MB", message)[:2])
    assert size > limit, message


def test_undecodable_html_without_text(tmp_path: Path) -> None:
    path = tmp_path / "menu.html"
    path.write_text("<html><body><nav>Home World Sport</nav><script>x = 1</script></body></html>")
    message = _load_error(path)
    assert "menu.html" in message and "no article text" in message


# --- PDFs --------------------------------------------------------------------------------------
def _blank_pdf(path: Path, **encrypt) -> Path:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    if encrypt:
        writer.encrypt(**encrypt)
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def test_pdf_without_text(tmp_path: Path) -> None:
    message = _load_error(_blank_pdf(tmp_path / "scan.pdf"))
    assert "scan.pdf" in message and "no extractable text" in message


def test_password_protected_pdf(tmp_path: Path) -> None:
    path = _blank_pdf(
        tmp_path / "locked.pdf", user_password="secret", owner_password="owner", algorithm="RC4-128"
    )
    message = _load_error(path)
    assert "locked.pdf" in message and "encrypted" in message


def test_garbage_bytes_named_pdf(tmp_path: Path) -> None:
    path = tmp_path / "fake.pdf"
    path.write_bytes(b"this is not a pdf at all \x00\x01\x02" * 10)
    message = _load_error(path)
    assert "fake.pdf" in message and "not a readable PDF" in message


def test_truncated_pdf(tmp_path: Path) -> None:
    whole = _blank_pdf(tmp_path / "whole.pdf").read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(whole[: len(whole) // 3])
    assert "cut.pdf" in _load_error(path)


def _aes256_pdf(path: Path) -> Path:
    """An AES-256 (R6) encrypted PDF, written by hand so no crypto library is needed."""
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    encrypt = DictionaryObject(
        {
            NameObject("/Filter"): NameObject("/Standard"),
            NameObject("/V"): NumberObject(5),
            NameObject("/R"): NumberObject(6),
            NameObject("/Length"): NumberObject(256),
            NameObject("/P"): NumberObject(-4),
            NameObject("/O"): ByteStringObject(b"\x01" * 48),
            NameObject("/U"): ByteStringObject(b"\x02" * 48),
            NameObject("/OE"): ByteStringObject(b"\x03" * 32),
            NameObject("/UE"): ByteStringObject(b"\x04" * 32),
            NameObject("/Perms"): ByteStringObject(b"\x05" * 16),
        }
    )
    writer._encrypt_entry = writer._add_object(encrypt)
    buffer = io.BytesIO()
    writer.write(buffer)
    assert b"/Encrypt" in buffer.getvalue()
    path.write_bytes(buffer.getvalue())
    return path


def test_aes_encrypted_pdf_is_a_load_error(tmp_path: Path) -> None:
    message = _load_error(_aes256_pdf(tmp_path / "aes.pdf"))
    assert "aes.pdf" in message


def test_utf8_bom_offsets_match_the_file_as_python_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(PROSE.encode("utf-8-sig"))
    article = load_article(path)
    on_disk = path.read_text(encoding="utf-8")
    for chunk in chunk_article(article):
        assert on_disk[chunk.start : chunk.end] == chunk.text


def test_utf16_text_with_bom_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "windows.txt"
    path.write_bytes(PROSE.encode("utf-16"))
    assert "Vladivostok" in load_article(path).body_text()

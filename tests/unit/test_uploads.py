"""Uploads lose nothing: a second file with a used name is kept beside the first, and
replacing an article is an explicit choice."""

from __future__ import annotations

from pathlib import Path

from ui.app import upload_report
from ui.service import ChatService


def _upload(folder: Path, name: str, text: str) -> Path:
    """A file as the browser hands it over: in a temporary folder of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


FIRST = (
    "Title: Port report\n\nThe port handled 32 million tonnes of cargo last year, the board said."
)
SECOND = "Title: Rail report\n\nThe railway carried 8 million passengers in March, it said."


def test_two_uploads_with_the_same_name_are_both_kept(make_settings, tmp_path: Path) -> None:
    service = ChatService(make_settings())
    first = service.add_files([_upload(tmp_path / "a", "report.txt", FIRST)], "mynews")
    second = service.add_files([_upload(tmp_path / "b", "report.txt", SECOND)], "mynews")
    assert first.added == ["report.txt"] and len(second.added) == 1 and not second.updated
    kept = second.added[0]
    assert kept.startswith("report-") and kept.endswith(".txt")
    assert "kept beside it as" in upload_report(second) and kept in upload_report(second)
    folder = service.upload_dir("mynews")
    assert (folder / "report.txt").read_text(encoding="utf-8") == FIRST
    assert (folder / kept).read_text(encoding="utf-8") == SECOND
    assert sorted(r.source for r in service.documents("mynews")) == sorted(["report.txt", kept])

    # The same upload again changes nothing and adds no third copy.
    again = service.add_files([_upload(tmp_path / "c", "report.txt", SECOND)], "mynews")
    assert again.unchanged == [kept] and not again.notes
    assert len(list(folder.iterdir())) == 2


def test_replacing_an_article_is_an_explicit_choice(make_settings, tmp_path: Path) -> None:
    service = ChatService(make_settings())
    service.add_files([_upload(tmp_path / "a", "report.txt", FIRST)], "mynews")
    replaced = service.add_files(
        [_upload(tmp_path / "b", "report.txt", SECOND)], "mynews", replace=True
    )
    assert replaced.updated == ["report.txt"] and not replaced.notes
    assert [r.source for r in service.documents("mynews")] == ["report.txt"]
    assert (service.upload_dir("mynews") / "report.txt").read_text(encoding="utf-8") == SECOND

"""The web-page reading measurement (`python -m evals.extraction`) on a few pages."""

from __future__ import annotations

import pytest

from evals import extraction


def test_every_labelled_seed_line_is_found_and_the_readers_are_scored() -> None:
    seeds = extraction.seed_pages()
    assert len(seeds) == 5 and all(p.body for p in seeds)
    row = extraction.score(seeds, "trafilatura")
    assert row["f1"] >= 0.95  # the seeds keep reading as well as the text reader reads them
    again = extraction.score(seeds, "trafilatura")
    assert {k: v for k, v in row.items() if k != "ms_per_page"} == {
        k: v for k, v in again.items() if k != "ms_per_page"
    }  # deterministic, but for the time taken


@pytest.mark.skipif(not extraction.PACK.is_dir(), reason="needs the shared MultiHop pack")
def test_the_made_pages_carry_their_labels_and_the_kept_reader_wins() -> None:
    pages = extraction.pack_pages()[:30]  # ten of each layout
    assert all(p.title and p.body and p.day for p in pages)
    assert "Advertisement" in pages[2].html and "Comments (2)" in pages[2].html
    kept = extraction.score(pages, extraction.READERS[0])
    other = extraction.score(pages, extraction.READERS[1])
    assert kept["f1"] > other["f1"]
    assert extraction.words("A b, a.") == {"a": 2, "b": 1}

"""Syndicated copies: grouped at index time, one member per group in retrieval, and the
citation names the other outlets that carried the same text."""

from __future__ import annotations

from pathlib import Path

from index.near_duplicates import (
    SYNDICATION_THRESHOLD,
    SyndicationGroups,
    decode,
    encode,
    signature,
    similarity,
)
from qa.assistant import Assistant

STORY = [
    "The harbour town of Kelderwick opened its first solar-powered ferry line on Tuesday, the "
    "harbour authority said, after two years of trials on the bay.",
    "The ferry, named Tern, carries 48 passengers across Kelderwick Bay in 11 minutes, and "
    "tickets cost two euros, according to the operator, which plans a second boat.",
    "Officials said the line would cut the town's ferry emissions by about 900 tonnes a year "
    "and that the batteries are charged from panels on the harbour roof.",
    "Residents have asked for a later evening crossing, which the operator said it would "
    "consider once the summer timetable is published in the spring.",
]
OTHER = [
    "Engineers in Kelderwick closed the old swing bridge on Monday for repairs that will last "
    "until the end of the year, the council said in a statement on its website.",
    "Drivers are asked to use the ring road, which adds about ten minutes to a trip into the "
    "old town, and buses will follow a new route past the station.",
    "The bridge, built in 1931, was last repaired in the 1990s, and inspectors found rust in "
    "two of its main girders during a check in the summer.",
]


def _article(outlet: str, title: str, paragraphs: list[str], dateline: str = "") -> str:
    body = "\n\n".join([dateline + paragraphs[0], *paragraphs[1:]])
    return f"Title: {title}\nSource: {outlet}\nPublished: 2023-10-03\n\n{body}\n"


def test_signatures_round_trip_and_copies_score_above_the_threshold() -> None:
    sig = signature("\n\n".join(STORY))
    assert decode(encode(sig)).tolist() == sig.tolist()
    assert decode("not base64!") is None and decode(encode(sig[:10])) is None
    copy = signature("KELDERWICK (Wire) - " + "\n\n".join(STORY) + "\n\nEditing by the desk.")
    assert similarity(sig, copy) >= SYNDICATION_THRESHOLD
    assert similarity(sig, signature("\n\n".join(OTHER))) < 0.1


def test_groups_follow_the_first_member_and_forget_removed_articles() -> None:
    groups = SyndicationGroups()
    story = signature("\n\n".join(STORY))
    assert groups.assign("a.txt", story) == "a.txt"
    assert groups.assign("b.txt", story) == "a.txt"
    assert groups.assign("c.txt", signature("\n\n".join(OTHER))) == "c.txt"
    again = SyndicationGroups.of([("a.txt", encode(story), "a.txt"), ("x.txt", "", "")])
    assert again.assign("d.txt", story) == "a.txt"
    again.forget("a.txt")  # removed: its copies keep the group's name, and new ones join it
    assert again.assign("e.txt", story) == "a.txt" and "a.txt" not in again._signatures


def test_copies_are_one_group_one_hit_and_the_citation_names_the_others(
    make_settings, tmp_path: Path
) -> None:
    folder = tmp_path / "wire"
    folder.mkdir()
    (folder / "harbour_post.txt").write_text(
        _article("Harbour Post", "Kelderwick opens a solar ferry line", STORY)
    )
    (folder / "coast_courier.txt").write_text(
        _article("Coast Courier", "Solar ferry for Kelderwick", STORY, "KELDERWICK (Wire) - ")
    )
    (folder / "bridge.txt").write_text(_article("Harbour Post", "Bridge closes", OTHER))
    assistant = Assistant(make_settings(min_relevance=-1.0, top_k=8))
    assistant.index([folder])
    records = {Path(r.path).name: r for r in assistant.store.file_records().values()}
    assert records["coast_courier.txt"].group == records["harbour_post.txt"].group
    assert records["bridge.txt"].group == records["bridge.txt"].path

    hits = assistant.retriever.search.retrieve("How many passengers does the Tern carry?", 8)
    copies = {h.chunk.source for h in hits} & {"harbour_post.txt", "coast_courier.txt"}
    assert len(copies) == 1  # one member of the group, however many of its chunks

    answer = assistant.ask("How many passengers does the Tern ferry carry?")
    cited = next(c for c in answer.citations if c.source in copies)
    other = ({"harbour_post.txt", "coast_courier.txt"} - copies).pop()
    assert cited.also_in == (records[other].outlet,)
    assert answer.to_json()["citations"][0]["also_in"] == [records[other].outlet]

"""Syndicated copies: grouped at index time, one member per group in retrieval, and the
citation names the other outlets that carried the same text."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from index.syndication.near_duplicates import (
    SYNDICATION_THRESHOLD,
    SyndicationGroups,
    decode,
    decode_facts,
    encode,
    encode_facts,
    facts_agree,
    key_facts,
    signature,
    similarity,
)
from index.types import ArticleInfo, Chunk
from qa.assistant import Assistant
from qa.core.types import Citation
from qa.retrieve.hybrid import Hit, one_per_group

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


# A template story: outlets fill in the figure, so two reports differ in it alone.
TEMPLATE = [
    "The national statistics office of Veldoria said on Monday that 32 million people now "
    "use the rail network every month, up from last year, as new lines opened in the north.",
    "Transport minister Ilse Marken said the government would add 14 stations by 2026 and "
    "that fares would stay frozen until the end of next year, whatever the price of power.",
    "Operators have struggled to hire drivers, and unions warned that delays could grow in "
    "the winter months unless more staff are trained at the new college in Brava.",
]


def _article(
    outlet: str,
    title: str,
    paragraphs: list[str],
    dateline: str = "",
    published: str = "2023-10-03",
) -> str:
    body = "\n\n".join([dateline + paragraphs[0], *paragraphs[1:]])
    return f"Title: {title}\nSource: {outlet}\nPublished: {published}\n\n{body}\n"


def _text(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs)


def test_signatures_round_trip_and_copies_score_above_the_threshold() -> None:
    sig = signature("\n\n".join(STORY))
    assert decode(encode(sig)).tolist() == sig.tolist()
    assert decode("not base64!") is None and decode(encode(sig[:10])) is None
    copy = signature("KELDERWICK (Wire) - " + "\n\n".join(STORY) + "\n\nEditing by the desk.")
    assert similarity(sig, copy) >= SYNDICATION_THRESHOLD
    assert similarity(sig, signature("\n\n".join(OTHER))) < 0.1


def test_groups_follow_the_first_member_and_forget_removed_articles() -> None:
    groups = SyndicationGroups()
    story, facts = signature(_text(STORY)), key_facts(_text(STORY))
    assert groups.assign("a.txt", story, facts) == "a.txt"
    assert groups.assign("b.txt", story, facts) == "a.txt"
    assert groups.assign("c.txt", signature(_text(OTHER)), key_facts(_text(OTHER))) == "c.txt"
    stored = encode_facts(facts)
    again = SyndicationGroups.of(
        [("a.txt", encode(story), "a.txt", stored), ("x.txt", "", "", ""),
         ("b.txt", encode(story), "a.txt", stored)]
    )  # fmt: skip
    assert again.assign("d.txt", story, facts) == "a.txt"
    again.forget("a.txt")  # removed: its copies keep the group's name, and new ones join it
    assert again.assign("e.txt", story, facts) == "a.txt" and "a.txt" not in again._signatures


def test_key_facts_read_one_figure_however_it_is_written_and_round_trip() -> None:
    def said(figure: str) -> np.ndarray:
        return key_facts(f"The office said that {figure} people use the network every month.")

    assert facts_agree(said("32 million"), said("32,000,000"))
    assert facts_agree(said("32 million"), said("32m"))
    assert facts_agree(said("1.5 billion"), said("1,500,000,000"))
    assert not facts_agree(said("32 million"), said("33 million"))
    assert not facts_agree(said("32.5 million"), said("32.6 million"))
    facts = key_facts(_text(STORY))
    assert decode_facts(encode_facts(facts)).tolist() == facts.tolist()
    empty = key_facts("no capitals, no figures here")
    assert empty.shape == (0, 2) and decode_facts(encode_facts(empty)).shape == (0, 2)
    assert decode_facts("") is None and decode_facts("kf1:not base64!") is None


def test_reports_that_differ_in_one_figure_are_not_one_story() -> None:
    """The tester's case: a template story with "32 million" and one with "33 million"
    are near-identical texts (MinHash alone grouped them), and neither may hide the other."""
    updated = [TEMPLATE[0].replace("32 million", "33 million"), *TEMPLATE[1:]]
    assert similarity(signature(_text(TEMPLATE)), signature(_text(updated))) > 0.8
    groups = SyndicationGroups()
    for path, paragraphs in (("old.txt", TEMPLATE), ("new.txt", updated)):
        groups.assign(path, signature(_text(paragraphs)), key_facts(_text(paragraphs)))
    assert groups.group_of == {"old.txt": "old.txt", "new.txt": "new.txt"}
    # A changed date or name is a different story too.
    for old, new in (("2026", "2027"), ("Monday", "Tuesday"), ("Ilse Marken", "Ilse Brandt")):
        changed = _text(TEMPLATE).replace(old, new)
        assert not facts_agree(key_facts(_text(TEMPLATE)), key_facts(changed)), old


def test_a_figure_changed_in_a_copy_that_also_carries_the_figure_elsewhere_stays_apart() -> None:
    """The corrected copy still states "32 million" in another sentence, so its numbers hold
    all of the story's: comparing sets of numbers would group them, comparing places does
    not."""
    story = TEMPLATE[0] + " Last year 32 million people used it."
    updated = story.replace("32 million people now", "33 million people now")
    assert not facts_agree(key_facts(story), key_facts(updated))


def test_a_syndicated_rewrite_with_the_same_facts_is_still_one_story() -> None:
    """A dateline, a credit line, a dropped paragraph and a reworded verb are no change."""
    copy = [
        "KELDERWICK (Wire) - " + STORY[0].replace("authority said", "authority stated"),
        STORY[1],
        STORY[2],
        "Reporting by Coast Courier staff; editing by Mara Olsen.",
    ]
    original, rewritten = _text(STORY), _text(copy)
    assert facts_agree(key_facts(original), key_facts(rewritten))
    groups = SyndicationGroups()
    groups.assign("a.txt", signature(original), key_facts(original))
    assert groups.assign("b.txt", signature(rewritten), key_facts(rewritten)) == "a.txt"


def test_a_copy_joins_only_a_group_it_agrees_with_every_member_of() -> None:
    """b copies a without its first paragraph; c differs from a in that paragraph's figure,
    where b is silent: c agrees with b but must not join a's group."""
    groups = SyndicationGroups(threshold=0.3)
    a, b = TEMPLATE, TEMPLATE[1:] + [STORY[3]]
    c = [TEMPLATE[0].replace("32 million", "33 million"), *TEMPLATE[1:], STORY[3]]
    for path, paragraphs in (("a.txt", a), ("b.txt", b), ("c.txt", c)):
        groups.assign(path, signature(_text(paragraphs)), key_facts(_text(paragraphs)))
    assert facts_agree(key_facts(_text(b)), key_facts(_text(c)))
    assert groups.group_of == {"a.txt": "a.txt", "b.txt": "a.txt", "c.txt": "c.txt"}


def test_records_written_before_facts_were_kept_are_read_and_never_joined() -> None:
    """An old record has no facts (""), or unreadable ones: unknown, so a new copy does not
    join its group (it could differ in a figure); its own old group stays as it was."""
    story, facts = signature(_text(STORY)), key_facts(_text(STORY))
    groups = SyndicationGroups.of(
        [("old.txt", encode(story), "old.txt", ""), ("older.txt", encode(story), "old.txt", ""),
         ("odd.txt", encode(story), "odd.txt", "kf1:???")]
    )  # fmt: skip
    assert groups.assign("new.txt", story, facts) == "new.txt"
    assert groups.group_of["older.txt"] == "old.txt"
    assert groups.assign("newer.txt", story, facts) == "new.txt"  # new copies group anew


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


def _hit(path: Path, group: str, published: str = "", score: float = 1.0) -> Hit:
    article = ArticleInfo(path.name, str(path), published=published, group=group)
    chunk = Chunk(id=f"{path.name}:0", article=article, text="t", start=0, end=1)
    return Hit(chunk, score)


def test_the_newest_copy_among_the_hits_stands_for_its_group(tmp_path: Path) -> None:
    """By published time, else by the file's modification time; it takes the group's best
    place, and other articles keep theirs."""
    old, new, other = (tmp_path / n for n in ("old.txt", "new.txt", "other.txt"))
    for i, path in enumerate((old, new, other)):
        path.write_text("x")
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
    group = str(old)
    hits = [_hit(old, group, "2023-10-03", 0.9), _hit(other, "", "", 0.8),
            _hit(new, group, "2023-10-04T08:00:00+02:00", 0.7)]  # fmt: skip
    assert [h.chunk.source for h in one_per_group(hits)] == ["new.txt", "other.txt"]
    undated = [_hit(old, group, score=0.9), _hit(new, group, score=0.7)]
    assert [h.chunk.source for h in one_per_group(undated)] == ["new.txt"]
    os.utime(old, (1_800_000_000, 1_800_000_000))  # modified last: now it is the newest
    assert [h.chunk.source for h in one_per_group(undated)] == ["old.txt"]
    same_day = [_hit(new, group, "2023-10-03", 0.9), _hit(old, group, "2023-10-03", 0.7)]
    assert [h.chunk.source for h in one_per_group(same_day)] == ["old.txt"]


def test_an_index_keeps_a_corrected_report_apart_and_retrieves_the_newest_copy(
    make_settings, tmp_path: Path
) -> None:
    folder = tmp_path / "wire"
    folder.mkdir()
    reworded = [TEMPLATE[0].replace("now use", "now ride"), *TEMPLATE[1:]]
    corrected = [TEMPLATE[0].replace("32 million", "33 million"), *TEMPLATE[1:]]
    (folder / "a_wire.txt").write_text(_article("Rail Post", "Rail use rises", TEMPLATE))
    (folder / "b_wire.txt").write_text(
        _article("Metro Courier", "More riders", reworded, "BRAVA (Wire) - ", "2023-10-05")
    )
    (folder / "c_update.txt").write_text(
        _article("Rail Daily", "Rail use rises", corrected, published="2023-10-04")
    )
    assistant = Assistant(make_settings(min_relevance=-1.0, top_k=8))
    assistant.index([folder])
    records = {Path(r.path).name: r for r in assistant.store.file_records().values()}
    assert all(decode_facts(r.facts) is not None for r in records.values())
    assert records["a_wire.txt"].group == records["b_wire.txt"].group == records["a_wire.txt"].path
    assert records["c_update.txt"].group == records["c_update.txt"].path  # not hidden

    hits = assistant.retriever.search.retrieve("How many people use the rail network?", 8)
    sources = {h.chunk.source for h in hits}
    assert "b_wire.txt" in sources and "a_wire.txt" not in sources  # the newest copy
    assert "c_update.txt" in sources

    # Cited, the newest copy names the first one (whose path names the group), and no other.
    b = records["b_wire.txt"]
    cited = Citation(b.article, "", 0, 0)
    [named] = assistant.pipeline.also_carried([cited])
    assert named.also_in == ("Rail Post",)


def test_an_index_written_before_facts_were_kept_still_indexes_new_copies(
    make_settings, tmp_path: Path
) -> None:
    """A record without the facts field (as the code before wrote it) is read; a new copy
    of it starts its own group instead of joining one whose facts are unknown."""
    folder = tmp_path / "wire"
    folder.mkdir()
    (folder / "harbour_post.txt").write_text(
        _article("Harbour Post", "Kelderwick opens a solar ferry line", STORY)
    )
    assistant = Assistant(make_settings(min_relevance=-1.0, top_k=8))
    assistant.index([folder])
    [old] = assistant.store.file_records().values()
    legacy = {k: v for k, v in old.flat().items() if k != "facts"}
    files = assistant.store.files  # type: ignore[attr-defined]
    ids = files.get()["ids"]
    files.delete(ids=ids)  # an upsert would merge the old metadata with the new
    files.add(ids=ids, embeddings=[[0.0]], metadatas=[legacy], documents=[old.title])
    assert assistant.store.file_records()[old.path].facts == ""

    (folder / "coast_courier.txt").write_text(
        _article("Coast Courier", "Solar ferry", STORY, "KELDERWICK (Wire) - ")
    )
    report = assistant.index([folder])
    assert report.added == ["coast_courier.txt"] and report.unchanged == ["harbour_post.txt"]
    records = {Path(r.path).name: r for r in assistant.store.file_records().values()}
    assert records["coast_courier.txt"].group == records["coast_courier.txt"].path
    assert records["harbour_post.txt"].facts == ""  # unchanged files are not read again

"""`qa index` killed with SIGKILL at random moments, several times, then re-run: the store
must open every time, and at the end hold exactly the chunks of a clean build, once each.
The on-disk BM25 index must come back in step with the store after every kill (by reading
the store back, as a serving process does at start-up) and be exactly in step after the re-run.
Two `qa index` processes on one collection at once must not corrupt it either.

Real processes and the real on-disk Chroma; the hash embedder keeps each run to seconds (the
embedder plays no part in what a crash can break)."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.workloads import build_corpus

pytestmark = pytest.mark.integration

KILLS = 6
ARTIFACTS = Path(os.environ.get("QA_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"))
QA = str(Path(sys.executable).parent / "qa")

# Runs in a fresh process so no client cache of the test process can hide a broken store.
INSPECT = """
import json, sys
from index.storing.store import ChunkStore, open_client
from qa.core.settings import Settings
s = Settings()
store = ChunkStore(open_client(s.store.home, None), s.store.collection, "hash-256", 256)
ids = [c.id for c in store.iter_chunks()]
files = {p: r.chunks for p, r in store.file_records().items()}
# BM25 as a serving process finds it, then after catching up with the store.
from index.storing.lexical import LexicalIndex
from index.storing.lexical_sync import in_step, sync
from index.storing.lexical_writer import LexicalWriter
index = LexicalIndex(s.lexical_folder())
was_in_step = in_step(store, index)
caught_up = sync(store, LexicalWriter(s.lexical_folder())).changed
lexical_ids = [
    i.decode() for seg in index.current().segments for i, live in zip(seg.ids, seg.live_mask())
    if live
]
print(json.dumps({"count": store.count(), "ids": ids, "files": files,
                  "lexical_ids": lexical_ids, "lexical_files": sorted(LexicalWriter(
                      s.lexical_folder()).files()), "was_in_step": was_in_step,
                  "caught_up": caught_up}))
"""


def _env(home: Path, collection: str) -> dict[str, str]:
    return {**os.environ, "QA_HOME": str(home), "QA_COLLECTION": collection,
            "QA_EMBEDDER": "hash", "QA_EMBED_BATCH_SIZE": "1",
            # Redraw the progress bar after every file: the kills are aimed by it.
            "TQDM_MININTERVAL": "0", "TQDM_MINITERS": "1"}  # fmt: skip


def _index(corpus: Path, env: dict[str, str], quiet: bool = True) -> subprocess.Popen:
    args = [QA, "index", str(corpus)] + (["-q"] if quiet else [])
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


PROGRESS = re.compile(rb"(\d+)/(\d+) \[")


def _kill_when_progress_reaches(proc: subprocess.Popen, share_of_files: float) -> None:
    """Reads the progress bar as it is drawn and kills once that share of files is passed.

    Aiming by the indexer's own progress, not by a clock, lands the kill mid-run on a slow
    or a fast machine alike."""
    fd = proc.stderr.fileno()
    seen = b""
    while chunk := os.read(fd, 4096):  # returns what is there; b"" once the process ends
        seen = (seen + chunk)[-200:]
        reached = PROGRESS.findall(seen)
        if reached:
            done, total = map(int, reached[-1])
            if done >= share_of_files * total:
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=60)


def _inspect(env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", INSPECT], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, f"the store does not open after a crash:\n{proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("crash") / "articles", 200)


@pytest.fixture(scope="module")
def clean_build(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("clean-home")
    env = _env(home, "articles")
    proc = _index(corpus, env)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    state = _inspect(env)
    assert state["count"] == len(set(state["ids"])) > 0
    return state


def test_sigkill_mid_index_never_corrupts_and_a_rerun_completes(
    corpus: Path, clean_build: dict, tmp_path: Path
) -> None:
    env = _env(tmp_path, "articles")
    rng = random.Random(20261123)
    seen_partial = []
    caught_up = []  # per kill: did BM25 lag the store and need reading back?
    stored_share = 0.0
    for _ in range(KILLS):
        # Aim inside the files that are left: each run skips what is stored already.
        target = stored_share + rng.uniform(0.1, 0.9) * (1 - stored_share)
        _kill_when_progress_reaches(_index(corpus, env, quiet=False), target)
        state = _inspect(env)  # opens cleanly after every kill
        stored_share = len(state["files"]) / len(clean_build["files"])
        assert state["count"] == len(set(state["ids"]))
        assert set(state["ids"]) <= set(clean_build["ids"])
        # BM25 is brought in step with the store by reading it back, never by re-indexing.
        assert sorted(state["lexical_ids"]) == sorted(state["ids"])
        assert state["lexical_files"] == sorted(state["files"])
        seen_partial.append(state["count"])
        caught_up.append(state["caught_up"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "crash.json").write_text(
        json.dumps(
            {
                "clean_chunks": clean_build["count"],
                "after_each_kill": seen_partial,
                "bm25_caught_up_after_each_kill": caught_up,
            }
        ),
        encoding="utf-8",
    )
    # At least one kill must land while chunks were being written, or nothing was proved.
    assert any(0 < n < clean_build["count"] for n in seen_partial), seen_partial
    # And at least one kill must have left BM25 behind the store, or catching up was not tested.
    assert any(caught_up), caught_up

    proc = _index(corpus, env)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    final = _inspect(env)
    assert final["count"] == clean_build["count"]
    assert sorted(final["ids"]) == sorted(clean_build["ids"])
    assert final["files"].keys() == clean_build["files"].keys()
    assert sum(final["files"].values()) == final["count"]
    # The re-run left BM25 exactly in step: loaded as saved, nothing to catch up.
    assert final["was_in_step"] and not final["caught_up"]
    assert sorted(final["lexical_ids"]) == sorted(clean_build["ids"])


def test_two_writers_at_once_leave_one_clean_copy(
    corpus: Path, clean_build: dict, tmp_path: Path
) -> None:
    env = _env(tmp_path, "articles")
    first, second = _index(corpus, env), _index(corpus, env)
    results = [p.communicate(timeout=600) + (p.returncode,) for p in (first, second)]
    for _out, err, code in results:
        # Either it ran (the other waited for the lock) or it refused clearly: never a trace.
        assert code == 0 or "being indexed by another process" in err, err
        assert "Traceback" not in err
    final = _inspect(env)
    if all(code == 0 for *_, code in results):
        assert sorted(final["ids"]) == sorted(clean_build["ids"])
    assert final["count"] == len(set(final["ids"]))
    assert set(final["ids"]) <= set(clean_build["ids"])


OPEN = """
import sys
from pathlib import Path
from index.storing.store import ChunkStore, open_client
store = ChunkStore(open_client(Path(sys.argv[1]), None), "articles", "hash-256", 256)
print(store.count())
"""


def test_processes_opening_a_new_index_at_once_all_open_it(tmp_path: Path) -> None:
    """The first open creates Chroma's database; several at once used to collide ("table
    collections already exists", "database is locked") and tell the user to move a healthy
    index away. Six rounds of four processes: before the fix about one round in three
    failed."""
    for round_ in range(6):
        home = tmp_path / f"home-{round_}"
        procs = [subprocess.Popen([sys.executable, "-c", OPEN, str(home)], text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(4)]  # fmt: skip
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-1500:]
            assert out.strip() == "0"

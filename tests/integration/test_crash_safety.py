"""`qa index` killed with SIGKILL at random moments, several times, then re-run: the store
must open every time, and at the end hold exactly the chunks of a clean build, once each.
Two `qa index` processes on one collection at once must not corrupt it either.

Real processes and the real on-disk Chroma; the hash embedder keeps each run to seconds (the
embedder plays no part in what a crash can break)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
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
from index.store import ChunkStore, open_client
from qa.settings import Settings
s = Settings()
store = ChunkStore(open_client(s.home, None), s.collection, "hash-256", 256)
ids = [c.id for c in store.iter_chunks()]
files = {p: r.chunks for p, r in store.file_records().items()}
print(json.dumps({"count": store.count(), "ids": ids, "files": files}))
"""


def _env(home: Path, collection: str) -> dict[str, str]:
    return {**os.environ, "QA_HOME": str(home), "QA_COLLECTION": collection,
            "QA_EMBEDDER": "hash", "QA_EMBED_BATCH_SIZE": "1"}  # fmt: skip


def _index(corpus: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([QA, "index", str(corpus), "-q"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _inspect(env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", INSPECT], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, f"the store does not open after a crash:\n{proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("crash") / "articles", 200)


def _seconds_until_store_opens(home: Path, proc: subprocess.Popen) -> float:
    """Imports and start-up come before any write; kills are timed after them."""
    started = time.perf_counter()
    while proc.poll() is None and not (home / "chroma" / "chroma.sqlite3").exists():
        time.sleep(0.02)
    return time.perf_counter() - started


@pytest.fixture(scope="module")
def clean_build(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("clean-home")
    env = _env(home, "articles")
    started = time.perf_counter()
    proc = _index(corpus, env)
    startup = _seconds_until_store_opens(home, proc)
    _, err = proc.communicate(timeout=600)
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, err
    state = _inspect(env)
    state["startup_s"], state["work_s"] = startup, max(seconds - startup, 0.5)
    assert state["count"] == len(set(state["ids"])) > 0
    return state


def test_sigkill_mid_index_never_corrupts_and_a_rerun_completes(
    corpus: Path, clean_build: dict, tmp_path: Path
) -> None:
    env = _env(tmp_path, "articles")
    rng = random.Random(20261123)
    seen_partial = []
    for _ in range(KILLS):
        # Aim inside the writing that is left: each run only redoes what is not stored yet.
        left = 1 - (seen_partial[-1] if seen_partial else 0) / clean_build["count"]
        proc = _index(corpus, env)
        pause = clean_build["startup_s"] + rng.uniform(0.05, 0.9) * left * clean_build["work_s"]
        time.sleep(pause)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        state = _inspect(env)  # opens cleanly after every kill
        assert state["count"] == len(set(state["ids"]))
        assert set(state["ids"]) <= set(clean_build["ids"])
        seen_partial.append(state["count"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "crash.json").write_text(
        json.dumps({"clean_chunks": clean_build["count"], "after_each_kill": seen_partial}),
        encoding="utf-8",
    )
    # At least one kill must land while chunks were being written, or nothing was proved.
    assert any(0 < n < clean_build["count"] for n in seen_partial), seen_partial

    proc = _index(corpus, env)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    final = _inspect(env)
    assert final["count"] == clean_build["count"]
    assert sorted(final["ids"]) == sorted(clean_build["ids"])
    assert final["files"].keys() == clean_build["files"].keys()
    assert sum(final["files"].values()) == final["count"]


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

"""A non-editable install carries the default corpus and the gold sets as package data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, qa, qa.core.settings, evals.gate
from pathlib import Path
gold = Path(evals.gate.__file__).with_name("gold")
print(json.dumps({
    "qa": qa.__file__,
    "seeds": sorted(p.name for p in qa.core.settings.SEEDS_DIR.glob("*.txt")),
    "floors": evals.gate.DEFAULT_FLOORS.is_file(),
    "gold": sorted(p.name for p in gold.glob("*.jsonl")),
}))
"""


def test_installed_wheel_finds_seeds_and_gold_sets(tmp_path: Path) -> None:
    pytest.importorskip("setuptools", reason="building a wheel here needs setuptools")
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                    str(ROOT)], check=True, capture_output=True, cwd=tmp_path)  # fmt: skip
    (wheel,) = wheels.glob("*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, cwd=tmp_path)  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = json.loads(run.stdout)
    assert found["qa"].startswith(str(target))  # the installed copy, not this checkout
    assert found["seeds"] == sorted(p.name for p in (ROOT / "seeds").glob("*.txt"))
    assert found["floors"] and found["gold"] == ["near_miss.jsonl", "seeds.jsonl", "timeline.jsonl"]

"""Peak resident memory, as the evaluation and the benchmarks report it."""

from __future__ import annotations

import resource
import sys


def peak_rss_mb(with_children: bool = False) -> float:
    """This process's peak RSS in MiB; with `with_children`, plus the largest peak among its
    ended children (the model process, once closed)."""
    who = [resource.RUSAGE_SELF] + ([resource.RUSAGE_CHILDREN] if with_children else [])
    peak = sum(resource.getrusage(w).ru_maxrss for w in who)
    # Linux reports KiB, macOS bytes.
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)

"""One writer per collection: `qa index`, the web page's uploads and a second terminal may
all try to index the same collection at once. An advisory file lock under the data directory
makes the later one wait a little, then refuse with a clear message (never interleave)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from index.errors import UserError


class IndexBusyError(UserError):
    """Another process is indexing this collection."""


@contextmanager
def held(handle: IO[str], wait_s: float, busy: str, poll_s: float = 0.2) -> Iterator[None]:
    """An exclusive advisory lock on an open file, waiting up to `wait_s`; past that, a
    UserError saying `busy`."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise IndexBusyError(busy) from None
            time.sleep(poll_s)
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def opening_store(home: Path, wait_s: float = 60.0) -> Iterator[None]:
    """One process at a time opens the embedded Chroma: the first open creates and migrates
    its database, and two at once collide ("database is locked"). Opening is short."""
    path = home / "locks" / "chroma.opening"  # not *.lock: that names a collection's writer
    path.parent.mkdir(parents=True, exist_ok=True)
    busy = "the index is being opened by another process; try again"
    with path.open("a+") as handle, held(handle, wait_s, busy):
        yield


@contextmanager
def collection_lock(home: Path, collection: str, wait_s: float = 30.0) -> Iterator[None]:
    path = home / "locks" / f"{collection}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    busy = (f"collection {collection!r} is being indexed by another process; "
            "try again when it has finished")  # fmt: skip
    with path.open("a+") as handle, held(handle, wait_s, busy):
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))  # for `qa doctor`: who holds it
        handle.flush()
        yield


def lock_holders(home: Path) -> dict[str, int]:
    """Collections being indexed right now, with the pid of the process indexing each."""
    busy: dict[str, int] = {}
    for path in sorted((home / "locks").glob("*.lock")):
        with path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
                fcntl.flock(handle, fcntl.LOCK_UN)
            except BlockingIOError:
                handle.seek(0)
                text = handle.read().strip()
                busy[path.stem] = int(text) if text.isdigit() else 0
    return busy

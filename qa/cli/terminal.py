"""Showing an answer once in a terminal.

The model's draft is never printed. At once, a line names the passages the model reads (known
long before its first token); then the reply appears sentence by sentence, each only once the
source it cites supports it (qa/verify/streaming.py); when the answer is final, those lines
are erased and the final answer with its citations takes their place. Where the cursor cannot
move back (TERM=dumb, or `qa chat` into a pipe) the verified text stays and the citations
follow it, with the final answer said as a revision when it does not continue what was shown
(qa/core/answer_stream.py `verified_pieces`). `qa ask` into a pipe or a file writes only the
final answer.

While an answer is written, keys typed for the next question are neither echoed into the
answer nor lost: they come back as the start of the next prompt's line.

A cold start (indexing the seeds, joining and starting the model) says what it is doing on
stderr (`Progress`), so stdout holds only the answer.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import sys
import time
from collections.abc import Iterator
from typing import TextIO

from index.words import plural
from qa.core.answer_stream import AnswerStream, SourcesFound, VerifiedText, verified_pieces
from qa.core.types import Answer


def citation_lines(answer: Answer) -> list[str]:
    lines = []
    for n, c in enumerate(answer.citations, 1):
        by = f"by {c.author}" if c.author else ""
        meta = ", ".join(x for x in (c.title, by, c.published[:10]) if x)
        lines.append(f"  [{n}] {c.source} ({meta}) chars {c.start}-{c.end}")
        lines.append(f'      "{c.quote}"')
    return lines


def passages_line(found: SourcesFound, most: int = 3) -> str:
    """ "4 passages: Title A (KBS, 2019-04-25); Title B ...": what the model is reading."""
    names: list[str] = []
    for c in found.citations:
        name = f"{c.title or c.source} ({', '.join(x for x in (c.outlet, c.published[:10]) if x)})"
        if name not in names:
            names.append(name)
    more = f"; {len(names) - most} more" if len(names) > most else ""
    return f"{plural(len(found.citations), 'passage')}: " + "; ".join(names[:most]) + more


def answer_lines(answer: Answer) -> list[str]:
    return [answer.text, *citation_lines(answer)]


def rows_used(text: str, columns: int) -> int:
    """Terminal rows that `text` took, written from column 0 of a row."""
    columns = max(1, columns)
    return sum(max(1, -(-len(line) // columns)) for line in text.split("\n"))


class AnswerPrinter:
    def __init__(self, out: TextIO | None = None, always_stream: bool = False) -> None:
        self.out = out or sys.stdout
        terminal = _isatty(self.out)
        self.streams = terminal or always_stream
        self.redraws = terminal and os.environ.get("TERM", "") not in ("", "dumb")

    def show(self, stream: AnswerStream, prefix: str = "") -> Answer:
        """The passages, then the verified reply after `prefix`, then the final answer once."""
        if self.redraws:
            return self._redrawn(stream, prefix)
        if self.streams:
            self.out.write(prefix)
            for piece in verified_pieces(stream):
                self.out.write(piece)
                self.out.flush()
            answer = stream.answer
            self.out.write("\n" + "".join(f"{line}\n" for line in citation_lines(answer)))
        else:
            answer = stream.answer
            self.out.write("\n".join(answer_lines(answer)) + "\n")
        self.out.flush()
        return answer

    def _redrawn(self, stream: AnswerStream, prefix: str) -> Answer:
        shown = prefix
        self.out.write(prefix)
        self.out.flush()
        verified = ""
        for event in stream.events():
            text = ""
            if isinstance(event, SourcesFound) and event.citations:
                text = f"(reading {passages_line(event)})\n"
            elif isinstance(event, VerifiedText) and event.text.startswith(verified):
                text, verified = event.text[len(verified) :], event.text
            if text:
                self.out.write(text)
                self.out.flush()
                shown += text
        answer = stream.answer
        self._erase(shown)
        self.out.write(prefix + "\n".join(answer_lines(answer)) + "\n")
        self.out.flush()
        return answer

    def _erase(self, shown: str) -> None:
        rows = rows_used(shown, shutil.get_terminal_size().columns)
        up = f"\x1b[{rows - 1}A" if rows > 1 else ""
        self.out.write(f"\r{up}\x1b[J")


class Progress:
    """Lines on stderr saying what a slow step is doing, or nothing when not `shown` (-q,
    --json): stdout stays the answer's, for a pipe or a JSON reader."""

    def __init__(self, shown: bool = True) -> None:
        self.shown = shown

    def say(self, line: str) -> None:
        if self.shown:
            print(line, file=sys.stderr, flush=True)  # the stream of now (tests replace it)

    @contextlib.contextmanager
    def step(self, doing: str, done: str) -> Iterator[None]:
        """`doing…` before the block, `done (N s)` after it."""
        self.say(f"{doing}…")
        start = time.monotonic()
        yield
        self.say(f"{done} ({time.monotonic() - start:.1f} s)")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def keys_held(typed: list[str]) -> Iterator[None]:
    """While the block runs, keys typed on the terminal are not echoed; afterwards what was
    typed is appended to `typed` (to pre-fill the next prompt)."""
    if not _isatty(sys.stdin):
        yield
        return
    import termios

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    quiet = termios.tcgetattr(fd)
    quiet[3] &= ~(termios.ECHO | termios.ICANON)
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        pending = b""
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 1024)
            if not chunk:
                break
            pending += chunk
        termios.tcsetattr(fd, termios.TCSANOW, saved)
        text = pending.decode("utf-8", "replace").replace("\r", "\n").split("\n")[0]
        typed.append("".join(ch for ch in text if ch.isprintable()))


def read_question(prompt: str, prefill: str = "") -> str:
    """`input(prompt)`, with `prefill` already typed on the line when readline is there."""
    try:
        import readline
    except ImportError:
        return input(prompt)
    if not prefill:
        return input(prompt)

    def insert() -> None:
        readline.insert_text(prefill)
        readline.redisplay()

    readline.set_pre_input_hook(insert)
    try:
        return input(prompt)
    finally:
        readline.set_pre_input_hook(None)

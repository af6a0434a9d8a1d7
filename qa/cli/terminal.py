"""Showing an answer once in a terminal.

The reply streams as the model writes it; when it is verified, the streamed lines are
erased and the verified answer with its citations takes their place. Where the cursor cannot
move back (TERM=dumb, or `qa chat` into a pipe) the streamed text stays and the citations
follow it, with a line for what verification changed (an abstention, dropped sentences).
`qa ask` into a pipe or a file writes only the verified answer.

While an answer is written, keys typed for the next question are neither echoed into the
answer nor lost: they come back as the start of the next prompt's line.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import sys
from collections.abc import Iterator
from typing import TextIO

from qa.core.answer_stream import AnswerStream
from qa.core.types import Answer


def citation_lines(answer: Answer) -> list[str]:
    lines = []
    for n, c in enumerate(answer.citations, 1):
        by = f"by {c.author}" if c.author else ""
        meta = ", ".join(x for x in (c.title, by, c.published[:10]) if x)
        lines.append(f"  [{n}] {c.source} ({meta}) chars {c.start}-{c.end}")
        lines.append(f'      "{c.quote}"')
    return lines


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
        """Stream the reply after `prefix`, then show the verified answer once."""
        shown = prefix
        if self.streams:
            self.out.write(prefix)
            self.out.flush()
            for piece in stream:
                self.out.write(piece)
                self.out.flush()
                shown += piece
        answer = stream.answer
        if self.redraws:
            self._erase(shown)
            self.out.write(prefix + "\n".join(answer_lines(answer)) + "\n")
        elif self.streams:
            self.out.write("\n" + "".join(f"{line}\n" for line in self._after_stream(answer)))
        else:
            self.out.write("\n".join(answer_lines(answer)) + "\n")
        self.out.flush()
        return answer

    @staticmethod
    def _after_stream(answer: Answer) -> list[str]:
        """What the reader of the streamed text still needs: what verification changed,
        then the citations."""
        if answer.abstained and answer.raw_text:
            return [f"(not supported by the articles) {answer.text}"]
        dropped = [f"(dropped, no source supports it: {s})" for s in answer.unsupported]
        return [*dropped, *citation_lines(answer)]

    def _erase(self, shown: str) -> None:
        rows = rows_used(shown, shutil.get_terminal_size().columns)
        up = f"\x1b[{rows - 1}A" if rows > 1 else ""
        self.out.write(f"\r{up}\x1b[J")


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

"""check's progress on a terminal: one live line at the bottom of standard error.

The line is redrawn in place (carriage return, erase to the end of the line) and is always
shorter than the terminal, so it never wraps and never leaves a piece of itself behind. Before
anything else is printed (a FAIL or ERROR block, on stdout or stderr) the line is erased, and it
is drawn again below what was printed; at the end it is erased for good. It counts cases, the
unit of the summary: blank lines and comments are not counted.
"""

from __future__ import annotations

import os
import shutil
import time

BAR = 20  # cells of the bar, when the number of cases is known
REFRESH = 0.1  # seconds between redraws: the line is for a person, not a benchmark


def count_cases(path: str) -> int | None:
    """The cases in a regular file (lines that are not blank and not a comment), or None for
    standard input or a pipe, where the total is not known in advance."""
    if path == "-" or not os.path.isfile(path):
        return None
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            stripped = line.strip()
            if stripped and not stripped.startswith(b"#") and stripped != b"\xef\xbb\xbf":
                n += 1
    return n


def _fitted(parts: list[str], width: int, bar: int | None) -> str:
    """The parts joined, shorter than `width`: the bar goes first, then the clock, then whole
    counts from the front ('…, 2 failed, 4 errors': what went wrong is kept longest); a word
    is never cut while the head fits."""
    head, counts = parts[0], parts[-2]
    tries = [parts, [p for k, p in enumerate(parts) if k != bar], [head, counts]]
    items = counts.split(", ") if counts else []
    while items:
        items.pop(0)
        tries.append([head, "…, " + ", ".join(items) if items else "…"])
    for t in tries:
        line = "  ".join(p for p in t if p)
        if len(line) < width:
            return line
    return head[:max(1, width - 1)]


class ProgressLine:
    """`checking 7/21 cases ━━━━━━──────  5 passed, 1 failed, 1 error  0:03`."""

    def __init__(self, stream, total: int | None):
        self.stream = stream
        self.total = total
        self.done = 0
        self.counts = ""
        self.started = time.monotonic()
        self.last = 0.0
        self.drawn = False

    def update(self, done: int, counts: str) -> None:
        self.done, self.counts = done, counts
        now = time.monotonic()
        if now - self.last >= REFRESH or (self.total is not None and done >= self.total):
            self.last = now
            self.draw()

    def text(self, width: int) -> str:
        seconds = int(time.monotonic() - self.started)
        clock = f"{seconds // 60}:{seconds % 60:02d}"
        if self.total:
            filled = min(BAR, BAR * self.done // self.total)
            of = f"{self.done}/{self.total} cases"
            bar = "━" * filled + "─" * (BAR - filled)
            parts = [f"checking {of}", bar, self.counts, clock]
        else:
            parts = [f"checking: {self.done} cases", self.counts, clock]
        return _fitted(parts, width, bar=1 if self.total else None)

    def draw(self) -> None:
        width = shutil.get_terminal_size((80, 24)).columns
        try:
            width = os.get_terminal_size(self.stream.fileno()).columns or width
        except (OSError, ValueError, AttributeError):
            pass
        self.stream.write("\r" + self.text(width) + "\x1b[K")
        self.stream.flush()
        self.drawn = True

    def clear(self) -> None:
        """Erase the line, so the next output starts on a clean line at column 0."""
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False

    def __enter__(self) -> ProgressLine:
        self.draw()
        return self

    def __exit__(self, *exc) -> None:
        self.clear()

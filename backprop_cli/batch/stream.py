"""The case file as a stream of bounded lines: a regular file, a pipe or a terminal, read in
pieces so that no line, however long, is held whole."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import PATH_SHOWN, BackpropError, file_error, shown
from ..language.reads import file_kind

LINE_LIMIT = 1 << 20  # bytes: a longer line is that line's error, never held in memory
SKIP_FACTOR = 256  # a stream (not a file) may run this many limits without a newline, then stops
_STREAM_KINDS = (stat.S_ISREG, stat.S_ISFIFO, stat.S_ISSOCK)


@dataclass(frozen=True)
class LongLine:
    """A line over the limit, read past without being kept: its length, and whether its end
    was found (a stream that never yields a newline is given up on)."""

    size: int
    ended: bool = True


class StreamError(BackpropError):
    """The case file is something that cannot be read line by line (a device)."""


def open_cases(path: str) -> BinaryIO:
    """The case file as a binary stream ('-' is standard input); lines are decoded one by one.

    A regular file, a pipe or a terminal only: a device such as /dev/zero would never end."""
    import sys

    if path == "-":
        stream = sys.stdin.buffer
    else:
        try:
            stream = open(path, "rb")  # noqa: SIM115 - the caller closes it after the run
        except OSError as exc:
            raise file_error(path, exc) from None
    try:
        fd = stream.fileno()
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError, AttributeError):  # no descriptor (a test's stand-in stream)
        return stream
    if any(kind(mode) for kind in _STREAM_KINDS) or os.isatty(fd) or _is_null(fd):
        return stream
    name = "standard input" if path == "-" else shown(path, PATH_SHOWN)
    if stream is not sys.stdin.buffer:
        stream.close()
    kind = file_kind(mode, "not a stream of lines")
    raise StreamError(f"{name} is not a regular file, a pipe or a terminal ({kind}): it "
                      f"cannot be read as lines",
                      hint="save the cases to a file, or pipe them in")


def read_head(path: str, most: int) -> bytes:
    """The first `most` + 1 bytes of a file read whole (a program, a worksheet; '-' is
    standard input), opened as a case file is: one byte past `most` tells the caller it is
    too long without reading the rest."""
    import sys

    stream = open_cases(path)
    try:
        return stream.read(most + 1)
    except OSError as exc:
        raise file_error(path, exc) from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _is_null(fd: int) -> bool:
    """/dev/null: a device, but one that ends at once (an empty case file)."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(os.devnull))
    except OSError:
        return False


def bounded_lines(stream: BinaryIO, limit: int = LINE_LIMIT) -> Iterator[bytes | LongLine]:
    """The stream's lines, each at most `limit` bytes; a longer line is read past in pieces and
    given as a LongLine, so memory stays within the limit whatever the input. From a stream
    that is not a regular file, a line that runs SKIP_FACTOR limits without a newline ends the
    reading (an endless stream of one line would otherwise never end)."""
    try:
        regular = stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):
        regular = False
    give_up = None if regular else SKIP_FACTOR * limit
    piece = max(1 << 16, min(limit, 1 << 20))
    readline = stream.readline
    while True:
        line = readline(limit + 1)
        if not line:
            return
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        size = len(line)
        while True:
            more = readline(piece)
            size += len(more)
            if not more or more.endswith(b"\n"):
                yield LongLine(size - (more[-1:] == b"\n"))
                break
            if give_up is not None and size > give_up:
                yield LongLine(size, ended=False)
                return


def count_lines(path: str) -> int | None:
    """Lines in a regular file (for a progress bar), or None for a pipe."""
    if path == "-" or not os.path.isfile(path):
        return None
    n = 0
    last = b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")

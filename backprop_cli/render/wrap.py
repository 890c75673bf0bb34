"""One rule for a line wider than the terminal: it breaks at spaces and its continuation lines
are indented under its text (past its own leading spaces and a few more), never back at column
0, at any width. Plain lines (`hang`) and rich Text (`Hanging`) follow the same rule.

A word is never cut while it fits the room beside the indent; the indent shrinks before a word
does (at most a third of the width), so a number stays whole down to narrow windows.
"""

from __future__ import annotations

import os
import sys

EXTRA = 4  # a continuation line sits this much deeper than its own line's text
MIN_WIDTH = 20  # below this a window is taken as this wide (nothing reads well there anyway)


def terminal_width(stream=None) -> int | None:
    """The width of the terminal `stream` (stdout by default) writes to, or None when it is not
    a terminal (a pipe, a file): then nothing is wrapped. COLUMNS, when set, wins, as in shells."""
    stream = stream or sys.stdout
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(MIN_WIDTH, int(columns))
    try:
        return max(MIN_WIDTH, os.get_terminal_size(stream.fileno()).columns or 80)
    except (OSError, ValueError, AttributeError):
        return 80


def indent_for(line: str, width: int, extra: int = EXTRA) -> int:
    """The continuation indent of `line` at `width`: its leading spaces plus `extra`, but at
    most a third of the width, and small enough that its longest word still fits beside it."""
    lead = len(line) - len(line.lstrip(" ")) + extra
    longest = max((len(w) for w in line.split()), default=0)
    return max(0, min(lead, width // 3, width - longest))


def hang(line: str, width: int | None, extra: int = EXTRA) -> list[str]:
    """`line` broken at spaces to fit `width` (None: as it is), continuations indented."""
    if width is None or len(line) <= width:
        return [line]
    import textwrap

    width = max(MIN_WIDTH, width)
    indent = " " * indent_for(line, width, extra)
    return textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=True,
                         break_on_hyphens=False, drop_whitespace=True) or [line]


def hang_all(lines: list[str], width: int | None, extra: int = EXTRA) -> list[str]:
    return [part for line in lines for part in hang(line, width, extra)]


def is_caret(line: str) -> bool:
    """A `^^^` line under a source line (an error's place)."""
    marks = line.strip(" \t")
    return bool(marks) and set(marks) == {"^"}


def fit_caret(line: str, marks: str, width: int) -> tuple[str, str]:
    """A source line and its `^^^` line cut to one window of `width` around the caret, so the
    caret stays under its column (a wrapped source line would leave it under another)."""
    if len(line) <= width or "\t" in line or "\t" in marks:
        return line, marks
    lead = len(line) - len(line.lstrip(" "))
    body, under = line[lead:], marks[lead:]
    first = under.index("^")
    last = len(under.rstrip())
    room = max(8, width - lead - 6)  # 6: a "..." each side
    lo = max(0, min(first - room // 3, len(body) - room))
    lo = max(0, min(lo, first))
    if last - lo > room:  # a long span: its start is what matters
        last = lo + room
    hi = min(len(body), lo + room)
    pre, post = ("..." if lo else ""), ("..." if hi < len(body) else "")
    shown_marks = under[lo:last]
    return (" " * lead + pre + body[lo:hi] + post,
            " " * lead + " " * len(pre) + shown_marks)


def screen_lines(lines: list[str], width: int | None, extra: int = EXTRA) -> list[str]:
    """Lines for a window `width` wide (None: a pipe, unchanged): a source line with its caret
    below it is cut to a window around the caret; every other line is hung."""
    if width is None:
        return list(lines)
    out: list[str] = []
    k = 0
    while k < len(lines):
        if k + 1 < len(lines) and is_caret(lines[k + 1]):
            out.extend(fit_caret(lines[k], lines[k + 1], width))
            k += 2
            continue
        out.extend(hang(lines[k], width, extra))
        k += 1
    return out


def hang_text(text: str, stream=None, extra: int = EXTRA) -> str:
    """`text` laid out for the terminal `stream` writes to (`screen_lines`); unchanged when it
    writes to a pipe or a file, so piped output stays one line per line."""
    width = terminal_width(stream)
    if width is None:
        return text
    return "\n".join(screen_lines(text.split("\n"), width, extra))


class HangingLines:
    """Lines laid out by `screen_lines` at the console's width; the first word of the first
    line (FAIL, ERROR) in `head_style`."""

    def __init__(self, lines: list[str], head_style: str = ""):
        self.lines = lines
        self.head_style = head_style

    def __rich_console__(self, console, options):
        from rich.text import Text

        for k, line in enumerate(screen_lines(self.lines, max(MIN_WIDTH, options.max_width))):
            text = Text(line, no_wrap=True, overflow="crop")
            if k == 0 and self.head_style:
                text.stylize(self.head_style, 0, len(line.partition(" ")[0]))
            yield text


class Hanging:
    """A rich Text that, wider than the console, wraps at spaces with its continuation lines
    indented as `hang` indents them."""

    def __init__(self, text, extra: int = EXTRA):
        self.text = text
        self.extra = extra

    def __rich_console__(self, console, options):
        from rich.text import Text

        plain = self.text.plain
        width = max(MIN_WIDTH, options.max_width)
        if len(plain) <= width:
            yield self.text
            return
        lead = indent_for(plain, width, self.extra)
        first, rest = _split_first(self.text, console, width)
        yield first
        if rest is None:
            return
        for line in rest.wrap(console, width - lead, overflow="fold"):
            blank = len(line.plain) - len(line.plain.lstrip(" "))
            yield Text(" " * lead) + line[blank:]


def _split_first(text, console, width: int):
    """The first line of `text` at the full width, and the rest (None when it all fits), so
    only continuations lose the indent's room."""
    lines = text.wrap(console, width, overflow="fold")
    first = lines[0]
    if len(lines) == 1:
        return first, None
    used = len(first.plain)
    rest = text[used:]
    rest = rest[len(rest.plain) - len(rest.plain.lstrip(" ")):]
    return first, rest

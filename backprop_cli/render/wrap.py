"""One rule for a line wider than the terminal: it breaks at spaces and its continuation lines
are indented under its text (past its own leading spaces and a few more), never back at column
0, at any width. Plain lines (`hang`) and rich Text (`Hanging`) follow the same rule.

A word is never cut while it fits the room beside the indent, and a bracketed list (`[1.8, 0]`,
a matrix row) is one word: it is cut between its rows, then its entries, only when it is wider
than that room. The indent is at most a third of the width, so a number stays whole down to
narrow windows.
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
    """The continuation indent of `line` at `width`: its leading spaces plus `extra`, at most a
    third of the width (so two thirds are always left for the words)."""
    lead = len(line) - len(line.lstrip(" ")) + extra
    return min(lead, width // 3)


def _words(line: str, start: int, end: int, depth_cut: int) -> list[tuple[int, int]]:
    """(start, end) of the words of line[start:end]: runs split at spaces that lie at most
    `depth_cut` brackets deep, so `[1.8, 0]` (at 0) is one word and a matrix's rows (at 1)
    are words of it."""
    words, depth, k0 = [], 0, None
    for k in range(start, end):
        ch = line[k]
        if ch == " " and depth <= depth_cut:
            if k0 is not None:
                words.append((k0, k))
                k0 = None
            continue
        if k0 is None:
            k0 = k
        if ch == "[":
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
    if k0 is not None:
        words.append((k0, end))
    return words


def _fitting_words(line: str, room: int) -> list[tuple[int, int]]:
    """The line's words, each split further (a bracket's entries, then characters) only where
    it is longer than `room`: a number or a matrix row is cut only when nothing else fits."""
    out: list[tuple[int, int]] = []
    for a, b in _words(line, 0, len(line), 0):
        parts = [(a, b)]
        for depth in (1, 2):
            if all(y - x <= room for x, y in parts):
                break
            parts = [w for x, y in parts
                     for w in (_words(line, x, y, depth) if y - x > room else [(x, y)])]
        for x, y in parts:
            out.extend((k, min(k + room, y)) for k in range(x, y, max(1, room)))
    return out


def break_spans(line: str, width: int, extra: int = EXTRA,
                indent: int | None = None) -> tuple[list[tuple[int, int]], int]:
    """Where `line` breaks to fit `width`: the (start, end) of each screen line's text in
    `line`, and the indent put before every continuation (`indent_for`'s unless given)."""
    width = max(MIN_WIDTH, width)
    if len(line) <= width:
        return [(0, len(line))], 0
    if indent is None:
        indent = indent_for(line, width, extra)
    spans: list[tuple[int, int]] = []
    a = b = None
    for x, y in _fitting_words(line, width - indent):
        if a is None:  # the first line keeps its own leading spaces
            a, b = (x if spans else 0), y
        elif y - a > (width - indent if spans else width):
            spans.append((a, b))
            a, b = x, y
        else:
            b = y
    if a is not None:
        spans.append((a, b))
    return spans or [(0, 0)], indent  # a line of spaces only: one empty line


def hang(line: str, width: int | None, extra: int = EXTRA) -> list[str]:
    """`line` broken at spaces to fit `width` (None: as it is), continuations indented."""
    if width is None or len(line) <= width:
        return [line]
    spans, indent = break_spans(line, width, extra)
    return [(" " * indent if k else "") + line[a:b] for k, (a, b) in enumerate(spans)]


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
    # A caret past the last character (the input ended too early) is one more column to show.
    end = max(len(body), last)
    lo = max(0, min(first - room // 3, end - room))
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
    """A rich Text that, wider than the console, breaks as `hang` breaks it (the same places,
    the same indent), its styles kept."""

    def __init__(self, text, extra: int = EXTRA, lead=None):
        self.text = text
        self.extra = extra
        self.lead = lead  # a Text to put before each continuation instead of spaces

    def __rich_console__(self, console, options):
        from rich.text import Text

        plain = self.text.plain
        if len(plain) <= options.max_width or "\n" in plain:
            yield self.text
            return
        lead = self.lead
        if lead is not None and len(lead.plain) > options.max_width // 2:
            lead = None  # a deep tree in a narrow window: the usual indent
        spans, indent = break_spans(plain, options.max_width, self.extra,
                                    None if lead is None else len(lead.plain))
        for k, (a, b) in enumerate(spans):
            line = self.text[a:b]
            line.no_wrap, line.overflow = True, "crop"
            if k:
                line = (lead.copy() if lead is not None else Text(" " * indent)) + line
            yield line


def shell_lines(line: str, width: int) -> list[str]:
    """A command line wider than `width` as shell continuation lines (` \\` at each end, the
    rest indented 4 more), broken only at spaces outside quotes, so every piece can still be
    copied and run; a word wider than the room stays whole."""
    if len(line) <= width:
        return [line]
    lead = len(line) - len(line.lstrip(" "))
    words: list[str] = []
    quote, word = "", ""
    for ch in line[lead:]:
        if ch == " " and not quote:
            if word:
                words.append(word)
            word = ""
            continue
        if ch in "\"'" and quote in ("", ch):
            quote = "" if quote else ch
        word += ch
    if word:
        words.append(word)
    out, current = [], " " * lead
    for w in words:
        room = width - 2  # the " \"
        if current.strip() and len(current) + 1 + len(w) > room:
            out.append(current + " \\")
            current = " " * (lead + 4) + w
        else:
            current += (" " if current.strip() else "") + w
    out.append(current)
    return out


def help_examples(text: str, width: int) -> str:
    """click's help text with each no-rewrap (\\b) command line wider than `width` made shell
    continuation lines: examples stay copyable in a narrow window. Any other line of such a
    block (a case file's line) is not shell, so a ` \\` would break it: it is hung instead."""
    paragraphs = text.split("\n\n")
    for k, para in enumerate(paragraphs):
        if para.lstrip().startswith("\b"):
            paragraphs[k] = "\n".join(_block_lines(para.split("\n"), width))
    return "\n\n".join(paragraphs)


def _block_lines(lines: list[str], width: int) -> list[str]:
    """A no-rewrap block for `width`. An example the help wrote over several lines is kept as
    written while every line fits; else it is joined and broken again as one command (broken
    twice, it left a lone word on a line and a piece indented under a piece)."""
    out: list[str] = []
    k = 0
    while k < len(lines):
        if not lines[k].lstrip().startswith("backprop "):
            out += hang(lines[k], width)
            k += 1
            continue
        example = [lines[k]]
        while example[-1].endswith(" \\") and k + len(example) < len(lines):
            example.append(lines[k + len(example)])
        k += len(example)
        if all(len(line) <= width for line in example):
            out += example
            continue
        words = [line.strip().removesuffix("\\").rstrip() for line in example]
        lead = example[0][:len(example[0]) - len(example[0].lstrip(" "))]
        out += shell_lines(lead + " ".join(words), width)
    return out


def comment_lines(text: str, stream=None) -> str:
    """Code for a terminal (a written backward pass): a comment wider than the window goes on
    as more comment lines (`#   ...`), so what a person copies from the screen still runs;
    code lines are never broken. Unchanged when piped."""
    width = terminal_width(stream)
    if width is None:
        return text
    out = []
    for line in text.split("\n"):
        body = line.lstrip(" ")
        if len(line) <= width or not body.startswith("#"):
            out.append(line)
            continue
        lead = line[:len(line) - len(body)]
        out += [(lead + "#   " + piece.lstrip(" ") if k else piece)
                for k, piece in enumerate(hang(line, width, extra=0))]
    return "\n".join(out)

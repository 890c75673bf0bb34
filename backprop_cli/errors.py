"""The project's exceptions: each knows where in the user's text it happened and renders itself."""

from __future__ import annotations


class BackpropError(Exception):
    """Bad input or an undefined computation: the CLI prints `render()` and exits 2.

    `source` is the program text and `span` a (start, end) offset pair into it, when the error
    points at a place; `origin` names where the text came from (a file, a batch line) for prefixes.
    """

    kind = "error"

    def __init_subclass__(cls, kind: str = "", **rest):
        super().__init_subclass__(**rest)
        if kind:
            cls.kind = kind

    def __init__(self, message: str, source: str | None = None,
                 span: tuple[int, int] | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.source = source
        self.span = span
        self.hint = hint

    def location(self) -> tuple[int, int] | None:
        """1-based (line, column) of the span's start, or None."""
        if self.source is None or self.span is None:
            return None
        start = min(self.span[0], len(self.source))
        line = self.source.count("\n", 0, start) + 1
        col = start - (self.source.rfind("\n", 0, start) + 1) + 1
        return line, col

    def caret(self) -> tuple[str, str] | None:
        """The offending source line and a `^^^` line under its span (tabs kept: columns match).

        The line is shown as `shown` shows text: a control, bidi or invisible character as
        U+XXXX (so a U+202E cannot turn the rest of the line around), the caret padded to match.
        """
        if self.source is None or self.span is None:
            return None
        start, end = self.span
        start = min(start, len(self.source))
        line_start = self.source.rfind("\n", 0, start) + 1
        line_end = self.source.find("\n", start)
        if line_end == -1:
            line_end = len(self.source)
        # Long lines (a megabyte program on one line) and long spans are cut to a window
        # around the caret.
        end = max(min(end, line_end, start + 120), start + 1)
        lo = max(line_start, start - 60)
        hi = min(line_end, end + 60)
        before = [_visible(ch) for ch in self.source[lo:start]]
        marked = [_visible(ch) for ch in self.source[start:min(end, hi)]]
        after = [_visible(ch) for ch in self.source[min(end, hi):hi]]
        shown_line = ("..." if lo > line_start else "") + "".join(before + marked + after) + \
            ("..." if hi < line_end else "")
        pad = "".join("\t" if p == "\t" else " " * len(p) for p in before)
        marks = "^" * max(1, sum(map(len, marked)))
        return shown_line, ("   " if lo > line_start else "") + pad + marks

    def headline(self, origin: str | None = None) -> str:
        """One line: `origin:line:col: kind: message (hint)`; without an origin, `kind at ...`."""
        loc = self.location()
        text = self.message + (f" ({self.hint})" if self.hint else "")
        if origin:
            where = f"{origin}:{loc[0]}:{loc[1]}" if loc else origin
            return f"{where}: {self.kind}: {text}"
        if loc is None:
            return f"{self.kind}: {text}"
        multiline = "\n" in (self.source or "")
        where = f"line {loc[0]}, column {loc[1]}" if multiline else f"column {loc[1]}"
        return f"{self.kind} at {where}: {text}"

    def render(self, origin: str | None = None) -> str:
        """The headline, then the source line and caret when the error has a place."""
        lines = [shown(self.headline(origin), HEADLINE_LIMIT)]
        place = self.caret()
        if place is not None:
            lines.extend("  " + part for part in place)
        return "\n".join(lines)

    def to_dict(self) -> dict:
        loc = self.location()
        return {"kind": type(self).__name__, "message": self.message, "hint": self.hint,
                "line": loc[0] if loc else None, "column": loc[1] if loc else None}


HEADLINE_LIMIT = 290  # characters: the first line of stderr stays under 300 whatever the input
ELLIPSIS = "\u2026"
PATH_SHOWN = 160  # a file name is shown whole up to this (so an editor can open it), then cut


def _visible(ch: str) -> str:
    """A character as it may reach a terminal: itself, or U+XXXX when it is a control, bidi,
    format, separator or unassigned character (`str.isprintable`'s "Other" and "Separator",
    the ASCII space excepted); a tab is kept, so a caret under it still lines up."""
    return ch if ch.isprintable() or ch == "\t" else f"U+{ord(ch):04X}"


def shown(text: str, limit: int = 80) -> str:
    """User text made safe to echo on one line: every character a terminal would act on or
    hide is written U+XXXX (a U+202E cannot reverse what follows, an ESC cannot recolour), and
    text longer than `limit` keeps its two ends around an ellipsis. Every echo of user text
    (messages, carets, tables, reports) goes through here."""
    if len(text) <= limit and text.isprintable():
        return text
    if len(text) <= limit:
        whole = "".join(map(_visible, text))
        if len(whole) <= limit:  # the whole text fits, escapes included
            return whole
    half = max(1, (limit - 1) // 2)
    head: list[str] = []
    used = 0
    for ch in text[:half]:
        piece = _visible(ch)
        if used + len(piece) > half:
            break
        head.append(piece)
        used += len(piece)
    tail: list[str] = []
    used = 0
    for ch in reversed(text[-half:]):
        piece = _visible(ch)
        if used + len(piece) > limit - 1 - half:
            break
        tail.append(piece)
        used += len(piece)
    return "".join(head) + ELLIPSIS + "".join(reversed(tail))


# The kinds of bad input: `kind` starts each message ("parse error: ...").

class ParseError(BackpropError, kind="parse error"):
    """The text is not a program (a token, a bracket, an operator out of place)."""


class NameResolutionError(BackpropError, kind="name error"):
    """A name the program reads is neither bound nor known."""


class BindingError(BackpropError, kind="binding error"):
    """A NAME=VALUE binding (or an @file it names) that gives no usable value."""


class ArityError(BackpropError, kind="arity error"):
    """A function called with the wrong number of arguments."""


class ShapeError(BackpropError, kind="shape error"):
    """Arrays whose shapes do not fit the operation."""


class DomainError(BackpropError, kind="domain error"):
    """A computation undefined at the point: an input outside a function's domain (log of a
    negative), or a derivative that is not finite."""


class LimitError(BackpropError, kind="limit exceeded"):
    """An input past a limit that keeps time and memory bounded."""


class InternalError(Exception):
    """A fault inside backprop, not in the user's input: a registry rule that broke its own
    contract (a gradient of the wrong shape, the wrong number of partials). Never a
    BackpropError: the CLI reports it as an internal error, exit 3, naming what failed."""


def file_error(path: str, exc: OSError) -> BackpropError:
    """One line for a file that cannot be read: missing, a directory, or the OS's reason."""
    path = shown(path, PATH_SHOWN)
    if isinstance(exc, FileNotFoundError):
        return BackpropError(f"{path}: no such file")
    if isinstance(exc, IsADirectoryError):
        return BackpropError(f"{path}: is a directory")
    return BackpropError(f"{path}: {exc.strerror}")


class OutputError(BackpropError):
    """A write that failed (a full disk, a report file that cannot be written): bad
    circumstances, not a bug, so it is reported like bad input."""

    kind = "output error"


def output_error(what: str, exc: OSError) -> OutputError:
    """One line naming what could not be written and the OS's reason."""
    return OutputError(f"cannot write {what}: {exc.strerror or exc}")

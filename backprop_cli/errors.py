"""The project's exceptions: each knows where in the user's text it happened and renders itself."""

from __future__ import annotations


class BackpropError(Exception):
    """Bad input or an undefined computation: the CLI prints `render()` and exits 2.

    `source` is the program text and `span` a (start, end) offset pair into it, when the error
    points at a place; `origin` names where the text came from (a file, a batch line) for prefixes.
    """

    kind = "error"

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
        """The offending source line and a `^^^` line under its span (tabs kept: columns match)."""
        if self.source is None or self.span is None:
            return None
        start, end = self.span
        start = min(start, len(self.source))
        line_start = self.source.rfind("\n", 0, start) + 1
        line_end = self.source.find("\n", start)
        if line_end == -1:
            line_end = len(self.source)
        text = self.source[line_start:line_end]
        end = max(min(end, line_end), start + 1)
        # Long lines (a megabyte program on one line) are cut to a window around the caret.
        lo = max(0, start - line_start - 60)
        hi = min(len(text), end - line_start + 60)
        shown = ("..." if lo else "") + text[lo:hi] + ("..." if hi < len(text) else "")
        pad = "".join("\t" if ch == "\t" else " " for ch in text[lo:start - line_start])
        marks = "^" * max(1, min(end - start, hi - (start - line_start)))
        return shown, ("   " if lo else "") + pad + marks

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
        lines = [self.headline(origin)]
        shown = self.caret()
        if shown is not None:
            lines.extend("  " + part for part in shown)
        return "\n".join(lines)

    def to_dict(self) -> dict:
        loc = self.location()
        return {"kind": type(self).__name__, "message": self.message, "hint": self.hint,
                "line": loc[0] if loc else None, "column": loc[1] if loc else None}


class ParseError(BackpropError):
    kind = "parse error"


class NameResolutionError(BackpropError):
    kind = "name error"


class BindingError(BackpropError):
    kind = "binding error"


class ArityError(BackpropError):
    kind = "arity error"


class ShapeError(BackpropError):
    kind = "shape error"


class DomainError(BackpropError):
    kind = "domain error"


class LimitError(BackpropError):
    kind = "limit exceeded"


class InternalError(Exception):
    """A fault inside backprop, not in the user's input: a registry rule that broke its own
    contract (a gradient of the wrong shape, the wrong number of partials). Never a
    BackpropError: the CLI reports it as an internal error, exit 3, naming what failed."""


def file_error(path: str, exc: OSError) -> BackpropError:
    """One line for a file that cannot be read: missing, a directory, or the OS's reason."""
    if isinstance(exc, FileNotFoundError):
        return BackpropError(f"{path}: no such file")
    if isinstance(exc, IsADirectoryError):
        return BackpropError(f"{path}: is a directory")
    return BackpropError(f"{path}: {exc.strerror}")

"""Case files -> a stream of `Case`s, one case a line, text or JSON (records.py reads JSON).

A case file holds one case a line, in either of two formats (a line whose first character is
`{` is JSON; see docs/batch.md):

  text        "(x+y)*z" x=-2 y=5 z=-4 expect: value=-12 x=-4 z=3
  JSON Lines  {"id": "q1", "expr": "(x+y)*z", "at": {"x": -2, "y": 5, "z": -4},
               "expect": {"value": -12, "gradients": {"x": -4}}}

The file is read lazily, in bounded lines (stream.py); a line that cannot be read becomes a
Case carrying its problem, so the run goes on and the report says which line it was.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Iterable, Iterator
from typing import Any

from ..checks import claims, expectations
from ..engine.bindings import is_binding, parse_bindings
from ..errors import BackpropError, BindingError, ParseError, shown
from ..language.lexer import NUMBER
from ..language.reads import ReadScope
from .case import Case, error_text, problem_of
from .records import json_case
from .stream import LINE_LIMIT, LongLine

EXPECT_MARK = "expect:"


def read_cases(lines: Iterable[bytes | str | LongLine], fmt: str = "auto",
               folder: str | ReadScope = "", limit: int = LINE_LIMIT) -> Iterator[Case]:
    """Yield the cases of a case file lazily; an unreadable line becomes a Case with a problem.

    `fmt` is "auto" (a line starting with '{' is JSON), "text" or "jsonl". `@file` paths are
    read as the ReadScope says (language/reads.py); a folder name stands for the case file's
    own folder, which its `@file` paths may not leave. A line longer than `limit` bytes is an
    error on that line (give `bounded_lines(stream)` so that it is never held whole).
    """
    if not isinstance(folder, ReadScope):
        folder = ReadScope(folder, confined=True)
    index = 0
    for lineno, raw in enumerate(lines, 1):
        text, problem = _line_text(raw, lineno, limit)
        if problem is not None:
            case = Case(index, lineno, f"line {lineno}", problem=problem)
        elif _is_case(text):
            case = _case_of(index, lineno, text, fmt, folder)
        else:
            continue
        if case is None:  # a line that held only a comment after whitespace
            continue
        yield case
        index += 1


def _line_text(raw: bytes | str | LongLine, lineno: int, limit: int) -> tuple[str, Any]:
    """(the line's text without its end, None), or ("", the problem) for a line too long or
    not UTF-8."""
    if not isinstance(raw, LongLine) and len(raw) > limit:
        size = len(raw.rstrip(b"\r\n" if isinstance(raw, bytes) else "\r\n"))
        raw = LongLine(size) if size > limit else raw
    if isinstance(raw, LongLine):
        if raw.ended:
            message = (f"the line is {raw.size:,} bytes, over the limit of {limit:,} "
                       f"(--max-line-bytes raises it)")
        else:
            message = f"no end of line within {raw.size:,} bytes: reading stopped here"
        return "", problem_of(lineno, None, "error", message)
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return "", problem_of(lineno, None, "error",
                                  f"the line is not UTF-8 text (byte {exc.start + 1})")
    if lineno == 1:
        raw = raw.removeprefix("\ufeff")
    return raw.rstrip("\r\n"), None


def _is_case(text: str) -> bool:
    """Not a blank line, nor a comment line."""
    stripped = text.strip()
    return bool(stripped) and not stripped.startswith("#")


def _case_of(index: int, lineno: int, text: str, fmt: str, folder: ReadScope) -> Case | None:
    """The line's case, from JSON or text; bad input is the case's problem, under its id."""
    as_json = fmt == "jsonl" or (fmt == "auto" and text.strip().startswith("{"))
    try:
        return (json_case if as_json else _text_case)(index, lineno, text, folder)
    except BackpropError as err:
        # A span here points into the line itself, so its column is the file's column.
        loc = err.location()
        return Case(index, lineno, getattr(err, "case_id", None) or f"line {lineno}",
                    problem=problem_of(lineno, loc[1] if loc else None, err.kind,
                                       error_text(err),
                                       tuple("  " + part for part in (err.caret() or ()))),
                    form="json" if as_json else "text")


def _text_case(index: int, lineno: int, text: str, folder: ReadScope) -> Case | None:
    try:
        words = split_words(text)
    except ValueError as exc:  # shlex's only complaint: an unclosed quote or a trailing '\'
        raise ParseError(f"the line cannot be split into words: {str(exc).lower()}",
                         hint="quote the program: \"(x+y)*z\" x=-2") from None
    if not words:
        return None
    program, rest = words[0], words[1:]
    rest, claim_words = claims.take_claims(rest)
    bind_words, expect_words, seen_mark = [], [], False
    for w in rest:
        if not seen_mark and w.startswith(EXPECT_MARK):
            seen_mark = True
            w = w[len(EXPECT_MARK):]
            if not w:
                continue
        (expect_words if seen_mark else bind_words).append(w)
    bindings = _plain_bindings(bind_words)
    if bindings is None:
        bindings = _bindings(bind_words, folder)
    expect = [expectations.split(w, expectations.CASE_FILE) for w in expect_words]
    # A text line may expect a named intermediate as eval does (q=3, dq=-4); the program is
    # parsed for its names only when an expectation names something not bound.
    return Case(index, lineno, f"line {lineno}", program, tuple(bindings.items()),
                expectations.resolve(expect, bindings, spelling=expectations.CASE_FILE,
                                     named=lambda: expectations.named_values(program)),
                _column(text, program), claims.check_case_claims(claim_words, bindings, text))


def _bindings(words: list[str], folder: ReadScope) -> dict[str, Any]:
    """The line's NAME=VALUE words by the rules of eval's command line (and its messages)."""
    for w in words:
        if not is_binding(w):
            raise BindingError(f"{shown(w, 40)!r} is not a NAME=VALUE binding",
                               hint="write NAME=VALUE with no spaces, e.g. x=-2; "
                                    "expectations follow 'expect:'")
    bindings = parse_bindings(words, folder)
    if len(_BINDABLE) < _BINDABLE_MOST:
        _BINDABLE.update(bindings)
    return bindings


# Names `parse_bindings` accepted in this process (a name's rules, not a constant nor a
# function, depend on the name alone): the usual line, `x=-2 y=5`, binds such names to plain
# numbers, read here without its per-word checks (a sixth of the command's time a case).
_BINDABLE: set[str] = set()
_BINDABLE_MOST = 4096  # names kept at most, so memory stays flat
_PLAIN = re.compile(r"[+-]?" + NUMBER + r"\Z")  # a number literal, as bindings.py reads one


def _plain_bindings(words: list[str]) -> dict[str, float] | None:
    """NAME=NUMBER words, each name accepted before and bound once, read exactly as
    `_bindings` reads them; None when some word is anything else (let `_bindings` say)."""
    out: dict[str, float] = {}
    for w in words:
        name, _, text = w.partition("=")
        if name not in _BINDABLE or name in out or _PLAIN.match(text) is None:
            return None
        value = float(text)
        if not math.isfinite(value):
            return None
        out[name] = value
    return out


_BLANKS = re.compile(r"[ \t\r\n]+")  # shlex's whitespace, which is narrower than str.split's


def split_words(text: str) -> list[str]:
    """shlex.split(text, comments=True), with a fast path for the usual `"program" x=1` line
    (shlex costs ~100 us a line: most of the reading time of a large file)."""
    if "\\" not in text and "'" not in text:
        quotes = text.count('"')
        if quotes == 0:
            return [w for w in _BLANKS.split(text.split("#", 1)[0]) if w]
        body = text.lstrip(" \t\r\n")
        if quotes == 2 and body.startswith('"'):
            end = body.index('"', 1)
            after = body[end + 1:end + 2]
            if after in ("", " ", "\t", "\r", "\n"):
                rest = body[end + 1:].split("#", 1)[0]
                return [body[1:end], *(w for w in _BLANKS.split(rest) if w)]
    return shlex.split(text, comments=True)


def _column(line: str, program: str) -> int | None:
    """Where the program stands verbatim in the line (quotes removed by shlex), or None."""
    at = line.find(program)
    return at + 1 if at >= 0 and program else None

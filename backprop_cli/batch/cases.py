"""Case files -> a stream of `Case`s: read in bounded pieces, one case a line, text or JSON.

A case file holds one case a line, in either of two formats (a line whose first character is
`{` is JSON; see docs/batch.md):

  text        "(x+y)*z" x=-2 y=5 z=-4 expect: value=-12 x=-4 z=3
  JSON Lines  {"id": "q1", "expr": "(x+y)*z", "at": {"x": -2, "y": 5, "z": -4},
               "expect": {"value": -12, "gradients": {"x": -4}}}

The file is read lazily; a line that cannot be read becomes a Case carrying its problem, so
the run goes on and the report says which line it was.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..checks import claims, expectations
from ..errors import (
    HEADLINE_LIMIT,
    BackpropError,
    BindingError,
    ParseError,
    file_error,
    shown,
)

EXPECT_MARK = "expect:"


LINE_LIMIT = 1 << 20  # bytes: a longer line is that line's error, never held in memory
SKIP_FACTOR = 256  # a stream (not a file) may run this many limits without a newline, then stops
_STREAM_KINDS = (stat.S_ISREG, stat.S_ISFIFO, stat.S_ISSOCK)


@dataclass(frozen=True)
class Case:
    """One line of a case file, read but not yet run."""

    index: int  # 0-based position among the file's cases (comments and blanks do not count)
    line: int  # 1-based line number in the file
    id: str  # the JSON "id", else "line N"
    program: str = ""
    bindings: tuple[tuple[str, Any], ...] = ()
    expect: tuple[tuple[str, str], ...] = ()  # ("value" or a variable, number as written)
    column: int | None = None  # 1-based column of the program's first character in the line
    claims: tuple[str, ...] = ()  # derivative formulas, "dx=2*x" (checks/claims.py)
    problem: tuple[str, str, tuple[str, ...]] | None = None  # unreadable: (kind, message, caret)
    form: str = "text"  # "text" or "json": how the line was written, for messages


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
    name = "standard input" if path == "-" else shown(path)
    if stream is not sys.stdin.buffer:
        stream.close()
    raise StreamError(f"{name} is not a regular file, a pipe or a terminal "
                      f"({_kind_of(mode)}): it cannot be read as lines",
                      hint="save the cases to a file, or pipe them in")


def _is_null(fd: int) -> bool:
    """/dev/null: a device, but one that ends at once (an empty case file)."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(os.devnull))
    except OSError:
        return False


def _kind_of(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a stream of lines"


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


def read_cases(lines: Iterable[bytes | str | LongLine], fmt: str = "auto", folder: str = "",
               limit: int = LINE_LIMIT) -> Iterator[Case]:
    """Yield the cases of a case file lazily; an unreadable line becomes a Case with a problem.

    `fmt` is "auto" (a line starting with '{' is JSON), "text" or "jsonl". Relative `@file`
    paths are read from `folder`, the case file's own. A line longer than `limit` bytes is an
    error on that line (give `bounded_lines(stream)` so that it is never held whole).
    """
    index = 0
    for lineno, raw in enumerate(lines, 1):
        if not isinstance(raw, LongLine) and len(raw) > limit:
            size = len(raw.rstrip(b"\r\n" if isinstance(raw, bytes) else "\r\n"))
            raw = LongLine(size) if size > limit else raw
        if isinstance(raw, LongLine):
            if raw.ended:
                message = (f"the line is {raw.size:,} bytes, over the limit of {limit:,} "
                           f"(--max-line-bytes raises it)")
            else:
                message = f"no end of line within {raw.size:,} bytes: reading stopped here"
            yield Case(index, lineno, f"line {lineno}",
                       problem=problem_of(lineno, None, "error", message))
            index += 1
            continue
        if isinstance(raw, bytes):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Case(index, lineno, f"line {lineno}",
                           problem=problem_of(lineno, None, "error",
                                              f"the line is not UTF-8 text "
                                              f"(byte {exc.start + 1})"))
                index += 1
                continue
        else:
            text = raw
        if lineno == 1:
            text = text.removeprefix("\ufeff")
        text = text.rstrip("\r\n")
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        as_json = fmt == "jsonl" or (fmt == "auto" and stripped.startswith("{"))
        try:
            case = (_json_case if as_json else _text_case)(index, lineno, text, folder)
        except BackpropError as err:
            # A span here points into the line itself, so its column is the file's column.
            loc = err.location()
            case = Case(index, lineno, getattr(err, "case_id", None) or f"line {lineno}",
                        problem=problem_of(lineno, loc[1] if loc else None, err.kind,
                                           error_text(err),
                                           tuple("  " + part for part in (err.caret() or ()))),
                        form="json" if as_json else "text")
        if case is None:  # a line that held only a comment after whitespace
            continue
        yield case
        index += 1


def _text_case(index: int, lineno: int, text: str, folder: str = "") -> Case | None:
    from ..language.bindings import is_binding, parse_bindings

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
    for w in bind_words:
        if not is_binding(w):
            raise BindingError(f"{shown(w, 40)!r} is not a NAME=VALUE binding",
                               hint="write NAME=VALUE with no spaces, e.g. x=-2; "
                                    "expectations follow 'expect:'")
    bindings = parse_bindings(bind_words, folder)
    expect = [expectations.split(w, expectations.CASE_FILE) for w in expect_words]
    # A text line may expect a named intermediate as eval does (q=3, dq=-4); the program is
    # parsed for its names only when an expectation names something not bound.
    return Case(index, lineno, f"line {lineno}", program, tuple(bindings.items()),
                expectations.resolve(expect, bindings, spelling=expectations.CASE_FILE,
                                     named=lambda: expectations.named_values(program)),
                _column(text, program), claims.check_case_claims(claim_words, bindings, text))


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


def _json_case(index: int, lineno: int, text: str, folder: str = "") -> Case:
    import json

    try:
        obj = json.loads(text, parse_float=_Number, parse_int=_Number,
                         parse_constant=_Constant)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not a JSON object: {exc.msg}", text, (exc.pos, exc.pos + 1)) \
            from None
    except RecursionError:
        raise BindingError("not a JSON object: nested too deeply") from None
    if not isinstance(obj, dict):
        raise BindingError("a JSON line must be an object like "
                           '{"expr": "(x+y)*z", "at": {"x": -2, "y": 5, "z": -4}}')
    case_id = obj.get("id")
    if isinstance(case_id, _Number):
        case_id = case_id.text
    if case_id is not None and not isinstance(case_id, str):
        raise BindingError('"id" must be a string')
    try:
        return _json_fields(index, lineno, text, obj, case_id, folder)
    except BackpropError as err:
        err.case_id = case_id  # a bad field is reported under the case's own id
        raise


def _json_fields(index: int, lineno: int, text: str, obj: dict, case_id: str | None,
                 folder: str) -> Case:
    import json

    from ..language.bindings import number, parse_value

    unknown = [k for k in obj if k not in ("id", "expr", "at", "expect", "claims")]
    if unknown:
        raise BindingError(f"unknown field {shown(unknown[0], 40)!r}",
                           hint="fields: id, expr, at, expect, claims")
    program = obj.get("expr")
    if not isinstance(program, str):
        raise BindingError('"expr" must be a string holding the program',
                           hint='e.g. "expr": "(x+y)*z"')
    at = obj.get("at", {})
    if not isinstance(at, dict):
        raise BindingError('"at" must be an object of NAME: value', hint='"at": {"x": -2}')
    bindings: dict[str, Any] = {}
    for name, value in at.items():
        field = f"at.{shown(name, 40)}"
        if "=" in name:
            raise BindingError(f"{shown(name, 40)!r} is not a valid name")
        if isinstance(value, _Number):
            key, _ = parse_binding_name(name)
            bindings[key] = number(field, value.text)
            continue
        if not isinstance(value, list):
            raise BindingError(f"{field} must be a number or a list of numbers, not "
                               f"{_json_kind(value)}")
        try:
            word = json.dumps(value, allow_nan=False)
        except RecursionError:  # the encoder recurses once per level, like the decoder
            raise BindingError(f"{field} is nested too deeply",
                               hint="numpy allows at most 32 dimensions") from None
        except ValueError:  # a number past float's range, read as inf
            raise BindingError(f"{field} has entries that are not finite numbers") from None
        if _holds_constant(value):
            raise BindingError(f"{field} has entries that are not finite numbers")
        key, _ = parse_binding_name(name)
        try:
            bindings[key] = parse_value(name, word, folder)
        except BindingError as err:
            said = err.message
            said = f"{field} {said[len(name) + 1:]}" if said.startswith(name + " ") else \
                f"{field}: {said}"
            raise BindingError(said, hint=err.hint) from None
    expect_obj = obj.get("expect", {})
    if not isinstance(expect_obj, dict):
        raise BindingError('"expect" must be an object',
                           hint='"expect": {"value": -12, "gradients": {"x": -4}}')
    unknown = [k for k in expect_obj if k not in ("value", "gradients")]
    if unknown:
        raise BindingError(f"unknown field expect.{shown(unknown[0], 40)}",
                           hint="fields: value, gradients")
    expect: list[tuple[str, str]] = []
    if "value" in expect_obj:
        expect.append(("value", _number_text("expect.value", expect_obj["value"])))
    grads = expect_obj.get("gradients", {})
    if not isinstance(grads, dict):
        raise BindingError('"expect.gradients" must be an object of NAME: number')
    for name, value in grads.items():
        expect.append((name, _number_text(f"expect.gradients.{shown(name, 40)}", value)))
    return Case(index, lineno, case_id if case_id is not None else f"line {lineno}", program,
                tuple(bindings.items()),
                expectations.resolve(expect, bindings, spelling=expectations.CASE_FILE),
                _json_column(text, program),
                claims.check_case_claims(claims.json_claims(obj.get("claims", {})), bindings,
                                         text), form="json")


def parse_binding_name(name: str) -> tuple[str, None]:
    """A JSON "at" key judged by the rules of a NAME=VALUE word's name (not pi, not exp)."""
    from ..language.bindings import parse_binding

    key, _ = parse_binding(f"{name}=0")
    return key, None


class _Number(float):
    """A JSON number that remembers how it was written, so '-0.2' is graded to one digit."""

    text: str

    def __new__(cls, text: str):
        obj = super().__new__(cls, text)
        obj.text = text
        return obj


class _Constant(str):
    """NaN, Infinity or -Infinity: JSON's decoder accepts them, the case format does not."""


def _holds_constant(data: list) -> bool:
    """Whether a nested list holds NaN or Infinity anywhere (a loop over a stack: the depth is
    the user's)."""
    stack = [data]
    while stack:
        for item in stack.pop():
            if isinstance(item, _Constant):
                return True
            if isinstance(item, list):
                stack.append(item)
    return False


def _json_kind(value: Any) -> str:
    """What a JSON value is, in JSON's words, for a message."""
    if isinstance(value, _Constant):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string"
    return "an object" if isinstance(value, dict) else "a list"


def _number_text(where: str, value: Any) -> str:
    """A JSON number as written, in the language's literal grammar and finite; a string is
    refused as in "at" (JSON says what is a number)."""
    if isinstance(value, _Number):
        if expectations.is_finite_number(value.text):
            return value.text
        raise BindingError(f"{where} is not a finite number")
    if isinstance(value, str) and not isinstance(value, _Constant):
        raise BindingError(f"{where} must be a number, not a string",
                           hint=f"write {value.strip()} without quotes"
                           if expectations.is_finite_number(value.strip()) else None)
    raise BindingError(f"{where} must be a finite number, not {_json_kind(value)}")


def _column(line: str, program: str) -> int | None:
    """Where the program stands verbatim in the line (quotes removed by shlex), or None."""
    at = line.find(program)
    return at + 1 if at >= 0 and program else None


def _json_column(line: str, program: str) -> int | None:
    if not program or any(ch in program for ch in '"\\') or not program.isprintable():
        return None  # escaped in the JSON text: columns inside it do not match the line
    at = line.find('"' + program + '"')
    return at + 2 if at >= 0 else None



def error_text(err: BackpropError, hint: str | None = None) -> str:
    hint = hint or err.hint
    return err.message + (f" ({hint})" if hint else "")


def problem_of(line: int, col: int | None, kind: str, message: str,
               detail: tuple[str, ...] = ()) -> tuple[str, str, tuple[str, ...]]:
    """(kind, 'line[:col]: kind: message' made safe to echo, caret lines)."""
    where = f"{line}:{col}" if col is not None else f"{line}"
    return kind, shown(f"{where}: {kind}: {message}", HEADLINE_LIMIT), detail


"""Many cases, one report: read case files as a stream and check every case through `evaluate`.

A case file holds one case a line, in either of two formats (a line whose first character is
`{` is JSON; see docs/batch.md):

  text        "(x+y)*z" x=-2 y=5 z=-4 expect: value=-12 x=-4 z=3
  JSON Lines  {"id": "q1", "expr": "(x+y)*z", "at": {"x": -2, "y": 5, "z": -4},
               "expect": {"value": -12, "gradients": {"x": -4}}}

Every case ends as one `CaseResult`: "pass", "fail" (a check disagreed), "error" (the line or
the program is bad input) or "timeout" (over the per-case time limit). Cases run in this
process, in a pool of worker processes, or on a Dask cluster; results always come back in file
order, and the file is read lazily with a bounded number of cases in flight, so memory does not
grow with the file. Nothing here prints: the caller decides what to do with each result.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .. import exits
from ..checks import claims, expectations
from ..checks.scalar import SYMPY_SECONDS, Limits
from ..deadline import Deadline
from ..errors import BackpropError, BindingError, ParseError, file_error

STATUSES = ("pass", "fail", "error", "timeout")
DEFAULT_TIMEOUT = 60.0  # seconds per case; sympy's own limit (check.SYMPY_SECONDS) is lower
KILL_GRACE = 2.0  # a worker this far past the time limit ignored its alarm: it is killed
WINDOW_PER_JOB = 64  # cases a job may run ahead of the oldest unfinished one (bounds memory)
CHUNK = 8  # cases per message to a worker: fewer round trips for sub-millisecond cases
MIN_PARALLEL = 8  # fewer cases than this run in-process: starting workers would cost more
EXPECT_MARK = "expect:"


# --- cases --------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Mismatch:
    """One disagreement: which quantity, which check, both numbers and their relative error."""

    name: str  # a variable, or "value"
    method: str  # "sympy", "finite-difference" or "expected"
    ours: float
    reference: float
    rel_error: float


@dataclass(frozen=True)
class CaseResult:
    index: int
    line: int
    id: str
    program: str
    status: str  # one of STATUSES
    seconds: float = 0.0
    value: Any = None  # float, or nested lists for an array output
    gradients: tuple[tuple[str, Any], ...] = ()
    checks: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # name -> (method, status)
    mismatches: tuple[Mismatch, ...] = ()
    kind: str = ""  # for an error: "parse error", "binding error", ...
    message: str = ""  # for an error or timeout: one line, `file:line[:col]: kind: message`
    detail: tuple[str, ...] = ()  # the expression and a caret under the error
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    """How every case of one run is checked."""

    origin: str = "<stdin>"  # the file name errors are prefixed with
    sympy: bool = True
    numeric: bool = True
    timeout: float | None = DEFAULT_TIMEOUT  # seconds per case; None or 0: no limit


def open_cases(path: str) -> BinaryIO:
    """The case file as a binary stream ('-' is standard input); lines are decoded one by one."""
    import sys

    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        raise file_error(path, exc) from None


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


def read_cases(lines: Iterable[bytes | str], fmt: str = "auto") -> Iterator[Case]:
    """Yield the cases of a case file lazily; an unreadable line becomes a Case with a problem.

    `fmt` is "auto" (a line starting with '{' is JSON), "text" or "jsonl".
    """
    index = 0
    for lineno, raw in enumerate(lines, 1):
        if isinstance(raw, bytes):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Case(index, lineno, f"line {lineno}",
                           problem=_problem(lineno, None, "error",
                                            f"the line is not UTF-8 text (byte {exc.start + 1})"))
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
            case = (_json_case if as_json else _text_case)(index, lineno, text)
        except BackpropError as err:
            # A span here points into the line itself, so its column is the file's column.
            loc = err.location()
            case = Case(index, lineno, f"line {lineno}",
                        problem=_problem(lineno, loc[1] if loc else None, err.kind,
                                         _message(err),
                                         tuple("  " + part for part in (err.caret() or ()))))
        if case is None:  # a line that held only a comment after whitespace
            continue
        yield case
        index += 1


def _text_case(index: int, lineno: int, text: str) -> Case | None:
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
            raise BindingError(f"{w!r} is not a NAME=VALUE binding",
                               hint="write NAME=VALUE with no spaces, e.g. x=-2; "
                                    "expectations follow 'expect:'")
    bindings = parse_bindings(bind_words)
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


def _json_case(index: int, lineno: int, text: str) -> Case:
    import json

    from ..language.bindings import parse_binding

    try:
        obj = json.loads(text, parse_float=_Number, parse_int=_Number)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not a JSON object: {exc.msg}", text, (exc.pos, exc.pos + 1)) \
            from None
    except RecursionError:
        raise BindingError("not a JSON object: nested too deeply") from None
    if not isinstance(obj, dict):
        raise BindingError("a JSON line must be an object like "
                           '{"expr": "(x+y)*z", "at": {"x": -2, "y": 5, "z": -4}}')
    unknown = [k for k in obj if k not in ("id", "expr", "at", "expect", "claims")]
    if unknown:
        raise BindingError(f"unknown field {unknown[0]!r}",
                           hint="fields: id, expr, at, expect, claims")
    case_id = obj.get("id")
    if isinstance(case_id, _Number):
        case_id = case_id.text
    if case_id is not None and not isinstance(case_id, str):
        raise BindingError('"id" must be a string')
    program = obj.get("expr")
    if not isinstance(program, str):
        raise BindingError('"expr" must be a string holding the program',
                           hint='e.g. "expr": "(x+y)*z"')
    at = obj.get("at", {})
    if not isinstance(at, dict):
        raise BindingError('"at" must be an object of NAME: value', hint='"at": {"x": -2}')
    bindings: dict[str, Any] = {}
    for name, value in at.items():
        if "=" in name:
            raise BindingError(f"{name!r} is not a valid name")
        if isinstance(value, _Number):
            word = f"{name}={value.text}"
        elif isinstance(value, list):
            try:
                word = f"{name}={json.dumps(value)}"
            except RecursionError:  # the encoder recurses once per level, like the decoder
                raise BindingError(f"at.{name} is nested too deeply",
                                   hint="numpy allows at most 32 dimensions") from None
        else:
            raise BindingError(f"at.{name} must be a number or a list of numbers")
        key, bound = parse_binding(word)
        bindings[key] = bound
    expect_obj = obj.get("expect", {})
    if not isinstance(expect_obj, dict):
        raise BindingError('"expect" must be an object',
                           hint='"expect": {"value": -12, "gradients": {"x": -4}}')
    unknown = [k for k in expect_obj if k not in ("value", "gradients")]
    if unknown:
        raise BindingError(f"unknown field expect.{unknown[0]}", hint="fields: value, gradients")
    expect: list[tuple[str, str]] = []
    if "value" in expect_obj:
        expect.append(("value", _number_text("expect.value", expect_obj["value"])))
    grads = expect_obj.get("gradients", {})
    if not isinstance(grads, dict):
        raise BindingError('"expect.gradients" must be an object of NAME: number')
    for name, value in grads.items():
        expect.append((name, _number_text(f"expect.gradients.{name}", value)))
    return Case(index, lineno, case_id if case_id is not None else f"line {lineno}", program,
                tuple(bindings.items()),
                expectations.resolve(expect, bindings, spelling=expectations.CASE_FILE),
                _json_column(text, program),
                claims.check_case_claims(claims.json_claims(obj.get("claims", {})), bindings,
                                         text))


class _Number(float):
    """A JSON number that remembers how it was written, so '-0.2' is graded to one digit."""

    text: str

    def __new__(cls, text: str):
        obj = super().__new__(cls, text)
        obj.text = text
        return obj


def _number_text(where: str, value: Any) -> str:
    """A JSON number as written; a string is refused as in "at" (JSON says what is a number)."""
    if isinstance(value, _Number) and expectations.is_finite_number(value.text):
        return value.text
    if isinstance(value, str):
        raise BindingError(f"{where} must be a number, not a string",
                           hint=f"write {value.strip()} without quotes"
                           if expectations.is_finite_number(value) else None)
    raise BindingError(f"{where} must be a finite number")


def _column(line: str, program: str) -> int | None:
    """Where the program stands verbatim in the line (quotes removed by shlex), or None."""
    at = line.find(program)
    return at + 1 if at >= 0 and program else None


def _json_column(line: str, program: str) -> int | None:
    if not program or any(ch in program for ch in '"\\') or not program.isprintable():
        return None  # escaped in the JSON text: columns inside it do not match the line
    at = line.find('"' + program + '"')
    return at + 2 if at >= 0 else None


# --- running one case ---------------------------------------------------------------------


class CaseTimeout(BaseException):
    """Raised by the per-case alarm. A BaseException, so sympy's `except Exception` won't eat it."""


def warm_up(settings: Settings) -> None:
    """Import what the cases need before any case's clock starts (sympy takes ~0.3 s)."""
    from .. import evaluate  # noqa: F401

    if settings.sympy:
        import sympy  # noqa: F401


def run_case(case: Case, settings: Settings) -> CaseResult:
    """Check one case through `evaluate`; never raises for bad input, a failure or a timeout."""
    if case.problem is not None:
        kind, message, detail = case.problem
        return CaseResult(case.index, case.line, case.id, case.program, "error",
                          kind=kind, message=_prefix(settings.origin, message), detail=detail)
    from ..evaluate import Options, evaluate

    limit = settings.timeout or 0
    sympy_seconds = min(SYMPY_SECONDS, limit) if limit else SYMPY_SECONDS
    options = Options(check=settings.sympy or settings.numeric, sympy=settings.sympy,
                      numeric=settings.numeric, expect=case.expect,
                      limits=Limits(sympy_seconds=sympy_seconds), claims=case.claims)
    started = time.perf_counter()
    try:
        with _alarm(limit):
            result = evaluate(case.program, dict(case.bindings), options)
            seconds = time.perf_counter() - started
            if limit and seconds > limit:
                # sympy's own deadline (capped at the limit) handed the alarm back too late
                # to fire: the case still spent its whole budget.
                raise CaseTimeout()
            outcome = _outcome(case, result, seconds)
    except CaseTimeout:
        return CaseResult(case.index, case.line, case.id, case.program, "timeout",
                          seconds=time.perf_counter() - started, kind="timeout",
                          message=f"{settings.origin}:{case.line}: timeout: the case took "
                                  f"longer than {limit:g} s")
    except BackpropError as err:
        kind, message, detail = _render(err, case)
        return CaseResult(case.index, case.line, case.id, case.program, "error",
                          seconds=time.perf_counter() - started, kind=kind,
                          message=_prefix(settings.origin, message), detail=detail)
    except (RecursionError, MemoryError) as exc:
        what = "nested too deeply" if isinstance(exc, RecursionError) else "too large"
        return CaseResult(case.index, case.line, case.id, case.program, "error",
                          seconds=time.perf_counter() - started, kind="error",
                          message=f"{settings.origin}:{case.line}: error: the input is {what}")
    except Exception as exc:  # noqa: BLE001 - one broken case must not stop a million-line run
        return CaseResult(case.index, case.line, case.id, case.program, "error",
                          seconds=time.perf_counter() - started, kind="internal error",
                          message=f"{settings.origin}:{case.line}: internal error: "
                                  f"{type(exc).__name__}: {exc} (please report this)")
    return outcome


def _outcome(case: Case, result, seconds: float) -> CaseResult:
    from ..values import plain

    checks = []
    mismatches = []
    for row in result.rows:
        checks.append((row.name, tuple((c.method, c.status) for c in row.checks)))
        for c in row.checks:
            if c.status == "fail":
                mismatches.append(_mismatch(row.name, row.gradient, c))
    if result.value_checks:
        checks.append(("value", tuple((c.method, c.status) for c in result.value_checks)))
        for c in result.value_checks:
            if c.status == "fail":
                mismatches.append(Mismatch("value", c.method, float(result.value),
                                           float(c.reference), float(c.rel_error)))
    node = {s: i for i, s in result.graph.names.items()}
    for key, c in result.named_checks:  # q (a named value) or dq (its gradient)
        checks.append((key, ((c.method, c.status),)))
        if c.status == "fail":
            ours = result.values[node[key]] if key in node else result.grads[node[key[1:]]]
            mismatches.append(_mismatch(key, ours, c))
    claim_rows, claim_failures = claims.claim_checks(result.claims)
    checks += claim_rows
    mismatches += [Mismatch(*f) for f in claim_failures]
    return CaseResult(case.index, case.line, case.id, case.program,
                      "fail" if result.failed else "pass", seconds=seconds,
                      value=plain(result.value),
                      gradients=tuple((r.name, plain(r.gradient)) for r in result.rows),
                      checks=tuple(checks), mismatches=tuple(mismatches),
                      warnings=tuple(result.warnings))


def _mismatch(name: str, gradient: Any, c) -> Mismatch:
    """For an array, the entry that disagreed most, named like W[1,0]."""
    from ..engine.forward import is_array

    if is_array(gradient):
        worst = getattr(c, "worst", None)
        if worst is None:
            return Mismatch(name, c.method, math.nan, float(c.reference), float(c.rel_error))
        name = f"{name}[{','.join(str(k) for k in worst)}]"
        gradient = gradient[worst]
    return Mismatch(name, c.method, float(gradient), float(c.reference), float(c.rel_error))


def _render(err: BackpropError, case: Case) -> tuple[str, str, tuple[str, ...]]:
    """(kind, 'line[:col]: kind: message', caret lines): columns are the file line's columns
    when the program stands verbatim in it, else the place is named inside the expression."""
    loc = err.location()
    col = None
    note = ""
    if loc is not None:
        if loc[0] == 1 and case.column is not None:
            col = case.column + loc[1] - 1
        elif "\n" in case.program:
            note = f" (line {loc[0]}, column {loc[1]} of the expression)"
        else:
            note = f" (column {loc[1]} of the expression)"
    return _problem(case.line, col, err.kind, _message(err) + note,
                    tuple("  " + part for part in (err.caret() or ())))


def _message(err: BackpropError) -> str:
    return err.message + (f" ({err.hint})" if err.hint else "")


def _problem(line: int, col: int | None, kind: str, message: str,
             detail: tuple[str, ...] = ()) -> tuple[str, str, tuple[str, ...]]:
    where = f"{line}:{col}" if col is not None else f"{line}"
    return kind, f"{where}: {kind}: {message}", detail


def _prefix(origin: str, message: str) -> str:
    return f"{origin}:{message}"


def _alarm(seconds: float) -> Deadline:
    """A per-case limit: raises CaseTimeout, re-firing every half second in case something
    swallowed the first one; check's sympy limit nests inside it and hands it back."""
    return Deadline(seconds, CaseTimeout, repeat=0.5)


# --- running many cases -------------------------------------------------------------------


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run_serial(cases: Iterable[Case], settings: Settings,
               run: Callable[[Case, Settings], CaseResult] = run_case) -> Iterator[CaseResult]:
    """Every case in this process, in order."""
    warm_up(settings)
    for case in cases:
        yield run(case, settings)


def run_cases(cases: Iterable[Case], settings: Settings, jobs: int = 1,
              dask: str | None = None) -> Iterator[CaseResult]:
    """Results in file order, from this process, a pool of `jobs` processes, or Dask."""
    if dask:
        yield from run_dask(cases, settings, dask)
        return
    if jobs <= 1:
        yield from run_serial(cases, settings)
        return
    it = iter(cases)
    head = []
    for case in it:
        head.append(case)
        if len(head) >= MIN_PARALLEL:
            break
    if len(head) < MIN_PARALLEL:
        yield from run_serial(head, settings)
        return
    yield from run_pool(_chain(head, it), settings, jobs)


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _worker_main(conn, settings: Settings, run: Callable, current, since) -> None:
    """A pool worker: receive a chunk of cases, send back the chunk's results, until told to
    stop. `current` and `since` (shared memory) say which case is running and since when, so
    the parent can tell a stuck case without a message per case."""
    # Ctrl-C reaches the whole process group; the parent alone decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warm_up(settings)
    conn.send("ready")
    while True:
        try:
            cases = conn.recv()
        except EOFError:
            return
        if cases is None:
            return
        out = []
        for case in cases:
            since.value = time.monotonic()
            current.value = case.index
            out.append(run(case, settings))
        current.value = -1
        conn.send(out)


class _Worker:
    def __init__(self, ctx, settings: Settings, run: Callable):
        parent, child = ctx.Pipe()
        self.current = ctx.Value("q", -1, lock=False)  # index of the running case, or -1
        self.since = ctx.Value("d", 0.0, lock=False)  # time.monotonic() when it started
        self.proc = ctx.Process(target=_worker_main, daemon=True,
                                args=(child, settings, run, self.current, self.since))
        self.proc.start()
        child.close()
        self.conn = parent
        self.queue: deque[Case] = deque()  # sent, not yet answered, in order
        self.ready = False

    def overdue(self, limit: float, now: float) -> bool:
        return bool(self.queue) and self.current.value >= 0 and \
            now - self.since.value > limit + KILL_GRACE

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                self.proc.kill()
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def _context():
    import multiprocessing

    # fork: a worker starts with everything already imported and re-runs no __main__. The
    # parent stays single-threaded while it forks (the progress bar refreshes without a thread).
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")  # pragma: no cover - not Unix


def run_pool(cases: Iterable[Case], settings: Settings, jobs: int,
             run: Callable[[Case, Settings], CaseResult] = run_case,
             window: int | None = None) -> Iterator[CaseResult]:
    """Spread cases over `jobs` worker processes; yield results in file order.

    Cases go out in chunks of CHUNK (one message each way per chunk); each worker holds at most
    two chunks, and the reader runs at most `window` cases ahead of the oldest unfinished one,
    so memory stays bounded however long the file. A case running past the time limit plus
    KILL_GRACE ignored its own alarm (stuck in C code): its worker is killed, the case reported
    as a timeout, the worker's other cases sent again, and a fresh worker takes its place.
    """
    from multiprocessing.connection import wait

    ctx = _context()
    window = window or jobs * WINDOW_PER_JOB
    limit = settings.timeout or 0
    source = iter(cases)
    retry: list[Case] = []  # cases a killed worker held, to send again first (in order)
    done: dict[int, CaseResult] = {}
    next_out = 0
    next_in = 0  # index of the next case the reader will hand out
    exhausted = False
    workers = [_Worker(ctx, settings, run) for _ in range(jobs)]
    try:
        while True:
            # Hand out chunks; errors found while reading need no worker.
            for w in workers:
                while w.ready and len(w.queue) < 2 * CHUNK:
                    chunk: list[Case] = []
                    while len(chunk) < CHUNK:
                        if retry:
                            chunk.append(retry.pop(0))
                            continue
                        if exhausted or next_in >= next_out + window:
                            break
                        case = next(source, None)
                        if case is None:
                            exhausted = True
                            break
                        next_in = case.index + 1
                        if case.problem is not None:
                            done[case.index] = run_case(case, settings)
                        else:
                            chunk.append(case)
                    if not chunk:
                        break
                    w.conn.send(chunk)
                    w.queue.extend(chunk)
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
            if exhausted and not retry and all(not w.queue for w in workers) and not done:
                return
            busy = [w for w in workers if w.queue or not w.ready]
            if not busy:
                continue
            timeout = 0.5
            if limit:
                now = time.monotonic()
                for w in busy:
                    if w.queue and w.current.value >= 0:
                        timeout = min(timeout, w.since.value + limit + KILL_GRACE - now)
                timeout = max(0.0, timeout)
            ready = wait([w.conn for w in busy], timeout)
            now = time.monotonic()
            for k, w in enumerate(workers):
                if w.conn in ready:
                    try:
                        msg = w.conn.recv()
                    except (EOFError, OSError):
                        workers[k] = _replace(ctx, settings, run, w, retry, done, "died")
                        continue
                    if msg == "ready":
                        w.ready = True
                        continue
                    for res in msg:
                        w.queue.popleft()
                        done[res.index] = res
                elif limit and w.overdue(limit, now):
                    workers[k] = _replace(ctx, settings, run, w, retry, done, "stuck")
    except KeyboardInterrupt:
        # Hand over what already finished (in order, with gaps), then stop.
        for index in sorted(done):
            yield done[index]
        raise
    finally:
        for w in workers:
            w.stop(kill=True)


def _replace(ctx, s: Settings, run: Callable, w: _Worker, retry: list, done: dict,
             why: str) -> _Worker:
    """Kill a stuck or dead worker: its running case is reported, its other cases (finished
    or not: their results died with it) are sent again."""
    running = w.current.value
    seconds = time.monotonic() - w.since.value
    w.stop(kill=True)
    code = w.proc.exitcode if why == "died" else None
    for case in w.queue:
        if case.index != running:
            continue
        if why == "stuck":
            done[case.index] = CaseResult(
                case.index, case.line, case.id, case.program, "timeout", seconds=seconds,
                kind="timeout", message=f"{s.origin}:{case.line}: timeout: the case took "
                                        f"longer than {s.timeout:g} s (its worker was stopped)")
        else:
            done[case.index] = CaseResult(
                case.index, case.line, case.id, case.program, "error", seconds=seconds,
                kind="error", message=f"{s.origin}:{case.line}: error: the worker process "
                                      f"died while checking this case (exit code {code})")
    retry.extend(c for c in w.queue if c.index != running)
    retry.sort(key=lambda c: c.index)
    return _Worker(ctx, s, run)


# --- Dask ---------------------------------------------------------------------------------


def run_dask(cases: Iterable[Case], settings: Settings, address: str,
             window: int | None = None) -> Iterator[CaseResult]:
    """Run the cases on the Dask cluster at `address`, results in file order.

    Dask runs tasks in worker threads, where no alarm can interrupt Python, so the time limit
    is kept here: a case that has been the oldest unfinished one for `timeout` seconds is
    reported as a timeout and its task cancelled (the thread finishes in its own time).
    """
    try:
        from distributed import Client
    except ImportError:
        raise BackpropError("--dask needs the optional Dask extra",
                            hint="pip install 'backprop-cli[dask]'") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise BackpropError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        workers = len(client.scheduler_info().get("workers", {})) or 1
        window = window or max(32, workers * WINDOW_PER_JOB)
        limit = settings.timeout or 0
        pending: deque = deque()
        source = iter(cases)
        exhausted = False
        head_since = time.monotonic()
        while True:
            while not exhausted and len(pending) < window:
                case = next(source, None)
                if case is None:
                    exhausted = True
                elif case.problem is not None:
                    pending.append((case, run_case(case, settings)))
                else:
                    pending.append((case, client.submit(run_case, case, settings,
                                                        pure=False)))
            if not pending:
                return
            case, fut = pending.popleft()
            if isinstance(fut, CaseResult):
                yield fut
                head_since = time.monotonic()
                continue
            try:
                wait_for = max(0.0, head_since + limit - time.monotonic()) if limit else None
                res = fut.result(timeout=wait_for)
            except TimeoutError:
                fut.cancel()
                res = CaseResult(case.index, case.line, case.id, case.program, "timeout",
                                 seconds=float(limit), kind="timeout",
                                 message=f"{settings.origin}:{case.line}: timeout: no result "
                                         f"from the Dask cluster within {limit:g} s")
            except Exception as exc:  # noqa: BLE001 - a worker lost, a task erred: report, go on
                res = CaseResult(case.index, case.line, case.id, case.program, "error",
                                 kind="error",
                                 message=f"{settings.origin}:{case.line}: error: the Dask "
                                         f"task failed: {type(exc).__name__}: {exc}")
            head_since = time.monotonic()
            yield res
    finally:
        for _case, fut in pending:
            if not isinstance(fut, CaseResult):
                fut.cancel()
        client.close()


# --- the report ---------------------------------------------------------------------------


@dataclass
class Tally:
    """Running counts while results arrive; `report()` freezes them."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    started: float = field(default_factory=time.perf_counter)
    case_seconds: float = 0.0

    def add(self, result: CaseResult) -> None:
        self.counts[result.status] += 1
        self.case_seconds += result.seconds

    def report(self, interrupted: bool = False) -> BatchReport:
        return BatchReport(self.counts["pass"], self.counts["fail"], self.counts["error"],
                           self.counts["timeout"], time.perf_counter() - self.started,
                           interrupted)


EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = (
    exits.OK, exits.CHECK_FAILED, exits.BAD_INPUT, exits.INTERRUPTED)


@dataclass(frozen=True)
class BatchReport:
    """The outcome of a run. Exit code policy: 130 when interrupted, else 2 when any case was
    an error or timed out (it could not be checked), else 1 when any check disagreed, else 0."""

    passed: int
    failed: int
    errors: int
    timeouts: int
    seconds: float
    interrupted: bool = False

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors + self.timeouts

    @property
    def cases_per_second(self) -> float:
        return self.total / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.errors or self.timeouts:
            return EXIT_ERROR
        return EXIT_FAILED if self.failed else EXIT_OK

"""One case through `evaluate` -> one `CaseResult`: pass, unchecked, fail, error or timeout,
never a raise.

Every case ends as one `CaseResult`: "pass", "unchecked" and "fail" are eval's verdict of the
case (checks/verdict.py: "unchecked" when no check confirmed some gradient), "error" (the line
or the program is bad input) or "timeout" (over the per-case time limit).
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from ..deadline import Deadline
from ..errors import BackpropError, NameResolutionError, shown
from .case import Case, error_text, problem_of

STATUSES = ("pass", "unchecked", "fail", "error", "timeout")
# Wall seconds per case: only the last guard against a hang, far above the budgets that decide
# verdicts (sympy's 10 s of CPU time, the finite differences' counted work), so a busy machine
# does not turn a case that would pass into a timeout.
DEFAULT_TIMEOUT = 300.0


@dataclass(frozen=True)
class Mismatch:
    """One disagreement: which quantity, which check, both numbers and their relative error."""

    name: str  # a variable, or "value"
    method: str  # "sympy", "finite-difference" or "expected"
    ours: float
    reference: float
    rel_error: float
    reason: str = ""  # the check's own words (an expectation's diagnosis), if any


@dataclass(frozen=True)
class CaseResult:
    index: int
    line: int
    id: str
    program: str
    status: str  # one of STATUSES
    seconds: float = 0.0
    kind: str = ""  # for an error: "parse error", "binding error", ...
    message: str = ""  # for an error or timeout: one line, `file:line[:col]: kind: message`
    detail: tuple[str, ...] = ()  # the expression and a caret under the error
    warnings: tuple[str, ...] = ()
    # The case's one record, as `eval --json` prints it (record.py); None for an error or a
    # timeout, which never reached a verdict, and for a case rendered where it ran.
    record: dict | None = None
    # What the run's outputs write of the case, rendered where it ran (a pool worker), so the
    # command only writes them: output name ("json", "junit", "lines") -> text
    # (render/batch_report.py `rendered`). Empty: the outputs render the case themselves.
    rendered: dict | None = None

    # The record's parts, for the text and JUnit reports and for scripts that run cases.
    @property
    def value(self) -> Any:
        return None if self.record is None else self.record["value"]

    @property
    def gradients(self) -> tuple[tuple[str, Any], ...]:
        return tuple((self.record or {}).get("gradients", {}).items())

    @property
    def checks(self) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
        """name -> (method, status) pairs."""
        return tuple((n, tuple(m.items()))
                     for n, m in (self.record or {}).get("check_statuses", {}).items())

    @property
    def mismatches(self) -> tuple[Mismatch, ...]:
        return tuple(_mismatch(m) for m in (self.record or {}).get("mismatches", ()))


@dataclass(frozen=True)
class Settings:
    """How every case of one run is checked."""

    origin: str = "<stdin>"  # the file name errors are prefixed with, as `shown` shows it
    sympy: bool = True
    numeric: bool = True
    timeout: float | None = DEFAULT_TIMEOUT  # seconds per case; None or 0: no limit



class CaseTimeout(BaseException):
    """Raised by the per-case guard. A BaseException, so sympy's `except Exception` won't eat it."""


def warm_up(settings: Settings) -> None:
    """Import what the cases need before any case's clock starts (sympy takes ~0.3 s); start
    the run with no graphs kept from another run (the registry they were built from may have
    changed: a test's broken rule). Only this thread's graphs: another thread's run is its
    own."""
    from .. import evaluate  # noqa: F401

    _parsed_graphs().clear()

    if settings.sympy:
        import sympy  # noqa: F401
    checks = (settings.sympy, settings.numeric)
    if checks not in _first_used:
        _first_used.add(checks)  # once a process, even when it fails
        _use_once(settings)


_first_used: set = set()  # the kinds of check this process ran once with no clock


def _use_once(settings: Settings) -> None:
    """Run a scalar and an array program through the run's checks once, with no clock: a
    first use builds what numpy and sympy build lazily (numpy's matrix module, for one), and a
    case's wall-clock limit landing in the middle of that left it half built: every later
    case's sympy check failed (`numpy has no attribute 'matrix'`) and was skipped."""
    import numpy as np

    from ..evaluate import evaluate
    from ..language.parser import parse

    for program, at in (("tanh(x*y) + x**2", {"x": 1.5, "y": 0.5}),
                        ("sum(W @ v)", {"W": np.eye(2), "v": np.ones(2)})):
        with contextlib.suppress(Exception):  # a broken rule is the cases' to report
            evaluate(parse(program), at, _options(settings))


def run_case(case: Case, settings: Settings) -> CaseResult:
    """Check one case through `evaluate`; never raises for bad input, a failure or a timeout."""
    if case.problem is not None:
        kind, message, detail = case.problem
        return CaseResult(case.index, case.line, case.id, case.program, "error",
                          kind=kind, message=_prefix(settings.origin, message), detail=detail)
    from ..engine.mistakes import with_mistakes
    from ..evaluate import evaluate

    limit = settings.timeout or 0
    options = _options(settings)
    if case.expect or case.claims:
        options = replace(options, expect=case.expect, claims=case.claims)
    started = time.perf_counter()
    try:
        with _alarm(limit):
            result = with_mistakes(evaluate(_parsed(case.program), dict(case.bindings),
                                            options))
            seconds = time.perf_counter() - started
            if limit and seconds > limit:
                # The guard's raise landed in a leaving limit and was moot there: the case
                # still spent its whole time.
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
                                  f"{type(exc).__name__}: {shown(str(exc))} (please report this)")
    return outcome


@functools.lru_cache(maxsize=8)
def _options(settings: Settings):
    """The evaluate Options every case of a run shares (a case's expectations and claims are
    put in with `replace`): built once, not once a case."""
    from ..evaluate import Options

    # The budgets are eval's own (Limits()), whatever the wall-clock guard: the same verdict.
    return Options(check=settings.sympy or settings.numeric, sympy=settings.sympy,
                   numeric=settings.numeric)


# A case file often holds one circuit at many points: the graph of a short program, which
# nothing changes once parsed, is kept for the cases after it in the same run (a bounded few,
# so memory stays flat; a longer program is parsed each time, as its parse is small beside its
# run). Every output is the same as with a fresh parse: a graph carries no state of a case.
# The cache is the running thread's own: a Dask worker with --nthreads 2 runs two chunks at
# once in one process, and two threads evicting from one dict could both take its oldest key
# (a KeyError, an internal error in a case). A thread's own dict needs no lock, so the pool's
# single-threaded workers pay one attribute look-up a case.
PARSED_KEEP = 256
PARSED_MAX_CHARS = 512
_kept = threading.local()


def _parsed_graphs() -> dict:
    """This thread's parsed graphs, program text -> graph, oldest first."""
    try:
        return _kept.graphs
    except AttributeError:
        _kept.graphs = {}
        return _kept.graphs


def _parsed(program: str):
    """`program`'s graph: parsed once for a short program seen again, else parsed now. A
    program that does not parse raises each time, as `parse` does."""
    graphs = _parsed_graphs()
    graph = graphs.get(program)
    if graph is not None:
        return graph
    from ..language.parser import parse

    graph = parse(program)
    if len(program) <= PARSED_MAX_CHARS:
        if len(graphs) >= PARSED_KEEP:
            del graphs[next(iter(graphs))]  # the oldest first
        graphs[program] = graph
    return graph


def _outcome(case: Case, result, seconds: float) -> CaseResult:
    """The case's record is eval's (record.py): the batch adds only where the case stands."""
    from ..record import case_record

    record = case_record(result, case.program)
    return CaseResult(case.index, case.line, case.id, case.program, record["status"],
                      seconds, warnings=tuple(result.warnings), record=record)


def _mismatch(m: dict) -> Mismatch:
    """A record's mismatch for the text and JUnit reports (null numbers as nan)."""
    def number(x):
        return math.nan if x is None else x

    return Mismatch(m["name"], m["method"], number(m["ours"]), number(m["reference"]),
                    number(m["rel_error"]), m["reason"] or "")


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
    return problem_of(case.line, col, err.kind, error_text(err, _case_hint(err, case)) + note,
                      tuple("  " + part for part in (err.caret() or ())))


def _case_hint(err: BackpropError, case: Case) -> str | None:
    """A hint that speaks of the case file: an unbound name is bound on the case's line (or
    in "at"), not on the command line as eval's message says."""
    if isinstance(err, NameResolutionError) and (err.hint or "").startswith(_ON_COMMAND_LINE):
        name = err.hint.rpartition(" ")[2].partition("=")[0]
        if case.form == "json":
            return f'give it a value in "at": "{name}": VALUE'
        return f"bind it on the case's line: {name}=VALUE"
    return None


_ON_COMMAND_LINE = "bind it on the command line"


def _prefix(origin: str, message: str) -> str:
    return f"{origin}:{message}"


def _alarm(seconds: float) -> Deadline:
    """The per-case wall-clock guard: raises CaseTimeout in the thread running the case (the
    main thread, a pool worker's, or a Dask worker thread alike), re-firing every half second in
    case something swallowed the first one; sympy's CPU budget nests inside it."""
    return Deadline(seconds, CaseTimeout, repeat=0.5, clock="wall")

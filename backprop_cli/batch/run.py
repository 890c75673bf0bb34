"""One case through `evaluate` -> one `CaseResult`: pass, fail, error or timeout, never a raise.

Every case ends as one `CaseResult`: "pass", "fail" (a check disagreed), "error" (the line or
the program is bad input) or "timeout" (over the per-case time limit).
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, replace
from typing import Any

from ..checks import claims
from ..checks.scalar import SYMPY_SECONDS, Limits
from ..deadline import Deadline
from ..errors import BackpropError, NameResolutionError, shown
from .case import Case, error_text, problem_of

STATUSES = ("pass", "fail", "error", "timeout")
DEFAULT_TIMEOUT = 60.0  # seconds per case; sympy's own limit (check.SYMPY_SECONDS) is lower


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

    origin: str = "<stdin>"  # the file name errors are prefixed with, as `shown` shows it
    sympy: bool = True
    numeric: bool = True
    timeout: float | None = DEFAULT_TIMEOUT  # seconds per case; None or 0: no limit



class CaseTimeout(BaseException):
    """Raised by the per-case alarm. A BaseException, so sympy's `except Exception` won't eat it."""


def warm_up(settings: Settings) -> None:
    """Import what the cases need before any case's clock starts (sympy takes ~0.3 s); start
    the run with no graphs kept from another run (the registry they were built from may have
    changed: a test's broken rule)."""
    from .. import evaluate  # noqa: F401

    _parsed_graphs.clear()

    if settings.sympy:
        import sympy  # noqa: F401


def run_case(case: Case, settings: Settings) -> CaseResult:
    """Check one case through `evaluate`; never raises for bad input, a failure or a timeout."""
    if case.problem is not None:
        kind, message, detail = case.problem
        return CaseResult(case.index, case.line, case.id, case.program, "error",
                          kind=kind, message=_prefix(settings.origin, message), detail=detail)
    from ..evaluate import evaluate

    limit = settings.timeout or 0
    options = _options(settings)
    if case.expect or case.claims:
        options = replace(options, expect=case.expect, claims=case.claims)
    started = time.perf_counter()
    try:
        with _alarm(limit):
            result = evaluate(_parsed(case.program), dict(case.bindings), options)
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
                                  f"{type(exc).__name__}: {shown(str(exc))} (please report this)")
    return outcome


@functools.lru_cache(maxsize=8)
def _options(settings: Settings):
    """The evaluate Options every case of a run shares (a case's expectations and claims are
    put in with `replace`): built once, not once a case."""
    from ..evaluate import Options

    limit = settings.timeout or 0
    sympy_seconds = min(SYMPY_SECONDS, limit) if limit else SYMPY_SECONDS
    return Options(check=settings.sympy or settings.numeric, sympy=settings.sympy,
                   numeric=settings.numeric, limits=Limits(sympy_seconds=sympy_seconds))


# A case file often holds one circuit at many points: the graph of a short program, which
# nothing changes once parsed, is kept for the cases after it in the same run (a bounded few,
# so memory stays flat; a longer program is parsed each time, as its parse is small beside its
# run). Every output is the same as with a fresh parse: a graph carries no state of a case.
PARSED_KEEP = 256
PARSED_MAX_CHARS = 512
_parsed_graphs: dict = {}


def _parsed(program: str):
    """`program`'s graph: parsed once for a short program seen again, else parsed now. A
    program that does not parse raises each time, as `parse` does."""
    graph = _parsed_graphs.get(program)
    if graph is not None:
        return graph
    from ..language.parser import parse

    graph = parse(program)
    if len(program) <= PARSED_MAX_CHARS:
        if len(_parsed_graphs) >= PARSED_KEEP:
            del _parsed_graphs[next(iter(_parsed_graphs))]  # the oldest first
        _parsed_graphs[program] = graph
    return graph


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
    if result.named_checks:
        node = {s: i for i, s in result.graph.names.items()}
        for key, c in result.named_checks:  # q (a named value) or dq (its gradient)
            checks.append((key, ((c.method, c.status),)))
            if c.status == "fail":
                ours = result.values[node[key]] if key in node else result.grads[node[key[1:]]]
                mismatches.append(_mismatch(key, ours, c))
    if result.claims:
        claim_rows, claim_failures = claims.claim_checks(result.claims)
        checks += claim_rows
        mismatches += [Mismatch(*f) for f in claim_failures]
    return CaseResult(case.index, case.line, case.id, case.program,
                      "fail" if result.failed else "pass", seconds=seconds,
                      value=plain(result.value),
                      gradients=tuple([(r.name, plain(r.gradient)) for r in result.rows]),
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
    """A per-case limit: raises CaseTimeout, re-firing every half second in case something
    swallowed the first one; check's sympy limit nests inside it and hands it back."""
    return Deadline(seconds, CaseTimeout, repeat=0.5)

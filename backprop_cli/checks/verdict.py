"""The verdict policy, in one place: what a gradient's checks add up to, and the exit code.

docs/checks.md states the same policy for users; eval, trace, check (batch) and the array
checker all reach their verdicts through this module.

  * A gradient is wrong only on evidence. A check that disagrees is a failure, except that
    sympy's exact derivative outranks a finite difference: when sympy agrees with backprop
    (on every entry) and the finite difference does not, the finite difference is the one in
    error (too steep or too curved a function for float64), and it is reported as
    inconclusive, with that reason.
  * A gradient is confirmed ("pass") only when a check passed: sympy, finite differences or a
    hand-derived expected value. A gradient no check confirmed is "unchecked", with the reason,
    never "pass": the checks were skipped, inconclusive, over their budget, or the point is on
    a kink where backprop uses a subgradient.
  * Exit codes (`exit_code`, for eval and check alike): 1 when any check failed; otherwise 0,
    also when some gradient is unchecked (no evidence says it is wrong); check adds 2 for a
    case that could not run. An unchecked gradient is named in the summary line and in
    the JSON (`status` "unchecked", `unchecked` lists the names), so a script that must have
    every gradient confirmed reads `status == "pass"`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from .. import exits

CROSS_CHECKS = ("sympy", "finite-difference")


def settle(checks: Sequence) -> list:
    """The checks of one gradient after the precedence rule: a finite difference that
    disagrees with backprop while sympy's exact derivative agrees is inconclusive."""
    sympy = next((c for c in checks if c.method == "sympy"), None)
    if sympy is None or sympy.status != "pass" or _partial(sympy):
        return list(checks)
    out = []
    for c in checks:
        if c.method == "finite-difference" and c.status == "fail":
            shown = f"{c.rel_error:.1e}" if c.rel_error is not None else "?"
            c = dataclasses.replace(
                c, status="inconclusive",
                reason=f"sympy's exact derivative agrees; finite differences differ by "
                       f"{shown} (the function is too steep or curved for a float64 "
                       f"difference here)")
        out.append(c)
    return out


def _partial(check) -> bool:
    """Whether an array check compared fewer entries than the variable has."""
    total = getattr(check, "total", 0)
    return bool(total) and getattr(check, "entries", total) < total


def row_status(checks: Iterable) -> str:
    """One word for a gradient: "fail", "pass" (a check confirmed it) or "unchecked"."""
    if not checks:  # --no-check: every row of a batch run comes here
        return "unchecked"
    checks = list(checks)
    if any(c.status == "fail" for c in checks):
        return "fail"
    if any(c.status == "pass" for c in checks) and not _undecided_entries(checks):
        return "pass"
    return "unchecked"


def _undecided_entries(checks: list) -> set:
    """An array's entries that some check reached and none passed (on a kink, say): a check
    that passed on the other entries does not confirm those."""
    passed = set().union(*(getattr(c, "passed_at", ()) for c in checks))
    return set().union(*(getattr(c, "undecided_at", ()) for c in checks)) - passed


def unchecked_reason(checks: Iterable) -> str:
    """Why no check confirmed a gradient, in the checks' own words."""
    found = [f"{_METHOD_WORDS.get(c.method, c.method)}: "
             f"{c.reason or _STATUS_WORDS.get(c.status, c.status)}"
             for c in checks if c.status != "pass" or getattr(c, "undecided_at", None)]
    return "; ".join(found) or "no check ran"


def overall(row_statuses: Iterable[str], value_statuses: Iterable[str],
            other_statuses: Iterable[str] = ()) -> str:
    """The whole case, the one place its statuses combine: "fail" if anything failed (a
    gradient, an expected value, or one of `other_statuses`: the Hessian's checks and the
    claims, which can fail a case but confirm no gradient), "pass" if every gradient was
    confirmed (and every expected value matched), else "unchecked"."""
    rows = list(row_statuses)
    values = list(value_statuses)
    if "fail" in rows or "fail" in values or "fail" in other_statuses:
        return "fail"
    if rows and all(s == "pass" for s in rows):
        return "pass"
    if not rows and values and all(s == "pass" for s in values):
        return "pass"
    return "unchecked"


def exit_code(*statuses: str) -> int:
    """The exit code of a run whose cases ended with these statuses, for eval (one case) and
    check (every case) alike: 2 when a case could not be checked at all (bad input, or over
    the batch's per-case time limit), else 1 when a check disagreed, else 0 (an unchecked
    case, like an unchecked gradient, exits 0: no evidence says it is wrong)."""
    if "error" in statuses or "timeout" in statuses:
        return exits.BAD_INPUT
    return exits.CHECK_FAILED if "fail" in statuses else exits.OK


_STATUS_WORDS = {"subgradient": "at a kink, where backprop uses a subgradient",
                 "inconclusive": "inconclusive", "skipped": "skipped"}
_METHOD_WORDS = {"sympy": "sympy", "finite-difference": "finite differences",
                 "expected": "the expected values"}

"""A checked case -> its one record: the plain, JSON-ready dict that `eval --json` prints and
that `check` writes for each case (with the case's id and line added by the batch).

Both commands build it here, so they cannot disagree on a status, a verdict, an unchecked
reason, a diagnosis or a message. Field names are an interface: see docs/json.md, which also
lists the old names kept as aliases.
"""

from __future__ import annotations

import math
from typing import Any

from .values import is_array, plain


def case_record(result, program: str) -> dict[str, Any]:
    """The record of one `evaluate` Result for `program`."""
    out = {
        "program": program,
        "value": plain(result.value),
        "gradients": {r.name: plain(r.gradient) for r in result.rows},
        "checks": {r.name: [c.to_dict() for c in r.checks] for r in result.rows},
        "value_checks": [c.to_dict() for c in result.value_checks],
        "named_checks": {key: c.to_dict() for key, c in result.named_checks},
        "warnings": list(result.warnings),
        "status": result.status,
        "exit_code": result.exit_code,
        "verdicts": {r.name: r.verdict for r in result.rows},
        "unchecked": {r.name: r.unchecked_reason for r in result.rows
                      if r.verdict == "unchecked"},
        "mismatches": mismatches(result),
        "check_statuses": check_statuses(result),
    }
    if is_array(result.value) or any(is_array(r.gradient) for r in result.rows):
        out["shapes"] = {r.name: list(getattr(r.gradient, "shape", ())) for r in result.rows}
    if any(r.formula for r in result.rows):
        out["formulas"] = {r.name: r.formula for r in result.rows}
    if result.jacobian is not None:
        # A non-scalar output: each name's d(output)/d(name) is a Jacobian block, which
        # replaces the gradient (there is no one gradient of a vector).
        del out["gradients"]
        out["jacobian"] = {r.name: plain(r.gradient) for r in result.rows}
        out["jacobian_mode"] = result.jacobian.mode
        out["jacobian_notes"] = {r.name: result.jacobian.notes.get(r.name)
                                 for r in result.rows}
    if result.hessian is not None:
        hess = result.hessian
        out["hessian"] = {a: {b: plain(hess.blocks[a][b]) for b in hess.names}
                          for a in hess.names}
        out["hessian_checks"] = [c.to_dict() for c in result.hessian_checks]
    if result.claims:
        out["claims"] = {c.claim.name: c.to_dict() for c in result.claims}
    return out


def check_statuses(result) -> dict[str, dict[str, str]]:
    """name -> {method: status}: the short form `check` wrote as `checks` before the one
    record (kept under this name for the scripts that read it)."""
    out = {r.name: {c.method: c.status for c in r.checks} for r in result.rows}
    if result.value_checks:
        out["value"] = {c.method: c.status for c in result.value_checks}
    for key, c in result.named_checks:
        out[key] = {c.method: c.status}
    if result.hessian_checks:
        out["hessian"] = {c.method: c.status for c in result.hessian_checks}
    from .checks import claims

    rows, _ = claims.claim_checks(result.claims)
    out.update({name: dict(methods) for name, methods in rows})
    return out


def mismatches(result) -> list[dict[str, Any]]:
    """Every check that disagreed, as {name, method, ours, reference, rel_error, reason}: an
    array's worst entry is named like W[1,0]."""
    found = []
    for row in result.rows:
        found += [_mismatch(row.name, row.gradient, c) for c in row.checks
                  if c.status == "fail"]
    found += [_entry("value", c.method, float(result.value), c.reference, c.rel_error,
                     c.reason)
              for c in result.value_checks if c.status == "fail"]
    # (the names inverted only when a named value was graded: a program of statements has
    # one per statement)
    node = {s: i for i, s in result.graph.names.items()} if result.named_checks else {}
    for key, c in result.named_checks:  # q (a named value) or dq (its gradient)
        if c.status == "fail":
            ours = result.values[node[key]] if key in node else result.grads[node[key[1:]]]
            found.append(_mismatch(key, ours, c))
    found += [_mismatch("hessian", result.hessian.matrix(), c)
              for c in result.hessian_checks if c.status == "fail"]
    from .checks import claims

    _, failures = claims.claim_checks(result.claims)
    found += [_entry(*f) for f in failures]
    return found


def _mismatch(name: str, ours: Any, c) -> dict[str, Any]:
    if is_array(ours):
        worst = getattr(c, "worst", None)
        if worst is None:
            return _entry(name, c.method, math.nan, c.reference, c.rel_error, c.reason)
        name = f"{name}[{','.join(str(k) for k in worst)}]"
        ours = ours[worst]
    return _entry(name, c.method, float(ours), c.reference, c.rel_error, c.reason)


def _entry(name: str, method: str, ours: float, reference, rel_error,
           reason: str = "") -> dict[str, Any]:
    """JSON has no nan or inf: a number that is not finite is null. `reason` is the check's
    own (an expectation's diagnosis: "most likely a sign flip"), null when it gave none."""
    return {"name": name, "method": method, "ours": _finite(ours),
            "reference": _finite(reference), "rel_error": _finite(rel_error),
            "reason": reason or None}


def _finite(x) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)

"""Jacobians and Hessians as labelled matrices: row and column labels, cells, verdict lines.

Shared by the plain and rich views (they only lay the cells out differently); nothing here
computes a derivative.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..engine.hessian import entry_labels
from ..evaluate import Result
from . import numbers

MAX_SHOWN = 400  # entries of one matrix printed in a table; --json always has all of them


@dataclass(frozen=True)
class Matrix:
    title: str
    rows: list[str]  # row labels
    columns: list[str]  # column labels
    cells: list[list[str]] | None  # None: too large to print (`summary` says so)
    note: str = ""
    summary: str = ""


def _cells(matrix, precision: int) -> list[list[str]]:
    return [[numbers.number(float(v), precision) for v in row] for row in matrix]


def _matrix(title: str, rows: list[str], columns: list[str], matrix, precision: int,
            note: str = "") -> Matrix:
    if len(rows) * len(columns) > MAX_SHOWN:
        return Matrix(title, rows, columns, None, note,
                      f"{len(rows):,} x {len(columns):,} entries: too many to print; --json has "
                      f"every one")
    return Matrix(title, rows, columns, _cells(matrix, precision), note)


def output_name(result: Result) -> str:
    return result.graph.names.get(result.graph.output) or "f"


def jacobian_matrices(result: Result, precision: int) -> list[Matrix]:
    """One matrix per variable: output entries (rows) x the variable's entries (columns)."""
    import numpy as np

    jac = result.jacobian
    out_labels = entry_labels(output_name(result), jac.shape)
    found = []
    for r in result.rows:
        shape = tuple(np.shape(result.bindings[r.name]))
        block = np.reshape(np.asarray(r.gradient, dtype=float), (len(out_labels), -1))
        title = (f"d {output_name(result)} / d {r.name}: {block.shape[0]} x {block.shape[1]}, "
                 f"output entries (rows) x entries of {r.name} (columns)")
        found.append(_matrix(title, out_labels, entry_labels(r.name, shape), block, precision,
                             jac.notes.get(r.name, "")))
    return found


def hessian_matrix(result: Result, precision: int) -> Matrix:
    hess = result.hessian
    labels = [label for n in hess.names for label in entry_labels(n, hess.shapes[n])]
    f = output_name(result)
    return _matrix(f"Hessian d2{f} / d(row) d(column): {len(labels)} x {len(labels)}", labels,
                   labels, hess.matrix(), precision)


METHOD_WORDS = {"sympy": "sympy", "finite-difference": "finite differences of the gradient",
           "symmetry": "symmetry (H against its transpose)"}


# At a kink the gradient jumps, so a difference of gradients across it divided by the step is
# as large as the step is small: a relative error against it measures nothing.
GRADIENT_JUMPS = "at a kink the gradient jumps; no finite curvature to compare"


def _found(c) -> str:
    """What one Hessian check found, as its line shows it."""
    if c.method == "finite-difference" and c.status == "subgradient":
        scope = getattr(c, "scope", "")
        return f"subgradient: {GRADIENT_JUMPS}" + (f" ({scope})" if scope else "")
    return numbers.check(c)


def hessian_check_lines(result: Result) -> list[str]:
    """One line per Hessian check: what it compared and what it found."""
    return [f"{METHOD_WORDS.get(c.method, c.method)}: {_found(c)}"
            for c in result.hessian_checks]


def _agrees(c) -> str:
    """'finite differences on 2 of 4 entries (2 inconclusive: ...)': a reference that passed
    on only some entries says which, and why not the rest."""
    word = METHOD_WORDS[c.method].split(" of")[0]
    entries, total = getattr(c, "entries", 0), getattr(c, "total", 0)
    if not total or entries >= total:
        return word
    why = re.sub(r"^([\d,]+) of [\d,]+ entries ", r"\1 ", c.reason)
    return f"{word} on {entries:,} of {total:,} entries" + (f" ({why})" if why else "")


def hessian_verdict(result: Result) -> str | None:
    """The Hessian's summary under the case's verdict; None where the Hessian failed, which
    the case's one verdict line already says (one statement of one fact)."""
    checks = result.hessian_checks
    if not result.hessian.names:
        return "no variables: the Hessian is empty"
    if not checks:
        return "the Hessian is not checked (--no-check)" if not result.checked else \
            "the Hessian is not checked"
    if any(c.status == "fail" for c in checks):
        return None
    passed = [c for c in checks if c.status == "pass"]
    refs = [_agrees(c) for c in passed if c.method != "symmetry"]
    symmetric = any(c.method == "symmetry" for c in passed)
    unsure = [c for c in checks if c.status != "pass"]
    text = "the Hessian"
    if refs:
        text += " agrees with " + " and ".join(refs)
    if symmetric:
        text += (" and is symmetric" if refs else " is symmetric")
    if unsure:
        text += ("; " if refs or symmetric else ": ") + "; ".join(
            f"{METHOD_WORDS[c.method].split(' (')[0]}: {_unsure(c)}" for c in unsure)
    return text


def _unsure(c) -> str:
    if c.method == "finite-difference" and c.status == "subgradient":
        return GRADIENT_JUMPS
    return c.reason or c.status

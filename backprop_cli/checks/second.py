"""Cross-checks of Hessians and of full output Jacobians: sympy, finite differences, symmetry.

Hessian:
  sympy                 every second derivative of the output's exact expression (every
                        variable entry a symbol, built from the graph), evaluated at 30 digits;
                        for up to SYMPY_HESSIAN_ENTRIES variable entries
  finite differences    central differences of backprop's gradient, one variable entry at a
                        time: (grad(x + h e_k) - grad(x - h e_k)) / 2h is column k
  symmetry              H against its transpose: forward-over-reverse computes the two
                        triangles by different passes, so agreement is evidence, not a given
Jacobian (one check list per variable, like a gradient's):
  sympy                 sympy's Matrix.jacobian of the output's entries with respect to the
                        variable's entries (the other variables at their exact values)
  finite differences    central differences of the whole output, one variable entry at a time

The verdict policy is the gradients' (scalar.py): only a disagreement off a kink is "fail". A
finite difference whose step straddles a kink (the one-sided slopes differ by more than the
disagreement) is "inconclusive". relu, abs, max and friends are piecewise linear: off their
kinks their curvature is exactly 0, and the references say so too; at a kink the second
derivative does not exist (sympy gives a Dirac delta), and the entries of variables that flow
into it are "subgradient", with that reason, never "fail".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine.backward import backpropagate
from ..engine.forward import forward
from ..errors import BackpropError
from ..graph import Graph
from ..values import is_array
from .arrays import DIGITS, ArrayCheck, _fixed, _NoSymbolic, array_kinks, node_expressions
from .numeric import OVER_BUDGET, Work
from .scalar import (
    FD_ATOL,
    FD_RTOL,
    FD_STEP,
    SYMPY_ATOL,
    SYMPY_RTOL,
    Check,
    Limits,
    _deadline,
    _Timeout,
    compare,
    kinks,
    sympy_over_budget,
    variables_through,
)

SYMPY_HESSIAN_ENTRIES = 16  # variable entries: up to 16 x 16 second derivatives
SYMPY_JACOBIAN_ENTRIES = 64  # entries of one variable, and of the output
SYMMETRY_RTOL = 1e-9  # relative to the largest |H| entry


def _kinked(graph: Graph, values: list) -> set[str]:
    """The variables that flow into a node evaluated exactly on a kink."""
    nodes = [i for i, _ in kinks(graph, values)]
    if any(is_array(values[j]) for j in graph.variables.values()):
        nodes += [i for i, *_ in array_kinks(graph, values)]
    return variables_through(graph, nodes)


def _entries(names, shapes) -> list[tuple[str, tuple[int, ...]]]:
    import numpy as np

    return [(n, e) for n in names for e in np.ndindex(shapes[n])]


def _grade(method: str, ours, refs, done, on_kink, why_missing: str,
           kink_reason: str = "", atol: float = SYMPY_ATOL) -> Check:
    """One check over the entries marked in `done`: the worst entry decides."""
    import numpy as np

    results = []
    for idx in zip(*np.nonzero(done)):
        c = compare(method, float(ours[idx]), float(refs[idx]),
                    SYMPY_RTOL if method == "sympy" else FD_RTOL, atol, bool(on_kink[idx]))
        results.append((idx, c))
    total = int(np.size(done))
    if not results:
        return ArrayCheck(method, "skipped", reason=why_missing, total=total)
    rank = {"fail": 3, "subgradient": 2, "inconclusive": 1, "pass": 0}
    idx, worst = max(results, key=lambda r: (rank[r[1].status], r[1].rel_error or 0.0))
    statuses = {c.status for _, c in results}
    status = "fail" if "fail" in statuses else ("subgradient" if "subgradient" in statuses
                                                else "pass")
    reasons = [kink_reason if status == "subgradient" and kink_reason else worst.reason]
    if len(results) < total and why_missing:
        reasons.append(why_missing)
    return ArrayCheck(method, status, worst.reference, worst.rel_error,
                      "; ".join(r for r in reasons if r), entries=len(results), total=total,
                      worst=tuple(int(k) for k in idx))


def _straddles(ours, refs, spread, atol: float):
    """Entries whose difference is explained by a kink inside the step: the one-sided slopes
    (`spread` = |right - left|) differ by at least the disagreement, and by more than noise."""
    import numpy as np

    bad = np.abs(ours - refs) > np.maximum(FD_RTOL * np.maximum(np.abs(ours), np.abs(refs)),
                                           atol)
    return bad & (spread >= np.abs(ours - refs)) & (spread > atol * 1e3)


def _fd_check(ours, refs, done, spread, on_kink, why: str, atol: float) -> Check:
    unclear = done & _straddles(ours, refs, spread, atol)
    check = _grade("finite-difference", ours, refs, done & ~unclear, on_kink, why, atol=atol)
    if not unclear.any() or check.status == "fail":
        return check
    status = check.status if (done & ~unclear).any() else "inconclusive"
    return ArrayCheck("finite-difference", status, check.reference, check.rel_error,
                      f"{int(unclear.sum())} of {ours.size} entries inconclusive: a kink lies "
                      "within the finite-difference step (the one-sided slopes differ)",
                      entries=getattr(check, "entries", 0), total=ours.size,
                      worst=getattr(check, "worst", None))


# --- Hessians -----------------------------------------------------------------------------

NO_VALUE = "sympy's second derivative has no finite value at some entries"
KINK_CURVATURE = ("on a kink the second derivative does not exist (a Dirac delta); backprop "
                  "gives the curvature of the piece it routes through, 0 for relu, abs and max")


def check_hessian(graph: Graph, bindings: Mapping[str, Any], values: list, hess,
                  *, sympy: bool = True, numeric: bool = True,
                  limits: Limits | None = None) -> tuple[Check, ...]:
    """The Hessian's checks: sympy, finite differences of the gradient, symmetry."""
    import numpy as np

    limits = limits or Limits()

    H = hess.matrix()
    names = list(hess.names)
    entries = _entries(names, hess.shapes)
    if not entries:
        return ()  # no variables: nothing to check
    kinked = _kinked(graph, values)
    # An entry d2f/da db is excused by a kink when a or b flows into it: moving either one
    # across the kink changes the piece (and so the slope) the other sees.
    flows = np.array([n in kinked for n, _ in entries], dtype=bool)
    on_kink = np.logical_or.outer(flows, flows)
    out: list[Check] = []
    if sympy:
        refs, done, why = sympy_hessian(graph, bindings, names, hess.shapes, limits)
        # Where sympy has no value (a Dirac delta on a kink), the entry is a kink's, not a miss.
        kink_entries = on_kink & ~done
        check = _grade("sympy", H, refs, done, on_kink, why, KINK_CURVATURE)
        if kink_entries.any() and check.status in ("pass", "skipped") and \
                why in ("", NO_VALUE):  # sympy ran, and had no value on the kink
            check = ArrayCheck("sympy", "subgradient", check.reference, check.rel_error,
                               KINK_CURVATURE, entries=int(done.sum()), total=H.size)
        out.append(check)
    if numeric:
        refs, done, spread, why, scale = fd_hessian(graph, bindings, values, names,
                                                    hess.shapes, Work(limits.fd_max_node_evals))
        out.append(_fd_check(H, refs, done, spread, on_kink, why, FD_ATOL * scale))
    out.append(symmetry(H, on_kink))
    return tuple(out)


def symmetry(H, on_kink) -> Check:
    """|H - H^T| against the largest entry: both triangles were computed, by different passes."""
    import numpy as np

    if H.size == 0:
        return Check("symmetry", "pass", 0.0, 0.0)
    diff = np.abs(H - H.T)
    scale = float(np.abs(H).max())
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
    rel = 0.0 if scale == 0 else float(diff[worst]) / scale
    ok = rel <= SYMMETRY_RTOL or float(diff[worst]) <= SYMPY_ATOL
    status = "pass" if ok else ("subgradient" if on_kink[worst] else "fail")
    return ArrayCheck("symmetry", status, float(H.T[worst]), rel,
                      "" if ok else f"H is not symmetric: |H - H^T| is {float(diff[worst]):.3g}",
                      entries=H.size, total=H.size, worst=tuple(int(k) for k in worst))


def _symbols(sp, np, names, shapes, fixed=None):
    """A symbol per variable entry (named like its label: W[0,1]) and the leaves holding them."""
    from ..engine.hessian import entry_labels

    symbols, leaves = [], {}
    for n in names:
        labels = entry_labels(n, shapes[n])
        syms = [sp.Symbol(label, real=True) for label in labels]
        symbols += syms
        if shapes[n]:
            leaf = np.empty(shapes[n], dtype=object)
            for k, s in enumerate(syms):
                leaf.flat[k] = s
            leaves[n] = leaf
        else:
            leaves[n] = syms[0]
    return symbols, leaves


def _number(sp, d, point) -> float | None:
    """d at the point as a float, or None where it has no finite value. sympy calls
    2*DiracDelta(0) real and finite, so the float conversion is the test that counts."""
    import math

    v = d.evalf(DIGITS, subs=point)
    if not (v.is_real and v.is_finite):
        v = sp.N(d.subs(point), DIGITS)
    try:
        x = float(v)
    except TypeError:
        return None
    return x if math.isfinite(x) else None


def sympy_hessian(graph: Graph, bindings: Mapping[str, Any], names: list[str], shapes,
                  limits: Limits):
    """(reference H, which entries sympy gave a finite value, why the rest are missing)."""
    import numpy as np

    total = sum(int(np.prod(shapes[n])) if shapes[n] else 1 for n in names)
    refs = np.zeros((total, total))
    done = np.zeros((total, total), dtype=bool)
    if total > SYMPY_HESSIAN_ENTRIES:
        return refs, done, (f"the variables have {total} entries (sympy checks Hessians of up "
                            f"to {SYMPY_HESSIAN_ENTRIES})")
    if len(graph) > limits.sympy_max_nodes or graph.depth() > limits.sympy_max_depth:
        return refs, done, "the graph is too large for sympy"
    try:
        with _deadline(limits.sympy_seconds):
            import sympy as sp

            symbols, leaves = _symbols(sp, np, names, shapes)
            by_id = {graph.variables[n]: leaves[n] for n in names if n in graph.variables}
            for n, i in graph.variables.items():  # variables outside --wrt: exact numbers
                if n not in names:
                    by_id[i] = _fixed(sp, np, bindings[n])
            f = node_expressions(graph, by_id)[graph.output]
            point = {}
            for n in names:
                vals = np.ravel(np.asarray(bindings[n], dtype=float))
                for s, v in zip(symbols[len(point):], vals):
                    point[s] = sp.Float(float(v), DIGITS)
            firsts = [sp.diff(f, s) for s in symbols]
            for r in range(total):
                for c in range(r, total):
                    v = _number(sp, sp.diff(firsts[r], symbols[c]), point)
                    if v is not None:
                        refs[r, c] = refs[c, r] = v
                        done[r, c] = done[c, r] = True
            return refs, done, "" if done.all() else NO_VALUE
    except _SYMPY_FAILURES as exc:
        return refs, done, _why_no_sympy(exc, limits)



# What can stop a sympy reference short; each says why in `_why_no_sympy`.
_SYMPY_FAILURES = (_Timeout, _NoSymbolic, RecursionError, TypeError, ValueError, ArithmeticError,
                   AttributeError)


def _why_no_sympy(exc: BaseException, limits: Limits) -> str:
    if isinstance(exc, _Timeout):
        return sympy_over_budget(limits)
    if isinstance(exc, _NoSymbolic):
        return f"the op {exc.args[0]} has no symbolic form"
    if isinstance(exc, RecursionError):
        return "sympy recursed too deep on this expression"
    return f"sympy could not evaluate the derivative ({type(exc).__name__})"

def fd_hessian(graph: Graph, bindings: Mapping[str, Any], values: list, names: list[str],
               shapes, work: Work):
    """Central differences of backprop's gradient: (reference H, entries done, |right - left|
    one-sided slopes per entry, why some are missing, the gradients' scale for the tolerance)."""
    import numpy as np

    entries = _entries(names, shapes)
    total = len(entries)
    refs = np.zeros((total, total))
    done = np.zeros((total, total), dtype=bool)
    spread = np.zeros((total, total))
    read = [n for n in names if n in graph.variables]

    def grad_at(b) -> np.ndarray:
        vals = forward(graph, b)
        work.charge(vals)
        work.charge(vals)  # the backward pass: about as much again
        g = backpropagate(graph, vals, wrt=read)
        return np.concatenate([np.ravel(np.broadcast_to(g[graph.variables[n]], shapes[n]))
                               if n in graph.variables else np.zeros(max(1, int(
                                   np.prod(shapes[n])))) for n in names])

    g0 = grad_at(bindings)
    scale = max(1.0, float(np.abs(g0).max()) if g0.size else 1.0,
                abs(float(values[graph.output])))
    why = ""
    for col, (n, e) in enumerate(entries):
        if not work.left():
            why = OVER_BUDGET
            break
        base = bindings[n]
        x = float(base[e]) if shapes[n] else float(base)
        h = FD_STEP * max(1.0, abs(x))
        h = (x + h) - x

        def moved(value: float, n=n, e=e, base=base):
            if not shapes[n]:
                return {**bindings, n: value}
            work = np.array(base, dtype=float)
            work[e] = value
            return {**bindings, n: work}

        try:
            plus, minus = grad_at(moved(x + h)), grad_at(moved(x - h))
        except BackpropError:
            why = "the finite-difference step leaves the function's domain"
            continue
        refs[:, col] = (plus - minus) / (2 * h)
        done[:, col] = True
        spread[:, col] = np.abs((plus - g0) / h - (g0 - minus) / h)
    return refs, done, spread, why, scale


# --- Jacobians of a non-scalar output -----------------------------------------------------


def check_jacobian(graph: Graph, bindings: Mapping[str, Any], values: list, jac,
                   names: list[str], *, sympy: bool = True, numeric: bool = True,
                   limits: Limits | None = None) -> dict[str, list[Check]]:
    """For each variable, its Jacobian block's checks: sympy's Matrix.jacobian, then finite
    differences of the output."""
    import numpy as np

    limits = limits or Limits()

    result: dict[str, list[Check]] = {n: [] for n in names}
    kinked = _kinked(graph, values)
    work = Work(limits.fd_max_node_evals)
    m_out = int(np.prod(jac.shape)) if jac.shape else 1
    for n in names:
        ours = np.reshape(jac.blocks[n], (m_out, -1))
        on_kink = np.full(ours.shape, n in kinked)
        if sympy:
            refs, done, why = sympy_jacobian(graph, bindings, n, ours.shape, limits)
            result[n].append(_grade("sympy", ours, refs, done, on_kink, why))
        if numeric:
            refs, done, spread, why, scale = fd_jacobian(graph, bindings, values, n,
                                                         ours.shape, work)
            result[n].append(_fd_check(ours, refs, done, spread, on_kink, why,
                                       FD_ATOL * scale))
    return result


def sympy_jacobian(graph: Graph, bindings: Mapping[str, Any], name: str, size, limits):
    import numpy as np

    refs = np.zeros(size)
    done = np.zeros(size, dtype=bool)
    if name not in graph.variables:
        return refs, ~done, ""
    if max(size) > SYMPY_JACOBIAN_ENTRIES:
        return refs, done, (f"the block is {size[0]} x {size[1]} (sympy checks up to "
                            f"{SYMPY_JACOBIAN_ENTRIES} entries a side)")
    if len(graph) > limits.sympy_max_nodes or graph.depth() > limits.sympy_max_depth:
        return refs, done, "the graph is too large for sympy"
    try:
        with _deadline(limits.sympy_seconds):
            import sympy as sp

            shape = np.shape(bindings[name])
            symbols, leaves = _symbols(sp, np, [name], {name: shape})
            by_id = {i: _fixed(sp, np, bindings[n]) for n, i in graph.variables.items()}
            by_id[graph.variables[name]] = leaves[name]
            out = node_expressions(graph, by_id)[graph.output]
            J = sp.Matrix(list(np.ravel(out))).jacobian(symbols)
            vals = np.ravel(np.asarray(bindings[name], dtype=float))
            point = {s: sp.Float(float(v), DIGITS) for s, v in zip(symbols, vals)}
            for r in range(size[0]):
                for c in range(size[1]):
                    v = _number(sp, J[r, c], point)
                    if v is not None:
                        refs[r, c] = v
                        done[r, c] = True
            return refs, done, "" if done.all() else "sympy's derivative has no finite " \
                                                      "value at some entries"
    except _SYMPY_FAILURES as exc:
        return refs, done, _why_no_sympy(exc, limits)


def fd_jacobian(graph: Graph, bindings: Mapping[str, Any], values: list, name: str, size,
                budget: Work):
    """Central differences of the whole output, one entry of `name` at a time (a column)."""
    import numpy as np

    refs = np.zeros(size)
    done = np.zeros(size, dtype=bool)
    spread = np.zeros(size)
    y0 = np.ravel(np.asarray(values[graph.output], dtype=float))
    scale = max(1.0, float(np.abs(y0).max()))
    if name not in graph.variables:
        return refs, ~done, spread, "", scale
    base = bindings[name]
    shape = np.shape(base)
    why = ""
    for col, e in enumerate(np.ndindex(shape)):
        if not budget.left():
            why = OVER_BUDGET
            break
        x = float(base[e]) if shape else float(base)
        h = FD_STEP * max(1.0, abs(x))
        h = (x + h) - x

        def out_at(value: float, e=e):
            if shape:
                work = np.array(base, dtype=float)
                work[e] = value
            else:
                work = value
            vals = forward(graph, {**bindings, name: work})
            budget.charge(vals)
            return np.ravel(vals[graph.output])

        try:
            plus, minus = out_at(x + h), out_at(x - h)
        except BackpropError:
            why = "the finite-difference step leaves the function's domain"
            continue
        refs[:, col] = (plus - minus) / (2 * h)
        done[:, col] = True
        spread[:, col] = np.abs((plus - y0) / h - (y0 - minus) / h)
    return refs, done, spread, why, scale

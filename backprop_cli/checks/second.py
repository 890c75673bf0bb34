"""Cross-checks of Hessians and of full output Jacobians: sympy, finite differences, symmetry.

Hessian:
  sympy                 the graph differentiated node by node, twice (sympy_chain.py): each
                        node's own form gives its first and second local derivatives at 30
                        digits, chained forward-over-reverse by a chain of the checker's own
                        (not the engine's); for up to SYMPY_HESSIAN_ENTRIES variable entries
  finite differences    central differences of backprop's gradient, one variable entry at a
                        time: (grad(x + h e_k) - grad(x - h e_k)) / 2h is column k, by the
                        gradients' own method (numeric.entry_slopes: the step kept in the
                        domain and on the point's smooth pieces, a disagreeing entry measured
                        again by extrapolation)
  symmetry              H against its transpose: forward-over-reverse computes the two
                        triangles by different passes, so agreement is evidence, not a given
Jacobian (one check list per variable, like a gradient's):
  sympy                 the graph differentiated node by node (sympy_chain.py), one backward
                        sweep of the local derivatives per output entry
  finite differences    central differences of the whole output, one variable entry at a time,
                        by the same method
Every reference, of either method, is reference.py's record, graded by its one comparison.

The verdict policy is the gradients' (scalar.py): only a disagreement off a kink is "fail". A
finite difference no step of which stays on the point's smooth pieces (the point is on a
kink) is "inconclusive"; where a piece cannot be followed (a tie of max), a kink excuses the
entries of the variables flowing into it instead. relu, abs, max and friends are piecewise
linear: off their kinks their curvature is exactly 0, and the references say so too; at a kink
the second derivative does not exist (sympy gives a Dirac delta), and the entries of variables
that flow into it are "subgradient", with that reason, never "fail".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine.backward import backpropagate
from ..engine.forward import forward
from ..graph import Graph
from ..values import is_array
from . import numeric as fd
from .arrays import array_kinks, pieces, trackable_pieces
from .gradients import held_entries
from .numeric import Work
from .reference import ArrayCheck, Reference, compare_entries
from .scalar import (
    FD_ATOL,
    FD_RTOL,
    SYMPY_ATOL,
    SYMPY_FAILURES,
    Check,
    Limits,
    _deadline,
    kinks,
    sympy_gate,
    variables_through,
    why_no_sympy,
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


def fd_columns(columns, ours, atol: float, piece, work: Work) -> Reference:
    """The finite-difference reference of a vector function, one input entry (one column)
    at a time. `columns` yields (x, at) per column: at(v) is the function's values (raveled)
    and the smooth piece of every tracked node with that entry at v. Each column is measured
    by numeric.entry_slopes, the kink-aware, step-shrinking method gradients use."""
    rows, cols = ours.shape
    slopes: dict = {}
    stopped = False
    for col, (x, at) in enumerate(columns):
        if not work.left():
            stopped = True
            break
        mine = [float(v) for v in ours[:, col]]
        for row, slope in enumerate(fd.entry_slopes(at, x, mine, FD_RTOL, atol, piece,
                                                    work.left)):
            slopes[row * cols + col] = slope
    return Reference.measured((rows, cols), slopes, order=list(slopes), stopped=stopped,
                              atol=atol)


def _tracker(graph: Graph, values: list, kinked: bool):
    """(what to call on a pass's values to get every tracked node's piece, the point's own)
    when the point is on a kink; (None, None) off every kink (no step can cross one it cannot
    see: the pieces are not needed), or when some kinked node's piece cannot be followed (a
    tie of max): then a kink excuses a disagreement instead (`on_kink`)."""
    nodes = trackable_pieces(graph, values) if kinked else None
    if nodes is None:
        return None, None
    try:
        base = pieces(graph, values, nodes)
    except (TypeError, ValueError):  # a rule that cannot read this op's arrays
        return None, None
    return (lambda vals: pieces(graph, vals, nodes)), base


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
        ref = sympy_hessian(graph, bindings, names, hess.shapes, limits)
        # Where sympy has no value (a Dirac delta on a kink), the entry is a kink's, not a miss.
        kink_entries = on_kink & ~ref.done
        check = compare_entries(H, ref, on_kink, KINK_CURVATURE)
        if kink_entries.any() and check.status in ("pass", "skipped") and \
                ref.reason in ("", NO_VALUE):  # sympy ran, and had no value on the kink
            check = ArrayCheck("sympy", "subgradient", check.reference, check.rel_error,
                               KINK_CURVATURE, entries=int(ref.done.sum()), total=H.size)
        out.append(check)
    if numeric:
        out.append(fd_hessian(graph, bindings, values, names, hess.shapes, H, on_kink,
                              Work(limits.fd_max_node_evals)))
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


def sympy_hessian(graph: Graph, bindings: Mapping[str, Any], names: list[str], shapes,
                  limits: Limits) -> Reference:
    """The reference H: the graph differentiated node by node, twice
    (sympy_chain.chain_hessian), like gradients and Jacobians, and independent of the
    engine's chain rule; entries with no finite value (a Dirac delta on a kink) unreached."""
    import numpy as np

    from .sympy_chain import chain_hessian

    total = sum(int(np.prod(shapes[n])) if shapes[n] else 1 for n in names)
    if total > SYMPY_HESSIAN_ENTRIES:
        return Reference.unreached("sympy", (total, total), (
            f"the variables have {total} entries (sympy checks Hessians of up to "
            f"{SYMPY_HESSIAN_ENTRIES})"))
    why = sympy_gate(graph, limits, held_entries(graph, bindings)
                     if any(shapes[n] for n in names) else None)
    if not why:
        try:
            with _deadline(limits.sympy_seconds):
                found = chain_hessian(graph, bindings, names)
        except SYMPY_FAILURES as exc:
            why = why_no_sympy(exc, limits)
    if why:
        return Reference.unreached("sympy", (total, total), why)
    return _partly(found, NO_VALUE)


def fd_hessian(graph: Graph, bindings: Mapping[str, Any], values: list, names: list[str],
               shapes, H, on_kink, work: Work) -> Check:
    """Finite differences of backprop's gradient, one variable entry at a time: column k is
    d(gradient)/d(entry k), measured by fd_columns."""
    import numpy as np

    read = [n for n in names if n in graph.variables]
    follow, base_piece = _tracker(graph, values, bool(on_kink.any()))

    def grad_at(b) -> tuple[Any, Any]:
        vals = forward(graph, b)
        work.charge(vals)
        work.charge(vals)  # the backward pass: about as much again
        g = backpropagate(graph, vals, wrt=read)
        flat = np.concatenate([np.ravel(np.broadcast_to(g[graph.variables[n]], shapes[n]))
                               if n in graph.variables else np.zeros(max(1, int(
                                   np.prod(shapes[n])))) for n in names])
        return flat, (follow(vals) if follow is not None else None)

    g0 = grad_at(bindings)[0]
    scale = max(1.0, float(np.abs(g0).max()) if g0.size else 1.0,
                abs(float(values[graph.output])))
    columns = (_column(bindings, n, e, shapes[n], grad_at) for n, e in _entries(names, shapes))
    # Tracked pieces make a step across a kink unusable, so no kink needs to excuse anything.
    excused = on_kink if follow is None else np.zeros_like(on_kink)
    return compare_entries(H, fd_columns(columns, H, FD_ATOL * scale, base_piece, work),
                           excused)


def _column(bindings: Mapping[str, Any], name: str, e: tuple, shape, f):
    """(x, v -> f at the bindings with entry `e` of `name` set to v)."""
    import numpy as np

    base = bindings[name]
    x = float(base[e]) if shape else float(base)

    def at(v: float):
        if not shape:
            return f({**bindings, name: v})
        work = np.array(base, dtype=float)
        work[e] = v
        return f({**bindings, name: work})

    return x, at


# --- Jacobians of a non-scalar output -----------------------------------------------------


def check_jacobian(graph: Graph, bindings: Mapping[str, Any], values: list, jac,
                   names: list[str], *, sympy: bool = True, numeric: bool = True,
                   limits: Limits | None = None) -> dict[str, list[Check]]:
    """For each variable, its Jacobian block's checks: sympy (node by node), then finite
    differences of the output."""
    import numpy as np

    limits = limits or Limits()

    result: dict[str, list[Check]] = {n: [] for n in names}
    kinked = _kinked(graph, values)
    work = Work(limits.fd_max_node_evals)
    m_out = int(np.prod(jac.shape)) if jac.shape else 1
    blocks = {n: np.reshape(jac.blocks[n], (m_out, -1)) for n in names}
    symbolic = sympy_jacobian(graph, bindings, blocks, limits) if sympy else {}
    for n in names:
        ours = blocks[n]
        on_kink = np.full(ours.shape, n in kinked)
        if sympy:
            result[n].append(compare_entries(ours, symbolic[n], on_kink))
        if numeric:
            result[n].append(fd_jacobian(graph, bindings, values, n, ours, on_kink, work))
    return result


def sympy_jacobian(graph: Graph, bindings: Mapping[str, Any], blocks: Mapping[str, Any],
                   limits: Limits) -> dict[str, Reference]:
    """{name: reference block}, from the graph differentiated node by node
    (sympy_chain.chain_jacobian): one backward sweep of the local derivatives per output
    entry."""
    from .sympy_chain import chain_jacobian

    def unreached(names, why: str) -> dict[str, Reference]:
        return {n: Reference.unreached("sympy", blocks[n].shape, why) for n in names}

    out = {n: unreached([n], f"the block is {b.shape[0]} x {b.shape[1]} (sympy checks up "
                             f"to {SYMPY_JACOBIAN_ENTRIES} entries a side)")[n]
           for n, b in blocks.items() if max(b.shape) > SYMPY_JACOBIAN_ENTRIES}
    rest = [n for n in blocks if n not in out]
    why = sympy_gate(graph, limits, held_entries(graph, bindings)) if rest else ""
    if not why and rest:
        try:
            with _deadline(limits.sympy_seconds):
                refs = chain_jacobian(graph, bindings, rest)
        except SYMPY_FAILURES as exc:
            why = why_no_sympy(exc, limits)
    if why or not rest:
        return {**out, **unreached(rest, why)}
    return {**out, **{n: _partly(refs[n], "sympy's derivative has no finite value at some "
                                           "entries") for n in rest}}


def _partly(values, why: str) -> Reference:
    """sympy's reference with its entries of no finite value left unreached (`why`); the
    rest are still compared."""
    import numpy as np

    done = np.isfinite(values)
    return Reference("sympy", np.where(done, values, 0.0), done, "" if done.all() else why)


def fd_jacobian(graph: Graph, bindings: Mapping[str, Any], values: list, name: str, ours,
                on_kink, work: Work) -> Check:
    """Finite differences of the whole output, one entry of `name` at a time (a column),
    measured by fd_columns."""
    import numpy as np

    y0 = np.ravel(np.asarray(values[graph.output], dtype=float))
    scale = max(1.0, float(np.abs(y0).max()))
    if name not in graph.variables:  # the output does not depend on it: every entry is 0
        zero = Reference("finite-difference", np.zeros(ours.shape),
                         np.ones(ours.shape, dtype=bool))
        return compare_entries(ours, zero, on_kink, atol=FD_ATOL * scale)
    follow, base_piece = _tracker(graph, values, bool(on_kink.any()))

    def out_at(b) -> tuple[Any, Any]:
        vals = forward(graph, b)
        work.charge(vals)
        return (np.ravel(np.asarray(vals[graph.output], dtype=float)),
                follow(vals) if follow is not None else None)

    shape = np.shape(bindings[name])
    columns = (_column(bindings, name, e, shape, out_at) for e in np.ndindex(shape))
    excused = on_kink if follow is None else np.zeros_like(on_kink)
    return compare_entries(ours, fd_columns(columns, ours, FD_ATOL * scale, base_piece, work),
                           excused)

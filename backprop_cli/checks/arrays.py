"""Cross-checks of array gradients: sympy on small arrays, sampled finite differences.

sympy: the one symbolic producer of first derivatives (gradients.sympy_gradients: the graph
differentiated node by node, every entry at 30 digits, never from the user's text), when the
variables have at most SYMPY_MAX_ENTRIES entries in all and the graph's entries stay under
the sympy node limit; otherwise it is reported as skipped, with the reason.

Finite differences: central differences, one entry at a time, on every entry of a small
variable and on a sample of a large one (the entry with the largest gradient plus entries drawn
with a fixed seed, so a rerun checks the same ones), within a budget of forward-pass work
(numeric.Work: counted, so a busy machine checks the same entries), each entry by numeric.py's
method: the step is kept in the domain and, where a variable flows into a kink, on every
entry's smooth piece; an entry no such step reaches is "inconclusive", not "fail".

Both produce reference.py's one record (`Reference`: the finite difference's carries each
entry's error bound and why an entry is unsure), and both are graded by its one comparison
(`compare_entries`) into an `ArrayCheck`: a `Check` that also says how many entries were
compared, out of how many, and where the worst one is. Tolerances are scalar.py's.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from ..engine.forward import forward, is_array
from ..graph import Graph
from . import numeric as fd
from .gradients import sympy_gradients
from .reference import Reference, compare_entries
from .scalar import (
    FD_ATOL,
    FD_RTOL,
    Check,
    Limits,
    _NoSymbolic,
    _sympy_constant,
    variables_through,
)
from .verdict import settle

FD_FULL_ENTRIES = 64  # variables this small get every entry checked
FD_SAMPLES = 12  # entries sampled from a larger variable


def cross_check_arrays(graph: Graph, bindings: Mapping[str, Any], values: list, grads: list,
                       names: list[str], *, sympy: bool = True, numeric: bool = True,
                       limits: Limits | None = None) -> dict[str, list[Check]]:
    """For each name, its checks: sympy (or why not), then finite differences."""
    import numpy as np

    limits = limits or Limits()

    ours = {n: _ours(np, graph, bindings, grads, n) for n in names}
    seed = grads[graph.output]
    result: dict[str, list[Check]] = {n: [] for n in names}
    # A kink excuses a mismatch only for the variables that flow into it.
    kinked = variables_through(graph, [k[0] for k in array_kinks(graph, values)])
    if sympy:
        refs = sympy_gradients(graph, bindings, names, limits, seed, arrays=True)
        for n in names:
            result[n].append(compare_entries(ours[n], refs[n], n in kinked))
    if numeric:
        refs, excused = finite_differences(graph, bindings, values, ours, names, seed,
                                           fd.Work(limits.fd_max_node_evals), kinked=kinked)
        for n in names:
            result[n].append(compare_entries(ours[n], refs[n], n in excused))
    return {n: settle(c) for n, c in result.items()}


def _ours(np, graph: Graph, bindings: Mapping[str, Any], grads: list, name: str):
    shape = np.shape(bindings[name])
    i = graph.variables.get(name)
    g = 0.0 if i is None else grads[i]
    return np.broadcast_to(np.asarray(g, dtype=float), shape)


# --- sympy --------------------------------------------------------------------------------


def node_expressions(graph: Graph, leaves: dict[int, Any], base: list | None = None,
                     only: bytearray | None = None) -> list:
    """Every node's value as a sympy expression or an object array of them, built from the graph
    (never from the user's text). `leaves` gives the variables; with `base`, only the nodes
    marked in `only` are rebuilt and the rest are taken from `base`."""
    import sympy as sp

    from ..ops.arrays import _entrywise

    exprs: list = list(base) if base is not None else [None] * len(graph)
    for i, e in leaves.items():
        exprs[i] = e
    if base is None:
        for i, value in graph.consts.items():
            exprs[i] = _sympy_constant(sp, graph.names.get(i), value)
    for i, op in enumerate(graph.ops):
        a = graph.args[i]
        if not a or (only is not None and not only[i]):
            continue
        if op.sympy is None:
            raise _NoSymbolic(op.name)
        ins = [exprs[j] for j in a]
        if op.vjp is None:  # elementwise: the scalar rule, entry by entry, broadcasting
            exprs[i] = _entrywise(sp, lambda *xs, op=op: op.sympy(sp, *xs), *ins)
        else:  # array rules take object arrays whole
            exprs[i] = op.sympy(sp, *ins)
    return exprs


KINK_SCAN_ENTRIES = 200_000  # entries of one node whose pieces are looked up one by one


def array_kinks(graph: Graph, values: list) -> list[tuple[int, int, int, str]]:
    """(node, entries on a kink, entries, convention) for every array node evaluated exactly at
    a non-differentiable point somewhere. The row's scalar `branch` rule is applied entry by
    entry, so nodes larger than KINK_SCAN_ENTRIES are not scanned."""
    import numpy as np

    found = []
    for i, op in enumerate(graph.ops):
        if op.branch is None and op.kinks is None:
            continue
        args = [values[j] for j in graph.args[i]]
        if not any(is_array(a) for a in args):
            continue
        counted = op.kinks(args, values[i]) if op.kinks is not None else None
        if counted is not None:
            if counted[0]:
                found.append((i, *counted, op.subgradient))
            continue
        try:
            if len(args) == 1 and op.vjp is not None:
                pieces = [op.branch(args[0])]  # a rule over the whole array (norm)
            else:
                if np.size(values[i]) > KINK_SCAN_ENTRIES:
                    continue
                pieces = list(np.ravel(np.frompyfunc(op.branch, len(args), 1)(*args)))
        except (TypeError, ValueError):
            continue  # a rule that cannot read this op's arrays (max(x) of one array)
        hits = sum(p is None for p in pieces)
        if hits:
            found.append((i, hits, len(pieces), op.subgradient))
    return found


# --- finite differences -------------------------------------------------------------------


def _sample(np, name: str, grad, planned: int) -> list[int]:
    """Flat indices to check: all of a small array; else the largest |gradient| and a sample."""
    n = grad.size
    if n <= FD_FULL_ENTRIES:
        return list(range(n))
    first = int(np.argmax(np.abs(grad)))
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    picks = [first]
    for k in rng.choice(n, size=min(n, planned + 1), replace=False):
        if int(k) != first and len(picks) < planned:
            picks.append(int(k))
    return picks


def finite_differences(graph: Graph, bindings: Mapping[str, Any], values: list,
                       ours: Mapping[str, Any], names: list[str], seed: Any,
                       work: fd.Work, kinked: set[str] = frozenset(),
                       ) -> tuple[dict[str, Reference], set[str]]:
    """The finite-difference reference of every variable (every entry of a small one, a
    sample of a large one), and the variables a kink excuses: those in `kinked` (they flow
    into an entry exactly on a kink) whose pieces cannot be followed."""
    import numpy as np

    out_id = graph.output

    def f(vals) -> float:
        y = vals[out_id]
        return float(np.sum(seed * y)) if is_array(y) else float(y)

    atol = FD_ATOL * max(1.0, abs(f(values)))
    # Where a variable flows into an entry exactly on a kink, the smooth piece of every entry
    # is followed (as the scalar check does), when the kinked nodes allow it: a step that moves
    # an entry off its kink is not used, and one that does not is fair, so no kink excuses
    # a wrong rule. Otherwise (a tie in amax, a node too large to scan) the kink excuses.
    tracked = trackable_pieces(graph, values) if kinked else None
    base_piece = pieces(graph, values, tracked) if tracked is not None else None
    refs: dict[str, Reference] = {}
    for n in names:
        grad = np.asarray(ours[n])
        base = np.array(bindings[n], dtype=float)  # a copy: entries are moved in place
        picks = _sample(np, n, grad, FD_SAMPLES)
        follow = tracked if n in kinked else None
        slopes = {}
        for k in picks:
            if not work.left():
                break
            slopes[k] = _one_entry(graph, bindings, n, base, k, float(grad.flat[k]), f, atol,
                                   follow, base_piece, work)
        refs[n] = Reference.measured(grad.shape, slopes, order=picks[:len(slopes)],
                                     stopped=len(slopes) < len(picks),
                                     sampled=len(picks) < grad.size, atol=atol)
    excused = set(kinked) if tracked is None else set()
    return refs, excused


def trackable_pieces(graph: Graph, values: list) -> list[int] | None:
    """The piecewise nodes whose piece can be followed entry by entry (their row's `branch`
    rule, on arrays small enough to scan), or None when some kinked node cannot be."""
    nodes = []
    for i, op in enumerate(graph.ops):
        if op.branch is None and op.kinks is None:
            continue
        args = [values[j] for j in graph.args[i]]
        if op.kinks is not None and any(is_array(a) for a in args) and \
                (op.kinks(args, values[i]) or (0,))[0]:
            return None  # a tie for the largest entry: not entry by entry
        if op.branch is None:
            continue
        if is_array(values[i]) and values[i].size > KINK_SCAN_ENTRIES // 100:
            return None
        nodes.append(i)
    return nodes


def pieces(graph: Graph, values: list, nodes: list[int]) -> tuple:
    """The smooth piece of every entry of the given nodes (None on a kink)."""
    import numpy as np

    out = []
    for i in nodes:
        op = graph.ops[i]
        args = [values[j] for j in graph.args[i]]
        if len(args) == 1 and op.vjp is not None:  # a rule over the whole array (norm)
            out.append(op.branch(args[0]))
        elif any(is_array(a) for a in args):
            out.append(tuple(np.ravel(np.frompyfunc(op.branch, len(args), 1)(*args))))
        else:
            out.append(op.branch(*args))
    return tuple(out)


def _one_entry(graph, bindings, name, work, k, ours, f, atol, follow=None, base_piece=None,
               budget: fd.Work | None = None) -> fd.Slope:
    """One entry's central difference (numeric.py: the step keeps clear of the domain's edge,
    and a disagreement is re-measured by extrapolation at ever smaller steps, so a kink near
    the point is stepped around). `work` is this pass's own copy of the variable (one per
    variable, not one per step: a 4096 x 4096 W is 128 MB); the entry is put back after."""
    import numpy as np

    x = float(work.flat[k])

    def measure(vals) -> tuple[float, Any]:
        if budget is not None:
            budget.charge(vals)
        return f(vals), (pieces(graph, vals, follow) if follow is not None else None)

    def at(value: float) -> tuple[float, Any]:
        if not np.ndim(bindings[name]):
            return measure(forward(graph, {**bindings, name: value}))
        work.flat[k] = value
        try:  # measured before the entry is put back: the variable's node is `work` itself
            return measure(forward(graph, {**bindings, name: work}))
        finally:
            work.flat[k] = x

    return fd.slope_check(at, x, ours, FD_RTOL, atol, base_piece if follow is not None
                          else None, budget.left if budget is not None else lambda: True)

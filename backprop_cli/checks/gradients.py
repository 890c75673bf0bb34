"""The gradient's references: the one symbolic producer of first derivatives, and the
cross-check of a program of numbers.

`sympy_gradients` gives every first derivative as a `Reference` (reference.py), for programs
of numbers and of arrays alike (arrays.py calls it too): the size gate, the budget and the
wording of why it stopped are scalar.py's, written once. `cross_check` grades a program of
numbers: sympy's reference through the one comparison (`compare_entries`, over 0-d arrays),
then finite differences by numeric.py's kink-aware, step-shrinking method, as a
`Reference` of its own through the same comparison.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..graph import Graph
from . import numeric as fd
from .reference import Reference, compare_entries
from .scalar import (
    FD_ATOL,
    FD_RTOL,
    SYMPY_FAILURES,
    Check,
    Limits,
    _at,
    _deadline,
    branches,
    kinks,
    sympy_gate,
    variables_through,
    why_no_sympy,
)
from .verdict import settle

SYMPY_MAX_ENTRIES = 64  # variable entries in all: each is one symbolic derivative


def sympy_gradients(graph: Graph, bindings: Mapping[str, Any], names: list[str],
                    limits: Limits | None = None, seed: Any = 1.0, *, arrays: bool = False,
                    ) -> dict[str, Reference]:
    """{name: Reference} (reference.py): d<seed, output>/d(name) from sympy, the one symbolic
    producer of first derivatives, for programs of numbers and of arrays alike (`arrays`:
    the size gate then counts entries). The graph is differentiated node by node
    (sympy_chain.py): each node's sympy form is differentiated with respect to its own inputs
    and the local derivatives are chained at 30 digits, so the cost grows with the graph, not
    with the expansion of the output's whole expression (a 3-4-3 tanh net: 0.07 s of CPU)."""
    import numpy as np

    limits = limits or Limits()
    shapes = {n: np.shape(bindings[n]) for n in names}
    why = _sympy_refused(graph, bindings, shapes, limits) if arrays else \
        sympy_gate(graph, limits)
    if not why:
        try:
            with _deadline(limits.sympy_seconds):
                from .sympy_chain import chain_gradients

                refs = chain_gradients(graph, bindings, names, seed)
        except SYMPY_FAILURES as exc:
            why = why_no_sympy(exc, limits)
    if why:
        return {n: Reference.unreached("sympy", shapes[n], why) for n in names}
    return {n: Reference.found("sympy", refs[n], n) for n in names}


def _sympy_refused(graph: Graph, bindings: Mapping[str, Any], shapes: Mapping[str, tuple],
                   limits: Limits) -> str:
    """Why sympy is not asked for an array program's gradients ("" when it is): the
    variables' entries (each is one symbolic derivative), then what the graph's nodes hold."""
    entries = sum(math.prod(s) for s in shapes.values())
    if entries > SYMPY_MAX_ENTRIES:
        return (f"the variables have {entries:,} entries (sympy checks up to "
                f"{SYMPY_MAX_ENTRIES})")
    return sympy_gate(graph, limits, held_entries(graph, bindings))


def held_entries(graph: Graph, bindings: Mapping[str, Any]) -> int:
    """How many entries the graph's nodes hold at these bindings: an array program's size,
    as sympy sees it (each entry is an expression of its own)."""
    from ..ops.shapes import infer_shapes

    return sum(math.prod(s) for s in infer_shapes(graph, bindings))


# --- all checks for a scalar program ------------------------------------------------------


def cross_check(graph: Graph, bindings: Mapping[str, Any], values: list, grads: list,
                names: list[str], *, sympy: bool = True, numeric: bool = True,
                limits: Limits | None = None, seed: float = 1.0) -> dict[str, list[Check]]:
    """For each name, its checks: sympy first, then finite differences. `seed` is the upstream
    gradient backprop started from (--seed): the references are scaled by it too."""
    limits = limits or Limits()
    result: dict[str, list[Check]] = {n: [] for n in names}
    # A kink excuses a mismatch only for the variables that flow into it: a wrong rule
    # elsewhere in the graph must still fail.
    kinked = variables_through(graph, [i for i, _ in kinks(graph, values)])
    if sympy:  # the one comparison over arrays, of 0-d ones here
        refs = sympy_gradients(graph, bindings, names, limits, seed)
        for n in names:
            ours = grads[graph.variables[n]] if n in graph.variables else 0.0
            result[n].append(compare_entries(ours, refs[n], n in kinked).as_number())
    if numeric:
        base = branches(graph, values)
        # The one finite-difference budget (numeric.Work, as arrays, Jacobians and Hessians
        # spend it): the variables whose two plain differences fit it always get them, and
        # measuring again (the extrapolation) spends what is left.
        work = fd.Work(limits.fd_max_node_evals)
        budget = work.passes(2 * len(graph))
        f_scale = max(1.0, abs(values[graph.output]))

        def counted(at):
            def run(v):
                work.charge_nodes(len(graph))
                return at(v)
            return run

        for k, n in enumerate(names):
            if k >= budget:
                ref = Reference.unreached("finite-difference", (), (
                    f"over the finite-difference budget: checked {budget:,} of "
                    f"{len(names):,} variables"))
                result[n].append(compare_entries(0.0, ref).as_number())
                continue
            ours = grads[graph.variables[n]] if n in graph.variables else 0.0
            # The slope of seed * f: the reference is scaled like backprop's gradient.
            at = counted(_at(graph, bindings, n, bool(base)))
            scaled = at if seed == 1.0 else (lambda v, at=at: _scale(at(v), seed))
            atol = FD_ATOL * f_scale
            slope = fd.slope_check(scaled, bindings[n], ours, FD_RTOL, atol, base or None,
                                   more=lambda: work.fits(len(graph)))
            # No kink excuse here: a step that moves a kinked node off its kink is never used
            # (the pieces differ), so a difference that was taken is a fair one.
            ref = Reference.measured((), {0: slope}, order=[0], stopped=False, atol=atol,
                                     noted=True)
            result[n].append(compare_entries(ours, ref).as_number())
    return {n: settle(checks) for n, checks in result.items()}


def _scale(point: tuple, seed: float) -> tuple:
    return seed * point[0], point[1]

"""sympy's gradient of a program node by node: a symbolic check whose cost grows with the
graph, not with the expansion of the output's whole expression.

Each node's own sympy form (its registry row's `sympy`, the same form the whole-expression
check builds from) is written over placeholder symbols, one per entry of each input; sympy
differentiates that small expression with respect to each placeholder and evaluates it at the
inputs' values, carried at DIGITS significant digits from the bound floats' exact values. The
local derivatives then chain backward, entry by entry, in that precision.

Independent of the engine: no rule of the registry's derivative rows (local partials, vjps) and
no code of engine/backward.py is used, only the ops' sympy forms and sympy's `diff`, and a
chain of its own; a wrong rule or a wrong chain step in the engine still disagrees here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..graph import Graph
from ..values import is_array

DIGITS = 30  # working precision of the symbolic checks


class _NoSymbolic(Exception):
    """An op of the graph has no sympy form (its name is the argument)."""


def _sympy_constant(sp, name: str | None, value: float):
    if name == "pi":
        return sp.pi
    if name == "e":
        return sp.E
    if value == int(value) and abs(value) < 2 ** 53:
        return sp.Integer(int(value))
    # The exact binary value of the float the user's literal became: what backprop computed.
    return sp.Rational(value)


def _fixed(sp, np, value):
    """A bound value as exact-to-30-digit sympy numbers (the double's own binary value)."""
    if not is_array(value):
        return sp.Float(float(value), DIGITS)
    out = np.empty(value.shape, dtype=object)
    for e in np.ndindex(value.shape):
        out[e] = sp.Float(float(value[e]), DIGITS)
    return out


def chain_gradients(graph: Graph, bindings: Mapping[str, Any], names: list[str],
                    seed: Any) -> dict[str, Any]:
    """{name: float array shaped like the variable}: d<seed, output>/d(name), entries that
    have no finite value as nan. Raises what sympy raises (the caller's SYMPY_FAILURES)."""
    import mpmath

    with mpmath.workdps(DIGITS):
        values, local = _locals(graph, bindings)
        return _sweep(graph, bindings, names, values, local, seed)


def chain_jacobian(graph: Graph, bindings: Mapping[str, Any], names: list[str],
                   ) -> dict[str, Any]:
    """{name: (output entries x entries of name) float matrix}: one backward sweep of the
    same local derivatives per output entry."""
    import mpmath
    import numpy as np

    with mpmath.workdps(DIGITS):
        values, local = _locals(graph, bindings)
        m = len(values[graph.output])
        rows = [_sweep(graph, bindings, names, values, local, np.eye(m)[o]) for o in range(m)]
    return {n: np.array([np.ravel(r[n]) for r in rows]) for n in names}


def _locals(graph: Graph, bindings: Mapping[str, Any]) -> tuple[list, list]:
    """(every node's value at DIGITS digits, as a flat list; per node, its local derivatives
    [(input, input entry, output entry, value)]) for the nodes a variable flows into."""
    import numpy as np
    import sympy as sp

    from ..ops.shapes import infer_shapes

    shapes = infer_shapes(graph, bindings)
    needed = _needed(graph, bindings)
    values: list = [None] * len(graph)
    local: list = [None] * len(graph)
    for i, op in enumerate(graph.ops):
        args = graph.args[i]
        if i in graph.consts:
            values[i] = [_sympy_constant(sp, graph.names.get(i), graph.consts[i])]
            continue
        if not args:  # a variable: the bound double's exact value
            values[i] = list(np.ravel(np.asarray(_fixed(sp, np, bindings[graph.names[i]]),
                                                 dtype=object)))
            continue
        if op.sympy is None:
            raise _NoSymbolic(op.name)
        # Every node gets its value (a constant subtree feeds the nodes that need it); only
        # the nodes a variable flows into get local derivatives.
        holders, subs = _placeholders(sp, np, args, values, shapes, needed)
        form = _form(sp, np, op, [holders[j] for j in args])
        outs = list(np.ravel(np.asarray(form, dtype=object)))
        values[i] = [sp.sympify(e).xreplace(subs).evalf(DIGITS) for e in outs]
        if needed[i]:
            local[i] = _local(sp, outs, holders, subs, needed)
    return values, local


def _sweep(graph: Graph, bindings: Mapping[str, Any], names: list[str], values: list,
           local: list, seed: Any) -> dict[str, Any]:
    """One backward pass over the local derivatives: adjoint[input] += adjoint[node] * d,
    from the output's `seed` (its own chain, not the engine's)."""
    import mpmath
    import numpy as np

    mpf = mpmath.mpf
    adjoint: list = [None] * len(graph)
    out = graph.output
    adjoint[out] = [mpf(float(w)) for w in
                    np.ravel(np.broadcast_to(np.asarray(seed, dtype=float),
                                             (len(values[out]),)))]
    for i in range(len(graph) - 1, -1, -1):
        if adjoint[i] is None or local[i] is None:
            continue
        for j, k, o, d in local[i]:
            if adjoint[j] is None:
                adjoint[j] = [mpf(0)] * len(values[j])
            adjoint[j][k] += adjoint[i][o] * d
    result = {}
    for n in names:
        shape = np.shape(bindings[n])
        node = graph.variables.get(n)
        flat = adjoint[node] if node is not None and adjoint[node] is not None else \
            [mpf(0)] * (int(np.prod(shape)) if shape else 1)
        result[n] = np.array([_float(v) for v in flat]).reshape(shape)
    return result


def _needed(graph: Graph, bindings: Mapping[str, Any]) -> bytearray:
    """The nodes some variable flows into: only they need values and local derivatives
    beyond the leaves' (a constant subtree is a number already). A variable bound to an
    integer array holds positions (y=@y.json: class labels), which get no gradient, so it
    is its value, as a class label written in the program is."""
    marks = bytearray(len(graph))
    for name, i in graph.variables.items():
        kind = getattr(getattr(bindings.get(name), "dtype", None), "kind", "f")
        marks[i] = kind not in "iub"
    for i, a in enumerate(graph.args):
        if a and any(marks[j] for j in a):
            marks[i] = 1
    return marks


def _placeholders(sp, np, args, values, shapes, needed) -> tuple[dict, dict]:
    """A symbol per entry of each distinct input a variable flows into (an input read twice,
    x*x, shares them), each standing for that entry's value, and the substitution of the
    values for them; an input no variable flows into (a class label, a constant) is its value
    itself, as the op's form may need it to be (an index)."""
    holders: dict = {}
    subs: dict = {}
    for j in dict.fromkeys(args):
        entries = values[j]
        shape = tuple(shapes[j])
        if not needed[j]:
            holders[j] = np.array(entries, dtype=object).reshape(shape) if shape else \
                entries[0]
            continue
        syms = [sp.Symbol(f"u{j}_{k}", real=True) for k in range(len(entries))]
        subs.update(zip(syms, entries))
        if shape:
            holder = np.empty(shape, dtype=object)
            for k, s in enumerate(syms):
                holder.flat[k] = s
            holders[j] = holder
        else:
            holders[j] = syms[0]
    return holders, subs


def _form(sp, np, op, ins: list):
    """The node's sympy form over its inputs' placeholders (elementwise rows entry by entry,
    broadcasting; array rows on the object arrays whole), as the whole-expression check
    builds it (arrays.node_expressions)."""
    from ..ops.arrays import _entrywise

    if op.vjp is None:
        return _entrywise(sp, lambda *xs: op.sympy(sp, *xs), *ins)
    return op.sympy(sp, *ins)


def _local(sp, outs: list, holders: dict, subs: dict, needed) -> list:
    """(input node, input entry, output entry, d output / d input entry at the point) for
    every input entry an output entry depends on, of inputs a variable flows into."""
    index = {}
    for j, holder in holders.items():
        if not needed[j]:
            continue  # a value, not placeholders
        flat = list(holder.flat) if is_array(holder) else [holder]
        for k, s in enumerate(flat):
            index[s] = (j, k)
    found = []
    for o, e in enumerate(outs):
        e = sp.sympify(e)
        for s in e.free_symbols:
            if s in index:
                j, k = index[s]
                found.append((j, k, o, _number(sp, sp.diff(e, s).xreplace(subs).evalf(DIGITS))))
    return found


def _number(sp, v):
    """A derivative's value as an mpmath number; nan where it has none (complex, infinite,
    undefined: sympy's 2*DiracDelta(0) evaluates to itself, not to a number)."""
    import mpmath

    if not (getattr(v, "is_Number", False) and v.is_real and v.is_finite):
        return mpmath.mpf("nan")
    return mpmath.mpf(sp.Float(v, DIGITS)._mpf_)


def _float(v) -> float:
    import math

    x = float(v)
    return x if math.isfinite(x) else math.nan

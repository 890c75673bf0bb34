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


def chain_hessian(graph: Graph, bindings: Mapping[str, Any], names: list[str]):
    """The Hessian of a scalar output over every entry of `names` (in order), as a float
    matrix, entries with no finite value as nan: forward-over-reverse on the local first and
    second derivatives of each node (sympy's diff of the node's own form, twice), chained here,
    not by the engine (whose Hessian runs its rules on dual numbers)."""
    import mpmath
    import numpy as np

    with mpmath.workdps(DIGITS):
        values, local, second = _locals(graph, bindings, second=True)
        adjoint = _adjoints(graph, values, local, [mpmath.mpf(1)])
        entries = [(graph.variables.get(n), k) for n in names
                   for k in range(int(np.prod(np.shape(bindings[n]))))]
        columns = [_second_adjoint(graph, values, local, second, adjoint, node, k, entries)
                   for node, k in entries]
    return np.array([[_float(v) for v in col] for col in columns]).T


def _adjoints(graph: Graph, values: list, local: list, seed: list) -> list:
    """adjoint[node][entry] = d output / d that entry, by one sweep of the local derivatives."""
    import mpmath

    adjoint: list = [None] * len(graph)
    adjoint[graph.output] = list(seed)
    for i in range(len(graph) - 1, -1, -1):
        if adjoint[i] is None or local[i] is None:
            continue
        for j, k, o, d in local[i]:
            if adjoint[j] is None:
                adjoint[j] = [mpmath.mpf(0)] * len(values[j])
            adjoint[j][k] += adjoint[i][o] * d
    return adjoint


def _second_adjoint(graph: Graph, values: list, local: list, second: list, adjoint: list,
                    node: int | None, k: int, entries: list) -> list:
    """Column (node, k) of the Hessian: the tangent of every node along that variable entry
    (forward), then the tangent of every adjoint (reverse):
        tangent'[j] += adjoint[i] * d2 node_i / d j d m * tangent[m] + tangent'[i] * d i/d j.
    A term whose factor is exactly 0 is left out, so a second derivative with no value (a
    Dirac delta on a kink) spoils only the entries it reaches."""
    import mpmath

    zero = mpmath.mpf(0)
    tan: list = [None] * len(graph)
    if node is not None:
        tan[node] = [zero] * len(values[node])
        tan[node][k] = mpmath.mpf(1)
    for i in range(len(graph)):
        if local[i] is None:
            continue
        for j, kj, o, d in local[i]:
            if tan[j] is not None and tan[j][kj] != 0:
                if tan[i] is None:
                    tan[i] = [zero] * len(values[i])
                tan[i][o] += d * tan[j][kj]
    dadj: list = [None] * len(graph)
    for i in range(len(graph) - 1, -1, -1):
        if local[i] is None:
            continue
        up = dadj[i]
        for j, kj, o, d in local[i]:
            if up is not None and up[o] != 0:
                _add(dadj, values, j, kj, up[o] * d)
        a = adjoint[i]
        if a is None:
            continue
        for o, (j, kj), (m, km), d2 in second[i]:
            if a[o] == 0:
                continue
            if tan[m] is not None and tan[m][km] != 0:
                _add(dadj, values, j, kj, a[o] * d2 * tan[m][km])
            if (j, kj) != (m, km) and tan[j] is not None and tan[j][kj] != 0:
                _add(dadj, values, m, km, a[o] * d2 * tan[j][kj])
    return [dadj[n][e] if n is not None and dadj[n] is not None else zero
            for n, e in entries]


def _add(into: list, values: list, j: int, k: int, v) -> None:
    import mpmath

    if into[j] is None:
        into[j] = [mpmath.mpf(0)] * len(values[j])
    into[j][k] += v


def _locals(graph: Graph, bindings: Mapping[str, Any], second: bool = False):
    """(every node's value at DIGITS digits, as a flat list; per node, its local derivatives
    [(input, input entry, output entry, value)]) for the nodes a variable flows into; with
    `second`, also per node its local second derivatives [(output entry, (input, entry),
    (input, entry), value)], each unordered pair once."""
    import numpy as np
    import sympy as sp

    from ..ops.shapes import infer_shapes

    shapes = infer_shapes(graph, bindings)
    needed = _needed(graph, bindings)
    values: list = [None] * len(graph)
    local: list = [None] * len(graph)
    seconds: list = [()] * len(graph)
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
            if second:
                seconds[i] = _local_second(sp, outs, holders, subs, needed)
    return (values, local, seconds) if second else (values, local)


def _sweep(graph: Graph, bindings: Mapping[str, Any], names: list[str], values: list,
           local: list, seed: Any) -> dict[str, Any]:
    """One backward pass over the local derivatives: adjoint[input] += adjoint[node] * d,
    from the output's `seed` (its own chain, not the engine's)."""
    import mpmath
    import numpy as np

    mpf = mpmath.mpf
    out = graph.output
    adjoint = _adjoints(graph, values, local,
                        [mpf(float(w)) for w in
                         np.ravel(np.broadcast_to(np.asarray(seed, dtype=float),
                                                  (len(values[out]),)))])
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


def _index(holders: dict, needed) -> dict:
    """placeholder symbol -> (input node, input entry), for inputs a variable flows into."""
    index = {}
    for j, holder in holders.items():
        if not needed[j]:
            continue  # a value, not placeholders
        flat = list(holder.flat) if is_array(holder) else [holder]
        for k, s in enumerate(flat):
            index[s] = (j, k)
    return index


def _local_second(sp, outs: list, holders: dict, subs: dict, needed) -> list:
    """(output entry, (input, entry), (input, entry), d2 output / d one d other at the point)
    for every unordered pair of input entries an output entry depends on; zeros left out."""
    index = _index(holders, needed)
    found = []
    for o, e in enumerate(outs):
        e = sp.sympify(e)
        syms = sorted((s for s in e.free_symbols if s in index), key=lambda s: index[s])
        for a, s in enumerate(syms):
            first = sp.diff(e, s)
            for t in syms[a:]:
                d2 = sp.diff(first, t)
                if d2 == 0:
                    continue
                found.append((o, index[s], index[t],
                              _number(sp, d2.xreplace(subs).evalf(DIGITS))))
    return found


def _local(sp, outs: list, holders: dict, subs: dict, needed) -> list:
    """(input node, input entry, output entry, d output / d input entry at the point) for
    every input entry an output entry depends on, of inputs a variable flows into."""
    index = _index(holders, needed)
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

"""How much rounding a computed value or gradient may carry: the floor under which an expected
0 is right (checks/answers.py), derived from what the engine computed.

Numbers (programs without arrays), u = 2**-53 the unit roundoff of a double:

  forward magnitude   m[i] = |v[i]| for a variable or constant (its decimal was rounded once),
                      m[i] = |v[i]| + sum_k |local[i,k]| * m[input k] for an op: a first-order
                      bound, divided by u, on the error of v[i] (each op rounds once and passes
                      its inputs' errors on through its local partials);
  backward magnitude  M[output] = |seed|, and from the output back, for each use of k by i:
                      M[k] += |local[i,k]| * M[i]            the error upstream carries,
                            + |g[i]| * lambda[i,k]           the error of the local partial,
                            + |local[i,k] * g[i]|            the term itself (its rounding),
                      where lambda[i,k] = sum over the arguments the rule reads (each input l
                      and the op's own output) of |d local[i,k] / d argument| * its m (the
                      rule differentiated by the dual numbers of the registry's own row:
                      sigmoid's partial out * (1 - out) moves with the output's rounding);
  floors              value of node i:    ROUNDING_FACTOR * u * m[i]
                      gradient of node k: ROUNDING_FACTOR * u * M[k]

Arrays: the same backward recursion entry by entry, each chain-rule step taken on magnitudes
(chain_step with |upstream| and |inputs|, so a matrix product gives |W|^T |g|), without the
lambda term; a value's floor is ROUNDING_FACTOR * u * |v|.
"""

from __future__ import annotations

import math
from typing import Any

from ..graph import Graph

ROUNDING_FACTOR = 8  # library functions round to a few ulps, sums of n terms to n - 1
_U = 2.0 ** -53


def floors(graph: Graph, values: list, grads: list) -> tuple[list, list]:
    """(value floor, gradient floor) per node; the seed is the output's gradient."""
    from ..engine.forward import is_array

    if any(is_array(v) for v in values):
        return _array_floors(graph, values, grads)
    m = _forward_magnitudes(graph, values)
    big = _backward_magnitudes(graph, values, grads, m)
    c = ROUNDING_FACTOR * _U
    return [c * x for x in m], [c * x for x in big]


def _locals(op, inputs: list, out: float) -> tuple | None:
    from ..ops.registry import SCALAR

    if op.local is None:
        return None
    try:
        got = tuple(float(x) for x in op.local(SCALAR, *inputs, out))
    except (ArithmeticError, ValueError, FloatingPointError, TypeError):
        return None
    return got if all(math.isfinite(x) for x in got) else None


def _forward_magnitudes(graph: Graph, values: list) -> list[float]:
    m: list[float] = []
    for i, op in enumerate(graph.ops):
        a = graph.args[i]
        here = abs(float(values[i]))
        if not a:
            m.append(here)
            continue
        local = _locals(op, [values[j] for j in a], values[i])
        if local is None:  # no partial here (a kink's far side, a pole): pass errors on whole
            m.append(here + sum(m[j] for j in a))
        else:
            m.append(here + sum(abs(lk) * m[j] for lk, j in zip(local, a)))
    return m


def _backward_magnitudes(graph: Graph, values: list, grads: list, m: list[float]) -> list:
    n = len(graph.ops)
    big = [0.0] * n
    big[graph.output] = abs(float(grads[graph.output] or 0.0))
    for i in range(n - 1, -1, -1):
        a = graph.args[i]
        if not a or (big[i] == 0.0 and not grads[i]):
            continue
        inputs = [values[j] for j in a]
        local = _locals(graph.ops[i], inputs, values[i])
        if local is None:
            continue
        g = abs(float(grads[i] or 0.0))
        slack = _local_errors(graph.ops[i], inputs, values[i], local, [m[j] for j in a],
                              m[i])
        for lk, j, lam in zip(local, a, slack):
            big[j] += abs(lk) * big[i] + g * lam + abs(lk) * g
    return big


def _local_errors(op, inputs: list, out: float, local: tuple, errors: list,
                  out_error: float) -> list[float]:
    """For each local partial, how far the errors of what it is computed from move it: the
    rule reads the inputs and the op's own output (sigmoid's partial is out * (1 - out)), each
    carrying its error (`errors`, `out_error`, as magnitudes m). One pass of the rule on dual
    numbers per argument: sum over them of |d partial / d argument| * its error."""
    from ..engine.dual import DUAL, Dual, tangent

    lam = [0.0] * len(local)
    for p, e in [*enumerate(errors), (len(inputs), out_error)]:
        if not e:
            continue
        args = [Dual(x, e) if q == p else x for q, x in enumerate(inputs)]
        try:
            moved = op.local(DUAL, *args, Dual(out, e) if p == len(inputs) else out)
            for k, d in enumerate(moved):
                t = abs(float(tangent(d)))
                if math.isfinite(t):
                    lam[k] += t
        except (ArithmeticError, ValueError, FloatingPointError, TypeError):
            continue
    return lam


def _array_floors(graph: Graph, values: list, grads: list) -> tuple[list, list]:
    from ..engine.backward import chain_step, wanted_nodes
    from ..engine.forward import math_of

    m = math_of(values)
    np = m.np
    n = len(graph.ops)
    wants = wanted_nodes(graph)
    mags = [np.abs(np.asarray(v, dtype=float)) for v in values]
    big: list[Any] = [None] * n
    big[graph.output] = np.abs(np.asarray(grads[graph.output], dtype=float))
    for i in range(n - 1, -1, -1):
        a = graph.args[i]
        if not a or big[i] is None or not wants[i]:
            continue
        g = np.abs(np.asarray(grads[i], dtype=float))
        try:
            carried = chain_step(graph.ops[i], m, big[i], a, mags, mags[i], wants)
            own = chain_step(graph.ops[i], m, g, a, mags, mags[i], wants)
        except (ArithmeticError, ValueError, FloatingPointError, TypeError):
            continue
        for j, x, y in zip(a, carried, own):
            if x is None:
                continue
            add = np.abs(np.asarray(x, dtype=float)) + np.abs(np.asarray(y, dtype=float))
            big[j] = add if big[j] is None else big[j] + add
    c = ROUNDING_FACTOR * _U
    return ([c * x for x in mags],
            [None if x is None else c * x for x in big])

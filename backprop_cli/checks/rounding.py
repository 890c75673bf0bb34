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
                            + u * M[i] * lambda[i,k]         the two errors' product (it
                                                             alone is left when a saturated
                                                             tanh's partial rounds to 0),
                            + |local[i,k] * g[i]|            the term itself (its rounding),
                      where lambda[i,k] = sum over the arguments the rule reads (each input l
                      and the op's own output) of |d local[i,k] / d argument| * its m (the
                      rule differentiated by the dual numbers of the registry's own row:
                      sigmoid's partial out * (1 - out) moves with the output's rounding);
  floors              value of node i:    ROUNDING_FACTOR * u * m[i]
                      gradient of node k: ROUNDING_FACTOR * u * M[k]
  underflow           every rounding may also land in gradual underflow, off by up to
                      eta = 2**-1074 however small the value (a saturated tanh's sech**2 of
                      1e-316): each op's value, local partial and term adds eta / u to its
                      magnitude, and the recursions carry it on like any other error

Arrays: the same recursions entry by entry (see _array_floors for the ops given as a
vector-Jacobian product: matmul, sum, softmax, ...).
"""

from __future__ import annotations

import math
from typing import Any

from ..graph import Graph

ROUNDING_FACTOR = 8  # library functions round to a few ulps, sums of n terms to n - 1
_U = 2.0 ** -53
_TINY = 2.0 ** -1074 / _U  # gradual underflow's absolute error, as a magnitude


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
            m.append(here + sum(m[j] for j in a) + _TINY)
        else:
            m.append(here + sum(abs(lk) * m[j] for lk, j in zip(local, a)) + _TINY)
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
            big[j] += (abs(lk) * big[i] + (g + _U * big[i]) * (lam + _TINY) + abs(lk) * g
                       + _TINY)
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
    """The same recursions entry by entry. An elementwise op (a row with `local`) is taken as
    for numbers, its local partials broadcast and summed back over broadcast axes; an op given
    as a vector-Jacobian product (matmul, sum, softmax, ...) carries magnitudes by its own
    rule run on them: forward m = |v| + |op(|inputs| + m)|, which for a matrix product is at
    least the magnitudes of the terms its sums add; backward, its VJP of |upstream| on
    |inputs|, without the lambda term."""
    from ..engine.backward import wanted_nodes
    from ..engine.forward import math_of
    from ..ops.shapes import unbroadcast

    m = math_of(values)
    np = m.np
    n = len(graph.ops)
    wants = wanted_nodes(graph)
    mags = [np.abs(np.asarray(v, dtype=float)) for v in values]
    fwd: list[Any] = []
    for i, op in enumerate(graph.ops):
        a = graph.args[i]
        fwd.append(mags[i] if not a else
                   mags[i] + _array_carried(op, m, a, values, values[i], mags, fwd, wants)
                   + _TINY)
    big: list[Any] = [None] * n
    big[graph.output] = mags[graph.output] * 0 + np.abs(np.asarray(grads[graph.output],
                                                                  dtype=float))
    for i in range(n - 1, -1, -1):
        a = graph.args[i]
        if not a or big[i] is None or not wants[i]:
            continue
        g = np.abs(np.asarray(grads[i], dtype=float))
        try:
            parts = _array_step(graph.ops[i], m, a, values, mags, fwd, big[i], g, wants, i)
        except (ArithmeticError, ValueError, FloatingPointError, TypeError, LookupError):
            continue
        for j, part in zip(a, parts):
            if part is None:
                continue
            part = np.abs(np.asarray(unbroadcast(m, part, values[j]), dtype=float))
            big[j] = part if big[j] is None else big[j] + part
    c = ROUNDING_FACTOR * _U
    return ([c * x for x in fwd], [None if x is None else c * x for x in big])


def _array_carried(op, m, a: tuple, values: list, out: Any, mags: list, fwd: list,
                   wants) -> Any:
    """What an op's inputs' errors (as magnitudes) become in its output."""
    np = m.np
    inputs = [values[j] for j in a]
    try:
        if op.vjp is None and op.local is not None:
            local = op.local(m, *inputs, out)
            return sum(np.abs(np.asarray(lk, dtype=float)) * fwd[j] for lk, j in zip(local, a))
        # a constant input (an index, a label) is passed as it is
        moved = [mags[j] + fwd[j] if wants[j] else values[j] for j in a]
        return np.abs(np.asarray(op.forward(m, *moved), dtype=float))
    except (ArithmeticError, ValueError, FloatingPointError, TypeError, LookupError):
        return sum(float(np.max(fwd[j], initial=0.0)) for j in a)


def _array_step(op, m, a: tuple, values: list, mags: list, fwd: list, big: Any, g: Any,
                wants, i: int) -> list:
    """For each input: |local| M + |g| lambda + |local g| (elementwise rows), or the VJP of
    M + |g| on magnitudes (the others)."""
    from ..engine.backward import chain_step

    np = m.np
    inputs = [values[j] for j in a]
    if op.vjp is not None or op.local is None:
        parts = chain_step(op, m, big + g, a, mags, mags[i], wants)
        return [None if p is None else np.abs(np.asarray(p, dtype=float)) for p in parts]
    local = [np.abs(np.asarray(lk, dtype=float)) for lk in op.local(m, *inputs, values[i])]
    lam = _array_local_errors(op, m, inputs, values[i], [fwd[j] for j in a], fwd[i])
    return [lk * (big + g) + (g + _U * big) * (lm + _TINY) + _TINY if wants[j] else None
            for lk, lm, j in zip(local, lam, a)]


def _array_local_errors(op, m, inputs: list, out: Any, errors: list, out_error: Any) -> list:
    """lambda for an elementwise row on arrays: the rule on dual arrays, one argument moved
    by its error at a time."""
    from ..engine.dual import Dual, dual_array_math, tangent

    dm = dual_array_math()
    np = m.np
    lam: list[Any] = [0.0] * len(inputs)
    for p, e in [*enumerate(errors), (len(inputs), out_error)]:
        args = [Dual(x, np.broadcast_to(e, np.shape(x)) * 1.0) if q == p else x
                for q, x in enumerate(inputs)]
        dout = Dual(out, np.broadcast_to(e, np.shape(out)) * 1.0) if p == len(inputs) else out
        try:
            with np.errstate(all="ignore"):
                moved = op.local(dm, *args, dout)
            for k, d in enumerate(moved):
                t = np.abs(np.asarray(tangent(d), dtype=float))
                lam[k] = lam[k] + np.where(np.isfinite(t), t, 0.0)
        except (ArithmeticError, ValueError, FloatingPointError, TypeError, LookupError):
            continue
    return lam

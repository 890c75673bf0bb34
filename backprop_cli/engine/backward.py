"""Values -> gradients: one loop over the nodes in reverse, upstream x local, summed at fan-out.

`backpropagate` returns a new list of upstream gradients d(output)/d(node) per node; nothing on
the graph is mutated, so asking twice gives the same answer.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import DomainError
from ..graph import Graph
from ..ops.registry import SCALAR
from ..ops.shapes import unbroadcast  # trace.py and others import it from here
from .forward import all_finite, domain_error, is_array, math_of
from .tape import run_backward as run_tape_backward


def backpropagate(graph: Graph, values: list, seed: Any = 1.0) -> list:
    """d(output)/d(node) for every node: the upstream gradient each node receives.

    `seed` is d(output)/d(output): 1 for a scalar loss, or the upstream gradient a user gives
    for a non-scalar output.
    """
    # Arrays enter a program only through its bindings, so the variables (and an output that
    # might be an array) decide the namespace: no need to look at every node.
    m = math_of([*map(values.__getitem__, graph.variables.values()), values[graph.output]])
    if m.is_array:
        grads: list = [0.0] * len(graph)
        grads[graph.output] = seed
        with m.np.errstate(all="raise"):
            _run_arrays(graph, values, grads, m)
    else:
        grads = _run_batched(graph, values, seed) or _run_tape(graph, values, seed)
        if grads is None:
            grads = [0.0] * len(graph)
            grads[graph.output] = seed
            _run_scalars(graph, values, grads)  # raises the error naming the node, if any
    _check_finite(graph, values, grads, m)
    return grads


def _run_batched(graph: Graph, values: list, seed) -> list | None:
    """Wide programs, one numpy call per (level, op); None when not worth it or when a
    floating-point exception needs the node-by-node passes to name its node."""
    plan = graph.plan()
    if plan is None:
        return None
    from .batched import run_backward

    try:
        return run_backward(plan, values, graph.output, seed)
    except (ArithmeticError, ValueError, FloatingPointError):
        return None


def _run_tape(graph: Graph, values: list, seed) -> list | None:
    """The scalar backward pass on the graph's tape (tape.py); None when there is none, or when
    a partial raises or a gradient comes out non-finite: the node-by-node loop then decides,
    skipping what nothing flows back through, and names the node if it fails too."""
    tape = graph.tape()
    if tape is None:
        return None
    try:
        return run_tape_backward(tape, values, seed)
    except (ArithmeticError, ValueError):
        return None


def _run_scalars(graph: Graph, v: list, grads: list) -> None:
    m = SCALAR
    n = len(graph.ops)
    i = n - 1
    wants = graph.wants()
    try:
        # Reversed iterators read each item when they reach it, so `g` is node i's upstream
        # gradient after every consumer (all later nodes) has added its share.
        # `i` is read by the except clause below: it names the node whose derivative failed.
        for i, op, a, out, g in zip(range(n - 1, -1, -1), reversed(graph.ops),  # noqa: B007
                                    reversed(graph.args), reversed(v), reversed(grads)):
            # Nothing flows back from a node the output does not depend on at this point
            # (a router's losing branch): skip it, so its derivative is not even evaluated.
            if not a or not g or not wants[i]:
                continue  # a constant subexpression (sqrt(0)) is never differentiated
            # As on the tape, an input no variable flows into receives nothing.
            if len(a) == 2:
                x, y = a
                if op.skips and not (wants[x] and wants[y]):
                    # Only the partial a variable needs: x**2's d/d(2) may not even exist.
                    la, lb = op.local(m, v[x], v[y], out, wrt=(0,) if wants[x] else (1,))
                else:
                    la, lb = op.local(m, v[x], v[y], out)
                if wants[x]:
                    grads[x] += g * la
                if wants[y]:
                    grads[y] += g * lb
            elif len(a) == 1:
                x = a[0]
                if wants[x]:
                    grads[x] += g * op.local(m, v[x], out)[0]
            else:
                for j, lj in zip(a, op.local(m, *[v[j] for j in a], out)):
                    if wants[j]:
                        grads[j] += g * lj
    except (ArithmeticError, ValueError) as exc:
        raise _local_error(graph, v, i, exc) from None


def _run_arrays(graph: Graph, v: list, grads: list, m) -> None:
    """The backward pass over arrays: one vector-Jacobian product per node, no Jacobians.

    Elementwise ops have a diagonal Jacobian, so upstream * local is the whole VJP (summed back
    over broadcast axes); other ops give `vjp`. A node that no variable flows into (constants,
    axis arguments) is skipped. The first contribution a node receives is kept as it is; later
    ones are added into a buffer this pass owns, never into an array an op handed out (an add
    gate passes the same upstream array to both inputs).
    """
    ops = graph.ops
    args = graph.args
    n = len(ops)
    wants = bytearray(n)  # does a variable flow into this node?
    for j in graph.variables.values():
        wants[j] = 1
    for i in range(n):
        a = args[i]
        if a and any(wants[j] for j in a):
            wants[i] = 1
    filled = bytearray(n)  # 1: holds a contribution; 2: holds a buffer we may add into
    filled[graph.output] = 1
    i = 0
    try:
        with m.np.errstate(under="ignore"):
            for i in range(n - 1, -1, -1):
                a = args[i]
                if not a or not filled[i] or not wants[i]:
                    continue
                g = grads[i]
                op = ops[i]
                inputs = [v[j] for j in a]
                if op.vjp is not None:
                    parts = op.vjp(m, g, inputs, v[i])
                else:
                    # Elementwise: the Jacobian is diagonal, so upstream * local is the whole
                    # vector-Jacobian product; broadcasting is undone by summing.
                    if op.skips and not all(wants[j] for j in a):
                        wrt = tuple(k for k, j in enumerate(a) if wants[j])
                        local = op.local(m, *inputs, v[i], wrt=wrt)
                    else:
                        local = op.local(m, *inputs, v[i])
                    parts = [unbroadcast(m, g * lj, x) if wants[j] else None
                             for j, lj, x in zip(a, local, inputs)]
                for j, part in zip(a, parts):
                    if not wants[j]:
                        continue
                    if not filled[j]:
                        grads[j] = part
                        filled[j] = 1
                    elif filled[j] == 2:
                        grads[j] += part
                    else:
                        grads[j] = grads[j] + part
                        filled[j] = 2 if is_array(grads[j]) else 1
    except (ArithmeticError, ValueError, FloatingPointError) as exc:
        raise _local_error(graph, v, i, exc) from None
    for j in graph.variables.values():
        if is_array(v[j]) and not is_array(grads[j]):
            grads[j] = m.np.zeros_like(v[j]) + grads[j]  # no path to the output: all zeros


def _local_error(graph: Graph, values: list, i: int, exc: Exception) -> DomainError:
    op = graph.ops[i]
    err = domain_error(graph, values, i, exc, "has no finite derivative here")
    err.message = f"{graph.text(i)}: the derivative of {op.name} is infinite or undefined " \
                  f"at {op.name}({', '.join(_fmt(values[j]) for j in graph.args[i])})"
    return err


def _fmt(x: Any) -> str:
    return f"array{tuple(x.shape)}" if is_array(x) else f"{float(x):.6g}"


def _check_finite(graph: Graph, values: list, grads: list, m) -> None:
    """A non-finite gradient of a variable is an error naming the node that produced it."""
    if not m.is_array and math.isfinite(sum(map(grads.__getitem__, graph.variables.values()))):
        return  # one cheap pass; a finite total means every term is finite
    for name, i in graph.variables.items():
        g = grads[i]
        finite = all_finite(m, g) if m.is_array else math.isfinite(g)
        if finite:
            continue
        culprit = _origin(graph, values, grads, m) or i
        raise DomainError(
            f"the gradient with respect to {name} is not finite; it first goes bad at "
            f"{graph.text(culprit)!s}", graph.source,
            (graph.starts[culprit], graph.ends[culprit]))


def _origin(graph: Graph, values: list, grads: list, m) -> int | None:
    """The node closest to the output whose finite upstream gradient it made non-finite."""
    def finite(x) -> bool:
        return bool(m.np.all(m.np.isfinite(x))) if m.is_array else math.isfinite(x)

    wants = graph.wants()
    for k in range(len(graph) - 1, -1, -1):
        a = graph.args[k]
        op = graph.ops[k]
        if not a or not wants[k] or not finite(grads[k]) or op.local is None \
                or (m.is_array and op.vjp is not None):
            continue  # a constant subexpression (sqrt(0)) is never differentiated
        inputs = [values[j] for j in a]
        try:
            local = op.local(m, *inputs, values[k], wrt=tuple(
                p for p, j in enumerate(a) if wants[j])) if op.skips else \
                op.local(m, *inputs, values[k])
        except (ArithmeticError, ValueError, FloatingPointError):
            return k
        if not all(finite(x) for x, j in zip(local, a) if wants[j] and x is not None):
            return k
    return None

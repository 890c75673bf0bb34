"""Values -> gradients: one loop over the nodes in reverse, calling one chain-rule step per node.

`chain_step` is the whole of the chain rule: what a node sends each input is its upstream
gradient times the local partial (summed back over broadcast axes for arrays), or the op's
vector-Jacobian product for ops that are not elementwise. The backward pass, the trace and the
Jacobian view all call it, so what they show is what the backward pass computed, to the bit.

`backpropagate` returns a new list of upstream gradients d(output)/d(node) per node; nothing on
the graph is mutated, so asking twice gives the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from contextlib import nullcontext
from operator import length_hint
from typing import Any

from ..errors import DomainError, InternalError
from ..graph import Graph
from ..ops.registry import SCALAR, Op
from ..ops.shapes import unbroadcast
from .forward import ADD, MUL, all_finite, domain_error, is_array, math_of

_FAILURES = (ArithmeticError, ValueError, FloatingPointError)


def chain_step(op: Op, m, upstream: Any, a: tuple, v: list, out: Any, wants) -> tuple:
    """What a node sends each input: upstream x local, summed back over broadcast axes for
    arrays, or the op's vector-Jacobian product. `a` holds the inputs' ids, `v` their values
    and `wants` whether an input needs a gradient (a constant does not): such an input gets
    None, and its partial is never used.

    Numbers are the hot path of the tool, so the common arities are unpacked by hand; every
    arity computes the same thing.
    """
    if m.is_array:
        inputs = [v[j] for j in a]
        if op.vjp is not None:
            parts = op.vjp(m, upstream, inputs, out)
            return tuple(p if wants[j] else None for p, j in zip(parts, a))
        local = op.local(m, *inputs, out)
        return tuple(unbroadcast(m, upstream * lk, x) if wants[j] else None
                     for lk, x, j in zip(local, inputs, a))
    if len(a) == 2:
        x, y = a
        lx, ly = op.local(m, v[x], v[y], out)
        return (upstream * lx if wants[x] else None, upstream * ly if wants[y] else None)
    if len(a) == 1:
        return (upstream * op.local(m, v[a[0]], out)[0],)  # wanted, or the node would not be
    local = op.local(m, *[v[j] for j in a], out)
    return tuple(upstream * lk if wants[j] else None for lk, j in zip(local, a))


def wanted_nodes(graph: Graph, variables: Iterable[str] | None = None) -> bytearray:
    """1 for each node that one of `variables` (default: all) flows into: only those need a
    gradient, so a constant subexpression such as sqrt(0) is never differentiated."""
    wants = bytearray(len(graph))
    chosen = graph.variables if variables is None else variables
    for name in chosen:
        wants[graph.variables[name]] = 1
    for i, a in enumerate(graph.args):  # one or two inputs read without an inner loop
        if a and (wants[a[0]] or wants[a[-1]] or (len(a) > 2 and any(map(wants.__getitem__, a)))):
            wants[i] = 1
    return wants


def backpropagate(graph: Graph, values: list, seed: Any = 1.0,
                  wrt: Iterable[str] | None = None, record: list | None = None) -> list:
    """d(output)/d(node) for every node: the upstream gradient each node receives.

    `seed` is d(output)/d(output): 1 for a scalar loss, or the upstream gradient a user gives
    for a non-scalar output. `wrt` names the variables whose gradients are wanted (default all):
    nothing is computed, or can fail, for the others. `record`, when given, receives
    (node, parts) for every chain-rule step, in the order they run.
    """
    # Arrays enter a program only through its bindings, so the variables (and an output that
    # might be an array) decide the namespace: no need to look at every node.
    wrt = None if wrt is None else list(wrt)
    m = math_of([*map(values.__getitem__, graph.variables.values()), values[graph.output]])
    wants = wanted_nodes(graph, wrt)
    if m.is_array:
        grads: list = [None] * len(graph)
        grads[graph.output] = seed
        with m.np.errstate(all="raise", under="ignore"):
            _run_arrays(graph, values, grads, wants, m, record)
        _fill_zeros(graph, values, grads, m)
    else:
        grads = [0.0] * len(graph)
        grads[graph.output] = seed
        _run_numbers(graph, values, grads, wants, record)
    _check_finite(graph, values, grads, wants, m, wrt)
    return grads


def _run_numbers(graph: Graph, v: list, grads: list, wants: bytearray, record,
                 m=SCALAR) -> None:
    """Nodes from the output back; a node's upstream gradient is complete when it is reached,
    since every consumer comes later. `m` is SCALAR, or the dual numbers' namespace when the
    Hessian differentiates this very pass (engine/hessian.py)."""
    if record is None:
        _run_steps(graph, v, grads, wants, m)
        return
    _run_general(graph, v, grads, wants, m, record, arrays=False)


def _flowing(graph: Graph, grads: list, wants: bytearray, arrays: bool):
    """(node, its upstream gradient) from the output back, for each node a gradient flows back
    through: one with inputs, wanted, and an upstream gradient. Nothing flows back from a
    number's 0 (a router's losing branch, or no consumer at all): the node is skipped, so its
    derivative is not even evaluated there. Each gradient is read when its node is reached,
    after every consumer's part was added to it."""
    args = graph.args
    for i in range(len(args) - 1, -1, -1):
        g = grads[i]
        if args[i] and wants[i] and (g is not None if arrays else g):
            yield i, g


def _run_steps(graph: Graph, v: list, grads: list, wants: bytearray, m) -> None:
    """`_run_numbers` with nothing recorded: the hot loop of the tool. `chain_step`'s steps for
    one and two inputs are taken here (upstream x local, added into each wanted input in
    order), on the same numbers in the same order, so every bit is chain_step's
    (tests/test_hot_paths.py holds them equal); other arities call it. The lists are walked
    backwards with `reversed`, whose iterator reads each gradient when it is reached, so it
    sees every part added to it before.

    A gradient reaches only wanted inputs, so a node with one is wanted, but for the output,
    which is seeded: when the output is not wanted, nothing is (every other operation feeds
    it), and the pass has nothing to do. Add and mul, most of any program, are tested first;
    a leaf (no inputs) is passed over after them."""
    if not wants[graph.output]:
        return
    ops = reversed(graph.ops)
    try:
        for op, a, g, out in zip(ops, reversed(graph.args), reversed(grads), reversed(v)):
            if not g:
                continue  # as in _run_numbers: nothing flows back
            if op is MUL:  # its rule's partials, (b, a), without the call
                x, y = a
                if wants[x]:
                    grads[x] += g * v[y]
                if wants[y]:
                    grads[y] += g * v[x]
            elif op is ADD:  # (1.0, 1.0)
                x, y = a
                if wants[x]:
                    grads[x] += g * 1.0
                if wants[y]:
                    grads[y] += g * 1.0
            elif not a:
                continue
            elif len(a) == 1:
                x = a[0]
                grads[x] += g * op.local(m, v[x], out)[0]
            elif len(a) == 2:
                x, y = a
                lx, ly = op.local(m, v[x], v[y], out)
                if wants[x]:
                    grads[x] += g * lx
                if wants[y]:
                    grads[y] += g * ly
            else:
                for j, p in zip(a, chain_step(op, m, g, a, v, out, wants)):
                    if p is not None:
                        grads[j] += p
    except _FAILURES as exc:
        i = length_hint(ops)  # the reversed iterator's index: the node that failed
        _check_rule(graph, v, i)
        raise _local_error(graph, v, i, exc) from None


def _run_arrays(graph: Graph, v: list, grads: list, wants: bytearray, m, record) -> None:
    """As `_run_numbers`, for arrays. The first part an input receives is kept as it is; later
    ones are added into a buffer this pass owns, never into an array an op handed out (an add
    gate passes the same upstream array to both inputs)."""
    _run_general(graph, v, grads, wants, m, record, arrays=True)


def _run_general(graph: Graph, v: list, grads: list, wants: bytearray, m, record,
                 arrays: bool) -> None:
    """The backward loop calling `chain_step` per node: for arrays, and for numbers when the
    steps are recorded (`_run_steps` is the unrecorded one over numbers)."""
    owned: set[int] = set()
    ops, args = graph.ops, graph.args
    i = len(ops) - 1
    try:
        for i, g in _flowing(graph, grads, wants, arrays):  # noqa: B007  (names the node)
            a = args[i]
            parts = chain_step(ops[i], m, g, a, v, v[i], wants)
            if arrays:
                _check_parts(graph, i, parts, v, m)
            if record is not None:
                record.append((i, parts))
            for j, p in zip(a, parts):
                if p is None:
                    continue
                if not arrays:
                    grads[j] += p
                elif grads[j] is None:
                    grads[j] = p
                elif j in owned:
                    grads[j] += p  # an array this pass made: added in place
                else:
                    grads[j] = grads[j] + p
                    if is_array(grads[j]):
                        owned.add(j)
    except _FAILURES as exc:
        if not arrays:
            _check_rule(graph, v, i)
        raise _local_error(graph, v, i, exc) from None


def _check_parts(graph: Graph, i: int, parts: tuple, v: list, m) -> None:
    """A rule's downstream gradients come one per input, each shaped like its input: anything
    else is a fault in the rule, never the user's."""
    a = graph.args[i]
    if len(parts) != len(a):
        raise InternalError(f"the {graph.ops[i].name} rule gave {len(parts)} gradients for "
                            f"{len(a)} inputs at {graph.text(i)}")
    for k, (j, p) in enumerate(zip(a, parts)):
        if p is not None and m.np.shape(p) != m.np.shape(v[j]):
            raise InternalError(
                f"the {graph.ops[i].name} rule gave input {k + 1} of {graph.text(i)} a "
                f"gradient of shape {m.np.shape(p)}, but the input has shape "
                f"{m.np.shape(v[j])}")


def _check_rule(graph: Graph, v: list, i: int) -> None:
    """After a failure in a node's rule: raise InternalError if the rule broke its contract
    (the wrong number of partials), so the failure is not blamed on the user's input."""
    op = graph.ops[i]
    if op.local is None:
        return
    try:
        local = op.local(SCALAR, *[v[j] for j in graph.args[i]], v[i])
    except _FAILURES:
        return  # the rule itself raised: the point is outside its domain
    if not isinstance(local, tuple) or len(local) != len(graph.args[i]):
        count = len(local) if isinstance(local, tuple) else type(local).__name__
        raise InternalError(f"the {op.name} rule gave {count} partials for "
                            f"{len(graph.args[i])} inputs at {graph.text(i)}")


def run_backward(graph: Graph, values: list, grads: list, wants: bytearray, m) -> None:
    """The backward loop in namespace `m`, on a gradient list seeded at the output (for the
    dual numbers that differentiate this pass: engine/hessian.py). Failures raise DomainError."""
    if m.is_array:
        _run_arrays(graph, values, grads, wants, m, None)
    else:
        _run_numbers(graph, values, grads, wants, None, m)


def _fill_zeros(graph: Graph, values: list, grads: list, m) -> None:
    """Nodes that received nothing have gradient 0; an array variable gets an array of zeros."""
    for i, g in enumerate(grads):
        if g is None:
            grads[i] = m.np.zeros_like(values[i]) if is_array(values[i]) else 0.0
    for j in graph.variables.values():
        if is_array(values[j]) and not is_array(grads[j]):
            grads[j] = m.np.zeros_like(values[j]) + grads[j]


def _local_error(graph: Graph, values: list, i: int, exc: Exception | None) -> DomainError:
    op = graph.ops[i]
    err = domain_error(graph, values, i, exc, "has no finite derivative here")
    err.message = f"{graph.text(i)}: the derivative of {op.name} is infinite or undefined " \
                  f"at {op.name}({', '.join(_fmt(values[j]) for j in graph.args[i])})"
    return err


def _fmt(x: Any) -> str:
    return f"array{tuple(x.shape)}" if is_array(x) else f"{float(x):.6g}"


def _check_finite(graph: Graph, values: list, grads: list, wants: bytearray, m,
                  wrt: list | None) -> None:
    """A non-finite gradient of a variable is an error naming the node that produced it."""
    names = graph.variables if wrt is None else wrt
    ids = [graph.variables[n] for n in names]
    if not m.is_array and math.isfinite(sum(map(grads.__getitem__, ids))):
        return  # one cheap pass; a finite total means every term is finite
    for name, i in zip(names, ids):
        if all_finite(m, grads[i]):
            continue
        culprit = _origin(graph, values, grads, wants, m)
        culprit = i if culprit is None else culprit
        raise DomainError(
            f"the gradient with respect to {name} is not finite; it first goes bad at "
            f"{graph.text(culprit)!s}", graph.source,
            (graph.starts[culprit], graph.ends[culprit]))


def _origin(graph: Graph, values: list, grads: list, wants: bytearray, m) -> int | None:
    """The node closest to the output whose finite upstream gradient it made non-finite."""
    for k in range(len(graph) - 1, -1, -1):
        a = graph.args[k]
        if not a or not wants[k] or not all_finite(m, grads[k]):
            continue
        with m.np.errstate(all="ignore") if m.is_array else nullcontext():
            parts = chain_step(graph.ops[k], m, grads[k], a, values, values[k], wants)
        if not all(p is None or all_finite(m, p) for p in parts):
            return k
    return None

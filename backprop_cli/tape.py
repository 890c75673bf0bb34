"""Graph -> a flat scalar tape: the forward and backward passes for float programs, made fast.

The tape lists the graph's leaves first, then one entry per op node in topological order, each
with a two-argument forward kernel, a local-gradient function and the tape positions of its
inputs (a unary op's kernel reads its input twice, since every kernel takes two). With that
layout the whole forward pass is a single `list.extend(map(...))`: CPython appends each value
before it fetches the next node's inputs, so every node sees its inputs already computed, and
no Python-level loop runs at all. The backward pass is one reversed loop of upstream x local.

Kernels come from the op registry (`Op.kernel`, a C function, else the row's own forward), so
the registry stays the only place that knows an op's rules. Graphs with an op of three or more
inputs (max(a, b, c)) have no tape; the generic loops in forward.py and backward.py run them.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import chain, compress

from .graph import Graph
from .ops import SCALAR, Op

SINK = -1  # the graph id standing at tape position 0: no node, a slot for unwanted gradients


@dataclass(frozen=True)
class Tape:
    order: list[int]  # tape position -> graph node id: the sink, the leaves, then the ops
    position: list[int]  # graph node id -> tape position
    n_leaves: int
    kernels: list[Callable]  # per op entry: f(x, y) -> value
    locals: list[Callable]  # per op entry: L(x, y, out) -> (d/dx, d/dy)
    first: list[int]  # per op entry: tape position of the first input
    second: list[int]  # per op entry: tape position of the second input (= first for unary)
    # Where the backward pass sends each input's share: an input no variable flows into is
    # replaced by the sink (position 0, a slot nothing reads), so such nodes never receive a
    # gradient and are never differentiated; a unary entry's second input is -1.
    back_first: list[int]
    back_second: list[int]
    gather: Gather | None = None  # the call-free backward plan, when every local can be had


@dataclass(frozen=True)
class Gather:
    """Where each op entry's two local partials sit in one list `vc`: the values, then a pool
    of constants, then the partials of rows that must be called (computed in two C-level
    passes before the loop). Rows with `local_refs` cost no call at all: their partials are
    constants or values already on the tape."""

    consts: list[float]
    bin_calls: tuple[list, list, list, list]  # local rule, x, y, out for binary rows
    un_calls: tuple[list, list, list]  # local rule, x, out for unary rows
    la: list[int]  # per op entry: position in vc of d(out)/d(first input)
    lb: list[int]  # ... of d(out)/d(second input) (a 0.0 slot for unary entries)
    to_second: list[int]  # where the second share goes (the sink for unary entries)


def _binary(op: Op) -> tuple[Callable, Callable]:
    return op.kernel or partial(op.forward, SCALAR), partial(op.local, SCALAR)


def _unary(op: Op) -> tuple[Callable, Callable]:
    """A unary row's forward in two-argument form (the extend(map(...)) pass gives every
    kernel two inputs), and its local rule as is."""
    f = op.kernel or partial(op.forward, SCALAR)

    def kernel(x, _same):
        return f(x)

    return kernel, partial(op.local, SCALAR)


def build_tape(graph: Graph) -> Tape | None:
    """The tape of a finished graph, or None when it has no tape form (see the module doc)."""
    args = graph.args
    if any(len(a) > 2 for a in args) or not args[graph.output]:
        return None  # n-ary ops, or an output that is a leaf: the generic loops handle those
    is_op = list(map(bool, args))
    is_leaf = [not x for x in is_op]
    ops_at = list(compress(range(len(args)), is_op))
    order = [SINK] + list(compress(range(len(args)), is_leaf)) + ops_at
    position = [0] * len(args)
    for p, i in enumerate(order[1:], 1):
        position[i] = p
    wants = graph.wants()
    kernels: list[Callable] = []
    locs: list[Callable] = []
    first: list[int] = []
    second: list[int] = []
    back_first: list[int] = []
    back_second: list[int] = []
    # Forms are made per row for each graph (never cached across graphs), so a row replaced
    # or patched later is always read afresh.
    forms: dict[int, tuple[Callable, Callable]] = {}
    for i in ops_at:
        op = graph.ops[i]
        if op.local is None:
            return None  # an array-only op (given as a VJP): the generic loops handle it
        a = args[i]
        pair = forms.get(id(op))
        if pair is None:
            pair = forms[id(op)] = _binary(op) if len(a) == 2 else _unary(op)
        x = position[a[0]]
        first.append(x)
        back_first.append(x if wants[a[0]] else 0)
        if len(a) == 2:
            y = position[a[1]]
            second.append(y)
            back_second.append(y if wants[a[1]] else 0)
        else:
            second.append(x)
            back_second.append(-1)
        kernels.append(pair[0])
        locs.append(pair[1])
    gather = _gather(graph, ops_at, len(order), first, second, back_second, wants)
    return Tape(order, position, len(order) - len(ops_at), kernels, locs, first, second,
                back_first, back_second, gather)


def _gather(graph: Graph, ops_at: list[int], n: int, first: list[int], second: list[int],
            back_second: list[int], wants) -> Gather:
    """The call-free backward plan (see Gather)."""
    consts: list[float] = [0.0]
    const_at: dict[float, int] = {0.0: n}
    bin_l: list = []
    bin_x: list[int] = []
    bin_y: list[int] = []
    bin_out: list[int] = []
    un_l: list = []
    un_x: list[int] = []
    un_out: list[int] = []
    la: list[int] = []
    lb: list[int] = []
    pending: list[tuple[int, int, int]] = []  # (entry, kind, k): patched once sizes are known
    rules: dict[int, Callable] = {}

    def const(c: float) -> int:
        p = const_at.get(c)
        if p is None:
            p = const_at[c] = n + len(consts)
            consts.append(c)
        return p

    zero = n
    for e, i in enumerate(ops_at):
        op = graph.ops[i]
        unary = len(graph.args[i]) == 1
        here = n - len(ops_at) + e  # this entry's own position on the tape
        refs = op.local_refs
        if not wants[i]:
            la.append(zero)
            lb.append(zero)
        elif refs is not None:
            where = {"a": first[e], "b": second[e], "out": here}
            pos = [where[r] if isinstance(r, str) else const(float(r)) for r in refs]
            la.append(pos[0])
            lb.append(zero if unary else pos[1])
        else:
            rule = rules.get(id(op))
            if rule is None:
                rule = rules[id(op)] = partial(op.local, SCALAR)
            if unary:
                pending.append((e, 1, len(un_l)))
                un_l.append(rule)
                un_x.append(first[e])
                un_out.append(here)
                la.append(-1)
                lb.append(zero)
            else:
                pending.append((e, 2, len(bin_l)))
                bin_l.append(rule)
                bin_x.append(first[e])
                bin_y.append(second[e])
                bin_out.append(here)
                la.append(-1)
                lb.append(-1)
    base_bin = n + len(consts)
    base_un = base_bin + 2 * len(bin_l)
    for e, kind, k in pending:
        if kind == 2:
            la[e] = base_bin + 2 * k
            lb[e] = base_bin + 2 * k + 1
        else:
            la[e] = base_un + k
    to_second = [0 if y < 0 else y for y in back_second]
    return Gather(consts, (bin_l, bin_x, bin_y, bin_out), (un_l, un_x, un_out), la, lb,
                  to_second)


def run_forward(tape: Tape, v: list) -> list:
    """Extend `v`, the leaf values in tape order, with every op's value. If a kernel raises,
    `len(v)` is the tape position of the node that failed."""
    get = v.__getitem__
    v.extend(map(operator.call, tape.kernels, map(get, tape.first), map(get, tape.second)))
    return v


def run_backward(tape: Tape, v: list, seed: float) -> list:
    """Upstream gradients in tape order: the call-free loop when the tape has a gather plan
    and every called partial exists; otherwise (a partial raised, say sqrt'(0) on a branch
    nothing flows back through) the loop that calls each rule only where it is needed."""
    if tape.gather is not None:
        try:
            return _run_gathered(tape, tape.gather, v, seed)
        except (ArithmeticError, ValueError):
            pass
    return _run_called(tape, v, seed)


def _run_gathered(tape: Tape, gp: Gather, v: list, seed: float) -> list:
    get = v.__getitem__
    vc = v + gp.consts
    rules, xs, ys, outs = gp.bin_calls
    vc.extend(chain.from_iterable(map(operator.call, rules, map(get, xs), map(get, ys),
                                      map(get, outs))))
    rules, xs, outs = gp.un_calls
    vc.extend(chain.from_iterable(map(operator.call, rules, map(get, xs), map(get, outs))))
    grads = [0.0] * len(v)
    grads[-1] = seed
    # A unary entry sends its second share (0) to the sink; a node nothing flows back
    # through at this point is skipped, as in the called loop.
    for gx, gy, ia, ib, g in zip(reversed(tape.back_first), reversed(gp.to_second),
                                 reversed(gp.la), reversed(gp.lb), reversed(grads)):
        if g:
            grads[gx] += g * vc[ia]
            grads[gy] += g * vc[ib]
    return grads


def _run_called(tape: Tape, v: list, seed: float) -> list:
    """Upstream gradients in tape order, calling each entry's local rule."""
    grads = [0.0] * len(v)
    grads[-1] = seed
    # Reversed iterators read each item when they reach it, so `g` is a node's upstream
    # gradient after every consumer (all later entries) has added its share.
    # Inputs are read at their own positions; their shares go to the backward view's
    # positions (the sink for an input no variable flows into).
    for local, x, y, gx, gy, out, g in zip(
            reversed(tape.locals), reversed(tape.first), reversed(tape.second),
            reversed(tape.back_first), reversed(tape.back_second), reversed(v), reversed(grads)):
        # A node the output does not depend on at this point (a router's losing branch)
        # sends nothing back, so its derivative is not even evaluated.
        if not g:
            continue
        if gy < 0:
            grads[gx] += g * local(v[x], out)[0]
        else:
            la, lb = local(v[x], v[y], out)
            grads[gx] += g * la
            grads[gy] += g * lb
    return grads

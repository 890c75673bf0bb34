"""Graph -> a flat scalar tape: the forward and backward passes for float programs, made fast.

Neither pass has a Python-level loop over the nodes. Where one node needs another's result,
the pass is a `list.extend(map(...))` over entries of the form f(W[p], W[q]): CPython appends
each result before it fetches the next entry's inputs, so an entry may read anything computed
before it. Everything else is a C-level map over positions fixed when the tape is built; the
Python-level loops that remain run once per group of nodes, not per node.

Forward: W = the variables' values, then a pool (constants, and the one-argument functions of
unary rows), then one entry per graph node in graph order, so W[base:] is the value list. A
binary node is kernel(a, b); a unary one is call(f, a) with f read from the pool; a leaf copies
its value (x * 1.0, exact).

Backward: W = a pool of constants, the values, the seed, then
  1. the local partials every gradient needs, from the rows' `local_formula` (one C-level map
     per row and sub-formula) or, for rows without one, their `local` rule;
  2. the pass proper: a step per product G[consumer] * local that a later step reads, and per
     sum where an inner node fans out; a local of exactly 1 (add's) costs nothing, since the
     input's share *is* the upstream gradient. A shallow pass (a wide sum of small terms) runs
     level by level, one gathered map per (level, op); a deep one runs as a stream of entries,
     with each long run of products (a chain of layers) as one accumulate;
  3. the shares sent to leaves, which nothing in the pass reads: one C-level map of products
     after it, and a sum per leaf.
The order of every sum is the node-by-node loop's, so the two agree to the last bit.

Rows come from the op registry (`Op.kernel`, `Op.local_formula`, else the row's own rules), so
the registry stays the only place that knows an op. Graphs with an op of three or more inputs
(max(a, b, c)) or array-only rows have no tape; the loops in forward.py and backward.py run them.
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial, reduce
from itertools import accumulate, chain, islice, repeat
from operator import call, itemgetter, mul

from ..graph import Graph
from ..ops.registry import SCALAR

ZERO = 0  # backward pool position of 0.0: the gradient of a node nothing flows back to
# A leaf's gradient is the sum of its shares, added one by one in the loop's order, as the
# node-by-node loop adds them. So does sum() before Python 3.12; from 3.12 on it compensates
# (Neumaier), which would make the last bits depend on the path taken, so there the shares
# are added with reduce.
_add_up = sum if sys.version_info < (3, 12) else partial(reduce, operator.add)
_ENTRIES, _CHAIN, _LEVEL = "entries", "chain", "level"  # the kinds of pass segments


def _getter(positions: list[int]) -> Callable[[list], tuple]:
    """W -> the items at `positions`, as a tuple (itemgetter returns a bare item for one)."""
    if len(positions) > 1:
        return itemgetter(*positions)
    if positions:
        p = positions[0]
        return lambda w: (w[p],)
    return lambda w: ()


@dataclass(frozen=True)
class Tape:
    # forward
    names: list[str]  # the variables, in the order their values open W
    pool: list  # forward constants and functions, after the variables
    base: int  # W position of graph node 0
    kernels: list[Callable]  # per graph node: f(W[first], W[second]) -> value
    first: list[int]
    second: list[int]
    # backward
    back: Backward

    def leaves(self, bindings) -> list:
        """The start of the forward W; KeyError for an unbound variable."""
        w = list(map(bindings.__getitem__, self.names))
        w += self.pool
        return w


@dataclass(frozen=True)
class Backward:
    pool: list[float]  # constants the partials read; values start at len(pool)
    # Local partials: (function, [getter or constant per argument], item to pick or None).
    groups: list[tuple[Callable, list, Callable | None]]
    # The pass, in segments (kind, f, a, b): _ENTRIES, f[k](W[a[k]], W[b[k]]) one after
    # another; _CHAIN, W[a] times each partial in b(W) in turn, every running product kept;
    # _LEVEL, f of each pair gathered by a and b, none reading another.
    segments: list[tuple]
    share_g: Callable  # the leaves' shares: products of these upstream gradients ...
    share_l: Callable  # ... and these partials
    leaf_terms: list[Callable]  # per leaf with a gradient: W -> the tuple of its summands
    # Or, when many leaves each take many shares (a stack of 10^5 layers over 64 weights):
    # per round r, W -> every leaf's r-th summand (0.0 past its last), added to running sums
    # round by round, reading the shares in the order they were made instead of leaf by leaf.
    leaf_rounds: list[Callable] | None
    final: Callable  # W -> every node's gradient, in graph order
    variables: Callable  # grads -> the variables' gradients


def build_tape(graph: Graph) -> Tape | None:
    """The tape of a finished graph, or None when it has no tape form (see the module doc)."""
    args, ops = graph.args, graph.ops
    if not args[graph.output] or any(len(a) > 2 or (a and ops[i].local is None)
                                     for i, a in enumerate(args)):
        return None  # n-ary or array-only ops, or a leaf output: the generic loops run those
    names = list(graph.variables)
    var_at = {i: k for k, i in enumerate(graph.variables.values())}
    pool: list = [1.0]
    pooled: dict = {}

    def pool_at(obj) -> int:
        # -0.0 == 0.0, so a float's key carries its sign; a function is keyed by identity.
        key = (obj, math.copysign(1.0, obj)) if isinstance(obj, float) else id(obj)
        p = pooled.get(key)
        if p is None:
            p = pooled[key] = len(names) + len(pool)
            pool.append(obj)
        return p

    one = len(names)  # pool[0]
    kernels: list[Callable] = []
    first: list[int] = []
    second: list[int] = []
    forwards: dict[int, Callable] = {}  # per graph: a row replaced later is read afresh
    # An input is marked -1 - node until the pool's size, and so the values' start, is known.
    for i, a in enumerate(args):
        op = ops[i]
        if not a:  # a leaf copies its value: x * 1.0 is x, bit for bit
            kernels.append(mul)
            first.append(var_at[i] if i in var_at else pool_at(float(graph.consts[i])))
            second.append(one)
        elif len(a) == 2:
            kernels.append(op.kernel or partial(op.forward, SCALAR))
            first.append(-1 - a[0])
            second.append(-1 - a[1])
        else:
            kernels.append(call)
            f = forwards.get(id(op))
            if f is None:  # one object per row, so the pool holds it once
                f = forwards[id(op)] = op.kernel or partial(op.forward, SCALAR)
            first.append(pool_at(f))
            second.append(-1 - a[0])
    base = len(names) + len(pool)
    first = [base - 1 - p if p < 0 else p for p in first]
    second = [base - 1 - p if p < 0 else p for p in second]
    return Tape(names, pool, base, kernels, first, second, _backward(graph))


def run_forward(tape: Tape, w: list) -> list:
    """Extend w (from `tape.leaves`) with every node's value, from `tape.base` on. If a kernel
    raises, `len(w) - tape.base` is the graph id of the node that failed."""
    get = w.__getitem__
    w.extend(map(call, tape.kernels, map(get, tape.first), map(get, tape.second)))
    return w


def run_backward(tape: Tape, values: list, seed: float) -> list | None:
    """d(output)/d(node) for every node, in graph order; None when a variable's gradient comes
    out non-finite (a partial that is infinite where no gradient flows, say), so that the
    node-by-node loop, which skips such nodes, decides. A partial that raises propagates (and
    the caller falls back to that loop too)."""
    bk = tape.back
    w = bk.pool + values
    w.append(seed)
    for fn, arg_getters, pick in bk.groups:
        it = map(fn, *[g(w) if callable(g) else repeat(g) for g in arg_getters])
        w.extend(it if pick is None else map(pick, it))
    get = w.__getitem__
    for kind, f, a, b in bk.segments:
        if kind is _ENTRIES:  # f: the op of each entry
            w.extend(map(call, f, map(get, a), map(get, b)))
        elif kind is _CHAIN:  # the running products of W[a] and each partial, less W[a]
            w.extend(islice(accumulate(chain((w[a],), b(w)), mul), 1, None))
        else:  # one level's steps of one op f, all inputs already in W
            w.extend(map(f, a(w), b(w)))
    w.extend(map(mul, bk.share_g(w), bk.share_l(w)))
    if bk.leaf_rounds is None:
        w.extend(map(_add_up, map(call, bk.leaf_terms, repeat(w)), repeat(0.0)))
    else:
        sums = [0.0] * len(bk.leaf_terms)
        for summands in bk.leaf_rounds:
            sums = list(map(operator.add, sums, summands(w)))
        w.extend(sums)
    grads = list(bk.final(w))
    if not math.isfinite(sum(bk.variables(grads))):
        return None
    return grads


# --- building the backward pass -----------------------------------------------------------
#
# While the pass is planned, positions in the backward W are tagged slots, since most parts'
# sizes are known only at the end: ("pool", p), ("value", node), ("seed",), ("group", key, k),
# ("step", k), ("share", k), ("leaf", k). `layout` turns them into numbers.


def _backward(graph: Graph) -> Backward:
    args, ops = graph.args, graph.ops
    n = len(args)
    wants = graph.wants()
    var_ids = set(graph.variables.values())
    pool: list[float] = [0.0]  # ZERO
    pooled: dict[tuple, int] = {}

    def const(c: float) -> tuple:
        key = (c, math.copysign(1.0, c))  # -0.0 == 0.0, but a sign may matter
        p = pooled.get(key)
        if p is None:
            p = pooled[key] = len(pool)
            pool.append(c)
        return ("pool", p)

    # Local partials, one group per row, partial and sub-formula: key -> [fn, columns, pick],
    # a column per argument holding one slot per call, or the constant every call gets.
    # A sub-formula's key extends its parent's, so the longest keys run first.
    groups: dict[tuple, list] = {}

    def formula(f, key: tuple, i: int) -> tuple:
        """The slot of formula f evaluated at node i: ("lit", c) for a number written in the
        formula. A sub-formula of constants only (x**2's b - 1) is worked out here, once."""
        if isinstance(f, str):
            j = {"a": args[i][0], "b": args[i][-1], "out": i}[f]
            return ("value", j) if args[j] or j in var_ids else const(graph.consts[j])
        if not isinstance(f, tuple):
            return ("lit", float(f))
        fn, *fargs = f
        cols = [formula(x, (*key, k), i) for k, x in enumerate(fargs)]
        if fn is math.pow and _constant(cols[1], pool) == 1.0:
            return cols[0]  # a**1 is a, exactly: x**2's partial is then 2*x
        if all(c[0] in ("lit", "pool") for c in cols):
            try:
                return const(fn(*[c[1] if c[0] == "lit" else pool[c[1]] for c in cols]))
            except (ArithmeticError, ValueError):
                pass  # left to run time, where it raises and the loop takes over
        g = groups.get(key)
        if g is None:
            g = groups[key] = [fn, [[] for _ in fargs], None]
        for col, s in zip(g[1], cols):
            col.append(s)
        return ("group", key, len(g[1][0]) - 1)

    def local(i: int, k: int) -> tuple | None:
        """The slot of d(node i)/d(its k-th input); None when that is exactly 1."""
        op = ops[i]
        if op.local_formula is None:  # the row's own rule, called, and item k picked
            key = (id(op), k, "rule")
            g = groups.get(key)
            if g is None:
                g = groups[key] = [partial(op.local, SCALAR),
                                   [[] for _ in range(len(args[i]) + 1)], itemgetter(k)]
            for col, j in zip(g[1], [*args[i], i]):
                col.append(("value", j))
            return ("group", key, len(g[1][0]) - 1)
        f = op.local_formula[k]
        if isinstance(f, (str, tuple)):
            return formula(f, (id(op), k), i)
        return None if float(f) == 1.0 else const(float(f))

    # Node by node from the output back: each node's gradient is the sum of what its consumers
    # sent (in the loop's order), then it sends upstream x local to each input that wants one.
    steps: list[tuple[Callable, tuple, tuple]] = []
    into: list[list[tuple]] = [[] for _ in range(n)]
    shares: list[tuple[tuple, tuple]] = []  # (gradient, partial) of products sent to leaves
    grad_at: list[tuple] = [("pool", ZERO)] * n
    grad_at[graph.output] = ("seed",)
    for i in range(n - 1, -1, -1):
        a = args[i]
        if not a or not wants[i]:
            continue
        if i != graph.output:
            terms = into[i]
            if not terms:
                continue  # nothing flows back to this node
            g = terms[0]
            for t in terms[1:]:
                steps.append((operator.add, g, t))
                g = ("step", len(steps) - 1)
            grad_at[i] = g
        g = grad_at[i]
        for k, j in enumerate(a):
            if not wants[j]:
                continue
            part = local(i, k)
            if part is None:
                into[j].append(g)
            elif not args[j]:  # a leaf: nothing in the pass reads its share
                shares.append((g, part))
                into[j].append(("share", len(shares) - 1))
            else:
                steps.append((mul, g, part))
                into[j].append(("step", len(steps) - 1))
    leaves = [j for j in range(n) if not args[j] and into[j]]
    for k, j in enumerate(leaves):
        grad_at[j] = ("leaf", k)

    # Lay out W: pool | values | seed | partial groups | steps | shares | leaf sums.
    q = len(pool)
    start = {"value": q, "seed": q + n}
    at = q + n + 1
    order = sorted(groups, key=len, reverse=True)
    for key in order:
        g = groups[key]
        start[key] = at
        at += len(g[1][0])
    start["step"] = at
    start["share"] = at + len(steps)
    start["leaf"] = at + len(steps) + len(shares)
    levels = _levels(steps)
    # Shallow passes (a wide sum of small terms) run level by level, each (level, op) group
    # as one C-level map over gathered inputs; deep ones stay a stream, in creation order.
    by_level = len(set(zip(levels, (s[0] for s in steps)))) * MIN_GROUP <= len(steps)
    ranked = sorted(range(len(steps)), key=lambda k: (levels[k], id(steps[k][0]))) \
        if by_level else range(len(steps))
    rank = [0] * len(steps)
    for r, k in enumerate(ranked):
        rank[k] = r

    def layout(slot: tuple) -> int:
        kind = slot[0]
        if kind == "pool":
            return slot[1]
        if kind == "seed":
            return start["seed"]
        if kind == "group":
            return start[slot[1]] + slot[2]
        if kind == "step":
            return start["step"] + rank[slot[1]]
        return start[kind] + slot[1]

    built = []
    for fn, cols, pick in map(groups.__getitem__, order):
        # A constant that is the same in every call is repeated, not gathered.
        shared = [_constant(c[0], pool) if len(set(c)) == 1 else None for c in cols]
        built.append((fn, [_getter(list(map(layout, c))) if s is None else s
                           for c, s in zip(cols, shared)], pick))
    # A lone summand gets a 0.0 for company, so that every getter returns a tuple.
    terms = [itemgetter(*map(layout, into[j]), *([ZERO] if len(into[j]) == 1 else []))
             for j in leaves]
    rounds = None
    counts = [len(into[j]) for j in leaves]
    most = max(counts, default=0)
    if len(leaves) >= MIN_GROUP and most >= MIN_ROUNDS and most * len(leaves) <= 1.25 * sum(counts):
        # Padding with 0.0 changes no sum: a running sum from 0.0 is never -0.0.
        rounds = [itemgetter(*[layout(into[j][r]) if r < len(into[j]) else ZERO
                               for j in leaves]) for r in range(most)]
    laid = [(steps[k][0], layout(steps[k][1]), layout(steps[k][2])) for k in ranked]
    segments = _by_level(laid, [levels[k] for k in ranked]) if by_level else \
        _segments(laid, start["step"])
    return Backward(
        pool, built, segments,
        _getter([layout(g) for g, _ in shares]),
        _getter([layout(p) for _, p in shares]), terms, rounds,
        _getter(list(map(layout, grad_at))), _getter(list(graph.variables.values())))


def _constant(slot: tuple, pool: list):
    """The number a slot holds whatever the inputs, or None."""
    return slot[1] if slot[0] == "lit" else pool[slot[1]] if slot[0] == "pool" else None


MIN_CHAIN = 16  # below this, a chain's own set-up costs more than it saves
MIN_GROUP = 16  # average steps per (level, op) for the level-by-level pass to pay off
MIN_ROUNDS = 256  # summands per leaf for the round-by-round leaf sums to pay off


def _levels(steps: list[tuple]) -> list[int]:
    """Each step's level: 1 + the highest level among the steps it reads (0 if none)."""
    levels: list[int] = []
    for _, a, b in steps:
        la = levels[a[1]] + 1 if a[0] == "step" else 0
        lb = levels[b[1]] + 1 if b[0] == "step" else 0
        levels.append(la if la > lb else lb)
    return levels


def _by_level(steps: list[tuple[Callable, int, int]], levels: list[int]) -> list[tuple]:
    """Steps sorted by (level, op), as one gathered map per run of equal (level, op)."""
    out: list[tuple] = []
    k = 0
    while k < len(steps):
        end = k + 1
        while end < len(steps) and steps[end][0] is steps[k][0] and levels[end] == levels[k]:
            end += 1
        run = steps[k:end]
        out.append((_LEVEL, run[0][0], _getter([s[1] for s in run]),
                    _getter([s[2] for s in run])))
        k = end
    return out


def _segments(steps: list[tuple[Callable, int, int]], start: int) -> list[tuple]:
    """The pass's steps (fn, a, b), the k-th landing at W position start + k, cut into
    segments: runs of products each of which multiplies the one before it by a partial
    computed before the pass (a long chain such as relu(relu(x*w + b)*w + b)...) become one
    accumulate; the rest stay entries."""
    out: list[tuple] = []
    plain: list[tuple] = []
    k = 0
    while k < len(steps):
        end = k + 1
        while (end < len(steps) and steps[end][0] is mul and steps[end][1] == start + end - 1
               and steps[end][2] < start):
            end += 1
        if steps[k][0] is mul and steps[k][2] < start and end - k >= MIN_CHAIN:
            if plain:
                out.append((_ENTRIES, *map(list, zip(*plain))))
                plain = []
            out.append((_CHAIN, None, steps[k][1], _getter([s[2] for s in steps[k:end]])))
            k = end
        else:
            plain.append(steps[k])
            k += 1
    if plain:
        out.append((_ENTRIES, *map(list, zip(*plain))))
    return out

"""Wide float programs -> level-batched passes: each op's nodes of one depth run as one numpy call.

A node's level is one more than its deepest input's, so all nodes of a level can be computed
together once the levels below are done. Grouping a level's nodes by op turns thousands of
Python-level calls into one numpy call on arrays of inputs, with the same registry rows run
on the array namespace (`array_math()`): the rules are the very ones the scalar tape uses.

Only graphs that are wide enough gain (a long chain has one node per level), so `plan` returns
None unless the groups are large on average; the scalar tape (tape.py) runs everything else.
Any floating-point exception falls back to the tape, which names the node that failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..graph import Graph
from ..ops.registry import Op, array_math

MIN_NODES = 8_192  # below this the numpy import and per-group overhead cannot pay off
MIN_GROUP = 128  # average op nodes per (level, op) group for batching to win


@dataclass(frozen=True)
class Plan:
    groups: list[tuple[Op, Any, tuple]]  # (row, output ids, input ids per argument), by level
    back_groups: list[tuple[Op, Any, tuple]]  # the same, only nodes a variable flows into
    unwanted: Any  # ids of the nodes no variable flows into: they receive no gradient
    n: int


def plan(graph: Graph) -> Plan | None:
    """The batched plan of a finished graph, or None where batching would not pay off."""
    args = graph.args
    n = len(args)
    if n < MIN_NODES or any(len(a) > 2 for a in args):
        return None
    ops = graph.ops
    level = [0] * n
    buckets: dict[tuple[int, int], list[int]] = {}
    rows: dict[int, Op] = {}
    for i, a in enumerate(args):
        if not a:
            continue
        op = ops[i]
        if op.local is None and op.vjp is None:
            return None
        lv = level[a[0]]
        if len(a) == 2 and level[a[1]] > lv:
            lv = level[a[1]]
        lv += 1
        level[i] = lv
        key = (lv, id(op))
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = []
            rows[id(op)] = op
        bucket.append(i)
    n_ops = sum(map(len, buckets.values()))
    if not buckets or n_ops < MIN_GROUP * len(buckets):
        return None
    np = array_math().np
    wants = graph.wants()

    def group(op: Op, ids: list[int]) -> tuple[Op, Any, tuple]:
        arity = len(args[ids[0]])
        ins = tuple(np.fromiter((args[i][k] for i in ids), dtype=np.intp, count=len(ids))
                    for k in range(arity))
        return op, np.array(ids, dtype=np.intp), ins

    groups = []
    back_groups = []
    for (_lv, key), ids in sorted(buckets.items()):
        groups.append(group(rows[key], ids))
        wanted = [i for i in ids if wants[i]]
        if wanted:
            back_groups.append(group(rows[key], wanted))
    unwanted = np.flatnonzero(np.frombuffer(bytes(wants), dtype=np.uint8) == 0)
    return Plan(groups, back_groups, unwanted, n)


def run_forward(p: Plan, values: list) -> list:
    """All values (leaves filled in `values`), computed level by level. Raises
    FloatingPointError/ArithmeticError/ValueError for the caller to retry node by node."""
    m = array_math()
    np = m.np
    vals = np.array(values, dtype=float)
    with np.errstate(all="raise", under="ignore"):
        for op, out, ins in p.groups:
            vals[out] = op.forward(m, *[vals[k] for k in ins])
    return vals.tolist()


def run_backward(p: Plan, values: list, output: int, seed: float) -> list:
    """Upstream gradients of every node, level by level from the output down."""
    m = array_math()
    np = m.np
    vals = np.array(values, dtype=float)
    grads = np.zeros(p.n)
    grads[output] = seed
    with np.errstate(all="raise", under="ignore"):
        for op, out, ins in reversed(p.back_groups):
            g = grads[out]
            xs = [vals[k] for k in ins]
            if op.vjp is not None:
                parts = op.vjp(m, g, xs, vals[out])
            else:
                parts = [g * lj for lj in op.local(m, *xs, vals[out])]
            for k, part in zip(ins, parts):
                # add.at, not +=: a node read twice in one group must receive both shares
                np.add.at(grads, k, part)
    # Shares sent to constants (d(x**2)/d(2) and the like) are dropped, as on the tape.
    grads[p.unwanted] = 0.0
    return grads.tolist()

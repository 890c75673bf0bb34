"""Gradients -> why each zero gradient is zero: no path, a blocked gate, or vanished.

A gradient d(output)/d(x) is the sum over paths from x to the output of the product of the
local gradients along the path. It is 0 (or below 1e-12 of the largest gradient) because:
  no path     x never flows into the output;
  blocked     every path crosses a gate whose local gradient is exactly 0 there (relu at a
              negative input, the losing side of max, a multiplication by a zero value);
  vanished    the best path's product of locals is tiny: saturated gates, the worst named;
  cancelled   the paths' products are not 0 but sum to 0 (x - x).
The locals come from `chain_step` with an upstream of 1, so they are the backward pass's own.
Scalar programs only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..graph import Graph
from ..ops.registry import SCALAR
from .backward import chain_step, wanted_nodes

SMALL = 1e-12  # a gradient below this fraction of the largest one counts as zero


@dataclass(frozen=True)
class Gate:
    """One gate on a path: node `node` receiving input `input` with local gradient `local`."""

    node: int
    input: int
    local: float
    why: str  # the lecture's reading of a zero or tiny local ("" otherwise)


@dataclass(frozen=True)
class ZeroReason:
    name: str
    gradient: float
    kind: str  # "no path", "blocked", "vanished", "cancelled"
    gates: tuple[Gate, ...] = ()  # blocked: the zero gates; vanished: the best path, in order
    product: float = 0.0  # vanished: the product of locals along the best path


def zero_gradients(graph: Graph, values: list, gradients: dict[str, float]) -> list[ZeroReason]:
    """A reason for every gradient that is 0, or below SMALL of the largest one."""
    largest = max((abs(g) for g in gradients.values()), default=0.0)
    out = []
    for name, g in gradients.items():
        if g == 0 or abs(g) < SMALL * largest:
            out.append(explain(graph, values, name, g))
    return out


def locals_of(graph: Graph, values: list, i: int) -> tuple:
    """Node i's local gradient for each input position: chain_step with upstream 1."""
    a = graph.args[i]
    wants = b"\x01" * len(graph)
    try:
        return chain_step(graph.ops[i], SCALAR, 1.0, a, values, values[i], wants)
    except (ArithmeticError, ValueError):
        # No finite local here (sqrt at 0); the backward pass never asked, since nothing
        # flowed back to this node: count the edge as passing everything on.
        return (math.inf,) * len(a)


def explain(graph: Graph, values: list, name: str, g: float) -> ZeroReason:
    """Why one gradient is (near) zero."""
    if name not in graph.variables or not wanted_nodes(graph, [name])[graph.output]:
        return ZeroReason(name, g, "no path")
    start = graph.variables[name]
    n = len(graph)
    reaches = bytearray(n)  # nodes that flow into the output
    reaches[graph.output] = 1
    for i in range(n - 1, -1, -1):
        if reaches[i]:
            for j in graph.args[i]:
                reaches[j] = 1
    # Best path from the variable to each node, in log space so tiny products do not underflow.
    best = [-math.inf] * n
    back: list[tuple[int, int, float] | None] = [None] * n
    best[start] = 0.0
    zeros: list[Gate] = []
    for i in range(start + 1, n):
        a = graph.args[i]
        if not a or not reaches[i] or all(best[j] == -math.inf for j in a):
            continue
        for j, local in zip(a, locals_of(graph, values, i)):
            if best[j] == -math.inf:
                continue
            if local == 0:
                zeros.append(Gate(i, j, 0.0, reading(graph, values, i, j)))
                continue
            score = best[j] + math.log(abs(local))
            if score > best[i]:
                best[i], back[i] = score, (j, i, local)
    if best[graph.output] == -math.inf:
        return ZeroReason(name, g, "blocked", tuple(zeros))
    path = []
    k = graph.output
    while k != start:
        j, i, local = back[k]
        path.append(Gate(i, j, local, reading(graph, values, i, j) if abs(local) < 0.1 else ""))
        k = j
    path.reverse()
    product = math.prod(p.local for p in path)
    if g == 0 and product != 0:
        return ZeroReason(name, g, "cancelled", tuple(path), product)
    return ZeroReason(name, g, "vanished", tuple(path), product)


def reading(graph: Graph, values: list, i: int, j: int) -> str:
    """The lecture's words for gate i passing (almost) nothing back to input j, read from the
    row's gate role: a router routes, a switcher multiplies by the other input."""
    op, a = graph.ops[i], graph.args[i]
    x = values[j]
    local = _local_at(graph, values, i, j)
    if op.role.startswith("router") and len(a) == 1:
        return f"{op.name} at a negative input ({x:g})" if x < 0 else f"{op.name} at {x:g}"
    if op.role.startswith("router"):
        return f"the losing side of {op.name} ({x:g} against {values[i]:g})"
    if op.role.startswith("switcher"):
        other = a[1] if j == a[0] else a[0]
        if values[other] == 0 and other in graph.consts:
            return "a multiplication by the constant 0"
        if values[other] == 0:
            return f"a multiplication by a zero value ({graph.text(other)} = 0)"
        return f"a multiplication by {values[other]:g}"
    if local == 0:
        return f"{op.name}'s local gradient is 0 at input {x:g} (saturated in float64)"
    return f"{op.name} saturated at input {x:g}: local gradient {local:.3g}"


def _local_at(graph: Graph, values: list, i: int, j: int) -> float:
    return next(p for k, p in zip(graph.args[i], locals_of(graph, values, i)) if k == j)

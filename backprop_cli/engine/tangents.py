"""Values -> forward-mode tangents: d(node)/d(x) for one input x, node by node in forward order.

Forward mode carries one tangent per node, tangent(node) = sum over inputs of local x
tangent(input), so one forward pass gives the derivative of every node (and every output) with
respect to one input; all n gradients of a scalar output need n such passes, where reverse mode
needs one backward pass. The locals are the backward pass's own (`chain_step` with an upstream
of 1). Scalar programs only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..graph import Graph
from ..ops.registry import SCALAR
from .backward import chain_step, wanted_nodes


@dataclass(frozen=True)
class TangentRow:
    node: int
    tangent: float  # d(node)/d(x)
    terms: tuple[tuple[int, float, float], ...]  # (input, local, the input's tangent)


@dataclass(frozen=True)
class ForwardMode:
    name: str
    rows: tuple[TangentRow, ...]  # the nodes x flows into, in forward order
    gradient: float  # the output's tangent: d(output)/d(x)
    inputs: int  # forward passes all gradients need: one per input
    outputs: int  # backward passes all gradients need: one per output entry


def forward_mode(graph: Graph, values: list, name: str) -> ForwardMode:
    wants = wanted_nodes(graph, [name])
    tangent = [0.0] * len(graph)
    start = graph.variables[name]
    tangent[start] = 1.0
    rows = [TangentRow(start, 1.0, ())]
    for i in range(start + 1, len(graph)):
        a = graph.args[i]
        if not a or not wants[i]:
            continue
        try:
            local = chain_step(graph.ops[i], SCALAR, 1.0, a, values, values[i], wants)
        except (ArithmeticError, ValueError):  # no finite local (sqrt at 0): say so
            local = tuple(math.inf if wants[j] else None for j in a)
        terms = tuple((j, lk, tangent[j]) for j, lk in zip(a, local) if lk is not None)
        tangent[i] = sum(lk * t for _, lk, t in terms)
        rows.append(TangentRow(i, tangent[i], terms))
    return ForwardMode(name, tuple(rows), tangent[graph.output], len(graph.variables), 1)

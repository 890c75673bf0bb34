"""Gradients -> the per-node story of the backward pass, one row per node in forward order.

Each row has the node's forward value, its upstream gradient d(output)/d(node), the local
gradient d(node)/d(input) for each input, and the downstream contribution upstream x local that
each input receives. Where a node fans out, `contributions` lists what each consumer sent back;
their sum is the node's upstream gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..graph import Graph
from .backward import math_of, unbroadcast
from .forward import is_array


@dataclass(frozen=True)
class TraceRow:
    id: int
    op: str
    label: str
    role: str
    name: str | None
    text: str  # the source text of the node's expression
    inputs: tuple[int, ...]
    value: Any
    grad: Any  # upstream: d(output)/d(this node)
    local: tuple  # d(this node)/d(input k); None entries for ops given only as a VJP
    downstream: tuple  # what each input receives from this node: upstream x local
    contributions: tuple[tuple[int, Any], ...]  # (consumer, amount) summing to grad

    @property
    def fans_out(self) -> bool:
        return len(self.contributions) > 1

    @property
    def shape(self) -> tuple[int, ...]:
        return shape_of(self.value)


def trace_rows(graph: Graph, values: list, grads: list) -> list[TraceRow]:
    m = math_of(values)
    wants = graph.wants()
    down: list[tuple] = []
    locs: list[tuple] = []
    for i, op in enumerate(graph.ops):
        a = graph.args[i]
        if not a:
            locs.append(())
            down.append(())
            continue
        if not wants[i]:
            # No variable flows in (a constant subexpression): backprop never differentiates
            # it, and neither does the story (sqrt(0) has no finite local gradient).
            locs.append((None,) * len(a))
            down.append((None,) * len(a))
            continue
        inputs = [values[j] for j in a]
        if op.vjp is not None and m.is_array:
            locs.append((None,) * len(a))
            down.append(tuple(op.vjp(m, grads[i], inputs, values[i])))
            continue
        local = tuple(op.local(m, *inputs, values[i]))
        locs.append(local)
        if m.is_array:
            down.append(tuple(unbroadcast(m, grads[i] * lj, x) for lj, x in zip(local, inputs)))
        else:
            down.append(tuple(grads[i] * lj for lj in local))
    received: list[list[tuple[int, Any]]] = [[] for _ in graph.ops]
    for i, a in enumerate(graph.args):
        for k, j in enumerate(a):
            if down[i][k] is not None:
                received[j].append((i, down[i][k]))
    rows = []
    for i, op in enumerate(graph.ops):
        grad = grads[i]
        if not wants[i] and received[i]:
            # Backprop sends nothing into constants (no variable needs their gradient); the
            # story shows what their consumers would send them.
            grad = sum(g for _, g in received[i])
        rows.append(TraceRow(
            id=i, op=op.name, label=op.label, role=op.role, name=graph.names.get(i),
            text=graph.text(i), inputs=graph.args[i], value=values[i], grad=grad,
            local=locs[i], downstream=down[i], contributions=tuple(received[i])))
    return rows


def shape_of(x: Any) -> tuple[int, ...]:
    return tuple(x.shape) if is_array(x) else ()

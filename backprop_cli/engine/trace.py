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
from .backward import backpropagate, wanted_nodes
from .forward import is_array, math_of


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
    grad: Any  # upstream: d(output)/d(this node); None where no variable flows in
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
    """The story of the backward pass that gave `grads`: it is run again from the same seed,
    recording each chain-rule step, so every part shown is one the pass added up."""
    m = math_of(values)
    wants = wanted_nodes(graph)
    record: list[tuple[int, tuple]] = []
    backpropagate(graph, values, grads[graph.output], record=record)
    sent = dict(record)
    down: list[tuple] = []
    locs: list[tuple] = []
    for i, op in enumerate(graph.ops):
        a = graph.args[i]
        if not a or not wants[i]:
            # No variable flows in (a constant subexpression): backprop never differentiates
            # it, and neither does the story (sqrt(0) has no finite local gradient).
            locs.append((None,) * len(a))
            down.append((None,) * len(a))
            continue
        locs.append(_local(op, m, [values[j] for j in a], values[i]))
        # A node the pass skipped (its upstream gradient is 0) sends its inputs nothing.
        down.append(sent.get(i) or tuple(0.0 if wants[j] else None for j in a))
    received: list[list[tuple[int, Any]]] = [[] for _ in graph.ops]
    for i, a in enumerate(graph.args):
        for k, j in enumerate(a):
            if down[i][k] is not None:
                received[j].append((i, down[i][k]))
    return [TraceRow(id=i, op=op.name, label=op.label, role=op.role, name=graph.names.get(i),
                     text=graph.text(i), inputs=graph.args[i], value=values[i],
                     grad=grads[i] if wants[i] else None,
                     local=locs[i], downstream=down[i], contributions=tuple(received[i]))
            for i, op in enumerate(graph.ops)]


def _local(op, m, inputs: list, out) -> tuple:
    """The local partials shown in the story; None for ops given only as a VJP, and for a
    partial that does not exist where no gradient is asked of it."""
    if m.is_array and op.vjp is not None:
        return (None,) * len(inputs)
    try:
        return tuple(op.local(m, *inputs, out))
    except (ArithmeticError, ValueError, FloatingPointError):
        return (None,) * len(inputs)


def shape_of(x: Any) -> tuple[int, ...]:
    return tuple(x.shape) if is_array(x) else ()

"""Gradients -> the per-node story of the backward pass, one row per node in forward order.

Each row has the node's forward value, its upstream gradient d(output)/d(node), the local
gradient d(node)/d(input) for each input, and the downstream contribution upstream x local that
each input receives. Where a node fans out, `contributions` lists what each consumer sent back,
once per use (x*x reads x twice); their sum is the node's upstream gradient.

Constants are drawn as the lecture draws them: inside the gate that reads them (`+1`, `1/x`,
`**2`), so `folded` marks those inputs, `gate` is the folded label, and a constant receives no
gradient and never fans out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..graph import Graph
from ..language.labels import (
    folded_inputs,
    gate_label,
    gate_role,
    gradient_name,
    label_printer,
    operand,
    placeholder,
)
from .backward import backpropagate, wanted_nodes
from .forward import is_array, math_of


@dataclass(frozen=True)
class TraceRow:
    id: int
    op: str
    label: str
    role: str
    name: str | None
    text: str  # the source text of the node's expression, as the user typed it
    inputs: tuple[int, ...]
    value: Any
    grad: Any  # upstream: d(output)/d(this node); None where no variable flows in
    local: tuple  # d(this node)/d(input k); None entries for ops given only as a VJP
    downstream: tuple  # what each input receives from this node: upstream x local
    contributions: tuple[tuple[int, Any], ...]  # (consumer, amount) per use, summing to grad
    gate: str = ""  # the op with its constants folded in: '+1', '1/x', '**2', '*'
    folded: tuple[bool, ...] = ()  # per input: a constant drawn inside the gate
    hidden: bool = False  # a constant every reader folded in: no row of its own
    operand: str = ""  # what the arithmetic calls this value: q, (x+y), #7, f
    grad_name: str = ""  # dq, d(x+y), d#7
    number: int | None = None  # the #n on screen: shown rows numbered 0, 1, 2 ... with no gap

    @property
    def ref(self) -> str:
        """'#n' as the screen shows this node (a hidden constant has none: its graph id)."""
        return f"#{self.id if self.number is None else self.number}"

    @property
    def fans_out(self) -> bool:
        """Its gradient is a sum of several parts: it is read more than once."""
        return len(self.contributions) > 1

    @property
    def consumers(self) -> tuple[int, ...]:
        """The distinct nodes that read this one, in order (x*x + x: two nodes, three uses)."""
        return tuple(dict.fromkeys(c for c, _ in self.contributions))

    @property
    def uses(self) -> int:
        return len(self.contributions)

    @property
    def shown_inputs(self) -> tuple[int, ...]:
        """Argument positions drawn as edges: every input but the folded constants."""
        return tuple(k for k in range(len(self.inputs)) if not self.folded[k])

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
    hole = placeholder(graph)
    folded = [folded_inputs(graph, i) for i in range(len(graph))]
    numbers = shown_numbers(graph, folded)
    hidden = [n is None for n in numbers]
    text = label_printer(graph)  # one printer for every row's name: linear in the graph
    text.numbers = numbers
    return [TraceRow(id=i, op=op.name, label=op.label, role=_role(graph, i, hole, values),
                     name=graph.names.get(i),
                     text=graph.text(i), inputs=graph.args[i], value=values[i],
                     grad=grads[i] if wants[i] else None,
                     local=locs[i], downstream=down[i], contributions=tuple(received[i]),
                     gate=gate_label(graph, i, hole), folded=folded[i],
                     hidden=hidden[i], operand=operand(text, i),
                     grad_name=gradient_name(text, i), number=numbers[i])
            for i, op in enumerate(graph.ops)]


def _role(graph: Graph, i: int, hole, values: list) -> str:
    """The gate's role; for @ with a vector operand, the row module's words for those shapes
    (an outer product where the matrix texts' B.T would mislead: .T leaves a vector as is)."""
    if graph.ops[i].name == "matmul":
        from ..ops.arrays import matmul_role

        role = matmul_role(tuple(shape_of(values[j]) for j in graph.args[i]))
        if role:
            return role
    return gate_role(graph, i, hole)


def shown_numbers(graph: Graph, folded: list | None = None) -> list[int | None]:
    """The #n on screen per node: the rows shown numbered 0, 1, 2 ... with no gap; None for a
    constant every reader draws inside its gate (it has no row). Every view that names a node
    (trace, the lecture's views) numbers it this way."""
    if folded is None:
        folded = [folded_inputs(graph, i) for i in range(len(graph))]
    drawn = bytearray(len(graph))  # read somewhere as an edge, not inside a gate
    for i, a in enumerate(graph.args):
        for j, f in zip(a, folded[i]):
            if not f:
                drawn[j] = 1
    # The ids on screen count the rows shown: a constant drawn inside its gate takes none, so
    # the lecture's neuron reads #0 .. #12 with no gap where its 1s are.
    numbers: list[int | None] = []
    count = 0
    for i in range(len(graph)):
        hidden = i in graph.consts and not drawn[i] and i != graph.output
        numbers.append(None if hidden else count)
        count += not hidden
    return numbers


class ShownRefs:
    """'#n' per node as trace shows it (refs[i]); a constant with no row of its own is named
    by its graph id on screen and has no shown id (None) in JSON, as trace's rows do."""

    def __init__(self, graph: Graph):
        self.numbers = shown_numbers(graph)

    def __getitem__(self, i: int) -> str:
        n = self.numbers[i]
        return f"#{i if n is None else n}"


def shown_refs(graph: Graph) -> ShownRefs:
    return ShownRefs(graph)


def shown_id(refs: ShownRefs, i: int) -> int | None:
    """Node i's shown number, for JSON's `shown_id` (None: a constant inside its gate)."""
    return refs.numbers[i]


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

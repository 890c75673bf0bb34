"""The forward side of grading: the program's values and the engine's gradients, by name, and
the share each gate sent each named value (the parts of the backward pass's chain steps)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..engine.backward import backpropagate, wanted_nodes
from ..engine.forward import forward, math_of
from ..errors import ShapeError
from ..graph import Graph
from ..language.parser import parse
from ..values import is_array


@dataclass(frozen=True)
class Forward:
    """The forward program, its values and the engine's gradients, by name."""

    graph: Graph
    bindings: Mapping[str, Any]
    values: list
    grads: list
    nodes: dict[str, int]  # forward names and read variables -> node (a name's last value)
    shares: dict[int, list[tuple[int, Any]]]  # node -> (gate that reads it, share it sent)
    wants: bytearray
    m: Any  # the math namespace of the program (numbers or numpy)
    sizes: tuple[int, ...] = field(default=())

    def value(self, name: str) -> Any:
        node = self.nodes.get(name)
        return self.bindings[name] if node is None else self.values[node]

    def truth(self, name: str) -> Any:
        node = self.nodes.get(name)
        if node is None:  # bound, never read: its gradient is 0
            v = self.bindings[name]
            return self.m.np.zeros_like(v) if is_array(v) else 0.0
        return self.grads[node]

    def gate(self, i: int) -> str:
        """How a report names gate i: its name, else its text in the program."""
        name = self.graph.names.get(i)
        return name if name and self.nodes.get(name) == i else self.graph.text(i, 40)


def run_forward(source: str, bindings: Mapping[str, Any]) -> Forward:
    graph = parse(source)
    values = forward(graph, bindings)
    out = values[graph.output]
    if is_array(out):
        raise ShapeError(f"the forward program's output has shape {tuple(out.shape)}; grade "
                         "needs one number (a loss) at the end", graph.source,
                         (graph.starts[graph.output], graph.ends[graph.output]),
                         "end the program with a loss, e.g. sum(...) or mean(...)")
    record: list = []
    grads = backpropagate(graph, values, record=record)
    nodes: dict[str, int] = {}
    for i, name in graph.names.items():
        nodes[name] = max(i, nodes.get(name, -1))
    nodes.update(graph.variables)
    for alias, name in _aliases(source):
        if name in nodes:
            nodes[alias] = nodes[name]
    targets = set(nodes.values())
    shares: dict[int, list] = {}
    for i, parts in record:
        reads: dict[int, list] = {}
        for j, p in zip(graph.args[i], parts):
            if p is not None and j in targets:
                shares.setdefault(j, []).append((i, p))
                reads.setdefault(j, []).append(p)
        # A gate that reads the value twice (W * W, the L2 penalty's spelling) sent two
        # shares; one line for the gate's whole share (0.1 * W for 0.05 * sum(W * W)) is as
        # right as one line per read, so the gate's total is a share too.
        for j, ps in reads.items():
            if len(ps) > 1:
                shares[j].append((i, sum(ps[1:], ps[0])))
    m = math_of([*bindings.values(), out])
    sizes = sorted({n for v in values if is_array(v) for n in v.shape if n > 1})
    return Forward(graph, bindings, values, grads, nodes, shares, wanted_nodes(graph), m,
                   tuple(sizes))


def _aliases(source: str) -> list[tuple[str, str]]:
    """(b, a) for each statement `b = a` of the forward program, in order: b names a's value,
    which the graph names a (a node keeps its first name)."""
    from ..language.lexer import scan

    kinds, texts, _ = scan(source)
    found = []
    k = 0
    while k + 3 < len(kinds):
        if (k == 0 or kinds[k - 1] == "sep") and kinds[k] == "name" and texts[k + 1] == "=" \
                and kinds[k + 2] == "name" and kinds[k + 3] in ("sep", "end"):
            found.append((texts[k], texts[k + 2]))
        k += 1
    return found

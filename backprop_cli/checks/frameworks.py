"""Kinks -> what other frameworks return there: a panel per node evaluated exactly on a kink.

The facts are row data (`Op.elsewhere` in ops/registry.py); this module only finds the kinked
nodes and puts backprop's own local gradient (the backward pass's, from `chain_step` with an
upstream of 1) and the upstream gradient beside them. Scalar programs only.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.why_zero import locals_of
from ..graph import Graph
from .scalar import kinks


@dataclass(frozen=True)
class KinkPanel:
    node: int
    op: str
    inputs: tuple[float, ...]
    upstream: float  # d(output)/d(node)
    local: tuple[float, ...]  # backprop's d(node)/d(input), per input
    convention: str  # backprop's, in words
    elsewhere: tuple[tuple[str, str, str], ...]  # (framework, function, local at the kink)

    @property
    def sent(self) -> tuple[float, ...]:
        """What each input receives from backprop: upstream x local."""
        return tuple(self.upstream * lk for lk in self.local)


def kink_panels(graph: Graph, values: list, grads: list) -> list[KinkPanel]:
    out = []
    for i, convention in kinks(graph, values):
        op = graph.ops[i]
        out.append(KinkPanel(i, op.name, tuple(values[j] for j in graph.args[i]), grads[i],
                             tuple(locals_of(graph, values, i)), convention, op.elsewhere))
    return out

"""Kinks -> what other frameworks return there: a panel per node evaluated exactly on a kink.

The facts are row data (`Op.elsewhere` in ops/registry.py); this module only finds the kinked
nodes and puts backprop's own local gradient (the backward pass's, from `chain_step` with an
upstream of 1) and the upstream gradient beside them. An array node is scanned entry by entry
(checks/arrays.py `array_kinks`); its panel is read at its first entry on a kink, with the
count of entries on one, since an elementwise gate's local there is the same at every such
entry. A kink inside a reduction or a matrix op (max of an array's tie) gets its count and
convention only: the frameworks' facts are stated for elementwise gates.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.why_zero import locals_of
from ..graph import Graph
from ..ops.registry import SCALAR
from ..values import is_array
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
    on_kink: int = 1  # an array node: its entries on a kink ...
    entries: int = 1  # ... of all its entries
    at: tuple[int, ...] = ()  # the entry the panel reads (arrays)

    @property
    def sent(self) -> tuple[float, ...]:
        """What each input receives from backprop: upstream x local."""
        return tuple(self.upstream * lk for lk in self.local)


def kink_panels(graph: Graph, values: list, grads: list) -> list[KinkPanel]:
    if any(is_array(v) for v in values):
        return _array_panels(graph, values, grads)
    out = []
    for i, convention in kinks(graph, values):
        op = graph.ops[i]
        out.append(KinkPanel(i, op.name, tuple(values[j] for j in graph.args[i]), grads[i],
                             tuple(locals_of(graph, values, i)), convention, op.elsewhere))
    return out


def _array_panels(graph: Graph, values: list, grads: list) -> list[KinkPanel]:
    import numpy as np

    from .arrays import array_kinks

    out = []
    for i, hits, size, convention in array_kinks(graph, values):
        op = graph.ops[i]
        args = [values[j] for j in graph.args[i]]
        if op.vjp is not None or op.branch is None:  # a reduction's or a matrix op's kink
            out.append(KinkPanel(i, op.name, (), 0.0, (), convention, (), hits, size))
            continue
        shape = np.shape(values[i])
        wide = [np.broadcast_to(a, shape) for a in args]
        pieces = np.frompyfunc(op.branch, len(args), 1)(*wide)
        at = tuple(int(k) for k in np.argwhere(np.vectorize(lambda p: p is None)(pieces))[0])
        point = tuple(float(a[at]) for a in wide)
        up = grads[i]
        upstream = 0.0 if up is None else float(np.broadcast_to(up, shape)[at])
        local = tuple(float(lk) for lk in op.local(SCALAR, *point, float(values[i][at])))
        out.append(KinkPanel(i, op.name, point, upstream, local, convention, op.elsewhere,
                             hits, size, at))
    return out

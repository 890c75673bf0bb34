"""Values -> forward-mode tangents: d(node)/d(x) for one input x, node by node in forward order.

Forward mode carries one tangent per node, tangent(node) = sum over inputs of local x
tangent(input), so one forward pass gives the derivative of every node (and every output) with
respect to one input; all n gradients of a scalar output need n such passes, where reverse mode
needs one backward pass. The locals are the backward pass's own (`chain_step` with an upstream
of 1). On arrays one pass follows one input entry (x[0]): the dual numbers of the Hessian
(engine/dual.py) carry its tangent through each row's numpy rule, since an array row states its
vector-Jacobian product (reverse mode) and no local product a tangent could read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..graph import Graph
from ..ops.registry import SCALAR
from ..values import is_index
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
    inputs: int  # forward passes all gradients need: one per input (entry, for arrays)
    outputs: int  # backward passes all gradients need: one per output entry
    per: str = "input"  # what one forward pass follows: an input, or an input entry


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


def entry_of(graph: Graph, values: list, spec: str) -> tuple[str, int]:
    """'x[1]' or 'W[1, 0]' -> (name, flat index of that entry). Raises BindingError."""
    import re

    import numpy as np

    from ..errors import BindingError

    found = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*(?:\[([\d\s,]*)\])?\s*", spec)
    name = found.group(1) if found else spec
    if name not in graph.variables:
        raise BindingError(f"--forward-mode {spec}: the program has no input {name}",
                           hint="name one of: " + ", ".join(graph.variables))
    if is_index(values[graph.variables[name]]):
        raise BindingError(f"--forward-mode {spec}: {name} holds positions (whole numbers, an "
                           "index): nothing is differentiated with respect to it")
    shape = np.shape(values[graph.variables[name]])
    given = found.group(2) if found else None
    if not shape and given is None:
        return name, 0
    index = tuple(int(k) for k in (given or "").replace(",", " ").split())
    if len(index) != len(shape) or any(k >= n for k, n in zip(index, shape)):
        raise BindingError(f"--forward-mode {spec}: {name} has shape {shape}; forward mode on "
                           f"arrays follows one entry", hint=f"e.g. --forward-mode {name}["
                           + ", ".join("0" for _ in shape) + "]")
    return name, int(np.ravel_multi_index(index, shape)) if shape else 0


def forward_mode_entry(graph: Graph, values: list, name: str, entry: int,
                       label: str) -> ForwardMode:
    """One forward pass of dual numbers with tangent 1 at `entry` of input `name`."""
    import numpy as np

    from .dual import dual_array_math, tangent
    from .hessian import _unit, dual_values

    start = graph.variables[name]
    v = dual_values(graph, values, dual_array_math(),
                    {name: _unit(np, np.shape(values[start]), entry)})
    wants = wanted_nodes(graph, [name])
    rows = tuple(TangentRow(i, tangent(v[i]), ()) for i in range(len(graph)) if wants[i])
    entries = sum(int(np.size(values[i])) for i in graph.variables.values()
                  if not is_index(values[i]))
    return ForwardMode(label, rows, float(tangent(v[graph.output])), entries, 1,
                       "input entry")

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
from ..values import is_index
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


# --- arrays: which gates hold each zero entry at 0 ----------------------------------------
#
# An array gradient's entry is zero through a gate when opening that gate (its zero locals
# read as 1, or a matrix op's zero input entries read as 1) makes the entry non-zero: the
# backward pass itself is run again with that one gate opened, so the answer is the pass's
# own. Gates are tried from the output back; an entry freed by none of them alone is held by
# several at once, or its paths cancel. Cost: one backward pass per candidate gate, at most
# two per input entry (what a checked eval's central differences run in forward passes).


@dataclass(frozen=True)
class Blocker:
    node: int
    freed: int  # how many of the input's zero entries opening this gate alone makes non-zero
    why: str


@dataclass(frozen=True)
class ArrayZero:
    name: str
    zeros: int  # entries that are 0 (or below SMALL of the largest gradient)
    entries: int
    kind: str  # "no path", "entries", or "positions" (an integer array: an index)
    blockers: tuple[Blocker, ...] = ()
    unexplained: int = 0  # zero entries no single gate holds
    stopped: bool = False  # gates were left untried: the budget of passes ran out
    routers: tuple[int, ...] = ()  # array routers on its paths (x[i], max(x)): they send 0
    # to the entries they do not pick, which no opening of a gate can show


def array_zeros(graph: Graph, values: list, gradients: dict) -> list[ArrayZero]:
    import numpy as np

    largest = max((float(np.max(np.abs(g), initial=0.0)) for g in gradients.values()),
                  default=0.0)
    masks = {n: (np.asarray(g) == 0) | (np.abs(g) < SMALL * largest)
             for n, g in gradients.items()}
    masks = {n: m for n, m in masks.items() if m.any()}
    index = {n for n in masks if n in graph.variables and is_index(values[graph.variables[n]])}
    live = [n for n in masks if n in graph.variables and n not in index
            and wanted_nodes(graph, [n])[graph.output]]
    found: dict[str, list[Blocker]] = {n: [] for n in live}
    pending = {n: masks[n].copy() for n in live}
    budget = 2 * sum(int(np.size(values[i])) for i in graph.variables.values())
    stopped = False
    for node, position, why in _candidates(graph, values, live):
        if not any(m.any() for m in pending.values()):
            break
        if budget == 0:
            stopped = True
            break
        budget -= 1
        opened = _opened_pass(graph, values, node, position, live)
        if opened is None:
            continue
        for n, m in pending.items():
            freed = m & (np.asarray(opened[graph.variables[n]]) != 0)
            if freed.any():
                found[n].append(Blocker(node, int(freed.sum()), why))
                m &= ~freed
    return [ArrayZero(n, int(m.sum()), int(m.size), "positions" if n in index else
                      "entries" if n in pending else "no path",
                      tuple(found.get(n, ())), int(pending[n].sum()) if n in pending else 0,
                      stopped, _routers(graph, n) if n in pending and pending[n].any() else ())
            for n, m in masks.items()]


def _routers(graph: Graph, name: str) -> tuple[int, ...]:
    """The array routers (ops given by a VJP whose role is a router) on name's paths."""
    wants = wanted_nodes(graph, [name])
    reaches = bytearray(len(graph))
    reaches[graph.output] = 1
    for i in range(len(graph) - 1, -1, -1):
        if reaches[i]:
            for j in graph.args[i]:
                reaches[j] = 1
    return tuple(i for i in range(len(graph)) if wants[i] and reaches[i]
                 and graph.ops[i].vjp is not None and graph.ops[i].role.startswith("router"))


def _candidates(graph: Graph, values: list, names: list[str]):
    """(node, input position or None, why) for every gate on a path that could hold a gradient
    at 0, from the output back: an elementwise gate with a zero local somewhere (None: all its
    zero locals), or a matrix op with a zero entry in an input (that input's position)."""
    import numpy as np

    from .forward import math_of

    wants = wanted_nodes(graph, names)
    m = math_of(values)
    for i in range(len(graph) - 1, -1, -1):
        a = graph.args[i]
        if not a or not wants[i]:
            continue
        op, inputs = graph.ops[i], [values[j] for j in a]
        if op.vjp is None:
            try:
                with np.errstate(all="ignore"):
                    local = op.local(m, *inputs, values[i])
            except (ArithmeticError, ValueError):
                continue
            zero = [np.asarray(lk) == 0 for lk in local]
            if any(z.any() for z, j in zip(zero, a) if wants[j]):
                yield i, None, _array_reading(graph, values, i, zero)
        elif op.role.startswith("matrix multiply"):
            for p, j in enumerate(a):
                if is_index(values[j]):  # positions, not a factor: nothing to open
                    continue
                if np.size(values[j]) > 1 and (np.asarray(values[j]) == 0).any():
                    yield i, p, (f"{op.name} multiplies by zero entries of "
                                 f"{graph.text(j, 30)}: {_entries(values[j], values[j] == 0)}")


def _entries(x, mask, most: int = 3) -> str:
    """Up to `most` entries of x where mask holds, as [i] (value)."""
    import numpy as np

    where = np.argwhere(np.broadcast_to(mask, np.shape(x)))
    x = np.asarray(x)
    shown = [f"[{', '.join(map(str, idx))}] ({float(x[tuple(idx)]):g})" for idx in where[:most]]
    more = len(where) - most
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _array_reading(graph: Graph, values: list, i: int, zero: list) -> str:
    """The lecture's words for an elementwise gate passing back 0 at some entries."""
    import numpy as np

    op, a = graph.ops[i], graph.args[i]
    x = values[a[0]]
    if op.role.startswith("router") and len(a) == 1:
        # relu passes back 0 below its kink, and at the kink itself by its convention
        # (relu'(0) = 0): an input of 0 is named as that, never as a negative input.
        xs = np.asarray(x)
        parts = [f"{op.name} at {what}: {_entries(x, zero[0] & held)}"
                 for what, held in (("negative inputs", xs < 0),
                                    ("0, its kink (the subgradient there is 0)", xs == 0))
                 if (zero[0] & held).any()]
        return "; ".join(parts) or f"{op.name}'s local gradient is 0: {_entries(x, zero[0])}"
    if op.role.startswith("router"):
        return f"the losing side of {op.name} at {int(np.count_nonzero(zero[0]))} entries"
    if op.role.startswith("switcher"):
        k = next(k for k, z in enumerate(zero) if z.any())
        other = a[1] if k == 0 else a[0]
        return (f"a multiplication by zero values of {graph.text(other, 30)}: "
                f"{_entries(values[other], np.asarray(values[other]) == 0)}")
    return f"{op.name}'s local gradient is 0: {_entries(x, zero[0])}"


def _opened_pass(graph: Graph, values: list, node: int, position: int | None, names):
    """The backward pass again with gate `node` opened: zero locals read as 1 (position
    None), or input `position`'s zero entries read as 1 in the op's vector-Jacobian product."""
    import copy
    import dataclasses

    import numpy as np

    from ..errors import BackpropError
    from .backward import backpropagate

    op = graph.ops[node]
    if position is None:
        def local(m, *args):
            return tuple(np.where(np.asarray(lk) == 0, 1.0, lk) for lk in op.local(m, *args))
        opened = dataclasses.replace(op, local=local)
    else:
        def vjp(m, up, inputs, out):
            inputs = [np.where(np.asarray(x) == 0, 1.0, x) if k == position else x
                      for k, x in enumerate(inputs)]
            return op.vjp(m, up, inputs, out)
        opened = dataclasses.replace(op, vjp=vjp)
    g = copy.copy(graph)
    g.ops = [*graph.ops[:node], opened, *graph.ops[node + 1:]]
    try:
        return backpropagate(g, values, wrt=names)
    except (BackpropError, ArithmeticError, ValueError):
        return None

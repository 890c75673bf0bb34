"""Graph + float64 values and gradients -> the same passes replayed in float32, per-node relative
errors, where the digits are lost, and the tolerance a float32 gradient check would need.

The model: every number a pass stores (a value, a local gradient, what a node sends back, a
running fan-in sum) is rounded to float32, and each operation is correctly rounded (computed in
float64, then rounded), as an IEEE float32 unit would do it; real float32 libraries may be an
ulp or two worse in exp, log and friends. The locals come from `chain_step`, as in the backward
pass. On arrays every entry is rounded so; a node's relative error is its worst entry's
(an entry that is 0 in float64 counts its float32 value as the error), and the backward pass
runs the rows' own `chain_step` on the float32 numbers, so a gradient's loss is named where
what a node sends back is off, not through a local of each entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..engine.backward import chain_step, wanted_nodes
from ..graph import Graph
from ..ops.registry import SCALAR
from ..values import is_array

EPS32 = 2.0 ** -23  # float32's machine epsilon
FD32 = EPS32 ** (2 / 3)  # a float32 central difference's best relative error, about 2.6e-5
LOST = 1e-6  # a relative error past this (about 8 ulps) counts as digits lost
AMPLIFIED = 10.0  # ... when it is this many times what the inputs brought in


@dataclass(frozen=True)
class Node32:
    node: int
    value: float  # float32 value
    value_error: float  # relative error against float64
    grad: float  # float32 upstream gradient
    grad_error: float


@dataclass(frozen=True)
class Loss:
    node: int
    side: str  # "value" or "gradient"
    cause: str  # "cancellation", "saturation", "a large exponent", "overflow", "rounding"
    detail: str
    error: float


@dataclass(frozen=True)
class Float32Report:
    nodes: tuple[Node32, ...]
    losses: tuple[Loss, ...]
    gradients: dict[str, tuple[float, float]]  # name -> (float32 gradient, relative error)
    tolerance: float  # the rtol a float32 gradient check needs here

    @property
    def worst(self) -> float:
        return max((e for _, e in self.gradients.values()), default=0.0)


def _f32(x):
    """x rounded to float32 (kept as a float64 number or array holding that value)."""
    import numpy as np

    with np.errstate(over="ignore", invalid="ignore"):
        if is_array(x):
            return x if x.dtype.kind in "iub" else x.astype(np.float32).astype(np.float64)
        return float(np.float32(x))


def rel_error(got, want) -> float:
    if is_array(got) or is_array(want):
        return _array_error(got, want)
    if got == want:
        return 0.0
    if not math.isfinite(got):
        return math.inf
    return abs(got - want) / abs(want) if want else abs(got)


def _array_error(got, want) -> float:
    """The worst entry's relative error (an entry 0 in float64: its float32 value)."""
    import numpy as np

    got, want = np.broadcast_arrays(np.asarray(got, float), np.asarray(want, float))
    if not np.isfinite(got).all() and np.isfinite(want).all():
        return math.inf
    with np.errstate(all="ignore"):
        err = np.where(want == 0, np.abs(got), np.abs(got - want) / np.abs(want))
    err = np.where(got == want, 0.0, err)
    return float(np.nanmax(err, initial=0.0))


def size(x) -> float:
    """|x|, or an array's largest |entry|."""
    if is_array(x):
        import numpy as np

        return float(np.max(np.abs(x), initial=0.0))
    return abs(x)


def _nan(x) -> bool:
    if is_array(x):
        import numpy as np

        return bool(np.isnan(x).any()) if x.dtype.kind == "f" else False
    return math.isnan(x)


def _finite(x) -> bool:
    if is_array(x):
        import numpy as np

        return bool(np.isfinite(x).all())
    return math.isfinite(x)


def replay(graph: Graph, values: list, grads: list, names: list[str]) -> Float32Report:
    from ..engine.forward import math_of

    m = math_of(values)
    v, val_err, losses = _forward32(graph, values, m)
    wants = wanted_nodes(graph, names)
    if m.is_array:
        g = _backward32_arrays(graph, values, grads, v, val_err, wants, m, losses)
    else:
        g = _backward32(graph, values, v, val_err, wants, losses)
    nodes = tuple(Node32(i, v[i], val_err[i], g[i], rel_error(_zero(g[i]), _zero(grads[i])))
                  for i in range(len(graph)))
    gradients = {name: (g[graph.variables[name]],
                        rel_error(_zero(g[graph.variables[name]]),
                                  _zero(grads[graph.variables[name]])))
                 for name in names if name in graph.variables}
    worst = max((e for _, e in gradients.values()), default=0.0)
    return Float32Report(nodes, tuple(losses), gradients, tolerance(worst))


def _zero(x):
    """A gradient the array pass never reached (None) is 0."""
    return 0.0 if x is None else x


def _forward32(graph: Graph, values: list, m) -> tuple[list, list, list[Loss]]:
    n = len(graph)
    v: list = [0.0] * n
    val_err = [0.0] * n
    losses: list[Loss] = []
    for i, (op, a) in enumerate(zip(graph.ops, graph.args)):
        if not a:
            v[i] = _f32(values[i])
        else:
            try:
                with _quiet(m):
                    v[i] = _f32(op.forward(m, *[v[j] for j in a]))
            except (ArithmeticError, ValueError):
                v[i] = math.nan
        val_err[i] = rel_error(v[i], values[i])
        if a:
            loss = _value_loss(graph, values, v, val_err, i)
            if loss:
                losses.append(loss)
    return v, val_err, losses


def _quiet(m):
    from contextlib import nullcontext

    return m.np.errstate(all="ignore") if m.is_array else nullcontext()


def _backward32(graph: Graph, values: list, v: list, val_err: list, wants,
                losses: list[Loss]) -> list:
    """The scalar backward pass in float32: each local rounded, then upstream x local."""
    n = len(graph)
    g = [0.0] * n
    g[graph.output] = 1.0
    for i in range(n - 1, -1, -1):
        a = graph.args[i]
        if not a or not wants[i] or not g[i]:
            continue
        local32 = _locals(graph, i, v)
        local64 = _locals(graph, i, values)
        for k, j in enumerate(a):
            if not wants[j]:
                continue
            lk = _f32(local32[k])
            loss = _local_loss(graph, values, val_err, i, j, lk, local64[k])
            if loss and all(x.node != i or x.side != "gradient" for x in losses):
                losses.append(loss)
            g[j] = _f32(g[j] + _f32(g[i] * lk))
    return g


def _backward32_arrays(graph: Graph, values: list, grads: list, v: list, val_err: list, wants,
                       m, losses: list[Loss]) -> list:
    """The array backward pass in float32: `chain_step` on the float32 values and upstream,
    each part rounded; a node whose parts lose digits past what it was given is named."""
    n = len(graph)
    g: list = [None] * n
    g[graph.output] = _f32(grads[graph.output])
    for i in range(n - 1, -1, -1):
        a = graph.args[i]
        if not a or not wants[i] or g[i] is None:
            continue
        try:
            with _quiet(m):
                parts = chain_step(graph.ops[i], m, g[i], a, v, v[i], wants)
                exact = chain_step(graph.ops[i], m, grads[i], a, values, values[i], wants)
        except (ArithmeticError, ValueError):
            continue
        given = max(val_err[i], rel_error(g[i], grads[i]), *(val_err[j] for j in a))
        for j, p, q in zip(a, parts, exact):
            if p is None:
                continue
            p = _f32(p)
            e = rel_error(p, q)
            if e > LOST and e > AMPLIFIED * given and all(
                    x.node != i or x.side != "gradient" for x in losses):
                losses.append(Loss(i, "gradient", "rounding",
                                   f"what it sends back is off by {e:.1e} in float32", e))
            g[j] = p if g[j] is None else _f32(g[j] + p)
    return g


def _locals(graph: Graph, i: int, v: list) -> tuple:
    """Node i's locals (`chain_step` with upstream 1); nan where float32 has none (log of a
    number that rounded to 0)."""
    a = graph.args[i]
    try:
        return chain_step(graph.ops[i], SCALAR, 1.0, a, v, v[i], b"\x01" * len(graph))
    except (ArithmeticError, ValueError):
        return (math.nan,) * len(a)


def tolerance(worst: float) -> float:
    """10x the larger of the float32 gradients' own error and a float32 central difference's
    best, rounded up to a power of ten."""
    need = 10 * max(worst, FD32)
    return 10.0 ** math.ceil(math.log10(need)) if math.isfinite(need) else math.inf


def _value_loss(graph: Graph, values: list, v: list, err: list, i: int) -> Loss | None:
    a = graph.args[i]
    inherited = max(err[j] for j in a)
    if _nan(v[i]) and not _nan(values[i]):
        shown = ", ".join(f"{v[j]:.9g}" if not is_array(v[j]) else "an array" for j in a)
        return Loss(i, "value", "out of the domain",
                    f"in float32 its input rounded to {shown}, where "
                    f"{graph.ops[i].name} is undefined", math.inf)
    if not _finite(v[i]) and _finite(values[i]):
        return Loss(i, "value", "overflow", "past float32's largest number, about 3.4e38",
                    math.inf)
    if err[i] <= LOST or err[i] <= AMPLIFIED * inherited:
        return None
    big = max(size(values[j]) for j in a)
    out = size(values[i])
    if len(a) == 2 and out < 0.1 * big:
        digits = math.log10(big / out) if out else math.inf
        to = f"entries of size {out:.3g}" if is_array(values[i]) else f"{values[i]:.3g}"
        return Loss(i, "value", "cancellation",
                    f"inputs of size {big:.3g} nearly cancel to {to}: about "
                    f"{digits:.0f} of float32's 7 digits lost", err[i])
    if len(a) == 1 and big > 1 and out > 1e4 and not is_array(values[i]):
        return Loss(i, "value", "a large exponent",
                    f"{graph.ops[i].name}({values[a[0]]:.3g}) = {values[i]:.3g}: the input's "
                    f"rounding is multiplied by about {big:.3g}", err[i])
    return Loss(i, "value", "rounding", "rounding errors add up here", err[i])


def _local_loss(graph: Graph, values: list, err: list, i: int, j: int, got: float,
                want: float) -> Loss | None:
    e = rel_error(got, want)
    # A local read off the output (exp's) carries the output's error too.
    if e <= LOST or e <= AMPLIFIED * max(err[i], *(err[k] for k in graph.args[i])):
        return None
    if abs(want) < 1e-3:
        return Loss(i, "gradient", "saturation",
                    f"the local gradient {want:.3g} (float64) is {got:.3g} in float32: the "
                    f"output sits near its limit", e)
    return Loss(i, "gradient", "rounding", f"the local gradient is {got:.7g} in float32, "
                f"{want:.7g} in float64", e)

"""Values -> the Hessian of a scalar output: the backward pass, differentiated once more.

Forward-over-reverse: each variable entry k in turn gets tangent 1 (a dual number, dual.py),
every other entry 0; the forward pass and the backward pass run unchanged on those duals, with
the same registry rows and the same chain-rule step; every gradient that comes out carries, as
its tangent, d(gradient)/d(entry k): one column of the Hessian. For a program of numbers all
the directions go in one pass (the tangent is a vector with one entry per variable).

No second derivative is written anywhere: the rows' local partials, applied to dual numbers,
are differentiated by the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import DomainError, LimitError, ShapeError
from ..graph import Graph
from ..values import is_array
from .backward import run_backward, wanted_nodes
from .dual import Dual, dual_math_for, tangent
from .forward import math_of, run_nodes

MAX_ENTRIES = 100_000  # entries of a Hessian (or a full Jacobian) computed and printed



@dataclass(frozen=True)
class Hessian:
    """H[a][b] = d2(output)/d(a)d(b): a number for two scalar variables, else an array shaped
    shape(a) + shape(b)."""

    names: tuple[str, ...]
    shapes: Mapping[str, tuple[int, ...]]
    blocks: Mapping[str, Mapping[str, Any]]

    def labels(self) -> list[str]:
        """Every variable entry's label, in the order of `matrix()`: x, W[0,1], ..."""
        return [label for n in self.names for label in entry_labels(n, self.shapes[n])]

    def matrix(self):
        """The whole Hessian as one square numpy matrix over all variable entries."""
        import numpy as np

        rows = []
        for a in self.names:
            na = _size(self.shapes[a])
            rows.append(np.hstack([np.reshape(np.asarray(self.blocks[a][b], dtype=float),
                                              (na, _size(self.shapes[b])))
                                   for b in self.names]))
        return np.vstack(rows) if rows else np.zeros((0, 0))


def entry_labels(name: str, shape: tuple[int, ...]) -> list[str]:
    """x for a number; x[0], x[1], ... or W[0,0], W[0,1], ... for an array (row-major)."""
    if not shape:
        return [name]
    from itertools import product

    return [f"{name}[{','.join(map(str, e))}]" for e in product(*(range(n) for n in shape))]


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for k in shape:
        n *= k
    return n


def shape_of(x: Any) -> tuple[int, ...]:
    return tuple(x.shape) if is_array(x) else ()


def hessian(graph: Graph, values: list, names: list[str],
            bindings: Mapping[str, Any] | None = None) -> Hessian:
    """d2(output)/d(a)d(b) for every pair of `names`. Raises ShapeError for a non-scalar
    output, LimitError past MAX_ENTRIES, DomainError where a second derivative is not finite.
    `bindings` gives the shapes of names the program never reads (their entries are 0)."""
    require_scalar_output(graph, values)
    output = values[graph.output]
    shapes = variable_shapes(graph, values, names, bindings)
    total = sum(_size(s) for s in shapes.values())
    if total * total > MAX_ENTRIES:
        raise LimitError(f"the Hessian would have {total:,} x {total:,} = {total * total:,} "
                         f"entries; --hessian computes up to {MAX_ENTRIES:,}",
                         hint="pick fewer variables with --wrt")
    read = [n for n in names if n in graph.variables]
    plain_m = math_of([values[graph.variables[n]] for n in read] + [output])
    dm = dual_math_for(plain_m)
    wants = wanted_nodes(graph, read)
    import numpy as np

    cols = {b: {a: np.zeros((_size(shapes[b]), _size(shapes[a]))) for a in names}
            for b in names}
    if not plain_m.is_array:
        # Every direction in one pass: each tangent is a vector with one entry per variable
        # (measured: 1-2 forward+backward passes' time per variable, against 2-6 for one pass
        # of plain floats per variable; benchmarks/bench_hessian.py).
        # (One variable: a plain float tangent, with no numpy call per operation.)
        eye = np.eye(len(read)) if len(read) > 1 else [1.0]
        grads = _dual_pass(graph, values, dm, {n: eye[k] for k, n in enumerate(read)}, wants)
        for b in read:
            t = np.broadcast_to(tangent(grads[graph.variables[b]]), (len(read),))
            for k, a in enumerate(read):
                cols[b][a][0, 0] = t[k]
    else:
        for a in read:
            for e in range(_size(shapes[a])):
                grads = _dual_pass(graph, values, dm, {a: _unit(np, shapes[a], e)}, wants)
                for b in read:
                    t = tangent(grads[graph.variables[b]])
                    cols[b][a][:, e] = np.ravel(np.broadcast_to(t, shapes[b] or ()))
    blocks = {b: {a: _shaped(cols[b][a], shapes[b], shapes[a]) for a in names} for b in names}
    _check_finite(graph, names, blocks, np)
    return Hessian(tuple(names), shapes, blocks)


def require_scalar_output(graph: Graph, values: list) -> None:
    """A Hessian is of a number: a non-scalar output is a ShapeError, before any work."""
    output = values[graph.output]
    if is_array(output):
        raise ShapeError(f"--hessian needs a scalar output; the output has shape "
                         f"{tuple(output.shape)}", graph.source,
                         (graph.starts[graph.output], graph.ends[graph.output]),
                         "wrap it in sum(...) or norm(...)**2 to get a number")


def variable_shapes(graph: Graph, values: list, names: list[str],
                    bindings: Mapping[str, Any] | None) -> dict[str, tuple[int, ...]]:
    return {n: shape_of(values[graph.variables[n]]) if n in graph.variables else
            shape_of((bindings or {}).get(n, 0.0)) for n in names}


def _unit(np, shape: tuple[int, ...], e: int) -> Any:
    if not shape:
        return 1.0
    t = np.zeros(shape)
    t.flat[e] = 1.0
    return t


def _shaped(block, shape_b: tuple[int, ...], shape_a: tuple[int, ...]) -> Any:
    if not shape_b and not shape_a:
        return float(block[0, 0])
    return block.reshape(shape_b + shape_a)


def _dual_pass(graph: Graph, values: list, dm, tangents: Mapping[str, Any],
               wants: bytearray) -> list:
    """Forward and backward on dual numbers: the gradients, whose tangents are the Hessian's
    columns along `tangents` (variable name -> its tangent; the others keep tangent 0)."""
    v = dual_values(graph, values, dm, tangents, every=True)
    if dm.is_array:
        np = dm.np
        grads: list = [None] * len(graph)
        grads[graph.output] = 1.0
        # The values were computed (and checked) by the plain pass already; what overflows or
        # is undefined here is a second derivative, and the finiteness test at the end says so.
        with np.errstate(all="ignore"):
            run_backward(graph, v, grads, wants, dm)
    else:
        grads = [0.0] * len(graph)
        grads[graph.output] = 1.0
        import numpy as np

        with np.errstate(all="ignore"):  # the tangents are numpy vectors: as above
            run_backward(graph, v, grads, wants, dm)
    return grads


def dual_values(graph: Graph, values: list, dm, tangents: Mapping[str, Any],
                every: bool = False) -> list:
    """The forward pass on duals: every variable named in `tangents` (with `every`, every
    variable, tangent 0 for the rest) becomes a dual number; the constants stay plain."""
    v = list(values)
    for name, i in graph.variables.items():
        if name in tangents:
            v[i] = Dual(values[i], tangents[name])
        elif every:
            v[i] = Dual(values[i], 0.0)
    import numpy as np

    with np.errstate(all="ignore"):  # what is not finite is found at the end, and named
        run_nodes(graph, v, dm)
    return v


def _check_finite(graph: Graph, names: list[str], blocks, np) -> None:
    for a in names:
        for b in names:
            if not np.isfinite(blocks[a][b]).all():
                raise DomainError(f"the second derivative d2f/d{a} d{b} is not finite at this "
                                  f"point (a local gradient's own derivative is infinite or "
                                  f"undefined here)", graph.source,
                                  (graph.starts[graph.output], graph.ends[graph.output]))

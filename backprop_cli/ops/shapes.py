"""Shape inference: every node's shape from the bindings' shapes, checked before anything runs.

An op row's `shape(shapes, consts)` gets its inputs' shapes (tuples; () for a number) and, for
each input, the constant's value when that input is a constant leaf (None otherwise), so a
reduction can read its axis from the graph. It returns the output shape or raises `Mismatch`
with a sentence naming the shapes involved. Rows without a shape rule are elementwise and follow
numpy's broadcasting rules. Pure Python: no numpy is needed to know the shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ShapeError

if TYPE_CHECKING:  # the registry imports this module, so the graph may not exist yet
    from ..graph import Graph

Shape = tuple[int, ...]


class Mismatch(ValueError):
    """A shape rule's complaint; `infer_shapes` turns it into a ShapeError at the node."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class Unsupported(ValueError):
    """A rule's refusal that says in words what it needs (a domain error shows the sentence):
    an array-making row in a program that binds only numbers, a position out of range."""


def fmt(shape: Shape) -> str:
    """A shape as numpy prints it: (2, 3), (4,), () for a number."""
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def broadcast(*shapes: Shape) -> Shape:
    """numpy's broadcasting: align on the right; each pair of sizes is equal or one is 1."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(-ndim, 0):
        size = 1
        for s in shapes:
            n = s[k] if -k <= len(s) else 1
            if n != 1:
                if size not in (1, n):
                    listed = " and ".join(fmt(s) for s in shapes)
                    raise Mismatch(f"cannot broadcast shapes {listed}: sizes {size} and {n} "
                                   f"differ in axis {k} and neither is 1",
                                   "entrywise ops need equal or broadcastable shapes; "
                                   "'@' is the matrix product")
                size = n
        out.append(size)
    return tuple(out)


def axis_of(name: str, shape: Shape, axis: Any, given: bool) -> int | None:
    """A reduction's axis as a non-negative int (None: all axes); `axis` is a constant's value."""
    if not given:
        return None
    if axis is None:
        raise Mismatch(f"the axis of {name}() must be a number written in the program, "
                       f"like {name}(x, 0)")
    if axis != int(axis):
        raise Mismatch(f"the axis of {name}() must be a whole number, not {axis:g}")
    k = int(axis)
    if not -len(shape) <= k < len(shape):
        raise Mismatch(f"{name}() over axis {k}: the input has shape {fmt(shape)}, "
                       f"so the axis must be in {-len(shape)}..{len(shape) - 1}"
                       if shape else f"{name}() over axis {k}: the input is a number")
    return k % len(shape)


def reduced(shape: Shape, axis: int | None) -> Shape:
    """The shape left after reducing `axis` (all axes for None)."""
    if axis is None:
        return ()
    return shape[:axis] + shape[axis + 1:]


def leaf_shape(value: Any) -> Shape:
    shape = getattr(value, "shape", None)
    return tuple(shape) if shape is not None else ()


def infer_shapes(graph: Graph, bindings: Mapping[str, Any]) -> list[Shape]:
    """The shape of every node, in node order. Raises ShapeError at the first node that fails."""
    shapes: list[Shape] = [()] * len(graph)
    for name, i in graph.variables.items():
        if name in bindings:
            shapes[i] = leaf_shape(bindings[name])
    consts = graph.consts
    for i, op in enumerate(graph.ops):
        a = graph.args[i]
        if not a:
            continue
        ins = tuple(shapes[j] for j in a)
        try:
            if op.shape is not None:
                shapes[i] = tuple(op.shape(ins, tuple(consts.get(j) for j in a)))
            elif len(ins) == 1 or all(s == ins[0] for s in ins):
                shapes[i] = ins[0]
            else:
                shapes[i] = broadcast(*ins)
        except Mismatch as exc:
            raise ShapeError(f"{graph.text(i)}: {exc}", graph.source,
                             (graph.starts[i], graph.ends[i]), exc.hint) from None
    return shapes


def unbroadcast(m, grad, like):
    """Sum `grad` down to the shape of `like`, undoing numpy broadcasting."""
    shape = getattr(like, "shape", ())
    g = m.np.asarray(grad)
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    keep = tuple(k for k, n in enumerate(shape) if n == 1 and g.shape[k] != 1)
    if keep:
        g = g.sum(axis=keep, keepdims=True)
    return g.reshape(shape) if shape else m.scalar(g)


def size(shape: Shape) -> int:
    n = 1
    for k in shape:
        n *= k
    return n

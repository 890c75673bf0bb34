"""The rows that make or rearrange arrays: reshape, stack and concatenate (and list literals
[a, b]), ones_like, zeros_like, arange and one_hot.

Sizes, counts and axes are numbers written in the program (constant inputs, read by the shape
rule, with no gradient): `reshape(x, n, -1)` (also `reshape(x, (n, -1))` and `x.reshape(n,
-1)`), `arange(n)`, `one_hot(y, k)`. arange and one_hot make values that no variable flows
into the way a gradient could: their inputs get 0. numpy is reached through `m.np`.
"""

from __future__ import annotations

from .keywords import takes
from .registry import Op, register
from .shapes import Mismatch, Unsupported, fmt, size


def _np():
    import numpy as np

    return np


def _need_array(m, name: str):
    if not m.is_array:
        raise Unsupported("makes an array, but the program binds only numbers (bind one of "
                          "its variables to an array, e.g. x=[1,2])")
    return m.np


def _whole(name: str, what: str, value) -> int:
    if value is None:
        raise Mismatch(f"the {what} of {name}() must be a number written in the program, "
                       f"like {name}(x, 2, -1)" if name == "reshape" else
                       f"the {what} of {name}() must be a number written in the program")
    if value != int(value):
        raise Mismatch(f"the {what} of {name}() must be a whole number, not {value:g}")
    return int(value)


# --- reshape ------------------------------------------------------------------------------


def _new_shape(old: tuple, dims: tuple) -> tuple:
    dims = tuple(_whole("reshape", "size", d) for d in dims)
    if dims.count(-1) > 1:
        raise Mismatch("reshape() can infer one size (-1), not two")
    if any(d < -1 or d == 0 for d in dims):
        raise Mismatch(f"reshape() sizes are positive (or -1 for the rest), not {dims}")
    known = size(tuple(d for d in dims if d != -1))
    total = size(old)
    if -1 in dims:
        if total % known:
            raise Mismatch(f"cannot reshape shape {fmt(old)} ({total} entries) to "
                           f"{fmt(dims)}: {total} is not a multiple of {known}")
        dims = tuple(total // known if d == -1 else d for d in dims)
    if size(dims) != total:
        raise Mismatch(f"cannot reshape shape {fmt(old)} ({total} entries) to {fmt(dims)} "
                       f"({size(dims)} entries)")
    return dims


def _reshape_forward(m, a, *dims):
    np = _need_array(m, "reshape")
    return np.reshape(a, tuple(int(d) for d in dims))


def _reshape_shape(shapes, consts):
    if any(s for s in shapes[1:]):
        raise Mismatch("the sizes of reshape() must be numbers written in the program")
    return _new_shape(shapes[0], consts[1:])


def _reshape_vjp(m, g, args, out):
    a = args[0]
    return (m.np.reshape(g, m.np.shape(a)) if m.np.ndim(a) else m.scalar(g),
            *(0.0,) * (len(args) - 1))


def _reshape_sympy(sp, a, *dims):
    return _np().asarray(a, dtype=object).reshape(tuple(int(d) for d in dims))


# --- stack and concatenate ----------------------------------------------------------------


def _stack_axis(name: str, ndim: int, axis) -> int:
    if not -ndim <= axis < ndim:
        raise Mismatch(f"{name}() over axis {axis}: the result has {ndim} "
                       f"{'axis' if ndim == 1 else 'axes'}")
    return axis % ndim


def _stack_shape(shapes, consts, axis=0):
    first = shapes[0]
    for k, s in enumerate(shapes[1:], 1):
        if s != first:
            raise Mismatch(f"stack() needs entries of one shape: entry 0 has shape {fmt(first)}, "
                           f"entry {k} has {fmt(s)}")
    k = _stack_axis("stack", len(first) + 1, axis)
    return (*first[:k], len(shapes), *first[k:])


def _stack_forward(m, *items, axis=0):
    np = _need_array(m, "stack")
    # Filled into a buffer one entry at a time (the dual numbers of a Hessian follow it).
    first = np.shape(items[0])
    out = np.zeros((len(items), *first))
    for k, x in enumerate(items):
        out[k] = x
    return np.moveaxis(out, 0, axis) if axis else out


def _stack_vjp(m, g, args, out, axis=0):
    np = m.np
    parts = np.moveaxis(g, axis, 0)
    return tuple(p if np.ndim(a) else m.scalar(p) for p, a in zip(parts, args))


def _stack_sympy(sp, *items, axis=0):
    np = _np()
    return np.stack([np.asarray(x, dtype=object) for x in items], axis=axis)


def _concat_shape(shapes, consts, axis=0):
    first = shapes[0]
    if not first:
        raise Mismatch("concatenate() joins arrays, not numbers",
                       "stack([a, b]) makes an array of numbers")
    k = _stack_axis("concatenate", len(first), axis)
    for j, s in enumerate(shapes[1:], 1):
        if len(s) != len(first) or s[:k] + s[k + 1:] != first[:k] + first[k + 1:]:
            raise Mismatch(f"concatenate() along axis {k}: entry 0 has shape {fmt(first)}, "
                           f"entry {j} has {fmt(s)}; they must match except on axis {k}")
    return (*first[:k], sum(s[k] for s in shapes), *first[k + 1:])


def _pieces(np, shapes, axis):
    """Where each input sits along the joined axis: an index tuple per input."""
    start = 0
    for s in shapes:
        k = axis % len(s)
        yield (slice(None),) * k + (slice(start, start + s[k]),)
        start += s[k]


def _concat_forward(m, *items, axis=0):
    np = _need_array(m, "concatenate")
    shapes = [np.shape(x) for x in items]
    k = axis % len(shapes[0])
    out = np.zeros((*shapes[0][:k], sum(s[k] for s in shapes), *shapes[0][k + 1:]))
    for where, x in zip(_pieces(np, shapes, axis), items):
        out[where] = x
    return out


def _concat_vjp(m, g, args, out, axis=0):
    np = m.np
    return tuple(g[where] for where in _pieces(np, [np.shape(a) for a in args], axis))


def _concat_sympy(sp, *items, axis=0):
    np = _np()
    return np.concatenate([np.asarray(x, dtype=object) for x in items], axis=axis)


# --- arrays made from a shape: ones_like, zeros_like, arange, one_hot ----------------------


def _like(fill: float):
    def forward(m, a):
        return m.np.zeros(m.np.shape(a)) + fill if m.is_array and m.np.ndim(a) else fill

    def vjp(m, g, args, out):
        array = m.is_array and m.np.ndim(args[0])  # the scalar namespace has no numpy
        return (m.np.zeros(m.np.shape(args[0])) if array else 0.0,)

    def sympy(sp, a):
        np = _np()
        if isinstance(a, np.ndarray):
            out = np.empty(a.shape, dtype=object)
            out[...] = sp.Integer(int(fill))
            return out
        return sp.Integer(int(fill))

    return dict(forward=forward, vjp=vjp, sympy=sympy, local=None,
                shape=lambda shapes, consts: shapes[0])


def _arange_forward(m, n):
    np = _need_array(m, "arange")
    return np.arange(int(n))


def _arange_shape(shapes, consts):
    if shapes[0]:
        raise Mismatch(f"arange() takes a count, not shape {fmt(shapes[0])}")
    n = _whole("arange", "count", consts[0])
    if n < 1:
        raise Mismatch(f"arange({n}) is empty", "give a count of 1 or more")
    return (n,)


def _arange_sympy(sp, n):
    np = _np()
    out = np.empty(int(n), dtype=object)
    for k in range(int(n)):
        out[k] = sp.Integer(k)
    return out


def _one_hot_forward(m, y, k):
    _need_array(m, "one_hot")
    np = _np()
    labels = np.asarray(getattr(y, "v", y))  # a dual number's value (Hessians): labels
    if not np.all(labels == np.round(labels)) or np.any((labels < 0) | (labels >= int(k))):
        raise Unsupported(f"has labels that are not whole numbers in 0..{int(k) - 1}")
    return np.eye(int(k))[labels.astype(np.intp)]


def _one_hot_shape(shapes, consts):
    k = _whole("one_hot", "class count", consts[1])
    if k < 1:
        raise Mismatch(f"one_hot() needs 1 or more classes, not {k}")
    return (*shapes[0], k)


def _one_hot_vjp(m, g, args, out):
    y = args[0]
    return (m.np.zeros(m.np.shape(y)) if m.np.ndim(y) else 0.0, 0.0)


def _one_hot_sympy(sp, y, k):
    np = _np()
    labels = np.asarray(y, dtype=object)
    out = np.empty((*labels.shape, int(k)), dtype=object)
    out[...] = sp.Integer(0)
    for e in np.ndindex(labels.shape):
        out[e + (int(float(labels[e])),)] = sp.Integer(1)
    return out


def _none(m, *args):
    return (0.0,) * (len(args) - 1)


RESHAPING_ROWS = [
    Op("reshape", None, _reshape_forward, None, _reshape_sympy, label="reshape", min_arity=2,
       role="rearranges: the upstream gradient is reshaped back to the input's shape",
       domain="sizes whose product is the number of entries (-1 for the rest)",
       vjp=_reshape_vjp, shape=_reshape_shape, elementwise=False,
       doc="reshape(x, n, -1), also reshape(x, (n, -1)) and x.reshape(n, -1): the same entries "
           "in a new shape; -1 stands for the size that makes the count right",
       vjp_text=("reshape(dout, dims)",)),
    Op("stack", None, _stack_forward, None, _stack_sympy, label="stack",
       role="gathers: each entry gets its own slice of the upstream gradient back",
       vjp=_stack_vjp, shape=_stack_shape, elementwise=False,
       spelled=lambda parts: "[" + ", ".join(parts) + "]",
       doc="[a, b, ...] and stack([a, b], axis=0): the entries along a new axis",
       vjp_text=("dout[part]",)),
    Op("concatenate", None, _concat_forward, None, _concat_sympy, label="concat",
       role="joins: each entry gets its own slice of the upstream gradient back",
       domain="arrays whose shapes match except along the axis joined",
       vjp=_concat_vjp, shape=_concat_shape, elementwise=False,
       doc="concatenate([a, b], axis=0): the arrays joined along an existing axis",
       vjp_text=("dout[part]",)),
    Op("ones_like", 1, label="ones_like", elementwise=False, samples=((0.3,), (-1.1,)),
       role="a constant: no gradient flows back", doc="ones_like(x): ones shaped like x",
       vjp_text=("zeros_like(a)",), **_like(1.0)),
    Op("zeros_like", 1, label="zeros_like", elementwise=False, samples=((0.3,), (-1.1,)),
       role="a constant: no gradient flows back", doc="zeros_like(x): zeros shaped like x",
       vjp_text=("zeros_like(a)",), **_like(0.0)),
    Op("arange", 1, _arange_forward, None, _arange_sympy, label="arange",
       role="positions 0..n-1: a constant, no gradient",
       vjp=lambda m, g, args, out: (0.0,), shape=_arange_shape, elementwise=False,
       doc="arange(n): the integers 0, 1, ..., n-1 (positions: x[arange(n), y] picks one "
           "entry per row)"),
    Op("one_hot", 2, _one_hot_forward, None, _one_hot_sympy, label="one_hot",
       role="a constant made from labels: no gradient",
       domain="whole-number labels in 0..k-1", vjp=_one_hot_vjp, shape=_one_hot_shape,
       elementwise=False,
       doc="one_hot(y, k): a row of k entries per label, 1 at the label and 0 elsewhere"),
]

for _row in RESHAPING_ROWS:
    register(_row)

takes("reshape", method="reshape")
takes("transpose", method="transpose")
takes("stack", "axis")
takes("concatenate", "axis")


def samples() -> dict:
    """Array argument tuples where each of these rows is tested."""
    np = _np()
    rng = np.random.default_rng(10)
    W = rng.normal(size=(3, 4))
    T = rng.normal(size=(2, 3, 4))
    x = rng.normal(size=(4,))
    return {
        "reshape": [(W, 2.0, -1.0), (T, 6.0, -1.0), (x, 2.0, -1.0)],
        "stack": [(x, 2 * x + 1), (W, W * W)],
        "concatenate": [(W, W[:1] * 2), (x, x[:2])],
        "ones_like": [(W,)],
        "zeros_like": [(W,)],
        "arange": [(4.0,)],  # a count: no gradient flows anywhere (not mutated: test_mutants)
        "one_hot": [(np.array([0, 2, 1]), 3.0)],
    }

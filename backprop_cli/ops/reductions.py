"""The reduction rows, with numpy's parameters: sum, mean, prod, amax, amin, var, std, argmax,
argmin and logsumexp over `axis` (None for all, an int, or a tuple), with `keepdims` and (var,
std) `ddof`.

Each rule takes the array, then an optional axis written as a number in the program (`sum(x,
0)`: a constant input, which gets no gradient), then the keyword parameters (ops/keywords.py
binds them: `x.sum(axis=(0, 1), keepdims=True)`). A rule is stated once for every axis: the
reduced axes are moved to the end and flattened, so a reduction over axes is a reduction over
the last axis.

Numbers (a scalar program) are the one-entry case: the sum, mean, product, largest, smallest
and logsumexp of one number are that number, its variance and deviation 0, its argmax 0.
numpy is reached through `m.np` or imported inside a rule, never at import time.
"""

from __future__ import annotations

from .keywords import takes
from .registry import Op, register
from .shapes import Mismatch, fmt


def _np():
    import numpy as np

    return np


# --- axes ---------------------------------------------------------------------------------


def axes_of(name: str, shape: tuple, pos: tuple, axis) -> tuple[int, ...] | None:
    """The reduced axes as sorted non-negative ints (None: all), from a positional constant
    or the `axis` keyword. A Mismatch names the shape and the axis."""
    if pos:
        if axis is not None:
            raise Mismatch(f"{name}() is given the axis twice")
        axis = pos[0]
        if axis is None:
            raise Mismatch(f"the axis of {name}() must be a number written in the program, "
                           f"like {name}(x, 0)")
        if axis != int(axis):
            raise Mismatch(f"the axis of {name}() must be a whole number, not {axis:g}")
        axis = int(axis)
    if axis is None:
        return None
    many = axis if isinstance(axis, tuple) else (axis,)
    n = len(shape)
    out = []
    for k in many:
        if not -n <= k < n:
            raise Mismatch(f"{name}() over axis {k}: the input has shape {fmt(shape)}, so the "
                           f"axis must be in {-n}..{n - 1}" if n else
                           f"{name}() over axis {k}: the input is a number")
        out.append(k % n)
    if len(set(out)) != len(out):
        raise Mismatch(f"{name}() over axes {many}: an axis is repeated (shape {fmt(shape)})")
    return tuple(sorted(out))


def reduced_shape(shape: tuple, axes, keepdims: bool) -> tuple:
    if axes is None:
        return (1,) * len(shape) if keepdims else ()
    if keepdims:
        return tuple(1 if k in axes else n for k, n in enumerate(shape))
    return tuple(n for k, n in enumerate(shape) if k not in axes)


def _count(shape: tuple, axes) -> int:
    n = 1
    for k, size in enumerate(shape):
        if axes is None or k in axes:
            n *= size
    return n


def _spread(np, g, shape: tuple, axes, keepdims: bool):
    """A reduced value (the upstream gradient, or the output) back over the input's shape."""
    g = np.asarray(g)
    if not keepdims and axes is not None:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


def _last(np, a, axes):
    """a with the reduced axes moved to the end and flattened into one: (..., reduced)."""
    if axes is None:
        return a.reshape(-1)
    rest = [k for k in range(a.ndim) if k not in axes]
    moved = np.transpose(a, rest + list(axes))
    return moved.reshape(tuple(a.shape[k] for k in rest) + (-1,))


def _unlast(np, flat, shape: tuple, axes):
    """The inverse of `_last` for an array shaped like `_last`'s result."""
    if axes is None:
        return flat.reshape(shape)
    order = [k for k in range(len(shape)) if k not in axes] + list(axes)
    moved = flat.reshape(tuple(shape[k] for k in order))
    return np.transpose(moved, [order.index(k) for k in range(len(order))])


# --- the rules, stated for the last axis of `_last` ----------------------------------------


def _shift(np, a, axes):
    return np.max(a, axis=axes, keepdims=True)


def _fwd_logsumexp(np, a, axes, keepdims):
    top = _shift(np, a, axes)
    with np.errstate(under="ignore"):
        out = np.log(np.sum(np.exp(a - top), axis=axes, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=axes) if axes is not None else out.reshape(())


_FORWARD = {
    "sum": lambda np, a, axes, keepdims, ddof: np.sum(a, axis=axes, keepdims=keepdims),
    "mean": lambda np, a, axes, keepdims, ddof: np.mean(a, axis=axes, keepdims=keepdims),
    "prod": lambda np, a, axes, keepdims, ddof: _product(np, a, axes, keepdims),
    "amax": lambda np, a, axes, keepdims, ddof: np.max(a, axis=axes, keepdims=keepdims),
    "amin": lambda np, a, axes, keepdims, ddof: np.min(a, axis=axes, keepdims=keepdims),
    "variance": lambda np, a, axes, keepdims, ddof: _variance(np, a, axes, keepdims, ddof),
    "std": lambda np, a, axes, keepdims, ddof: np.sqrt(_variance(np, a, axes, keepdims, ddof)),
    "logsumexp": lambda np, a, axes, keepdims, ddof: _fwd_logsumexp(np, a, axes, keepdims),
}


def _variance(np, a, axes, keepdims, ddof):
    # Written with sum and mean (not np.var), so the dual numbers of a Hessian follow it.
    n = _count(np.shape(a), axes)
    return np.sum(_centred(np, a, axes) ** 2, axis=axes, keepdims=keepdims) / (n - ddof)


def _prefix_products(flat):
    """Products of flat[..., :k] for k = 0..n: a running product, one slice at a time (plain
    arithmetic, so numpy arrays and the dual numbers of a Hessian both follow it)."""
    out = [1.0]
    for k in range(flat.shape[-1]):
        out.append(out[-1] * flat[..., k])
    return out


def _product(np, a, axes, keepdims):
    if isinstance(a, _np().ndarray):  # numpy's own loop; the same product
        return _np().prod(a, axis=axes, keepdims=keepdims)
    flat = _last(np, a, axes)
    out = _prefix_products(flat)[-1]
    if keepdims:
        out = np.reshape(out, reduced_shape(np.shape(a), axes, True))
    return out


def _exclusive_product(np, a, axes):
    """For every entry, the product of the other entries it was reduced with (exact where
    some are 0, unlike out / a)."""
    flat = _last(np, a, axes)
    before = _prefix_products(flat)
    after = _prefix_products(flat[..., ::-1])
    n = flat.shape[-1]
    parts = np.zeros(flat.shape)
    for k in range(n):
        parts[..., k] = before[k] * after[n - 1 - k]
    return _unlast(np, parts, np.shape(a), axes)


def _tie_share(np, a, out, axes, keepdims):
    # The upstream gradient goes to the winning entry; ties split it evenly (as max(a, b)).
    hits = (a == _spread(np, out, a.shape, axes, keepdims)).astype(float)
    return hits / np.sum(hits, axis=axes, keepdims=True)


def _centred(np, a, axes):
    return a - np.mean(a, axis=axes, keepdims=True)


# d(reduction)/d(entry), shaped like the input: the VJP is upstream (spread) times this.
_LOCAL = {
    "sum": lambda np, a, out, axes, keepdims, ddof: 1.0,
    "mean": lambda np, a, out, axes, keepdims, ddof: 1.0 / _count(a.shape, axes),
    "prod": lambda np, a, out, axes, keepdims, ddof: _exclusive_product(np, a, axes),
    "amax": lambda np, a, out, axes, keepdims, ddof: _tie_share(np, a, out, axes, keepdims),
    "amin": lambda np, a, out, axes, keepdims, ddof: _tie_share(np, a, out, axes, keepdims),
    # var = sum((a - mean)**2) / (n - ddof): the mean's own part sums to 0 and drops out.
    "variance": lambda np, a, out, axes, keepdims, ddof:
        2.0 * _centred(np, a, axes) / (_count(a.shape, axes) - ddof),
    # std = sqrt(var): d std = d var / (2 std); where std = 0 the subgradient 0 is used.
    "std": lambda np, a, out, axes, keepdims, ddof: _std_local(np, a, out, axes, keepdims, ddof),
    "logsumexp": lambda np, a, out, axes, keepdims, ddof:
        np.exp(a - _spread(np, out, a.shape, axes, keepdims)),
}


def _std_local(np, a, out, axes, keepdims, ddof):
    s = _spread(np, out, a.shape, axes, keepdims)
    safe = np.where(s > 0, s, 1.0)
    return np.where(s > 0, _centred(np, a, axes) / ((_count(a.shape, axes) - ddof) * safe), 0.0)


_SCALAR = {"variance": 0.0, "std": 0.0, "argmax": 0, "argmin": 0}  # else: the number itself


def _rules(name: str):
    """forward, scalar local, vjp, shape for the reduction `name`."""

    def forward(m, a, *pos, axis=None, keepdims=False, ddof=0):
        np = m.np if m.is_array else None
        if np is None or not np.ndim(a):
            if pos or (axis not in (None, ()) and axis != 0):
                raise ValueError(f"{name}() of a number has no axis")
            return _SCALAR.get(name, a)
        axes = axes_of(name, a.shape, pos, axis)
        if name in ("variance", "std") and _count(a.shape, axes) <= ddof:
            raise ValueError(f"{name}() with ddof={ddof} of {_count(a.shape, axes)} entries "
                             "divides by zero")
        if name in ("argmax", "argmin"):
            return _arg(np, name, a, axes, keepdims)
        out = _FORWARD[name](np, a, axes, keepdims, ddof)
        return out if np.ndim(out) else m.scalar(out)  # a tangent (dual numbers) is kept

    def local(m, a, *rest, axis=None, keepdims=False, ddof=0):
        one = 0.0 if name in _SCALAR else 1.0
        return (one,) + (0.0,) * (len(rest) - 1)

    def vjp(m, g, args, out, axis=None, keepdims=False, ddof=0):
        a = args[0]
        rest = (0.0,) * (len(args) - 1)
        if not m.is_array or not m.np.ndim(a):  # a number (the scalar namespace has no numpy)
            return (g * local(m, a, out)[0], *rest)
        np = m.np
        axes = axes_of(name, a.shape, tuple(args[1:]), axis)
        if name in ("argmax", "argmin"):
            return (np.zeros(a.shape), *rest)
        part = _LOCAL[name](np, a, out, axes, keepdims, ddof)
        return (_spread(np, g, a.shape, axes, keepdims) * part, *rest)

    def shape(shapes, consts, axis=None, keepdims=False, ddof=0):
        if len(shapes) > 1 and shapes[1]:
            raise Mismatch(f"the axis of {name}() must be a number, not shape {fmt(shapes[1])}")
        a = shapes[0]
        axes = axes_of(name, a, tuple(consts[1:]), axis)
        return reduced_shape(a, axes, keepdims)

    return forward, local, vjp, shape


def _arg(np, name, a, axes, keepdims):
    if axes is not None and len(axes) > 1:
        raise ValueError(f"{name}() takes one axis, not {axes}")
    # The winners as booleans (a == max compares values, dual numbers too), then the first
    # winner's position in plain numpy: a position is a constant.
    best = (np.max if name == "argmax" else np.min)(a, axis=axes, keepdims=True)
    hits = _np().asarray(a == best)
    out = _np().argmax(hits, axis=None if axes is None else axes[0], keepdims=keepdims)
    return out if _np().ndim(out) else int(out)


# --- sympy: the same reductions entry by entry, over object arrays ------------------------


def _sp_over(np, fn, a, axes, keepdims):
    """fn(list of entries) for each output entry of a reduction over `axes`."""
    flat = _last(np, np.asarray(a, dtype=object), axes)
    rows = flat.reshape(-1, flat.shape[-1])
    out = np.empty(len(rows), dtype=object)
    for r, row in enumerate(rows):
        out[r] = fn(list(row))
    out = out.reshape(flat.shape[:-1])
    if keepdims:
        out = out.reshape(reduced_shape(a.shape, axes, True))
    return out if out.ndim else out[()]


def _sp_rule(sp, name, entries, ddof):
    n = len(entries)
    if name == "sum":
        return sp.Add(*entries)
    if name == "mean":
        return sp.Add(*entries) / n
    if name == "prod":
        return sp.Mul(*entries)
    if name in ("amax", "amin"):
        return (sp.Max if name == "amax" else sp.Min)(*entries)
    if name == "logsumexp":
        return sp.log(sp.Add(*[sp.exp(e) for e in entries]))
    if name in ("variance", "std"):
        mean = sp.Add(*entries) / n
        var = sp.Add(*[(e - mean) ** 2 for e in entries]) / (n - ddof)
        return var if name == "variance" else sp.sqrt(var)
    # argmax, argmin: the position of the first largest (smallest) entry, as numpy's. Entry i
    # is it when it beats or ties every later entry and no earlier one was taken (then every
    # earlier one lost to a later one, so i beats them too). Each piece is a constant, so the
    # derivative sympy takes is 0 wherever the position does not jump.
    def beats(e, f):
        return e >= f if name == "argmax" else e <= f

    return sp.Piecewise(*[(sp.Integer(i), sp.And(*[beats(e, f) for f in entries[i + 1:]]))
                          for i, e in enumerate(entries[:-1])], (sp.Integer(n - 1), True))


def _sympy(name: str):
    def rule(sp, a, *pos, axis=None, keepdims=False, ddof=0):
        np = _np()
        if not isinstance(a, np.ndarray):
            return sp.Integer(_SCALAR[name]) if name in _SCALAR else a
        axes = axes_of(name, a.shape, tuple(float(p) for p in pos), axis)
        return _sp_over(np, lambda e: _sp_rule(sp, name, e, ddof), a, axes, keepdims)
    return rule


def _kinks(name: str):
    """Ties for the largest (smallest) entry: (outputs on a kink, outputs). amax's gradient
    splits there; argmax's position jumps there."""
    def kinks(args, out, axis=None, keepdims=False):
        np = _np()
        a = args[0]
        if not np.ndim(a):
            return None
        axes = axes_of(name, a.shape, tuple(args[1:]), axis)
        best = (np.max if name in ("amax", "argmax") else np.min)(a, axis=axes, keepdims=True)
        winners = np.sum(a == best, axis=axes)
        return int(np.sum(winners > 1)), int(np.size(winners))
    return kinks


def rules(name: str) -> dict:
    """The rule fields of the reduction row `name` (arrays.py's sum, mean, amax, amin use
    them too). A row states its VJP only; the registry derives the local partials from it."""
    forward, local, vjp, shape = _rules(name)
    fields = dict(forward=forward, local=None, vjp=vjp, shape=shape, sympy=_sympy(name))
    if name in ("amax", "amin", "argmax", "argmin"):
        fields["kinks"] = _kinks(name)
    return fields


_V = ((0.3,), (-1.1,), (2.4,))  # a number is the one-entry case of each reduction

REDUCTION_ROWS = [
    Op("prod", None, label="prod", elementwise=False, samples=_V, max_arity=2,
       role="each entry's local gradient is the product of the other entries",
       doc="prod(x), prod(x, axis), x.prod(axis=..., keepdims=...): product of the entries",
       # The product of the others, right where entries are 0 (out/a is not): the nonzero
       # entries' product, over a where none is 0, at the one 0 where one is, else nothing.
       vjp_text=("dout*prod(where(a == 0, 1, a), keep)*where(a == 0, sum(a == 0, keep) == 1, "
                 "(sum(a == 0, keep) == 0)/where(a == 0, 1, a))",),
       **rules("prod")),
    Op("variance", None, label="var", aliases=("var",), elementwise=False, samples=_V, max_arity=2,
       role="each entry's local gradient is 2 (entry - mean) / (count - ddof)",
       domain="more entries than ddof",
       doc="var(x), var(x, axis, ddof=1, keepdims=True): variance, numpy's (ddof=0: divide by "
           "the count)", **rules("variance"),
       vjp_text=("dout*2*(a - mean(a, keep))/(count - ddof)",)),
    Op("std", None, label="std", elementwise=False, samples=_V, max_arity=2,
       role="each entry's local gradient is (entry - mean) / ((count - ddof) std)",
       subgradient="where std = 0 the subgradient 0 is used", domain="more entries than ddof",
       doc="std(x), std(x, axis, ddof=1, keepdims=True): standard deviation, sqrt(var)",
       **rules("std"),
       vjp_text=("dout*(a - mean(a, keep))/((count - ddof)*out)",)),
    Op("argmax", None, label="argmax", elementwise=False, samples=_V, max_arity=2,
       role="a position: no gradient flows through it",
       subgradient="a position is flat (gradient 0); at a tie it jumps, and the first of the "
                   "tied entries is taken, as numpy's",
       doc="argmax(x), argmax(x, axis): the position of the largest entry, an integer index",
       **rules("argmax")),
    Op("argmin", None, label="argmin", elementwise=False, samples=_V, max_arity=2,
       role="a position: no gradient flows through it",
       subgradient="a position is flat (gradient 0); at a tie it jumps, and the first of the "
                   "tied entries is taken, as numpy's",
       doc="argmin(x), argmin(x, axis): the position of the smallest entry, an integer index",
       **rules("argmin")),
    Op("logsumexp", None, label="logsumexp", elementwise=False, samples=_V, max_arity=2,
       role="softmax: each entry's local gradient is exp(entry - logsumexp)",
       doc="logsumexp(x), logsumexp(x, axis, keepdims=True): log(sum(exp(x))), computed stably",
       **rules("logsumexp"), vjp_text=("dout*exp(a - out)",)),
]

for _row in REDUCTION_ROWS:
    register(_row)

_AXIS = ("axis", "keepdims")
for _name, _method in (("sum", "sum"), ("mean", "mean"), ("prod", "prod"), ("amax", "max"),
                       ("amin", "min"), ("argmax", "argmax"), ("argmin", "argmin"),
                       ("logsumexp", None)):
    takes(_name, *_AXIS, method=_method, axis_second=True)
takes("variance", "axis", "ddof", "keepdims", method="var", axis_second=True)
takes("std", "axis", "ddof", "keepdims", method="std", axis_second=True)


def samples() -> dict:
    """Array argument tuples where each reduction row's VJP is tested (smooth, no ties)."""
    np = _np()
    rng = np.random.default_rng(8)
    W = rng.normal(size=(3, 4))
    T = rng.normal(size=(2, 3, 4))
    P = 1.0 + 0.1 * W  # near 1: a product of many entries stays well scaled
    return {
        # The mutant tests take the first four, enlarged 3x on each axis: a product over
        # all 108 entries of that would be too small to tell a wrong gradient from 0.
        "prod": [(P, 1.0), (1.0 + 0.1 * T, 0.0), (W, 1.0), (P, 0.0), (P,)],
        "variance": [(W,), (W, 0.0), (T, 2.0)],
        "std": [(W,), (W, 1.0)],
        "argmax": [(W,), (W, 1.0)],
        "argmin": [(W,), (W, 0.0)],
        "logsumexp": [(W,), (W, 1.0), (T, 1.0)],
    }

"""Dual numbers: values that carry a derivative along one direction, built from the registry.

A `Dual(v, t)` is a value v with a tangent t = dv/ds along some direction s (a unit vector
e_k over the variables' entries). Running the forward and backward passes on duals instead of
floats differentiates those passes along s: the gradient that comes out has the Hessian-vector
product H e_k as its tangent (forward-over-reverse). The passes themselves are the ordinary
ones (`forward.run_nodes`, `backward.run_backward` and its `chain_step`): only the math
namespace changes.

Every first derivative the duals use comes from a registry row: `a * b` computes its tangent
from the mul row's local partials (b, a), `exp(a)` from exp's (out,), `a ** b` from pow's, max
and maximum from theirs (the one tie rule), and so on: every function of the math namespace
that is a row is lifted from that row (`_lift`), so no rule is written twice and there is no
table of second derivatives anywhere. A row's rule evaluated on duals differentiates itself
(pow's partials, written with `where`, `pow` and `log`, give pow's second derivatives). The few
array primitives that are not rows (matrix product, sums, reshapes, the largest entry) are
linear or bilinear, or pick an entry, so their tangents follow from applying them to the
tangent itself (the largest entry's by the tie rule, `registry.tie_shares`).

A tangent may be a float, a numpy array shaped like the value, or, for a program of numbers, a
vector with one entry per direction (all directions in one pass).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

from ..errors import BackpropError
from ..ops.registry import OPS, SCALAR, array_math, tie_shares


class NoDualForm(BackpropError):
    """A rule called a numpy function the dual numbers do not provide (no row does today)."""

    kind = "not supported"


class _DualNumpy(SimpleNamespace):
    """The numpy calls the rows make, on dual arrays; any other is one clear error."""

    def __getattr__(self, name: str):
        raise NoDualForm(f"an op's rule calls numpy.{name}, which the dual numbers that "
                         f"differentiate the backward pass do not provide, so this program's "
                         f"second derivatives cannot be taken",
                         hint="every op in the registry today is supported: see "
                              "docs/hessians.md")


def _term(local: Any, tangent: Any) -> Any:
    """local * tangent, or None when nothing flows. Where the tangent is 0 the term is 0 even if
    the local partial is infinite or undefined (d sqrt(a)/da at a = 0 for a direction that does
    not move a): inf * 0 would otherwise poison every entry with nan."""
    if tangent is None:
        return None
    if type(tangent) is float:
        return local * tangent if tangent else None
    prod = local * tangent
    if type(local) is float:
        if math.isfinite(local):
            return prod
    elif array_math().np.isfinite(local).all():
        return prod
    return array_math().np.where(tangent == 0, 0.0, prod)


def _sum(a: Any, b: Any) -> Any:
    if a is None:
        return 0.0 if b is None else b
    return a if b is None else a + b


class Dual:
    """A value and its tangent. Arithmetic and comparisons follow the registry's rows."""

    __slots__ = ("v", "t")
    __array_ufunc__ = None  # numpy defers to our reflected operators: ndarray * Dual is Dual

    def __init__(self, v: Any, t: Any):
        self.v = v
        self.t = t

    # --- arithmetic: each operator is its registry row, lifted ---------------------------

    def __add__(self, other):
        return _ADD(self, other)

    def __radd__(self, other):
        return _ADD(other, self)

    def __sub__(self, other):
        return _SUB(self, other)

    def __rsub__(self, other):
        return _SUB(other, self)

    def __mul__(self, other):
        return _MUL(self, other)

    def __rmul__(self, other):
        return _MUL(other, self)

    def __truediv__(self, other):
        return _DIV(self, other)

    def __rtruediv__(self, other):
        return _DIV(other, self)

    def __pow__(self, other):
        return _POW(self, other)

    def __rpow__(self, other):
        return _POW(other, self)

    def __neg__(self):
        return _NEG(self)

    def __abs__(self):
        return _ABS(self)

    def __iadd__(self, other):
        # Only for a gradient buffer the backward pass made itself (see backward._run_arrays).
        if isinstance(other, Dual):
            self.v += other.v
            self.t = self.t + other.t
        else:
            self.v += other
        return self

    def __matmul__(self, other):
        return _bilinear(_np().matmul, self, other)

    def __rmatmul__(self, other):
        return _bilinear(_np().matmul, other, self)

    # --- comparisons and tests read the value only: a branch is chosen by where we are ------

    def __gt__(self, other):
        return self.v > _value(other)

    def __lt__(self, other):
        return self.v < _value(other)

    def __ge__(self, other):
        return self.v >= _value(other)

    def __le__(self, other):
        return self.v <= _value(other)

    def __eq__(self, other):
        return self.v == _value(other)

    def __ne__(self, other):
        return self.v != _value(other)

    __hash__ = None

    def __bool__(self):
        # The backward pass skips a node whose upstream gradient is 0; a dual is 0 only when
        # its tangent is 0 too.
        if self.v:
            return True
        t = self.t
        return bool(t) if type(t) is float else bool(_np().any(t))

    def __float__(self):
        # A rule that turns a value into a plain float would drop its derivative without a
        # word: that is refused (m.scalar keeps it); a float with no tangent loses nothing.
        t = self.t
        if (type(t) is float and t) or (type(t) is not float and _np().any(t)):
            raise NoDualForm("an op's rule turns a value into a plain float, which would drop "
                             "the derivative the dual numbers carry",
                             hint="the rule can use m.scalar(...) instead of float(...)")
        return float(self.v)

    def __repr__(self):
        return f"Dual({self.v!r}, {self.t!r})"

    # --- the array interface the rows' rules use ----------------------------------------

    @property
    def shape(self):
        return getattr(self.v, "shape", ())

    @property
    def ndim(self):
        return getattr(self.v, "ndim", 0)

    @property
    def size(self):
        return getattr(self.v, "size", 1)

    @property
    def T(self):
        return _linear(_np().transpose, self)

    def __getitem__(self, key):
        return Dual(self.v[key], _expand(self)[key])

    def __setitem__(self, key, value):
        # Filling a buffer of zeros (the index and slice rules' gradient): linear, so the
        # tangent is filled the same way.
        self.v[key] = _value(value)
        if getattr(self.t, "shape", None) != self.v.shape:
            self.t = _np().zeros(self.v.shape) + self.t
        self.t[key] = value.t if isinstance(value, Dual) else 0.0

    def __len__(self):
        return len(self.v)

    def reshape(self, *shape):
        return _linear(lambda x: _np().reshape(x, *shape), self)

    def sum(self, axis=None, keepdims=False):
        return _linear(lambda x: _np().sum(x, axis=axis, keepdims=keepdims), self)


def _np():
    return array_math().np


def _value(x: Any) -> Any:
    return x.v if isinstance(x, Dual) else x


def _expand(d: Dual) -> Any:
    """The tangent as an array shaped like the value (a 0 tangent may be stored as 0.0)."""
    t = d.t
    shape = getattr(d.v, "shape", ())
    if getattr(t, "shape", ()) == shape:
        return t
    return _np().broadcast_to(t, shape)


# --- lifting the registry's rows onto duals -----------------------------------------------


def _lift(name: str):
    """f(*args) for a row: the value from its forward on the plain values, the tangent
    sum_k local_k * d(arg_k) from its local partials (a row that states a VJP has them too,
    derived: see registry.LocalFromVJP). One and two arguments, the common cases, are
    unpacked by hand; every arity computes the same thing."""
    row = OPS[name]
    fwd, loc = row.forward, row.local

    def f1(a):
        if not isinstance(a, Dual):
            return fwd(_base_of((a,)), a)
        av = a.v
        m = _base_of((av,))
        out = fwd(m, av)
        t = _term(loc(m, av, out)[0], a.t)
        return Dual(out, 0.0 if t is None else t)

    def f2(a, b):
        da, db = isinstance(a, Dual), isinstance(b, Dual)
        av = a.v if da else a
        bv = b.v if db else b
        m = _base_of((av, bv))
        out = fwd(m, av, bv)
        if not (da or db):
            return out
        la, lb = loc(m, av, bv, out)
        return Dual(out, _sum(_term(la, a.t) if da else None, _term(lb, b.t) if db else None))

    def f(*args):
        if len(args) == 1:
            return f1(args[0])
        if len(args) == 2:
            return f2(*args)
        plain = [a.v if isinstance(a, Dual) else a for a in args]
        m = _base_of(plain)
        out = fwd(m, *plain)
        if not any(isinstance(a, Dual) for a in args):
            return out
        t = None
        for lk, a in zip(loc(m, *plain, out), args):
            if isinstance(a, Dual):
                t = _sum(t, _term(lk, a.t))
        return Dual(out, 0.0 if t is None else t)

    return {1: f1, 2: f2}.get(row.arity, f)


def _base_of(plain: list):
    """SCALAR when every value is a number, else numpy's namespace."""
    for x in plain:
        t = type(x)
        if not (t is float or t is int or t is bool):
            return array_math()
    return SCALAR


_ADD, _SUB, _MUL, _DIV, _POW = (_lift(n) for n in ("add", "sub", "mul", "div", "pow"))
_NEG, _ABS = _lift("neg"), _lift("abs")


def _linear(fn, a):
    """A linear map (transpose, reshape, sum, ...): the tangent goes through the same map."""
    if not isinstance(a, Dual):
        return fn(a)
    return Dual(fn(a.v), fn(_expand(a)))


def _bilinear(fn, a, b):
    """A bilinear map (the matrix product): d f(a, b) = f(da, b) + f(a, db)."""
    if not isinstance(a, Dual) and not isinstance(b, Dual):
        return fn(a, b)
    av, bv = _value(a), _value(b)
    t = fn(_expand(a), bv) if isinstance(a, Dual) else None
    if isinstance(b, Dual):
        tb = fn(av, _expand(b))
        t = tb if t is None else t + tb
    return Dual(fn(av, bv), t)


def _where(cond, a, b):
    """where(cond, a, b) entry by entry; the tangent is the chosen side's."""
    av, bv = _value(a), _value(b)
    if not (getattr(cond, "ndim", 0) or getattr(av, "ndim", 0) or getattr(bv, "ndim", 0)):
        return a if cond else b
    np = _np()
    if not isinstance(a, Dual) and not isinstance(b, Dual):
        return np.where(cond, a, b)
    ta = _expand(a) if isinstance(a, Dual) else 0.0
    tb = _expand(b) if isinstance(b, Dual) else 0.0
    return Dual(np.where(cond, av, bv), np.where(cond, ta, tb))


def _pick(fn_name: str):
    """np.max / np.min over an axis: the value is picked, and so is its tangent (tied winners
    share it evenly, as the gradient rule splits ties)."""

    def pick(a, axis=None, keepdims=False, **kw):
        np = _np()
        reduce = getattr(np, fn_name)
        if not isinstance(a, Dual):
            return reduce(a, axis=axis, keepdims=keepdims, **kw)
        out = reduce(a.v, axis=axis, keepdims=True)
        (share,) = tie_shares(np, [a.v], out,
                              lambda hits: np.sum(hits[0], axis=axis, keepdims=True))
        t = np.sum(share * _expand(a), axis=axis, keepdims=True)
        if not keepdims:
            out = np.squeeze(out, axis=axis) if axis is not None else out.reshape(())
            t = np.squeeze(t, axis=axis) if axis is not None else t.reshape(())
        if axis is None and not keepdims:
            out, t = out[()], t[()]
        return Dual(out, t)
    return pick


def _scalar(g):
    """A reduction to a number keeps its tangent (float(g) would drop it)."""
    if isinstance(g, Dual):
        return Dual(float(g.v), float(g.t))
    return float(g)


# The namespace's functions that are rows of their own (exp, log, pow, tanh, sigmoid, abs,
# sign, arctan2, ...): each is lifted from its row, so a new row's function is differentiated
# from its own rule. max and min take their arguments as one tuple, as Python's do, and
# `where` picks a side's tangent (a where row, if there is one, agrees: its partials are 0 for
# the condition and the chosen side's 1).
_OWN = ("max", "min", "where")
_ROW_FUNCTIONS = tuple(n for n in vars(SCALAR)
                       if n in OPS and OPS[n].local is not None and n not in _OWN)
_CONSTANTS = {n: v for n, v in vars(SCALAR).items() if type(v) is float}


def _namespace(is_array: bool) -> SimpleNamespace:
    lifted_max, lifted_min = _lift("max"), _lift("min")
    return SimpleNamespace(**{
        **{n: _lift(n) for n in _ROW_FUNCTIONS}, **_CONSTANTS, "where": _where,
        "max": lambda args: lifted_max(*args), "min": lambda args: lifted_min(*args),
        "is_array": is_array, "scalar": _scalar, "dual": True})


DUAL = _namespace(False)

_DUAL_ARRAYS: SimpleNamespace | None = None


def dual_array_math() -> SimpleNamespace:
    """The dual namespace for array programs: its `np` gives the rows' numpy calls dual forms."""
    global _DUAL_ARRAYS
    if _DUAL_ARRAYS is None:
        np = array_math().np
        ns = _namespace(True)

        def lin(fn):
            return lambda a, *args, **kw: _linear(lambda x: fn(x, *args, **kw), a)

        def asarray(a, dtype=None):
            return a if isinstance(a, Dual) else np.asarray(a, dtype=dtype)

        def shape(a):
            return a.shape if isinstance(a, Dual) else np.shape(a)

        def ndim(a):
            return a.ndim if isinstance(a, Dual) else np.ndim(a)

        def equal(a, b):
            return np.equal(_value(a), _value(b))

        def zeros_like(a):
            return np.zeros_like(_value(a))

        def zeros(shape):  # a buffer a rule fills in (index, slice): it may receive duals
            return Dual(np.zeros(shape), np.zeros(shape))

        ns.np = _DualNumpy(
            matmul=lambda a, b: _bilinear(np.matmul, a, b),
            dot=lambda a, b: _bilinear(np.dot, a, b),
            transpose=lin(np.transpose), reshape=lin(np.reshape), ravel=lin(np.ravel),
            expand_dims=lin(np.expand_dims), broadcast_to=lin(np.broadcast_to),
            moveaxis=lin(np.moveaxis), squeeze=lin(np.squeeze), sum=lin(np.sum),
            mean=lin(np.mean), max=_pick("max"), min=_pick("min"),
            maximum=_lift("maximum"), minimum=_lift("minimum"),
            exp=ns.exp, log=ns.log, sqrt=ns.sqrt, log1p=ns.log1p, expm1=ns.expm1,
            where=_where, asarray=asarray,
            shape=shape, ndim=ndim, size=lambda a: int(np.size(_value(a))), prod=np.prod,
            equal=equal, zeros_like=zeros_like, zeros=zeros, errstate=np.errstate,
            round=np.round, inf=np.inf, nan=np.nan,
        )
        _DUAL_ARRAYS = ns
    return _DUAL_ARRAYS


def dual_math_for(plain_m) -> SimpleNamespace:
    return dual_array_math() if plain_m.is_array else DUAL


def tangent(x: Any) -> Any:
    """The tangent of a pass's result; 0 for a plain value (nothing along the direction)."""
    return x.t if isinstance(x, Dual) else 0.0


def value(x: Any) -> Any:
    return _value(x)

"""The array rows of the op registry: matrix products, reductions, norm, transpose, softmax, loss.

Each row follows ops.py's format. These ops are not elementwise, so each gives a vector-Jacobian
product `vjp(m, upstream, args, out)` instead of a diagonal local gradient: the downstream
gradient of every input, computed with a couple of numpy calls and never through an explicit
Jacobian. `shape(shapes, consts)` is the row's shape rule (see shapes.py). `sympy(sp, *args)`
receives numpy object arrays of sympy expressions in the array checker, so the same row also
builds the exact expression the checker differentiates entry by entry.

A trailing axis argument (`sum(x, 0)`) must be a number written in the program: it is a constant
leaf of the graph, read by the shape rule, and no gradient flows into it (its part is 0).

numpy is only reached through `m.np` (or imported inside a rule), never at import time, so a
scalar program does not pay for it. Row conventions for a number (a scalar program): reductions
and transpose are the identity, softmax of one score is 1; `@`, dot and cross_entropy need
arrays.
"""

from __future__ import annotations

from typing import Any

from .reductions import rules as reduction_rules
from .registry import BP_MUL, Op, register, tie_shares
from .shapes import Mismatch, Unsupported, axis_of, broadcast, fmt, unbroadcast

# --- helpers ------------------------------------------------------------------------------


def _axis(args: tuple, k: int = 1) -> int | None:
    return int(args[k]) if len(args) > k else None


def _np():
    import numpy as np

    return np


def _number(m, a) -> bool:
    """Whether a is a number: a rule's one-entry case (a reduction of one number is that
    number), which also serves the scalar namespace, where there is no numpy."""
    return not m.is_array or not m.np.ndim(a)


def _back_to(m, g, axis: int | None, like):
    """The upstream gradient of a reduction spread back over the shape it reduced."""
    if _number(m, like):
        return m.scalar(g) if m.is_array else g
    np = m.np
    shape = np.shape(like)
    if axis is not None:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, shape)


def _no_grad(args: tuple) -> tuple:
    """Zero parts for the trailing constant (axis) arguments."""
    return (0.0,) * (len(args) - 1)


def _entrywise(sp, fn, *args):
    """fn applied entry by entry over object arrays of sympy expressions (broadcasting)."""
    np = _np()
    if not any(isinstance(a, np.ndarray) for a in args):
        return fn(*args)
    return np.frompyfunc(fn, len(args), 1)(*args)


def _sp_reduce(fn, a, axis=None, keepdims=False):
    """fn(*entries) over one axis (or all) of an object array of sympy expressions."""
    np = _np()
    if not isinstance(a, np.ndarray):
        return a
    if axis is None:
        return fn(*a.flat)
    moved = np.moveaxis(a, axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    out = np.empty(len(flat), dtype=object)
    for r, row in enumerate(flat):
        out[r] = fn(*row)
    out = out.reshape(moved.shape[:-1])
    return np.expand_dims(out, axis) if keepdims else out


def _sp_sum(sp, a, axis=None, keepdims=False):
    return _sp_reduce(sp.Add, a, axis, keepdims)


# --- matrix product -----------------------------------------------------------------------


def _matmul_forward(m, a, b):
    if not m.is_array:
        raise ValueError("@ and dot need vectors or matrices")
    return m.np.matmul(a, b)


def _matmul_shape(shapes, consts):
    a, b = shapes
    if not a or not b:
        raise Mismatch(f"a matrix product needs a vector or matrix on each side, got shapes "
                       f"{fmt(a)} and {fmt(b)}", "use * to multiply by a number")
    inner_a, inner_b = a[-1], b[-2] if len(b) > 1 else b[0]
    if inner_a != inner_b:
        fits = (len(a) == 2 and a[0] == inner_b) or (len(b) == 2 and b[1] == inner_a)
        where = "" if len(a) < 3 and len(b) < 3 else \
            f" (axis {len(a) - 1} of the left, axis {max(len(b) - 2, 0)} of the right)"
        raise Mismatch(f"cannot multiply shapes {fmt(a)} and {fmt(b)}: the left has "
                       f"{inner_a} column{'s' * (inner_a != 1)} but the right has {inner_b} "
                       f"row{'s' * (inner_b != 1)}{where}",
                       "a transpose (.T) may be missing" if fits else None)
    # Stacks of matrices (more than two axes): the leading axes broadcast, as numpy's.
    try:
        stack = broadcast(a[:-2], b[:-2])
    except Mismatch:
        raise Mismatch(f"cannot multiply the stacks of matrices {fmt(a)} and {fmt(b)}: their "
                       f"leading axes {fmt(a[:-2])} and {fmt(b[:-2])} do not broadcast") \
            from None
    return stack + a[-2:-1] + b[-1:] if len(b) > 1 else stack + a[-2:-1]


def _matmul_vjp(m, g, args, out):
    # out = A B  =>  dA = g B^T,  dB = A^T g  (the lecture's dW = 2 q x^T, dx = 2 W^T q once
    # g = 2q). A vector is treated as a one-row (left) or one-column (right) matrix; for
    # stacks of matrices, the part of an input that was broadcast is summed back.
    np = m.np
    a, b = args
    A = a if a.ndim > 1 else a[None, :]
    B = b if b.ndim > 1 else b[:, None]
    G = np.reshape(g, broadcast(np.shape(A)[:-2], np.shape(B)[:-2]) +
                   (np.shape(A)[-2], np.shape(B)[-1]))  # a vector's one row (column) put back
    if A.ndim == 2 and B.ndim == 2:
        return np.reshape(G @ B.T, a.shape), np.reshape(A.T @ G, b.shape)
    dA = unbroadcast(m, G @ np.swapaxes(B, -1, -2), A)
    dB = unbroadcast(m, np.swapaxes(A, -1, -2) @ G, B)
    return np.reshape(dA, a.shape), np.reshape(dB, b.shape)


# @'s texts where an operand is a vector, by (a is a vector, b is a vector). numpy's `.T`
# leaves a 1-D array as it is, so the matrix texts (dout @ b.T) do not hold there: what a
# matrix receives is an outer product (the lecture's dW = 2 q x^T), a column times a row,
# written as the column broadcast against the vector; a vector @ vector is a dot product.
MATMUL_VECTOR_TEXTS = {
    (False, True): ("reshape(dout, rows, 1) * b", "a.T @ dout"),
    (True, False): ("b @ dout", "reshape(a, dims, 1) * dout"),
    (True, True): ("dout * b", "dout * a"),
}


def _vector_case(shapes: tuple) -> tuple[bool, bool] | None:
    """(a is a vector, b is a vector) for a product of vectors and matrices, None for a
    number or a stack of matrices (the row's own texts hold, or none does)."""
    if len(shapes) != 2 or not all(shapes) or max(len(s) for s in shapes) > 2:
        return None
    return len(shapes[0]) == 1, len(shapes[1]) == 1


def matmul_texts(shapes: tuple) -> tuple[str, ...] | None:
    """The texts for a matrix product of these shapes where a vector changes them; None where
    the row's own texts (for matrices) hold."""
    return MATMUL_VECTOR_TEXTS.get(_vector_case(shapes))


# The row's role where an operand is a vector: what a matrix receives is an outer product.
MATMUL_VECTOR_ROLES = {
    (False, True): "matrix multiply: matrix @ vector, dA = outer(upstream, B) (the upstream as "
                   "a column times B as a row; .T leaves a vector as it is), dB = A.T @ upstream",
    (True, False): "matrix multiply: vector @ matrix, dA = B @ upstream, dB = outer(A, upstream) "
                   "(A as a column times the upstream as a row)",
    (True, True): "matrix multiply: vector @ vector, a dot product, dA = upstream * B, "
                  "dB = upstream * A",
}


def matmul_role(shapes: tuple) -> str | None:
    """The role for a matrix product of these shapes where a vector changes it, else None."""
    return MATMUL_VECTOR_ROLES.get(_vector_case(shapes))


def _matmul_sympy(sp, a, b):
    return _np().matmul(a, b)


# --- transpose ----------------------------------------------------------------------------


# numpy's transpose(x, axes): output axis k is input axis axes[k]; no axes reverses them all.
# The axes are numbers written in the program (constant inputs, no gradient):
# transpose(x, (1, 0, 2)) and x.transpose(1, 0, 2) read transpose(x, 1, 0, 2).


def _permutation(shape: tuple, axes: tuple) -> tuple[int, ...]:
    n = len(shape)
    if not axes:
        return tuple(range(n))[::-1]
    if any(not isinstance(k, float | int) or k != int(k) for k in axes):
        raise Mismatch("the axes of transpose() must be whole numbers written in the program, "
                       "like transpose(x, (1, 0, 2))")
    written = "(" + ", ".join(f"{k:g}" for k in axes) + ("," if len(axes) == 1 else "") + ")"
    perm = tuple(int(k) % n if n and -n <= k < n else None for k in axes)
    if len(axes) != n or None in perm or sorted(perm) != list(range(n)):
        raise Mismatch(f"transpose() with axes {written} on shape {fmt(shape)}: give each of "
                       f"its {n} axes once, e.g. {tuple(range(n))[::-1]}" if n else
                       f"transpose() with axes {written}: the input is a number, which has "
                       f"no axes")
    return perm


def _transpose_shape(shapes, consts):
    perm = _permutation(shapes[0], tuple(consts[1:]))
    return tuple(shapes[0][k] for k in perm)


def _transpose_forward(m, a, *axes):
    if m.is_array and hasattr(a, "ndim"):
        return m.np.transpose(a, _permutation(a.shape, axes))
    if axes:
        raise Unsupported("takes no axes: a number has none (bind an array, e.g. x=[[1,2]])")
    return a


def _transpose_vjp(m, g, args, out):
    a = args[0]
    back = g
    if not _number(m, g):  # the inverse permutation takes the gradient back
        perm = _permutation(m.np.shape(a), tuple(args[1:]))
        back = m.np.transpose(g, tuple(perm.index(k) for k in range(len(perm))))
    return (back, *_no_grad(args))


def _transpose_sympy(sp, a, *axes):
    if not hasattr(a, "ndim"):
        return a
    return _np().transpose(a, _permutation(a.shape, tuple(float(k) for k in axes)))


# --- reductions ---------------------------------------------------------------------------


def _pick_vjp(m, g, args, out):
    # The upstream gradient goes to the winning entry; ties split it evenly (the tie rule of
    # max(a, b), with the entries along the axis as the competitors).
    a = args[0]
    if _number(m, a):
        return (g, *_no_grad(args))
    np = m.np
    axis = _axis(args)
    best = out if axis is None else np.expand_dims(out, axis)
    (share,) = tie_shares(m, [a], best,
                          lambda hits: np.sum(hits[0], axis=axis, keepdims=axis is not None))
    return (_back_to(m, g, axis, a) * share, *_no_grad(args))


def pick_kinks(args, out) -> tuple[int, int] | None:
    """(outputs whose largest (smallest) entry is tied, outputs) for amax/amin of an array."""
    np = _np()
    a = args[0]
    if not np.ndim(a):
        return None
    axis = _axis(args)
    winners = np.sum(a == (out if axis is None else np.expand_dims(out, axis)), axis=axis)
    return int(np.sum(winners > 1)), int(np.size(winners))


# --- norm ---------------------------------------------------------------------------------


def _norm_forward(m, a):
    if not m.is_array or not m.np.ndim(a):
        return abs(a)
    flat = m.np.ravel(a)
    return m.np.sqrt(m.np.dot(flat, flat))


def _norm_vjp(m, g, args, out):
    # d||a||/da = a / ||a|| (the sign of a number); at a = 0 the subgradient 0 is used.
    a = args[0]
    if out == 0:
        return (0.0 if _number(m, a) else m.np.zeros_like(a),)
    return (a * (g / out),)


def _norm_branch(a):
    if hasattr(a, "any") and getattr(a, "ndim", 0):
        return 1 if a.any() else None
    return 1 if a > 0 else (-1 if a < 0 else None)


def _norm_sympy(sp, a):
    np = _np()
    if isinstance(a, np.ndarray):
        return sp.sqrt(sp.Add(*[v ** 2 for v in a.flat]))
    return sp.sqrt(a ** 2)


# --- softmax and cross-entropy ------------------------------------------------------------


def _log_softmax(np, s, axis: int):
    z = s - np.max(s, axis=axis, keepdims=True)
    with np.errstate(under="ignore"):
        # log(sum(exp(z))) is log(count + others), count being the entries at the max (z = 0):
        # taken as log(count) + log1p(others / count), the others' small share keeps its digits.
        at_max = z == 0
        count = np.sum(np.where(at_max, 1.0, 0.0), axis=axis, keepdims=True)
        others = np.sum(np.where(at_max, 0.0, np.exp(z)), axis=axis, keepdims=True)
        return z - (np.log(count) + np.log1p(others / count))


def _softmax_forward(m, a, *axis):
    if not m.is_array or not m.np.ndim(a):
        if axis:
            raise ValueError("softmax() of a number has no axis")
        return 1.0
    np = m.np
    k = _axis((a, *axis))
    with np.errstate(under="ignore"):
        return np.exp(_log_softmax(np, a, -1 if k is None else k))


def _along_axis(name: str):
    """The shape rule of softmax-like rows: the input's shape, and an axis that exists."""
    def shape(shapes, consts):
        a = shapes[0]
        if len(shapes) > 1:
            if shapes[1]:
                raise Mismatch(f"the axis of {name}() must be a number, not shape "
                               f"{fmt(shapes[1])}")
            axis_of(name, a, consts[1], True)
        return a
    return shape


_softmax_shape = _along_axis("softmax")


def _softmax_vjp(m, g, args, out):
    # J = diag(s) - s s^T, so J^T g = s * (g - <g, s>) along the class axis; softmax of one
    # number is the constant 1.
    if _number(m, out):
        return (0.0, *_no_grad(args))
    np = m.np
    k = _axis(args)
    k = -1 if k is None else k
    # The same product with g shifted by its value at the likeliest class (the sum of s is 1,
    # so a shift changes nothing): where s is nearly one-hot, g - <g, s> would cancel there.
    (share,) = tie_shares(np, [out], np.max(out, axis=k, keepdims=True),
                          lambda hits: np.sum(hits[0], axis=k, keepdims=True))
    g = g - np.sum(g * share, axis=k, keepdims=True)
    return (out * (g - np.sum(g * out, axis=k, keepdims=True)), *_no_grad(args))


def _softmax_sympy(sp, a, *axis):
    np = _np()
    if not isinstance(a, np.ndarray):
        return sp.Integer(1)
    k = _axis((a, *axis))
    k = a.ndim - 1 if k is None else k % a.ndim
    e = _entrywise(sp, sp.exp, a)
    return e / _sp_sum(sp, e, k, keepdims=True)


def _label(np, s, t):
    """The class index a label t stands for, or None where t is a target array."""
    if np.ndim(t):
        return None
    k = int(t)
    if k != t or not 0 <= k < s.shape[-1]:
        raise ValueError(f"the class label {t:g} is not a class of {s.shape[-1]} scores")
    return k


def _targets(np, s, t):
    """Targets as an array shaped like the scores: a class label becomes a one-hot row."""
    k = _label(np, s, t)
    if k is None:
        return t
    onehot = np.zeros(s.shape)
    onehot[k] = 1.0
    return onehot


def _xent_forward(m, s, t):
    if not m.is_array or not m.np.ndim(s):
        raise ValueError("cross_entropy needs a vector or matrix of class scores")
    np = m.np
    rows = s.shape[0] if s.ndim == 2 else 1
    return -np.sum(_targets(np, s, t) * _log_softmax(np, s, -1)) / rows


def _class_label(name: str, s, t, label) -> None:
    """A class label (a number) must be written in the program, for one row of scores."""
    if label is None:
        raise Mismatch(f"the class label of {name}() must be a whole number written in the "
                       f"program, like {name}(s, 2)")
    if len(s) != 1:
        raise Mismatch(f"a class label goes with one row of scores, shape (classes,); got "
                       f"scores {fmt(s)}", "for rows of scores give one-hot targets")
    if label != int(label) or not 0 <= label < s[0]:
        raise Mismatch(f"the class label {label:g} is not one of the {s[0]} classes "
                       f"(0..{s[0] - 1})")


def _xent_shape(shapes, consts):
    s, t = shapes
    if len(s) not in (1, 2):
        raise Mismatch(f"cross_entropy() takes scores of shape (classes,) or (rows, classes), "
                       f"got {fmt(s)}")
    if t == ():
        _class_label("cross_entropy", s, t, consts[1])
        return ()
    if t != s:
        raise Mismatch(f"cross_entropy() needs targets shaped like the scores: scores "
                       f"{fmt(s)}, targets {fmt(t)}",
                       "targets are one-hot rows (or probabilities) over the classes, or "
                       "one class label: cross_entropy(s, 2)")
    return ()


def _xent_vjp(m, g, args, out):
    # loss = -sum(t * log_softmax(s)) / rows  =>  ds = (softmax(s) * sum(t) - t) / rows,
    # dt = -log_softmax(s) / rows; with one-hot t, ds is the familiar softmax(s) - t. A class
    # label is a constant: it gets no gradient.
    np = m.np
    s, t = args
    rows = s.shape[0] if s.ndim == 2 else 1
    target = _targets(np, s, t)
    logp = _log_softmax(np, s, -1)
    with np.errstate(under="ignore"):
        p = np.exp(logp)
    scale = g / rows
    total = np.sum(target, axis=-1, keepdims=True)
    # p T - t, and where p is near 1 the same as T expm1(log p) + (T - t): p - 1 would cancel.
    near_one = m.where(p > 0.5, total * m.expm1(m.where(p > 0.5, logp, 0.0)) + (total - target),
                       0.0)
    ds = m.where(p > 0.5, near_one, p * total - target) * scale
    return ds, (0.0 if not np.ndim(t) else -logp * scale)


def _sp_onehot(np, s, t):
    if isinstance(t, np.ndarray):
        return t
    onehot = np.zeros(s.shape, dtype=object)
    onehot[...] = 0
    onehot[int(t)] = 1
    return onehot


def _xent_sympy(sp, s, t):
    np = _np()
    rows = s.shape[0] if s.ndim == 2 else 1
    lse = _entrywise(sp, sp.log, _sp_sum(sp, _entrywise(sp, sp.exp, s), s.ndim - 1,
                                         keepdims=True))
    return -sp.Add(*(_sp_onehot(np, s, t) * (s - lse)).flat) / rows


# --- log_softmax --------------------------------------------------------------------------


def _log_softmax_forward(m, a, *axis):
    if not m.is_array or not m.np.ndim(a):
        if axis:
            raise ValueError("log_softmax() of a number has no axis")
        return 0.0
    k = _axis((a, *axis))
    return _log_softmax(m.np, a, -1 if k is None else k)


def _log_softmax_vjp(m, g, args, out):
    # d log_softmax(s)_i / ds_j = [i == j] - softmax(s)_j, so J^T g = g - softmax(s) * sum(g);
    # log_softmax of one number is the constant 0.
    if _number(m, out):
        return (0.0, *_no_grad(args))
    np = m.np
    k = _axis(args)
    k = -1 if k is None else k
    with np.errstate(under="ignore"):
        p = np.exp(out)
    return (g - p * np.sum(g, axis=k, keepdims=True), *_no_grad(args))


def _log_softmax_sympy(sp, a, *axis):
    np = _np()
    if not isinstance(a, np.ndarray):
        return sp.Integer(0)
    k = _axis((a, *axis))
    k = a.ndim - 1 if k is None else k % a.ndim
    lse = _entrywise(sp, sp.log, _sp_sum(sp, _entrywise(sp, sp.exp, a), k, keepdims=True))
    return a - lse


# --- the multiclass SVM loss --------------------------------------------------------------

SVM_MARGIN = 1.0  # the lecture's safety margin Delta


def _margins(np, s, y: int):
    """s_j - s_y + 1 for every class j, with the correct class's own entry left out (-inf)."""
    margins = s - s[y] + SVM_MARGIN
    margins[y] = -np.inf
    return margins


def _svm_forward(m, s, y):
    if not m.is_array or not m.np.ndim(s):
        raise ValueError("svm_loss needs a vector of class scores")
    np = m.np
    return m.scalar(np.sum(np.maximum(0.0, _margins(np, s, _label(np, s, y)))))


def _svm_shape(shapes, consts):
    s, t = shapes
    if len(s) != 1:
        raise Mismatch(f"svm_loss() takes one row of class scores, shape (classes,), got "
                       f"{fmt(s)}")
    if t != ():
        raise Mismatch(f"svm_loss() takes one class label, not shape {fmt(t)}",
                       "write the correct class's index, like svm_loss(s, 2)")
    _class_label("svm_loss", s, t, consts[1])
    return ()


def _svm_vjp(m, g, args, out):
    # Each class j != y whose margin s_j - s_y + 1 is positive adds g to s_j and takes g from
    # s_y; a margin exactly 0 is a kink, where the subgradient 0 is used (the hinge is off).
    np = m.np
    s, y = args
    k = _label(np, s, y)
    active = (_margins(np, s, k) > 0).astype(float)
    ds = g * active
    ds[k] = -g * active.sum()
    return ds, 0.0


def _svm_kinks(args, out):
    np = _np()
    s, y = args
    k = _label(np, s, y)
    return int(np.sum(_margins(np, s, k) == 0)), len(s) - 1


def _svm_sympy(sp, s, y):
    k = int(y)
    return sp.Add(*[sp.Max(0, s[j] - s[k] + 1) for j in range(len(s)) if j != k])


# --- the rows -----------------------------------------------------------------------------

_V = ((0.3,), (-1.1,), (2.4,))  # a number is the one-entry case of each reduction


ARRAY_ROWS: list[Op] = [
    Op("matmul", 2, _matmul_forward, None, _matmul_sympy, label="@", symbol="@", bp=BP_MUL,
       role="matrix multiply: dA = upstream @ B.T, dB = A.T @ upstream",
       domain="vectors or matrices whose inner sizes match", vjp=_matmul_vjp,
       shape=_matmul_shape, elementwise=False, latex=r"\,", aliases=("dot",), function=True,
       doc="A @ B, the matrix product (also matmul(A, B), and dot(a, b): the inner product "
           "of vectors)", vjp_text=("dout @ b.T", "a.T @ dout"), matrix="matmul"),
    Op("transpose", None, _transpose_forward, None, _transpose_sympy,
       label="T", role="transposes the upstream gradient back", vjp=_transpose_vjp,
       shape=_transpose_shape, elementwise=False, samples=_V, min_arity=1,
       postfix=".T", latex=r"^{\top}",
       doc="transpose(A), also A.T: reverses the axes; transpose(x, (1, 0, 2)) and "
           "x.transpose(1, 0, 2) order them as given (numpy's)",
       vjp_text=("dout.transpose(back)",), matrix="transpose"),
    Op("sum", None, label="sum",
       role="distributor: copies the upstream gradient to every entry it summed",
       elementwise=False, samples=_V, max_arity=2, **reduction_rules("sum"),
       doc="sum(x), sum(x, axis), x.sum(axis=..., keepdims=...): sum of the entries",
       vjp_text=("dout*ones_like(a)",), matrix="sum"),
    Op("mean", None, label="mean",
       role="distributor: gives every entry the upstream gradient divided by the count",
       elementwise=False, samples=_V, max_arity=2, **reduction_rules("mean"),
       doc="mean(x), mean(x, axis), x.mean(axis=..., keepdims=...): average of the entries",
       vjp_text=("dout*ones_like(a)/count",), matrix="mean"),
    Op("amax", None, label="amax",
       role="router: the upstream gradient goes to the largest entry",
       subgradient="ties split the gradient evenly", **reduction_rules("amax"),
       elementwise=False, samples=_V, max_arity=2,
       doc="amax(x), amax(x, axis): largest entry (max(x) with one argument is amax(x))",
       vjp_text=("dout*where(a >= out, 1, 0)/sum(where(a >= out, 1, 0), keep)",)),
    Op("amin", None, label="amin",
       role="router: the upstream gradient goes to the smallest entry",
       subgradient="ties split the gradient evenly", **reduction_rules("amin"),
       elementwise=False, samples=_V, max_arity=2,
       doc="amin(x), amin(x, axis): smallest entry (min(x) with one argument is amin(x))",
       vjp_text=("dout*where(a <= out, 1, 0)/sum(where(a <= out, 1, 0), keep)",)),
    Op("norm", 1, _norm_forward, None, _norm_sympy, label="‖·‖",
       role="local gradient (input) / norm(input)", branch=_norm_branch,
       subgradient="norm'(0) = 0",
       vjp=_norm_vjp, shape=lambda shapes, consts: (), elementwise=False, samples=_V,
       doc="norm(x): the L2 (Frobenius) norm, sqrt(sum(x**2))", vjp_text=("dout*a/norm(a)",),
       matrix="norm"),
    Op("softmax", None, _softmax_forward, None,
       _softmax_sympy, label="softmax",
       role="softmax: local Jacobian diag(p) - p pᵀ for p = softmax(input); downstream "
            "p * (upstream - sum(upstream * p))",
       vjp=_softmax_vjp, shape=_softmax_shape, elementwise=False, samples=_V, max_arity=2,
       doc="softmax(x), softmax(x, axis): exp(x) / sum(exp(x)) along the last (or given) axis",
       vjp_text=("out*(dout - sum(dout*out, keep))",)),
    Op("cross_entropy", 2, _xent_forward, None, _xent_sympy, label="xent",
       role="loss: downstream (softmax(scores) - targets) / rows",
       domain="class scores (classes,) or (rows, classes) and targets of the same shape, "
              "or one class label",
       vjp=_xent_vjp, shape=_xent_shape, elementwise=False,
       doc="cross_entropy(scores, targets): softmax cross-entropy, averaged over rows; "
           "targets are one-hot (or probabilities) along the last axis, or one class label "
           "for one row of scores: cross_entropy(s, 2)",
       vjp_text=("dout*(softmax(a)*sum(onehot, axis=-1, keepdims=True) - onehot)/rows",
                 "-dout*log_softmax(a)/rows")),
    Op("log_softmax", None, _log_softmax_forward, None,
       _log_softmax_sympy, label="log_softmax",
       role="log_softmax: local Jacobian I - 1 pᵀ for p = softmax(input); downstream "
            "upstream - p * sum(upstream)",
       vjp=_log_softmax_vjp, shape=_along_axis("log_softmax"), elementwise=False, samples=_V,
       max_arity=2,
       doc="log_softmax(x), log_softmax(x, axis): x - log(sum(exp(x))), computed stably",
       vjp_text=("dout - exp(out)*sum(dout, keep)",)),
    Op("svm_loss", 2, _svm_forward, None, _svm_sympy, label="svm",
       role="loss: each class whose margin s_j - s_y + 1 is positive sends +upstream to s_j "
            "and -upstream to s_y",
       domain="one row of class scores and the correct class's index",
       subgradient="a margin of exactly 0 counts as inactive", kinks=_svm_kinks,
       vjp=_svm_vjp, shape=_svm_shape, elementwise=False,
       doc="svm_loss(scores, y): the multiclass SVM (hinge) loss sum over j != y of "
           "max(0, s_j - s_y + 1)",
       # The classes whose margin is positive, the correct class left out (1 - onehot): each
       # gets dout, and the correct class minus dout for each of them.
       vjp_text=("dout*(where(a - a[b] + 1 > 0, 1, 0)*(1 - onehot) - "
                 "onehot*sum(where(a - a[b] + 1 > 0, 1, 0)*(1 - onehot)))",)),
]

for _row in ARRAY_ROWS:
    register(_row, function=_row.symbol is None or bool(_row.function))


def array_samples() -> dict[str, list[tuple[Any, ...]]]:
    """Array argument tuples where each array row's VJP is tested (smooth points, no ties)."""
    from .indexing import samples as indexing_samples
    from .reductions import samples as reduction_samples
    from .reshaping import samples as reshaping_samples

    np = _np()
    rng = np.random.default_rng(4)
    W = rng.normal(size=(3, 4))
    x = rng.normal(size=(4,))
    X = rng.normal(size=(4, 2))
    t = np.eye(4)[[1, 3, 0]]
    return {
        "matmul": [(W, x), (W, X), (x, X), (x, x)],
        "transpose": [(W,), (x,), (rng.normal(size=(2, 3, 4)), 1.0, 0.0, 2.0),
                      (rng.normal(size=(2, 3, 4)), -1.0, 0.0, 1.0), (W, 0.0, 1.0)],
        "sum": [(W,), (W, 0.0), (W, -1.0)],
        "mean": [(W,), (W, 1.0)],
        "amax": [(W,), (W, 0.0), (W, 1.0)],
        "amin": [(W,), (W, 1.0)],
        "norm": [(W,), (x,)],
        "softmax": [(x,), (W,), (W, 0.0)],
        "cross_entropy": [(W, t), (x, np.eye(4)[2]), (x, 2.0)],
        "log_softmax": [(x,), (W,), (W, 0.0)],
        "svm_loss": [(np.array([3.2, 5.1, -1.7]), 0.0), (np.array([1.3, 4.9, 2.0]), 1.0),
                     (x, 3.0)],
        "index": [(x, 2.0), (W, 1.0), (x, -1.0)],
        "slice": [(x, 1.0), (x, 0.0, 2.0), (W, 1.0, 3.0)],
        "max": [(W,), (W, 0.1), (W, x, -0.2)],
        "min": [(W,), (W, 0.1)],
        **reduction_samples(), **indexing_samples(), **reshaping_samples(),
    }

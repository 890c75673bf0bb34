"""Each op's form in sympy's matrix calculus, for the matrix formulas of --symbolic
(checks/formulas.py): a row's `matrix(sp, args, shapes)` builds the op from its inputs' sympy
forms, where an array is a MatrixSymbol (a vector an n x 1 column) and a number a scalar, or
returns None where the op has no form there (the caller says so).

A vector is a column, so sum(v) is 1^T v and a @ b of vectors is a^T b. sympy arrives as the
argument `sp`: nothing here imports it.
"""

from __future__ import annotations

from typing import Any


class NormOf:
    """norm(v), waiting to be squared: sqrt(v^T v) is no matrix expression sympy
    differentiates, but norm(v)**2 = v^T v is (pow's form takes it)."""

    def __init__(self, v: Any):
        self.v = v


def _mats(sp, args) -> list[bool]:
    return [isinstance(a, sp.MatrixExpr) for a in args]


def add(sp, args, shapes):
    a, b = args
    if all(_mats(sp, args)) and a.shape == b.shape:
        return a + b
    return None


def sub(sp, args, shapes):
    a, b = args
    if all(_mats(sp, args)) and a.shape == b.shape:
        return a - b
    return None


def neg(sp, args, shapes):
    return -args[0]


def mul(sp, args, shapes):
    a, b = args
    if not all(_mats(sp, args)):
        return a * b  # a number times a matrix
    if a.shape == b.shape:
        return sp.HadamardProduct(a, b)
    return None


def div(sp, args, shapes):
    a, b = args
    return None if _mats(sp, args)[1] else a * (1 / b)


def pow(sp, args, shapes):  # noqa: A001  (the row's name)
    a, b = args
    if isinstance(a, NormOf):
        return a.v.T * a.v if b == 2 else None
    if not _mats(sp, args)[1] and b.is_Integer and b > 0:
        return sp.HadamardPower(a, b)
    return None


def matmul(sp, args, shapes):
    if not all(_mats(sp, args)):
        return None
    a, b = args
    sa, sb = shapes
    if len(sa) == 1 and len(sb) == 1:
        return a.T * b  # inner product: a 1x1 matrix
    if len(sa) == 1:
        return (a.T * b).T  # a row vector times a matrix, kept as a column
    return a * b


def transpose(sp, args, shapes):
    a = args[0]
    if len(args) > 1:  # transpose(x, axes): an order of axes, not the matrix transpose
        return None
    return a if len(shapes[0]) == 1 else a.T


def _sum_all(sp, a):
    """sum of every entry: v^T v for sum(v**2) of a vector, a^T b for sum(a*b); else
    1^T A 1."""
    rows, cols = a.shape
    if cols == 1:
        if isinstance(a, sp.HadamardPower) and a.args[1] == 2:
            v = a.args[0]
            return v.T * v
        if isinstance(a, sp.HadamardProduct) and len(a.args) == 2:
            return a.args[0].T * a.args[1]
        return sp.OneMatrix(1, rows) * a
    return sp.OneMatrix(1, rows) * a * sp.OneMatrix(cols, 1)


def sum(sp, args, shapes):  # noqa: A001  (the row's name)
    return _sum_all(sp, args[0]) if len(args) == 1 else None


def mean(sp, args, shapes):
    if len(args) != 1:
        return None
    a = args[0]
    return _sum_all(sp, a) / (a.shape[0] * a.shape[1])


def norm(sp, args, shapes):
    return NormOf(args[0])

"""Comparisons (<, >, <=, >=, ==, !=), where(cond, a, b) and a % b: the rows a numpy user
writes to choose values.

A comparison is 1.0 where it holds and 0.0 elsewhere, flat in both inputs (partials 0): it is
a kink exactly where the inputs are equal. `where(cond, a, b)` passes the upstream gradient to
a where cond is non-zero and to b elsewhere; cond gets none. `a % b` is numpy's (and Python's)
floored remainder, a - floor(a/b) b: partial 1 in a and -floor(a/b) in b, with a jump wherever
a/b is a whole number. Comparisons bind looser than + and -, as in Python.
"""

from __future__ import annotations

from .registry import BP_ADD, BP_MUL, Op, register

BP_COMPARE = BP_ADD // 2  # x + 1 < y is (x + 1) < y

_S = ((0.5, 1.5), (-1.2, 0.7), (2.0, -3.0))  # no ties: smooth points of every comparison
_M = ((2.5, 1.5), (-1.2, 0.7), (7.3, -3.0))  # a/b not a whole number


def sp_relation(name: str, a, b):
    """sympy's Eq or Ne (== on sympy expressions asks whether they are the same expression)."""
    import sympy

    return getattr(sympy, name)(a, b)


def _tie_branch(a, b):
    return None if a == b else (1 if a > b else -1)


def _compare(name: str, symbol: str, test, sp_test, words: str) -> Op:
    return Op(name, 2, lambda m, a, b: m.where(test(a, b), 1.0, 0.0),
              lambda m, a, b, out: (0.0, 0.0), lambda sp, a, b: sp.Piecewise(
                  (sp.Integer(1), sp_test(a, b)), (sp.Integer(0), True)),
              label=symbol, symbol=symbol, bp=BP_COMPARE,
              role="a test: 1 where it holds, 0 elsewhere; flat, so no gradient flows back",
              branch=_tie_branch, subgradient="a comparison's partials are 0, at a tie too",
              samples=_S, local_text=("0", "0"), doc=f"a {symbol} b: 1 where a is {words} b, "
                                                     "else 0")


def _mod_branch(a, b):
    q = a / b
    return None if q == int(q) else int(q // 1)


_FLOOR: list = []


def _sp_mod(sp, a, b):
    """a - b floor(a/b), with a floor whose derivative sympy knows: 0 (between its jumps)."""
    if not _FLOOR:
        class flat_floor(sp.Function):  # noqa: N801  (sympy's own names are lower case)
            nargs = 1

            def fdiff(self, argindex=1):
                return sp.Integer(0)

            @classmethod
            def eval(cls, x):
                if x.is_Number:
                    return sp.floor(x)
                return None

        _FLOOR.append(flat_floor)
    return a - b * _FLOOR[0](a / b)


def _mod(m, a, b):
    try:
        return a % b
    except TypeError:  # dual numbers (second derivatives): floor(a/b) is flat between jumps
        q = a / b
        v = getattr(q, "v", q)  # the quotient's value: a number or (dual arrays) an array
        return a - b * (v - v % 1)  # floor(v), for a number and an array alike


def _where_forward(m, c, a, b):
    return m.where(c != 0, a, b) if m.is_array else (a if c != 0 else b)


def _where_local(m, c, a, b, out):
    if m.is_array:
        on = m.where(c != 0, 1.0, 0.0)
        return (0.0, on, 1.0 - on)
    return (0.0, 1.0 if c != 0 else 0.0, 0.0 if c != 0 else 1.0)


def _where_sympy(sp, c, a, b):
    return sp.Piecewise((a, sp.Ne(c, 0)), (b, True))


COMPARISON_ROWS = [
    _compare("lt", "<", lambda a, b: a < b, lambda a, b: a < b, "less than"),
    _compare("gt", ">", lambda a, b: a > b, lambda a, b: a > b, "greater than"),
    _compare("le", "<=", lambda a, b: a <= b, lambda a, b: a <= b, "at most"),
    _compare("ge", ">=", lambda a, b: a >= b, lambda a, b: a >= b, "at least"),
    _compare("eq", "==", lambda a, b: a == b, lambda a, b: sp_relation("Eq", a, b), "equal to"),
    _compare("ne", "!=", lambda a, b: a != b, lambda a, b: sp_relation("Ne", a, b),
             "not equal to"),
    Op("mod", 2, _mod, lambda m, a, b, out: (1.0, -(a - out) / b),
       _sp_mod, label="%", symbol="%", bp=BP_MUL,
       role="remainder: passes the upstream gradient to the dividend; the divisor gets it "
            "times -floor(dividend / divisor)",
       domain="a non-zero divisor", branch=_mod_branch,
       subgradient="where a/b is a whole number the remainder jumps; the partials of the "
                   "piece to the right are used",
       samples=_M, local_text=("1", "(a % b - a)/b"),  # -floor(a/b); the language has no floor
       doc="a % b: the floored remainder a - floor(a/b)*b, with numpy's sign (b's)"),
    Op("where", 3, _where_forward, _where_local, _where_sympy, label="where",
       role="router: the upstream gradient goes to a where cond holds, to b elsewhere; "
            "cond gets none",
       samples=((1.0, 0.5, -2.0), (0.0, 0.5, -2.0), (1.0, -1.3, 0.4)),
       local_text=("0", "where(a, 1, 0)", "where(a, 0, 1)"),
       doc="where(cond, a, b): a where cond is non-zero (true), b elsewhere; cond is usually a "
           "comparison, e.g. where(x > 0, x, 0.1*x)"),
]

for _row in COMPARISON_ROWS:
    register(_row, function=_row.symbol is None)

"""Keyword arguments and methods: which rows take which parameters, and a row bound to them.

A parameter written in the program (`axis=(0, 1)`, `keepdims=True`, `ddof=1`, the positions of
`x[::-1, 0]`) is part of the operation, not an input: `bind(row, params)` gives the row with
each rule (forward, local, vjp, sympy, shape, kinks) called with those keywords, and a spelling
that prints them. The rules stay the row's own: a bound row only passes its parameters on, so
every check of the row is a check of every binding. Bound rows are cached, so equal calls share
one row object (and one graph node).
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any

from .registry import SOFT_NAMES, Op

# Row name -> the keyword arguments it takes (in numpy's order); the first ones may also be
# given positionally after the inputs, as numpy allows: sum(x, 0) is sum(x, axis=0).
KEYWORDS: dict[str, tuple[str, ...]] = {}
# Method and attribute spellings after a value: x.sum(axis=1) -> the row `sum` with x first.
METHODS: dict[str, str] = {}
# Rows whose second argument, when it is a number written in the program, is the axis.
AXIS_SECOND: set[str] = set()
# Entrywise rows whose reduction takes the keywords: max(x, axis=1) is amax(x, axis=1).
REDUCTION_OF = {"max": "amax", "min": "amin"}
# Rows that take a parameter only as inputs after the first, written in the program: the
# keyword is written in as them (softmax(x, axis=0) is softmax(x, 0), transpose(x,
# axes=(1, 0, 2)) is transpose(x, 1, 0, 2)).
INPUT_KEYWORD = {"softmax": "axis", "log_softmax": "axis", "transpose": "axes"}

_BOUND: dict[tuple, tuple[Op, Op]] = {}

__all__ = ["SOFT_NAMES", "bind", "describe", "takes"]  # SOFT_NAMES: the registry's, kept here

# PyTorch's tensor methods for entrywise functions (x.exp(), logits.log(), micrograd's
# x.relu()), as the lecture's notebooks write them, and numpy's x.clip(lo, hi) and x.dot(y).
METHODS.update({name: name for name in ("exp", "log", "tanh", "sqrt", "abs", "norm", "relu",
                                        "sigmoid", "clip")})
METHODS["dot"] = "matmul"


def takes(name: str, *keywords: str, method: str | None = None,
          axis_second: bool = False) -> None:
    """Declare that the row `name` takes `keywords` (and is a method, as `method`)."""
    if keywords:
        KEYWORDS[name] = keywords
    if axis_second:
        AXIS_SECOND.add(name)
    if method:
        METHODS[method] = name


def describe() -> str:
    """The method spellings, for a message about one that does not exist."""
    return ", ".join(f".{m}()" for m in sorted(METHODS))


def _axis(name: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, tuple):
        axes = tuple(_axis(name, v) for v in value)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{name}() is given the axis {_show(value)} with a repeat")
        return axes
    if isinstance(value, bool) or not isinstance(value, float | int) or value != int(value):
        raise ValueError(f"the axis of {name}() must be a whole number or a tuple of them, "
                         f"not {_show(value)}")
    return int(value)


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return str(value)


def _check(name: str, key: str, value: Any) -> Any:
    if key == "axis":
        return _axis(name, value)
    if key == "keepdims":
        if not isinstance(value, bool):
            raise ValueError(f"keepdims of {name}() is True or False, not {_show(value)}")
        return value
    if key == "ddof":
        if isinstance(value, bool) or not isinstance(value, float | int) or \
                value != int(value) or value < 0:
            raise ValueError(f"ddof of {name}() is a whole number 0 or more, not {_show(value)}")
        return int(value)
    return value


def bind(op: Op, params: dict[str, Any]) -> Op:
    """`op` with its parameters fixed; the same object for the same (row, parameters)."""
    params = {k: _check(op.name, k, v) for k, v in params.items()}
    params = {k: v for k, v in params.items() if v is not None}
    if not params:
        return op
    frozen = tuple(sorted(params.items()))
    key = (id(op), frozen)
    found = _BOUND.get(key)
    if found is None or found[0] is not op:  # the row itself is kept, so its id stays its own
        found = _BOUND[key] = (op, _bound(op, params))
    return found[1]


def _bound(op: Op, params: dict[str, Any]) -> Op:
    def fix(rule):
        return None if rule is None else partial(rule, **params)

    spelled = _spelling(op, params)
    return dataclasses.replace(
        op, forward=fix(op.forward), vjp=fix(op.vjp),
        local=None if op.vjp is not None else fix(op.local),  # re-derived from the VJP
        sympy=fix(op.sympy), shape=fix(op.shape), kinks=fix(op.kinks), samples=(),
        spelled=spelled)


def _spelling(op: Op, params: dict[str, Any]):
    if op.spelled is not None and "key" in params:
        return lambda parts: op.spelled([parts[0], params["key"]])
    order = KEYWORDS.get(op.name, ())
    words = ", ".join(f"{k}={_show(params[k])}" for k in sorted(
        params, key=lambda k: order.index(k) if k in order else len(order)))

    def spelled(parts: list[str]) -> str:
        return f"{op.name}({', '.join(parts)}, {words})"

    return spelled

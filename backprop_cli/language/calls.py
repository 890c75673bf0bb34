"""The parser's builders for what a numpy user types around a value: calls with keyword
arguments, methods and attributes (x.sum(axis=1), x.T), subscripts (x[2], x[::-1], x[0, 1],
C[idx], x[arange(n), y]) and list literals ([x, x + 2]).

Each builder gets the parser (its graph, tokens and operand stacks) and returns the node it
made; which rows exist and which keywords each takes is the registry's (ops/keywords.py).
"""

from __future__ import annotations

from typing import Any

from ..errors import ArityError, LimitError, NameResolutionError, ParseError
from ..ops.keywords import (
    AXIS_SECOND,
    INPUT_KEYWORD,
    KEYWORDS,
    METHODS,
    REDUCTION_OF,
    bind,
    describe,
)
from ..ops.lazy import load_all
from ..ops.registry import FUNCTIONS, OPS, Op, known_functions

load_all()  # methods and keywords are the whole vocabulary's (each module declares its own)

# --- calls --------------------------------------------------------------------------------


def call(p: Any, mark: Any, args: tuple[int, ...], end: int) -> int:
    """The node for a call: a list argument of concatenate/stack is spread into its items,
    keyword arguments bind the row's parameters, then the arity is checked."""
    op = mark.op
    if op.name in ("concatenate", "stack") and len(args) == 1 and _is_list(p, args[0]):
        args = p.graph.args[args[0]]
    if mark.keywords:
        op, args = _with_keywords(p, mark, op, args, end)
    problem = op.check_arity(len(args)) if len(args) != op.arity else None
    if problem:
        raise ArityError(problem, p.source, (mark.start, end))
    return p.graph.add_op(op, args, mark.start, end)


def _is_list(p: Any, node: int) -> bool:
    op = p.graph.ops[node]
    return op is OPS.get("stack") and p.source[p.graph.starts[node]] == "["


def _with_keywords(p: Any, mark: Any, op, args: tuple[int, ...], end: int):
    """(the row bound to its keyword arguments, the arguments left as inputs)."""
    word = INPUT_KEYWORD.get(op.name)
    if word is not None and list(mark.keywords) == [word] and len(args) == 1:
        value, start, stop, _height = mark.keywords[word]
        values = value if word == "axes" and isinstance(value, tuple) else (value,)
        if any(not isinstance(v, float) or v != int(v) for v in values) or \
                (word == "axis" and len(values) != 1):
            raise ParseError(f"the {word} of {op.name}() is " +
                             ("a tuple of whole numbers" if word == "axes" else
                              "one whole number"), p.source, (start, stop))
        return op, (*args, *(p.graph.add_constant(v, start, stop) for v in values))
    if op.name in REDUCTION_OF and len(args) <= 2:
        op = OPS[REDUCTION_OF[op.name]]
    accepted = KEYWORDS.get(op.name, ())
    params = {}
    for name, (value, start, stop, _height) in mark.keywords.items():
        if name not in accepted:
            hint = (f"{op.name}() takes the keywords " + ", ".join(accepted)) if accepted else \
                f"{op.name}() takes no keyword arguments"
            if name in _TORCH and _TORCH[name] in accepted:  # PyTorch's spelling
                hint = f"write {_TORCH[name]}= (numpy's spelling)"
            raise ParseError(f"{op.name}() has no keyword argument {name!r}", p.source,
                             (start, stop), hint)
        params[name] = value
    # An axis written as a number in second place (sum(x, 0, keepdims=True)) joins the
    # keywords, so the row reads all of its parameters one way.
    if op.name in AXIS_SECOND and "axis" not in params and len(args) == 2 and \
            args[1] in p.graph.consts:
        params["axis"] = p.graph.consts[args[1]]
        args = args[:1]
    try:
        return bind(op, params), args
    except ValueError as exc:
        raise ParseError(str(exc), p.source, (mark.start, end)) from None


_SIZE = "a size is a number written in the program, e.g. x.reshape(32, -1)"
_DROP = "drop it: a value here is already a plain float array"
_ATTRIBUTE_HINTS = {
    "values": "x.max(1) is already the largest values, as numpy's; drop .values",
    "shape": _SIZE, "size": _SIZE, "ndim": _SIZE, "dtype": "every value is a float64 array",
    "view": "write x.reshape(n, -1)", "flatten": "write x.reshape(-1)",
    "ravel": "write x.reshape(-1)", "squeeze": "write x.reshape(...) with the sizes you keep",
    "unsqueeze": "write x.reshape(...) with a size 1 where the new axis goes",
    "item": "a one-entry value is already a number where one is needed: drop .item()",
    "pow": "write x**2", "t": "write x.T", "mm": "write x @ y", "matmul": "write x @ y",
    "numpy": _DROP, "detach": _DROP, "cpu": _DROP, "copy": _DROP, "clone": _DROP,
    "astype": _DROP, "float": _DROP, "double": _DROP,
    "clamp": "write x.clip(lo, hi) (numpy's spelling) or clip(x, lo, hi)",
}
# Module prefixes a numpy, PyTorch or math user writes before a function's name.
_MODULES = {"np", "numpy", "jnp", "torch", "math", "F", "nn", "scipy", "special", "linalg"}
_TORCH = {"dim": "axis", "keepdim": "keepdims", "correction": "ddof", "unbiased": "ddof"}


# --- methods and attributes ---------------------------------------------------------------


def method(p: Any, k: int) -> Op | None:
    """The row a method x.name(...) calls with x first, or None for x.T (the transpose);
    an attribute or method that does not exist is an error naming the ones that do."""
    text = p.texts[k][1:]
    start = p.starts[k]
    is_call = p.texts[k + 1] == "(" and p.kinds[k + 1] == "op"
    if text == "T" and not is_call:
        return None
    if p.kinds[k - 1] == "name" and p.texts[k - 1] in _MODULES and \
            p.texts[k - 1] not in p.assigned:
        raise _module_prefix(p, k)
    row = METHODS.get(text)
    if row is None or row not in OPS or not is_call:
        hint = _ATTRIBUTE_HINTS.get(text) or _close_method(text) or \
            "methods: " + describe() + "; attribute: .T"
        if text == "T":
            hint = "x.T is an attribute: drop the ()"
        raise NameResolutionError(f"an array has no {'method' if is_call else 'attribute'} "
                                  f"{text!r}", p.source, (start, start + len(p.texts[k])),
                                  hint)
    return OPS[row]


def _close_method(text: str) -> str | None:
    """'did you mean .sum()?' for x.summ(), the nearest method's spelling, or None."""
    import difflib  # only a misspelt method pays for it

    names = [m for m in METHODS if METHODS[m] in OPS]
    close = difflib.get_close_matches(text, names, n=1)
    return f"did you mean .{close[0]}()?" if close else None


def _module_prefix(p: Any, k: int) -> NameResolutionError:
    """np.exp(x), torch.relu(x), np.linalg.norm(x): functions are called by their own names."""
    module = p.texts[k - 1]
    while p.kinds[k + 1] == "attr":  # np.linalg.norm: the last name is the function
        k += 1
    name = p.texts[k][1:]
    start, end = _module_start(p, k), p.starts[k] + len(p.texts[k])
    if name in FUNCTIONS:
        hint = f"write {name}(...): a function is called by its own name, without {module}."
    else:
        hint = "known functions: " + known_functions()
    return NameResolutionError(f"{p.source[start:end]}: the language has no modules", p.source,
                               (start, end), hint)


def _module_start(p: Any, k: int) -> int:
    while p.kinds[k] == "attr":
        k -= 1
    return p.starts[k]


# --- list literals ------------------------------------------------------------------------


def stack(p: Any, mark: Any, items: tuple[int, ...], end: int) -> int:
    """[a, b, ...]: the items stacked along a new first axis."""
    if mark.op is None:
        raise ParseError("list literals need array support", p.source, (mark.start, end))
    return p.graph.add_op(mark.op, items, mark.start, end)


# --- subscripts ---------------------------------------------------------------------------


def gather(p: Any, mark: Any, args: tuple[int, ...], start: int, end: int) -> int:
    """x[i, j, ...] where the positions are values (index arrays, arange(n), a label y):
    numpy's integer-array indexing, one position per axis from the first. A comparison as
    the index is numpy's boolean mask, whose result's size depends on the values: refused."""
    if any(p.graph.ops[j].name in _TESTS for j in args[1:]):
        raise ParseError("x[mask]: a boolean mask is not in the language (the result's size "
                         "would depend on the values)", p.source, (start, end),
                         "where(mask, x, 0) keeps the shape, e.g. sum(where(x > 0, x, 0))")
    return p.graph.add_op(OPS["take"], args, start, end)


_TESTS = {"lt", "gt", "le", "ge", "eq", "ne"}


def static_subscript(p: Any, k: int) -> int:
    """x[...] whose positions are all written in the program (whole numbers, ':' slices with
    optional steps, ',' between axes): one node, and the index of the ']'. -1 when a position
    is an expression (then the parser reads it as one)."""
    key, close = _written_key(p, k)
    if key is None:
        return -1
    g = p.graph
    end = p.starts[close] + 1
    open_start = p.starts[k]
    if not key:
        raise ParseError("'[]' needs a position", p.source, (open_start, end),
                         "e.g. s[0] for the first entry")
    for part in key:
        for b in (part if isinstance(part, tuple) else (part,)):
            if b is not None and b != int(b):
                raise ParseError(f"the position {b:g} is not a whole number", p.source,
                                 (open_start, end))
    a = p.operands[-1]
    if len(key) == 1 and not isinstance(key[0], tuple):  # s[2]: the indexing row
        args = (a, g.add_constant(key[0], open_start, end))
        op = OPS["index"]
    elif len(key) == 1 and key[0][2] is None:  # s[a:b], s[a:], s[:b]: the slicing row
        start_, stop, _ = key[0]
        args = (a, g.add_constant(start_ or 0.0, open_start, end),
                *(() if stop is None else (g.add_constant(stop, open_start, end),)))
        op = OPS["slice"]
    else:
        try:
            op = bind(OPS["subscript"], {"key": _int_key(key)})
        except ValueError as exc:
            raise ParseError(str(exc), p.source, (open_start, end)) from None
        args = (a,)
    p.operands[-1] = g.add_op(op, args, p.ostart[-1], end)
    p.oend[-1] = end
    return close


def _int_key(key: tuple) -> tuple:
    return tuple(tuple(None if b is None else int(b) for b in part) if isinstance(part, tuple)
                 else int(part) for part in key)


def _written_key(p: Any, k: int) -> tuple[tuple | None, int]:
    """The positions between '[' at k and its ']' when every one is written in the program:
    (key, index of ']'); a key part is a number or a (start, stop, step) tuple."""
    texts, kinds = p.texts, p.kinds
    key: list = []
    bounds: list = []
    colons = 0
    k += 1
    while True:
        sign = 1.0
        if texts[k] == "-" and kinds[k] == "op":
            sign = -1.0
            k += 1
        if kinds[k] == "num":
            if (value := float(texts[k])) == float("inf"):
                raise p.error(f"the number {texts[k]} is too large for float64", p.token(k),
                              cls=LimitError)
            bounds.append(sign * value)
            k += 1
        elif kinds[k] == "name" and texts[k] in ("None", "newaxis"):
            raise p.error(f"x[{texts[k]}] (a new axis) is not in the language", p.token(k),
                          "write x.reshape(...) with a size 1 where the new axis goes, e.g. "
                          "x.reshape(n, 1)")
        elif sign < 0:
            return None, -1  # -n, a negated expression
        else:
            bounds.append(None)
        if kinds[k] != "op" or texts[k] not in (":", ",", "]"):
            return None, -1
        if texts[k] == ":":
            colons += 1
            if colons > 2:
                raise p.error("a slice has at most two ':' (start:stop:step)", p.token(k))
            k += 1
            continue
        if colons:
            key.append(tuple(bounds) + (None,) * (3 - len(bounds)))
        elif bounds[0] is not None:
            key.append(bounds[0])
        elif texts[k] == "]" and not key:
            return (), k
        else:
            raise p.error("expected a position", p.token(k), "e.g. x[0, 1] or x[:, 0]")
        bounds, colons = [], 0
        if texts[k] == "]":
            return tuple(key), k
        k += 1

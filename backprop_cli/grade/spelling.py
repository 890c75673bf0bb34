"""One gradient step spelled from its registry row: the row's text with the call's own words.

A row's text for input k is `vjp_text[k]`, or `dout * (local_text[k])` for an elementwise row.
It names the inputs `a`, `b`, `c`, the gate's value `out` and its upstream gradient `dout`,
and for the rows that take parameters or positions, these words of the call:

  idx    the inputs after the first, in order (take's positions: `a[idx]`); idx2 those
         after the second (add_at's positions: `dout[idx2]`)
  keep   the call's axis with keepdims=True, as keyword arguments (`axis=1, keepdims=True`;
         `keepdims=True` alone for a reduction over everything)
  dims   the first input's shape, as sizes (`32, 3, 10`: reshape's way back)
  rows   the rows of a matrix of class scores (1 for one vector of scores)
  ddof   the call's ddof (0 unless given)
  count  how many entries the reduction takes to one (the reduced axes' sizes multiplied;
         a mean's n)
  back   transpose's way back: the inverse of the call's axes (`2, 0, 1`), empty where the
         call gave none (reversing all axes is its own inverse: `dout.transpose()` is dout.T)
  onehot b as targets shaped like a: b itself, or where b is one class label (a number), its
         one-hot row, add_at(zeros_like(a), 1, b)
  at     the positions a slice or subscript took, as values add_at reads: one per axis
         keyed, a whole number as written, a slice as `start + step*arange(size)` (reshaped
         to a column where later axes are sliced too, so they broadcast to the block taken):
         x[1:3] -> `1 + arange(2)`, x[::-1, 0] -> `3 - arange(4), 0`
  part   input k's own part of stack's or concatenate's output, as a subscript: its index
         (`1`; `:, 1` along axis 1) or its offset along the joined axis (`:, 3:5`); a row
         whose one text reads `part` states it for every input

A reduction's texts (the rows that take `keepdims`) speak of `out` and `dout` as kept: shaped
with the reduced axes as 1s. Where the call dropped them and broadcasting alone would not put
them back, `out` and `dout` are written reshaped to the kept shape. Nothing here knows a rule:
each word is a fact of the call (its parameters, its shapes); the step is the row's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..graph import Graph
from ..language.parser import parse
from ..language.printer import Printer
from ..ops.keywords import INPUT_KEYWORD, KEYWORDS
from ..ops.registry import OPS, SCALAR, Op
from .reading import tokens

INPUTS = ("a", "b", "c")  # how a row's texts name its inputs, in argument order
UPSTREAM = "dout"
OUT = "out"
# The call's words a text may use.
WORDS = ("idx", "idx2", "keep", "dims", "rows", "ddof", "count", "back", "onehot", "at",
         "part")


@dataclass(frozen=True)
class Call:
    """What a text may read of one call besides its inputs' spellings: its shapes and the
    parameters written in the program (a positional axis is `consts[1]`)."""

    shapes: tuple[tuple, ...]  # the inputs' shapes
    out_shape: tuple
    consts: tuple = ()  # each input's value where it is a number written in the program
    params: dict[str, Any] = field(default_factory=dict)


def params_of(op: Op) -> dict[str, Any]:
    """The keyword parameters a row was bound to (ops/keywords.bind), {} for a plain row."""
    return dict(getattr(op.forward, "keywords", None) or {})


def row_text(op: Op, k: int, shapes: tuple = ()) -> str | None:
    """The row's text for what input k receives, in terms of a, b, out and dout; for @ with a
    vector operand, the row module's texts for those shapes (an outer product, not B.T)."""
    texts = getattr(op, "vjp_text", ()) or ()
    if op.name == "matmul" and shapes:
        from ..ops.arrays import matmul_texts
        texts = matmul_texts(shapes) or texts
    if k < len(texts) and texts[k]:
        return texts[k]
    if len(texts) == 1 and "part" in (t.text for t in tokens(texts[0])):
        return texts[0]  # stack's and concatenate's inputs are alike: each gets its part
    if op.elementwise and k < len(op.local_text):
        local = op.local_text[k].strip()
        if local == "1":
            return UPSTREAM
        if local == "-1":
            return f"-{UPSTREAM}"
        return f"{UPSTREAM} * ({local})"
    return None


# Rows whose axis is an input written after the first (softmax(x, 0)), defaulting to the last.
AXIS_INPUT = {name for name, keyword in INPUT_KEYWORD.items() if keyword == "axis"}


def _axes(op: Op, call: Call) -> tuple[int, ...] | None:
    axis = call.params.get("axis")
    if axis is None and len(call.consts) > 1 and call.consts[1] is not None and \
            (op.name in AXIS_INPUT or "axis" in KEYWORDS.get(op.name, ())):
        axis = int(call.consts[1])
    if axis is None:
        return (-1,) if op.name in AXIS_INPUT else None
    return axis if isinstance(axis, tuple) else (int(axis),)


def _kept(shape: tuple, axes: tuple[int, ...] | None) -> tuple:
    if axes is None:
        return (1,) * len(shape)
    mine = {k % len(shape) for k in axes}
    return tuple(1 if k in mine else n for k, n in enumerate(shape))


def _keep(axes: tuple[int, ...] | None) -> str:
    if axes is None:
        return "keepdims=True"
    axis = str(axes[0]) if len(axes) == 1 else "(" + ", ".join(map(str, axes)) + ")"
    return f"axis={axis}, keepdims=True"


def _sizes(shape: tuple) -> str:
    return ", ".join(str(n) for n in shape)


def words(op: Op, call: Call, inputs: list[str], k: int = 0) -> dict[str, str]:
    """The call's words for the row's texts, input k's where a word is an input's own (see
    the module's doc)."""
    axes = _axes(op, call)
    a = call.shapes[0] if call.shapes else ()
    return {"idx": ", ".join(inputs[1:]), "idx2": ", ".join(inputs[2:]), "keep": _keep(axes),
            "dims": _sizes(a), "rows": str(a[0] if len(a) == 2 else 1),
            "ddof": str(int(call.params.get("ddof", 0))), "count": str(_count(a, axes)),
            "back": _back(call) if op.name == "transpose" else "",
            "onehot": _onehot(call, inputs), "at": _at(op, call), "part": _part(op, call, k)}


def _count(shape: tuple, axes: tuple[int, ...] | None) -> int:
    return math.prod(shape if axes is None or not shape else
                     (shape[k % len(shape)] for k in set(k % len(shape) for k in axes)))


def _back(call: Call) -> str:
    n = len(call.shapes[0]) if call.shapes else 0
    axes = [int(k) % n for k in call.consts[1:] if k is not None]  # numpy allows -1 for n-1
    return _sizes(tuple(axes.index(k) for k in range(len(axes))))


def _at(op: Op, call: Call) -> str:
    if op.name == "slice" and call.shapes and call.shapes[0]:
        bounds = [int(c) for c in call.consts[1:3] if c is not None]
        key: tuple = ((*bounds, *(None,) * (2 - len(bounds)), None),)
    elif op.name == "subscript" and "key" in call.params:
        key = call.params["key"]
    else:
        return ""
    sliced = [part for part in key if isinstance(part, tuple)]
    texts, m = [], 0
    for part, n in zip(key, call.shapes[0]):
        if not isinstance(part, tuple):
            texts.append(str(int(part)))
            continue
        m += 1
        texts.append(_positions(range(*slice(*part).indices(n)), len(sliced) - m))
    return ", ".join(texts)


def _positions(taken: range, later: int) -> str:
    """The positions of a slice on one axis, a column (`later` axes of 1) where `later`
    sliced axes follow: numpy broadcasts the positions to the block the slice took."""
    size, start, step = len(taken), taken.start, taken.step
    run = f"arange({size})" if abs(step) == 1 else f"{abs(step)}*arange({size})"
    sign = "+" if step > 0 else "-"
    text = (run if step > 0 else f"-{run}") if start == 0 else f"{start} {sign} {run}"
    return f"reshape({text}, {size}{', 1' * later})" if later else text


def _part(op: Op, call: Call, k: int) -> str:
    if op.name not in ("stack", "concatenate") or k >= len(call.shapes):
        return ""
    axis = int(call.params.get("axis", 0)) % max(len(call.out_shape), 1)
    lead = ":, " * axis
    if op.name == "stack":
        return f"{lead}{k}"
    start = sum(shape[axis] for shape in call.shapes[:k])
    return f"{lead}{start}:{start + call.shapes[k][axis]}"


def _onehot(call: Call, inputs: list[str]) -> str:
    if len(inputs) < 2:
        return ""
    label = len(call.shapes) > 1 and call.shapes[1] == () and call.shapes[0] != ()
    return f"add_at(zeros_like({inputs[0]}), 1, {inputs[1]})" if label else inputs[1]


def kept_shape(op: Op, call: Call) -> tuple | None:
    """The shape a reduction's texts read `out` and `dout` at, where the call's own output
    would not broadcast to it; None where they are read as they are."""
    if "keepdims" not in KEYWORDS.get(op.name, ()) or not call.shapes or not call.shapes[0]:
        return None
    kept = _kept(call.shapes[0], _axes(op, call))
    padded = (1,) * (len(kept) - len(call.out_shape)) + tuple(call.out_shape)
    return None if padded == kept else kept


def spell(op: Op, k: int, inputs: list[str], out: str, dout: str | None,
          call: Call) -> str | None:
    """Input k's share of the gate's upstream gradient, in the language: the row's text with
    the call's spellings in place, tidied. None where the row has no text for it; a
    BackpropError where the language does not read what came out."""
    template = row_text(op, k, call.shapes)
    if template is None:
        return None
    kept = kept_shape(op, call)
    if kept is not None:
        out = f"reshape({out}, {_sizes(kept)})"
        dout = None if dout is None else f"reshape({dout}, {_sizes(kept)})"
    names = {**dict(zip(INPUTS, inputs)), OUT: out, **words(op, call, inputs, k)}
    return substituted(template, names, dout)


def substituted(template: str, names: dict[str, str], dout: str | None) -> str:
    """The template with its names replaced by the program's text (token by token, so `abs`
    is never touched for its `a`), constants folded and printed by the one printer. A dout of
    None is the output's own gradient, 1: the share is the local alone."""
    pieces: list[str] = []
    at = 0
    for tok in tokens(template):
        if tok.kind != "name" or (tok.text not in names and tok.text != UPSTREAM):
            continue
        pieces.append(template[at:tok.start])
        if tok.text == UPSTREAM:
            pieces.append("1" if dout is None else dout)
        else:
            pieces.append(names[tok.text])
        at = tok.end
    pieces.append(template[at:])
    return tidy("".join(pieces))


def tidy(text: str) -> str:
    """The expression reprinted by the printer, with constant subexpressions folded and
    identities dropped (x*1, x**1, x/1, 1*x, -1*x as -x, ones_like(...)*x as x where x has the
    product's shape): each changes no bit of the value."""
    g = parse(text)
    new = Graph(text)
    ids: list[int] = []
    for i in range(len(g)):
        s, e = g.starts[i], g.ends[i]
        op = g.ops[i]
        if i in g.consts:
            ids.append(new.add_constant(g.consts[i], s, e, g.names.get(i)))
        elif op.is_leaf:
            ids.append(new.add_variable(g.names[i], s, e))
        else:
            ids.append(_fold(new, op, tuple(ids[j] for j in g.args[i]), s, e))
    new.finish(ids[g.output])
    return Printer(new).expression()


_PROBES = (0.37, -1.9, 2.5)


def _plain(g: Graph, j: int) -> bool:
    return j in g.consts and g.names.get(j) is None


def _fold(g: Graph, op: Op, args: tuple[int, ...], s: int, e: int) -> int:
    if args and op.elementwise and all(_plain(g, j) for j in args):
        try:
            value = op.forward(SCALAR, *[g.consts[j] for j in args])
        except (ArithmeticError, ValueError):
            value = None
        if isinstance(value, float) and math.isfinite(value):
            return g.add_constant(value, s, e)
    if op.name == "mul" and len(args) == 2:
        args = _without_ones(g, args)
        if len(args) == 1:
            return args[0]
    if op.name == "mul" and len(args) == 2:
        for keep, const in ((0, 1), (1, 0)):
            if _plain(g, args[const]) and g.consts[args[const]] == -1.0:
                return g.add_op(OPS["neg"], (args[keep],), s, e)  # -1*v is -v, bit for bit
    if len(args) == 2 and op.elementwise:
        for keep, const in ((0, 1), (1, 0)):
            c = args[const]
            if _plain(g, c) and _identity(op, g.consts[c], const):
                return args[keep]
    return g.add_op(op, args, s, e)


def _without_ones(g: Graph, args: tuple[int, ...]) -> tuple[int, ...]:
    """ones_like(E)*F (or (c*ones_like(E))*F) as F (c*F): where E and F are entrywise in
    names and E reads no name F does not, F already has the product's shape, and 1*v is v
    bit for bit. The sum row's `dout*ones_like(a)` for a penalty sum(W*W) reads 0.05*W."""
    for ones, other in ((0, 1), (1, 0)):
        j, f = args[ones], args[other]
        scale = None
        if g.ops[j].name == "mul" and len(g.args[j]) == 2:
            c, o = g.args[j]
            c, o = (c, o) if _plain(g, c) else (o, c)
            scale, j = (c, o) if _plain(g, c) else (None, j)
        if g.ops[j].name != "ones_like" or len(g.args[j]) != 1:
            continue
        inner, mine = _names(g, g.args[j][0]), _names(g, f)
        if inner is None or mine is None or not inner <= mine:
            continue
        if scale is None:
            return (f,)
        return (scale, f)
    return args


def _names(g: Graph, top: int) -> set[str] | None:
    """The variables an entrywise expression reads; None where a step is not entrywise."""
    seen: set[str] = set()
    stack = [top]
    while stack:
        j = stack.pop()
        if j in g.consts:
            continue
        op = g.ops[j]
        if op.is_leaf:
            seen.add(g.names[j])
        elif op.elementwise:
            stack.extend(g.args[j])
        else:
            return None
    return seen


def _identity(op: Op, c: float, position: int) -> bool:
    """Whether op with the constant c at `position` gives back its other input, bit for bit."""
    try:
        for v in _PROBES:
            got = op.forward(SCALAR, v, c) if position == 1 else op.forward(SCALAR, c, v)
            if got != v:
                return False
    except (ArithmeticError, ValueError):
        return False
    return True


def summed(text: str, axis: int | None = None, keepdims: bool = False) -> str:
    """sum(text) over one axis (all for None), in the language's spelling: the axis as a
    plain argument, which every version of the language reads; keepdims by keyword."""
    if axis is None:
        return f"sum({text})"
    if keepdims:
        return f"sum({text}, axis={axis}, keepdims=True)"
    return f"sum({text}, {axis})"


def summed_back(share: str, upstream: tuple, shape: tuple) -> str:
    """The share summed back to `shape` over the axes the forward broadcast."""
    if not shape:
        return summed(share)
    extra = len(upstream) - len(shape)
    for _ in range(extra):
        share = summed(share, 0)
    for k, n in enumerate(shape):
        if n == 1 and upstream[extra + k] != 1:
            share = summed(share, k, keepdims=True)
    return share

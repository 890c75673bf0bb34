"""A learner's answer -> right or wrong: the one grader behind `--expect`, `expect:` in case
files (text and JSON Lines), the quiz, and the per-entry agreement of `--claim`.

An answer is a number or arithmetic on numbers in the program language (`0.0353*0.1966`,
`1*0.03531 + 0.5*2`), read by our own parser, never by eval. Each number stands for everything
that rounds to it as written: `0.0353` is [0.03525, 0.03535], half a unit in its last written
digit. The arithmetic carries those intervals through (interval arithmetic), so the answer is
an interval [lo, hi] around the value it computes.

The verdict (`judge`):
  right  when the true value lies in [lo, hi] and the answer's value is within EXPECT_MAX_REL
         relative of it (rounding may not hide more than that: "-4" is not -3.6), or when
         they agree to 1e-9 relative (an exact answer such as `-4*3` or `0.1*3`), or
  right  when the answer's value is exactly 0 and |true value| <= `floor`, the rounding the
         computation of the true value may carry (checks/rounding.py; docs/checks.md), so
         `0` is right for a gradient that is 0 computed as 4.4e-16;
  wrong  otherwise.

Interval rules (INTERVALS): + - * / and unary minus; a power whose exponent is written as an
integer (a count, exact: x**2 squares, x**-1 inverts), or whose base is positive; the
increasing functions (rows marked `increasing`: exp, log, sqrt, tanh, sigmoid, ...: the ends
map to the ends by the op's own forward rule); max and min; abs. An op without a rule (sin,
cos, ...) is taken at its value alone: the numbers inside it give no room. A named constant
(pi, e) is exact.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ParseError

EXPECT_MAX_REL = 0.05  # the most relative error an answer's rounding may excuse
EXACT_REL = 1e-9  # an answer this close (relative) is right whatever its digits
_U = 2.0 ** -53  # the unit roundoff of a double
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_INF = math.inf


@dataclass(frozen=True)
class Answer:
    """An answer as read: what it computes, and the interval its written digits allow."""

    text: str
    value: float
    lo: float
    hi: float
    most: float = EXPECT_MAX_REL  # the most relative error the interval may excuse

    @property
    def is_zero(self) -> bool:
        return self.value == 0.0


def read(text: str) -> Answer:
    """The answer `text` (a number or arithmetic on numbers) with its interval; raises
    ParseError (with its caret) for text that is neither."""
    from ..engine.forward import forward
    from ..language.parser import parse

    graph = parse(text)
    if graph.variables:
        name, i = next(iter(graph.variables.items()))
        raise ParseError(f"{name} is not a number: an answer is a number or arithmetic on "
                         "numbers", text, (graph.starts[i], graph.ends[i]), "e.g. -4 or 2*3")
    values = forward(graph, {})
    value = values[graph.output]
    if hasattr(value, "shape"):
        raise ParseError("an answer is one number, not an array", text, (0, len(text)),
                         "e.g. -4 or 2*3")
    if not math.isfinite(value):
        raise ParseError("an answer is a finite number", text, (0, len(text)),
                         "e.g. -4 or 2*3")
    lo, hi = _interval(graph, values)
    return Answer(text, float(value), lo, hi)


def number(text: str) -> Answer:
    """A number as written (in the literal grammar): its interval without the parser, for the
    entries of an array answer and the hot path of case files."""
    value = float(text)
    if not math.isfinite(value):
        raise ParseError("an answer is a finite number", text, (0, len(text)), "e.g. -4")
    half = 0.5 * 10.0 ** last_digit_exponent(text)
    return Answer(text, value, value - half, value + half)


def band(value: float, width: float) -> Answer:
    """A value known to within +-width (a claim's formula at a point, within its tolerance):
    the width alone decides, whatever relative error it allows."""
    return Answer("", value, value - width, value + width, _INF)


def judge(truth: float, answer: Answer, floor: float = 0.0) -> tuple[bool, float, bool]:
    """(right, relative error of the answer's value, whether the zero floor decided it)."""
    right = rule(truth, answer.value, answer.lo, answer.hi, answer.most, floor)
    err = rel_error(truth, answer.value)
    return bool(right), err, bool(right and answer.is_zero and err > EXACT_REL)


def rule(truth: Any, value: Any, lo: Any, hi: Any, most: Any, floor: Any) -> Any:
    """The verdict, stated once, for numbers and (entry by entry) numpy arrays alike: right
    when the answer's value matches to EXACT_REL; or, for an answer of 0, when |truth| <= floor;
    or, for any other, when truth lies in [lo, hi] and the value within `most` relative of it.
    The interval's ends are widened by the doubles' own rounding, and a written number's half
    unit by 1e-9 of itself."""
    diff = abs(truth - value)
    scale = (abs(truth) + abs(value) + abs(abs(truth) - abs(value))) / 2  # max(|truth|, |value|)
    exact = diff <= EXACT_REL * scale
    slack = 1e-9 * 0.5 * (hi - lo) + 4 * _U * (abs(lo) + abs(hi))
    inside = (lo - slack <= truth) & (truth <= hi + slack) & (diff <= most * scale)
    return exact | ((value == 0) & (abs(truth) <= floor)) | ((value != 0) & inside)


def rel_error(a: float, b: float) -> float:
    """|a - b| / max(|a|, |b|), and 0 when both are 0."""
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def matches(truth: float, answer: Answer) -> bool:
    """Whether the answer is right for `truth` (no zero floor): what a diagnosis asks of each
    usual mistake."""
    return math.isfinite(truth) and judge(truth, answer)[0]


def last_digit_exponent(text: str) -> int:
    """The power of ten of the last digit written: '0.39' -> -2, '-4' -> 0, '1.5e-3' -> -4."""
    mantissa, _, exp = text.strip().lower().partition("e")
    shift = int(exp) if exp else 0
    mantissa = mantissa.lstrip("+-")
    if "." in mantissa:
        return shift - len(mantissa.split(".", 1)[1])
    return shift


# --- interval arithmetic over the answer's graph ----------------------------------------------


def _interval(graph, values: list) -> tuple[float, float]:
    """The interval of the output: one loop over the nodes, inputs before users."""
    box: list[tuple[float, float]] = []
    for i, op in enumerate(graph.ops):
        v = float(values[i])
        if i in graph.consts:
            box.append(_literal(graph.source[graph.starts[i]:graph.ends[i]], v))
            continue
        rule = INTERVALS.get(op.name)
        if rule is None and op.increasing:
            rule = _increasing(op.name)
        args = [box[j] for j in graph.args[i]]
        got = rule(graph, i, args) if rule is not None else None
        if got is None or any(math.isnan(x) for x in got):
            got = (v, v)  # no rule here: the value alone
        box.append(_outward(*got))
    return box[graph.output]


def _literal(written: str, value: float) -> tuple[float, float]:
    """A number as written (each written number is its own leaf): half a unit in its last
    digit either side; a folded sign, -(3), reads the number inside it; a named constant (pi,
    e) is exact."""
    found = _NUMBER.search(written)
    if found is None:
        return value, value
    half = 0.5 * 10.0 ** last_digit_exponent(found.group())
    return value - half, value + half


def _outward(lo: float, hi: float) -> tuple[float, float]:
    """An interval widened by a few units in the last place, for the doubles' own rounding."""
    return lo - 4 * _U * abs(lo), hi + 4 * _U * abs(hi)


def _add(graph, i, a):
    (a0, a1), (b0, b1) = a
    return a0 + b0, a1 + b1


def _sub(graph, i, a):
    (a0, a1), (b0, b1) = a
    return a0 - b1, a1 - b0


def _products(xs: tuple, ys: tuple) -> tuple[float, float]:
    p = [x * y for x in xs for y in ys]
    if any(math.isnan(x) for x in p):  # 0 * inf: no bound
        return -_INF, _INF
    return min(p), max(p)


def _mul(graph, i, a):
    return _products(*a)


def _div(graph, i, a):
    (a0, a1), (b0, b1) = a
    if b0 <= 0 <= b1:
        return -_INF, _INF
    return _products((a0, a1), (1 / b1, 1 / b0))


def _neg(graph, i, a):
    (a0, a1), = a
    return -a1, -a0


def _pow(graph, i, a):
    (a0, a1), (b0, b1) = a
    j = graph.args[i][1]
    if j in graph.consts and float(graph.consts[j]).is_integer():
        return _int_pow((a0, a1), int(graph.consts[j]))
    if a0 > 0:  # x ** y = exp(y log x)
        return _exp(graph, i, [_products((math.log(a0), math.log(a1)), (b0, b1))])
    return None


def _int_pow(x: tuple[float, float], n: int) -> tuple[float, float] | None:
    """x ** n for an integer n written in the answer (exact: a count)."""
    lo, hi = x
    if abs(n) > 1024:
        return None
    try:
        ends = (lo ** abs(n), hi ** abs(n))
    except OverflowError:
        return None
    if n % 2 == 0 and lo < 0 < hi:
        p = (0.0, max(ends))
    else:
        p = (min(ends), max(ends))
    if n >= 0:
        return p
    if p[0] <= 0 <= p[1]:
        return -_INF, _INF
    return 1 / p[1], 1 / p[0]


def _increasing(name: str):
    """A rule for a function increasing wherever it is defined: the ends map to the ends, each
    by the op's own forward rule (its registry row). An end outside the domain gives no rule;
    an overflow, an infinite end."""
    def rule(graph, i, a):
        from ..ops.registry import OPS, SCALAR

        fn = OPS[name].forward
        ends = []
        for x in a[0]:
            try:
                ends.append(float(fn(SCALAR, x)))
            except OverflowError:
                ends.append(_INF)
            except (ArithmeticError, ValueError):
                return None
        return ends[0], ends[1]
    return rule


def _extreme(pick):
    def rule(graph, i, a):
        return pick(x[0] for x in a), pick(x[1] for x in a)
    return rule


def _abs(graph, i, a):
    (a0, a1), = a
    if a0 <= 0 <= a1:
        return 0.0, max(-a0, a1)
    return min(abs(a0), abs(a1)), max(abs(a0), abs(a1))


def _exp(graph, i, a):
    (a0, a1), = a
    return _safe(math.exp, a0), _safe(math.exp, a1)


def _safe(fn, x: float) -> float:
    try:
        return fn(x)
    except OverflowError:
        return _INF


# Interval rules by op name: how the ends of the inputs' intervals map to the output's. The
# increasing functions (a field of their registry rows) map their ends by their own rows'
# forward rules (_interval asks the row, so no row module is loaded for this table).
INTERVALS: dict[str, Callable[..., Any]] = {
    "add": _add, "sub": _sub, "mul": _mul, "div": _div, "neg": _neg, "pow": _pow,
    "max": _extreme(max), "min": _extreme(min), "abs": _abs,
}

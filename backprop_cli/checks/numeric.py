"""The numeric slope of one variable (or one array entry): a central difference that checks
its own step, and Ridders' extrapolation when the plain difference does not settle it.

The scalar and array checkers both call `slope_check`; all they supply is `at(v)`, the program's
output with the variable set to v (and, for scalars, the smooth piece every kinked node is on).

Why a step can mislead, and what is done about it:
  * the step leaves the function's domain (log(x) at x = 1e-7) or straddles a kink (relu(x)
    at x = 1e-7): the step is shrunk, a quarter at a time, until both ends are in the domain
    and on the point's own smooth piece; only a point exactly on a kink, or one no step
    reaches, stays inconclusive;
  * the function is steep or curved for the step (sin(3000 x), tan(x) near pi/2, 1/x near 0):
    the truncation error ~h^2 f''' swamps the tolerance. When the plain difference disagrees,
    Ridders' method (Numerical Recipes' dfridr) takes differences at steps h, h/2, h/4, ...,
    extrapolates them to h = 0 (Richardson's tableau) and estimates its own error from how the
    extrapolations agree. The check then passes, fails with the error bound beside the figure,
    or says it cannot tell (the disagreement is within what the extrapolation itself is unsure
    of).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import BackpropError

# Central differences err by ~h^2 f''' (truncation) plus ~eps f / h (rounding); the cube root
# of machine epsilon balances the two. The step is scaled by the variable's magnitude.
FD_STEP = (2.0 ** -52) ** (1.0 / 3.0)
SHRINK = 0.25  # the step tried next when an end falls outside the domain or past a kink
SHRINKS = 16  # 4^-16 ~ 2e-10 of the first step: past this, no step avoids the kink
RIDDERS_STEPS = 10  # steps h, h/2, ..., h/512 in the extrapolation tableau
RIDDERS_SAFE = 2.0  # stop when the tableau's error grows by this factor (dfridr's SAFE)
SCALE = 1e-2  # each further scale of step starts this much smaller
SCALES = 5  # scales tried: the last starts 1e-8 times the standard step
FAIL_MARGIN = 4.0  # a disagreement must exceed this many error bounds to count as a failure
# The finite-difference budget counts forward passes by the work they do, never by the clock,
# so a busy machine checks the same entries: a pass costs one unit per node (Python's step)
# plus one per ENTRIES_PER_UNIT entries of the values it computes (numpy's share).
ENTRIES_PER_UNIT = 100
OVER_BUDGET = "over the finite-difference budget"  # the one wording, with what it reached


class Work:
    """The forward-pass work one program's finite differences may spend, and have spent."""

    def __init__(self, limit: int):
        self.limit = limit
        self.spent = 0

    def left(self) -> bool:
        return self.spent < self.limit

    def charge(self, values: list) -> None:
        """Count one forward pass that computed `values` (every node's)."""
        import numpy as np

        self.charge_nodes(len(values) + sum(int(np.size(v)) for v in values) // ENTRIES_PER_UNIT)

    def charge_nodes(self, nodes: int) -> None:
        """Count one forward pass over `nodes` nodes of numbers."""
        self.spent += nodes

    def fits(self, nodes: int) -> bool:
        """Whether one more forward pass over `nodes` nodes of numbers fits the budget."""
        return self.spent + nodes <= self.limit

    def passes(self, nodes: int) -> int:
        """How many forward passes over `nodes` nodes the whole budget holds."""
        return self.limit // max(1, nodes)


@dataclass(frozen=True)
class Slope:
    """The numeric reference for one derivative, with how it was reached."""

    value: float | None  # None: no usable step (the reason says why)
    bound: float | None = None  # estimated absolute error, when extrapolated
    step: float = 0.0
    shrunk: bool = False  # the first step was spoiled (domain or kink) and a smaller one used
    reason: str = ""


class _Spoiled(Exception):
    pass


def exact_step(x: float, h: float) -> float:
    """A step near h such that x + h and x - h are exactly 2h apart in float64."""
    return (x + h) - x


def _central(at: Callable[[float], tuple[float, Any]], x: float, h: float, piece: Any,
             ) -> float:
    try:
        plus, p_piece = at(x + h)
        minus, m_piece = at(x - h)
    except BackpropError:
        raise _Spoiled("the finite-difference step leaves the function's domain") from None
    if piece is not None and (p_piece != piece or m_piece != piece):
        raise _Spoiled("the finite-difference step straddles a kink")
    return (plus - minus) / (2 * h)


def first_slope(at: Callable[[float], tuple[float, Any]], x: float, piece: Any = None) -> Slope:
    """The plain central difference at the standard step, shrunk only as far as needed to keep
    both ends in the domain and on the point's smooth piece (`piece`; None: not tracked)."""
    h = exact_step(x, FD_STEP * max(1.0, abs(x)))
    reason = ""
    for k in range(SHRINKS + 1):
        if h == 0:
            break
        try:
            return Slope(_central(at, x, h, piece), step=h, shrunk=k > 0)
        except _Spoiled as why:
            reason = reason or str(why)
        h = exact_step(x, h * SHRINK)
    return Slope(None, reason=reason)


def ridders(at: Callable[[float], tuple[float, Any]], x: float, h: float, piece: Any = None,
            ) -> Slope:
    """Richardson-extrapolated derivative from steps h, h/2, ... with its error estimate
    (Numerical Recipes' dfridr: each row extrapolates the previous row's entries one order
    further; the estimate is the entry whose neighbours agree best, and the tableau stops when
    the extrapolations start to diverge, which is where rounding takes over)."""
    previous: list[float] | None = None
    best, err = None, math.inf
    moved = False  # whether any step changed the output at all
    for i in range(RIDDERS_STEPS):
        step = exact_step(x, h / 2.0 ** i)
        if step == 0:
            break
        try:
            row = [_central(at, x, step, piece)]
        except _Spoiled:
            if previous is None:  # a larger step may be spoiled where a smaller one is not
                continue
            break
        moved = moved or row[0] != 0.0
        if previous is not None:
            fac = 4.0
            for j in range(1, len(previous) + 1):
                row.append((row[j - 1] * fac - previous[j - 1]) / (fac - 1.0))
                fac *= 4.0
                e = max(abs(row[j] - row[j - 1]), abs(row[j] - previous[j - 1]))
                if e <= err:
                    best, err = row[j], e
            if abs(row[-1] - previous[-1]) >= RIDDERS_SAFE * err:
                break
        previous = row
    if best is None:
        return Slope(None, reason="no finite-difference step stays in the domain or off kinks")
    if not moved:
        # Steps this small do not change the output in float64 (log(1 + u**2) for a tiny u):
        # a slope of exactly 0 at every step is the lack of resolution, not a derivative. (A
        # derivative that is truly 0 never gets here: the plain difference agreed with it.)
        return Slope(None, reason="the output does not change at these steps in float64")
    return Slope(best, bound=err, step=h)


def agrees(ours: float, ref: float, rtol: float, atol: float) -> bool:
    scale = max(abs(ours), abs(ref))
    return abs(ours - ref) <= atol or (scale > 0 and abs(ours - ref) <= rtol * scale)


def slope_check(at: Callable[[float], tuple[float, Any]], x: float, ours: float, rtol: float,
                atol: float, piece: Any = None,
                more: Callable[[], bool] = lambda: True) -> Slope:
    """The reference slope to grade `ours` against: the plain central difference when it
    agrees; otherwise Ridders' extrapolation at ever smaller scales of step (a pole or a fast
    oscillation can be closer than the standard step), until one agrees with `ours` or two
    scales in a row agree with each other to the tolerance (the slope has converged: its bound
    then covers the difference between them). A slope that never converges has bound inf."""
    first = first_slope(at, x, piece)
    if first.value is None or agrees(ours, first.value, rtol, atol):
        return first
    if not more():  # the caller's budget is spent: a plain difference alone is no evidence
        return Slope(first.value, math.inf, first.step, first.shrunk,
                     "the plain difference disagrees, and the finite-difference budget ran "
                     "out before it could be measured again")
    previous = None
    tried: list[Slope] = []
    for k in range(SCALES):
        if k and not more():
            break
        s = ridders(at, x, first.step * SCALE ** k, piece)
        if s.value is None:
            continue
        tried.append(s)
        if agrees(ours, s.value, rtol, atol):
            return Slope(s.value, s.bound, first.step, first.shrunk)
        if previous is not None:
            gap = abs(s.value - previous.value)
            if gap <= max(rtol * max(abs(s.value), abs(previous.value)), atol):
                return Slope(s.value, max(s.bound, gap), first.step, first.shrunk)
        previous = s
    if previous is None:
        return first
    steadiest = min(tried, key=lambda t: t.bound)  # shown, but it never decides a failure
    return Slope(steadiest.value, math.inf, first.step, first.shrunk)


def verdict(ours: float, slope: Slope, rtol: float, atol: float) -> tuple[str, str]:
    """(status, reason) for `ours` against a slope that has a value: pass, fail, or
    inconclusive when the disagreement lies within the extrapolation's own error bound."""
    ref = slope.value
    if agrees(ours, ref, rtol, atol):
        return "pass", ""
    bound = slope.bound
    if slope.reason and bound is not None and not math.isfinite(bound):
        return "inconclusive", slope.reason
    if bound is not None and not abs(ours - ref) > FAIL_MARGIN * bound:
        told = f"{ref:.6g} ± {bound:.1e}" if math.isfinite(bound) else \
            f"the step sizes disagree; steadiest {ref:.6g}"
        return "inconclusive", (f"no step converges here ({told}): the function is too "
                                "steep or curved for a float64 difference")
    return "fail", ""


def entry_slopes(at: Callable[[float], tuple[Any, Any]], x: float, ours: list[float],
                 rtol: float, atol: float, piece: Any = None,
                 more: Callable[[], bool] = lambda: True) -> list[Slope]:
    """`slope_check` for a function whose value is an array (a gradient, for a Hessian's
    column; the output, for a Jacobian's): one plain central difference for every entry at
    once, its step kept in the domain and on the point's smooth pieces as `first_slope` keeps
    it; then each entry that disagrees with `ours` is measured again on its own, by the same
    extrapolation a gradient gets. So every order of derivative is checked one way."""
    import numpy as np

    first = first_slope(at, x, piece)
    if first.value is None:
        return [first] * len(ours)
    plain = np.ravel(first.value)
    out = []
    for i, mine in enumerate(ours):
        if agrees(mine, float(plain[i]), rtol, atol):
            out.append(Slope(float(plain[i]), step=first.step, shrunk=first.shrunk))
            continue

        def entry(v: float, i=i) -> tuple[float, Any]:
            value, where = at(v)
            return float(np.ravel(value)[i]), where

        out.append(slope_check(entry, x, mine, rtol, atol, piece, more))
    return out

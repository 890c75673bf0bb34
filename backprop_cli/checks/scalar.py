"""What every cross-check shares: the Check record, tolerances, statuses, the kink scan, the
sympy gate, budget and wording (written once here), and the grading of one number.

The references themselves are produced elsewhere: sympy's first derivatives in gradients.py
(which also checks a program of numbers), finite differences of arrays in arrays.py, second
derivatives and Jacobians in second.py, every one of either method as reference.py's one
record, compared by its one comparison (which grades a finite-difference entry by
`grade_slope` here).

Relative error is CS231n's |a - b| / max(|a|, |b|) (0 when both are 0). A check passes when the
relative error is within its tolerance or the absolute difference is below its floor, so two
correct tiny numbers are not called different (the check then says the floor decided it):

  sympy               rtol 1e-9   atol 1e-12   (exact derivative, evaluated at 30 digits)
  finite differences  rtol 1e-5   atol 1e-8 * max(1, |f|)   (central, float64; numeric.py
                      steps around kinks and the domain's edge, and extrapolates on steep
                      functions before it calls a disagreement a failure)

Statuses: "pass", "fail", "skipped" (could not run: says why; never a pass),
"inconclusive" (no step could be trusted, the extrapolation does not converge, or sympy's exact
agreement outranks the difference), and "subgradient" (the point is on a kink: backprop used the
documented subgradient; the symbolic derivative does not exist there). What they add up to,
and the exit code, is verdict.py's policy.

sympy is imported inside the functions that need it, so a run without checks never pays for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..engine.forward import forward, is_array
from ..graph import Graph
from .sympy_chain import _NoSymbolic, _sympy_constant

if TYPE_CHECKING:
    from ..deadline import Deadline
    from . import numeric as fd

# The finite differences, the answer grader and the watchdog load when a check first runs: a
# plain `eval --no-check` imports none of them (tests/test_startup.py).
_LATER = {"EXPECT_MAX_REL": ("answers", "EXPECT_MAX_REL"),  # the one grader of answers states it
          "_last_digit_exponent": ("answers", "last_digit_exponent"),
          "FD_STEP": ("numeric", "FD_STEP")}  # the step, documented where it is used


def __getattr__(name: str) -> Any:
    if name not in _LATER:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module, attr = _LATER[name]
    return getattr(importlib.import_module(f"{__package__}.{module}"), attr)

SYMPY_RTOL = 1e-9
SYMPY_ATOL = 1e-12
FD_RTOL = 1e-5
FD_ATOL = 1e-8

SYMPY_MAX_NODES = 2_000  # sympy's expression building and diff slow down sharply past this
SYMPY_MAX_DEPTH = 40  # sympy's diff recurses; chains deeper than ~50 raise RecursionError
SYMPY_SECONDS = 10.0  # CPU seconds for all of one program's symbolic derivatives (a budget)
FD_MAX_NODE_EVALS = 20_000_000  # forward-pass work the finite-difference check may spend


@dataclass(frozen=True)
class Check:
    method: str  # "sympy", "finite-difference", "expected"
    status: str  # "pass", "fail", "skipped", "inconclusive", "subgradient"
    reference: float | None = None  # the other method's number
    rel_error: float | None = None
    reason: str = ""
    abs_error: float | None = None  # |ours - reference|
    floor: bool = False  # the absolute floor decided the pass (the relative error did not)
    bound: float | None = None  # the finite difference's own error estimate, relative

    @property
    def decided_by(self) -> str | None:
        if self.rel_error is None:
            return None
        return "absolute" if self.floor else "relative"

    def to_dict(self) -> dict:
        return {"method": self.method, "status": self.status, "reference": self.reference,
                "rel_error": self.rel_error, "reason": self.reason or None,
                "abs_error": _finite(self.abs_error), "decided_by": self.decided_by,
                "error_bound": _finite(self.bound)}


def _finite(x: float | None) -> float | None:
    """JSON has no inf: an error bound that never converged is null."""
    return x if x is None or math.isfinite(x) else None


@dataclass(frozen=True)
class Limits:
    sympy_max_nodes: int = SYMPY_MAX_NODES
    sympy_max_depth: int = SYMPY_MAX_DEPTH
    sympy_seconds: float = SYMPY_SECONDS
    fd_max_node_evals: int = FD_MAX_NODE_EVALS


def rel_error(a: float, b: float) -> float:
    """|a - b| / max(|a|, |b|), and 0 when both are 0."""
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def compare(method: str, ours: float, ref: float, rtol: float, atol: float,
            on_kink: bool = False) -> Check:
    err = rel_error(ours, ref)
    diff = abs(ours - ref)
    ok = err <= rtol or diff <= atol
    # On a kink the derivative does not exist: sympy's value there is a convention
    # (Heaviside(0) = 1/2, as a tie of max splits evenly), so agreeing with it confirms
    # nothing, and a disagreement is no evidence of a wrong rule. (A finite difference
    # finds the kink itself: a step across it is inconclusive, a step that stays on one
    # piece measures a real slope.)
    excused = on_kink and (method == "sympy" or not ok)
    status = "subgradient" if excused else ("pass" if ok else "fail")
    reason = "non-differentiable point: compared with a subgradient" if excused else ""
    return Check(method, status, ref, err, reason, abs_error=diff, floor=ok and err > rtol)


def grade_slope(ours: float, slope: fd.Slope, atol: float, on_kink: bool = False,
                ) -> Check:
    """A finite-difference check from a numeric slope (numeric.py): inconclusive when no step
    could be trusted or the extrapolation cannot tell; its error bound travels with it."""
    method = "finite-difference"
    if slope.value is None:
        return Check(method, "inconclusive", reason=slope.reason)
    c = compare(method, ours, slope.value, FD_RTOL, atol, on_kink)
    bound = None
    if slope.bound is not None:
        scale = max(abs(ours), abs(slope.value))
        bound = slope.bound / scale if scale else 0.0
    notes = [c.reason] if c.reason else []
    if slope.shrunk:
        notes.append("a smaller step kept clear of a kink or the domain's edge")
    if c.status == "fail":
        from . import numeric as fd

        status, why = fd.verdict(ours, slope, FD_RTOL, atol)
        if status == "inconclusive":
            return Check(method, status, slope.value, c.rel_error, why, c.abs_error,
                         bound=bound)
    return Check(method, c.status, c.reference, c.rel_error, "; ".join(notes), c.abs_error,
                 c.floor, bound)


# --- kinks --------------------------------------------------------------------------------


def branches(graph: Graph, values: list) -> tuple:
    """The smooth piece each piecewise node is on; None marks a node exactly on a kink."""
    return tuple(op.branch(*[values[j] for j in graph.args[i]])
                 for i, op in enumerate(graph.ops) if op.branch is not None)


def kinks(graph: Graph, values: list,
          nodes: Sequence[int] | None = None) -> list[tuple[int, str]]:
    """(node, convention) for every node evaluated exactly at a non-differentiable point.
    `nodes`: the nodes whose op has kinks, when the forward pass listed them (`forward`'s
    `kinked`), so the scan looks at those alone."""
    found = []
    ops = graph.ops
    for i, op in enumerate(ops) if nodes is None else zip(nodes, map(ops.__getitem__, nodes)):
        if op.branch is None:
            continue
        args = [values[j] for j in graph.args[i]]
        if any(is_array(a) for a in args):
            continue  # array kinks are reported by the array checker per entry
        if op.branch(*args) is None:
            found.append((i, op.subgradient))
    return found


# --- finite differences -------------------------------------------------------------------


def finite_difference(graph: Graph, bindings: Mapping[str, Any], name: str,
                      base_branches: tuple | None = None) -> tuple[float | None, str]:
    """Central difference d(output)/d(name); (None, reason) when no step can be trusted."""
    from . import numeric as fd

    slope = fd.first_slope(_at(graph, bindings, name, base_branches is not None),
                                bindings[name], base_branches)
    return slope.value, slope.reason


def _at(graph: Graph, bindings: Mapping[str, Any], name: str, pieces: bool):
    """v -> (the output with `name` at v, the smooth piece of every kinked node or None)."""
    out = graph.output

    def at(v: float):
        values = forward(graph, {**bindings, name: v})
        return values[out], (branches(graph, values) if pieces else None)

    return at


# --- sympy --------------------------------------------------------------------------------


class _Timeout(BaseException):
    """Raised by the alarm. Not an Exception: sympy's own `except Exception` blocks must not
    swallow it and carry on past the deadline."""


def sympy_expressions(graph: Graph, rows: Mapping[str, Callable] | None = None):
    """The sympy expression of every node, built from the graph (never from the user's text).
    `rows` gives some ops another sympy form by name (--symbolic writes sigmoid as the
    lecture's σ gate); every other op uses its registry row's."""
    import sympy as sp

    rows = rows or {}
    exprs: list = [None] * len(graph)
    for i, op in enumerate(graph.ops):
        if i in graph.consts:
            exprs[i] = _sympy_constant(sp, graph.names.get(i), graph.consts[i])
        elif op.is_leaf:
            exprs[i] = sp.Symbol(graph.names[i], real=True)
        else:
            inputs = [exprs[j] for j in graph.args[i]]
            rule = rows.get(op.name)
            if rule is not None:
                exprs[i] = rule(*inputs)
            elif op.sympy is None:
                raise _NoSymbolic(op.name)
            else:
                exprs[i] = op.sympy(sp, *inputs)
    return exprs


# What can stop a sympy reference short, in every check that uses one; `why_no_sympy` words it.
SYMPY_FAILURES = (_Timeout, _NoSymbolic, RecursionError, TypeError, ValueError,
                  ArithmeticError, AttributeError)


def why_no_sympy(exc: BaseException, limits: Limits) -> str:
    """The one wording of why sympy stopped, for each of SYMPY_FAILURES."""
    if isinstance(exc, _Timeout):
        return sympy_over_budget(limits)
    if isinstance(exc, _NoSymbolic):
        return f"the op {exc.args[0]} has no symbolic form"
    if isinstance(exc, RecursionError):
        return "sympy recursed too deep on this expression"
    return f"sympy could not evaluate the derivative ({type(exc).__name__})"


def sympy_gate(graph: Graph, limits: Limits, entries: int | None = None) -> str:
    """Why sympy is not asked at all ("" when it is), in every check that uses it: the
    graph's size in nodes (for an array program, `entries`: what its nodes hold), and its
    depth (sympy's diff recurses, and building and differentiating slow sharply past these)."""
    if entries is None and len(graph) > limits.sympy_max_nodes:
        return f"the graph has {len(graph):,} nodes (sympy limit {limits.sympy_max_nodes:,})"
    if entries is not None and entries > limits.sympy_max_nodes:
        return f"the graph holds {entries:,} entries (sympy limit {limits.sympy_max_nodes:,})"
    depth = graph.depth()
    if depth > limits.sympy_max_depth:
        return f"the graph is {depth:,} deep (sympy limit {limits.sympy_max_depth})"
    return ""


def _deadline(seconds: float) -> Deadline:
    """sympy's budget, in CPU seconds of the thread running it (deadline.py: the same on a
    busy machine, and kept in any thread): raises _Timeout, which sympy's broad excepts cannot
    catch."""
    from ..deadline import Deadline

    return Deadline(seconds, _Timeout)


def sympy_over_budget(limits: Limits) -> str:
    """The one wording of why sympy stopped for its budget, in every check that uses it."""
    return f"over sympy's budget of {limits.sympy_seconds:g} s of CPU time"


def variables_through(graph: Graph, nodes: list[int]) -> set[str]:
    """The names of the variables that some node in `nodes` depends on (iterative walk)."""
    if not nodes:
        return set()
    seen = bytearray(len(graph))
    stack = list(nodes)
    while stack:
        i = stack.pop()
        if seen[i]:
            continue
        seen[i] = 1
        stack.extend(graph.args[i])
    return {name for name, i in graph.variables.items() if seen[i]}


# --- expectations -------------------------------------------------------------------------


def expectation(ours: float, text: str, floor: float = 0.0, said: Any = None) -> Check:
    """Grade a hand-derived answer by the one grader of answers (checks/answers.py): right to
    the digits it was written with ("-0.2" passes for -0.1966), never more than EXPECT_MAX_REL
    off ("-4" does not pass for -3.6), or to 1e-9 relative; arithmetic (`said`, read by
    answers.read) carried through as intervals; 0 within `floor`. The reference is the
    answer's value."""
    from .answers import judge, number

    said = number(text) if said is None else said
    ok, err, by_floor = judge(ours, said, floor)
    return Check("expected", "pass" if ok else "fail", said.value, err,
                 "" if ok else f"expected {text}", abs_error=abs(ours - said.value),
                 floor=by_floor)


def is_finite_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)

"""Claims: a derivative *formula* the user derived, graded as a formula, not as one number.

A claim is `dNAME=FORMULA` (or `NAME=FORMULA`) for a bound variable NAME, e.g.
`dx=2*x*cos(x**2)` or `dW=2*(W @ x) @ x.T`. The formula is read by our own parser and may read
the bound variables. Each claim is graded two ways:

  sympy    the difference between sympy's derivative of the program and the formula's sympy
           expression (both built from graphs) simplifies to 0: a proof. Scalar programs, and
           array programs of up to SYMPY_MAX_ENTRIES entries, within the sympy limits.
  points   backprop's gradient against the formula's value at the given point and at
           CLAIM_POINTS random points around it, drawn with the fixed seed CLAIM_SEED: every
           entry of every variable v moves to v + CLAIM_SPREAD * max(1, |v|) * N(0, 1). A drawn
           point outside the program's domain (a domain error, a value that is not finite) or
           exactly on a kink is skipped and another drawn, up to CLAIM_ATTEMPTS draws. Values
           agree when |a - b| <= CLAIM_ATOL + CLAIM_RTOL * max(|a|, |b|), entry by entry: the
           grader of every answer (checks/answers.py) with the claim's value as a band.

Shapes: a claim about an array variable has the variable's shape, or is one number (claiming
every entry alike). When the program binds 1-D vectors and the claim, read as bound, has another
shape (as `2*W @ x @ x.T` is one number with a flat x, whose x.T is x), the claim is read again
with those vectors as columns (n x 1), the convention of --symbolic's matrix formulas; if that
gives the variable's shape it is graded so, and the result says which vectors it read as
columns (`columns`). A claim no reading gives the shape of is bad input (exit 2): it cannot be
compared, which is no evidence that it is wrong.

Statuses: "fail" when some point disagrees (the first such point is the counterexample, with
both values), also when sympy proved the formula (that would be a bug worth seeing); "pass"
when sympy proved it or all points agreed; "inconclusive" when fewer than CLAIM_POINTS random
points could be compared and sympy gave no proof. Only "fail" turns the exit code to 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import BackpropError, BindingError, NameResolutionError
from ..graph import Graph
from ..values import is_array, plain
from .scalar import Limits

CLAIM_POINTS = 32  # random points besides the given one
CLAIM_ATTEMPTS = 512  # draws allowed to find them inside the domain
CLAIM_SEED = 15
CLAIM_SPREAD = 0.5
CLAIM_RTOL = 1e-6
CLAIM_ATOL = 1e-9
SYMPY_MAX_ENTRIES = 64  # entries of the array variables past which sympy is not asked
DIFFERS = "the claim differs from backprop's gradient"
SHOWN_LIMIT = 120  # longest formula shown whole in messages and JSON


@dataclass(frozen=True)
class Claim:
    text: str  # as the user wrote it
    name: str  # the bound variable whose gradient it claims
    formula: Graph

    @property
    def shown(self) -> str:
        """The claim as the printer writes it: d<name> = <formula>, a long formula by its two
        ends."""
        from ..language.printer import expression

        return f"d{self.name} = {expression(self.formula, limit=SHOWN_LIMIT)}"


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    status: str  # pass, fail, inconclusive
    method: str  # "sympy" (proved) or "points" (compared at points only)
    points: int  # points compared, the given one included
    counterexample: dict | None = None  # {"point": {...}, "claimed": ..., "backprop": ...}
    reason: str = ""
    columns: tuple[str, ...] = ()  # the 1-D vectors the claim was read with as n x 1 columns

    def to_dict(self) -> dict:
        return {"status": self.status, "method": self.method, "claim": self.claim.shown,
                "points": self.points, "counterexample": self.counterexample,
                "reason": self.reason or None, "columns": list(self.columns)}


def parse_claims(texts: Iterable[str], bound: Iterable[str], lead: str = "--claim") \
        -> tuple[Claim, ...]:
    """Read each `dNAME=FORMULA`; raise the error of the first bad one (exit 2)."""
    bound = list(bound)
    claims: dict[str, Claim] = {}
    for text in texts:
        claim = parse_claim(text, bound, lead)
        if claim.name in claims:
            raise BindingError(f"{lead} {text}: d{claim.name} is claimed twice",
                               hint=f"already {lead} {claims[claim.name].text}")
        claims[claim.name] = claim
    return tuple(claims.values())


def parse_claim(text: str, bound: list[str], lead: str = "--claim") -> Claim:
    from ..language.parser import parse

    name, eq, formula = text.partition("=")
    key = name.strip()
    if not eq or not key:
        raise BindingError(f"{lead} {text}: not dNAME=FORMULA",
                           hint=f'e.g. {lead} "dx=2*x*cos(x**2)"')
    if key not in bound and key[:1] == "d" and key[1:] in bound:
        key = key[1:]
    if key not in bound:
        raise BindingError(f"{lead} {text}: {name.strip()} names no bound variable",
                           hint="claim dNAME for one of: " + (", ".join(bound) or
                                                               "no variables are bound"))
    offset = len(name) + 1
    try:
        graph = parse(formula)
    except BackpropError as err:  # the caret goes under the claim as the user wrote it
        span = None if err.span is None else (err.span[0] + offset, err.span[1] + offset)
        raise type(err)(f"in the claim: {err.message}", text, span, err.hint) from None
    for var, i in graph.variables.items():
        if var not in bound:
            raise NameResolutionError(
                f"in the claim: {var} is not a bound variable", text,
                (graph.starts[i] + offset, graph.ends[i] + offset),
                "a claim's formula reads the bound variables: " + ", ".join(bound))
    return Claim(text, key, graph)


# --- grading ------------------------------------------------------------------------------


def grade_claims(graph: Graph, bindings: Mapping[str, Any], claims: tuple[Claim, ...],
                 seed: Any = 1.0, limits: Limits | None = None) -> tuple[ClaimResult, ...]:
    limits = limits or Limits()
    if not claims:
        return ()
    points, randoms = _points(graph, bindings, seed)
    return tuple(_grade(graph, bindings, c, points, randoms, seed, limits) for c in claims)


def _points(graph: Graph, bindings: Mapping[str, Any], seed: Any) \
        -> tuple[list[tuple[dict, dict]], int]:
    """(point, gradients) at the given point and at up to CLAIM_POINTS random points in the
    domain, and how many are random: the given point is first (and absent when it lies on a
    kink)."""
    from ..engine.backward import backpropagate
    from ..engine.forward import forward
    from .scalar import branches

    def grads_at(point):
        try:
            values = forward(graph, point)
            if None in branches(graph, values):
                return None
            g = backpropagate(graph, values, seed)
        except (BackpropError, ArithmeticError, ValueError, FloatingPointError):
            return None
        return {n: g[i] for n, i in graph.variables.items()}

    rng = _Random(CLAIM_SEED)
    found = []
    first = grads_at(bindings)
    if first is not None:
        found.append((dict(bindings), first))
    for _ in range(CLAIM_ATTEMPTS):
        if len(found) >= CLAIM_POINTS + (first is not None):
            break
        point = {n: rng.around(v) for n, v in bindings.items()}
        grads = grads_at(point)
        if grads is not None and all(_finite(g) for g in grads.values()):
            found.append((point, grads))
    return found, len(found) - (first is not None)


class _Random:
    """Seeded normal draws for numbers and arrays alike (numpy only when arrays are bound)."""

    def __init__(self, seed: int):
        import random

        self.py = random.Random(seed)
        self.np = None
        self.seed = seed

    def around(self, v):
        if is_array(v):
            if self.np is None:
                import numpy as np

                self.np = np.random.default_rng(self.seed)
            np = self.np
            return v + CLAIM_SPREAD * (abs(v).clip(1.0, None)) * np.standard_normal(v.shape)
        v = float(v)
        return v + CLAIM_SPREAD * max(1.0, abs(v)) * self.py.gauss(0.0, 1.0)


def _grade(graph: Graph, bindings: Mapping[str, Any], claim: Claim, points: list,
           randoms: int, seed: Any, limits: Limits) -> ClaimResult:
    columns = _reading(claim, bindings)
    result = _grade_read(graph, bindings, claim, points, randoms, seed, limits, columns)
    return ClaimResult(result.claim, result.status, result.method, result.points,
                       result.counterexample, result.reason, columns)


def _reading(claim: Claim, bindings: Mapping[str, Any]) -> tuple[str, ...]:
    """The flat vectors to read as columns: () when the claim as bound has the variable's shape
    or is one number that no column reading turns into that shape; raise (exit 2) when no
    reading gives a comparable shape."""
    import numpy as np

    if not any(is_array(v) for v in bindings.values()):
        return ()
    target = np.shape(bindings[claim.name])
    flat, why = _shape_at(claim, bindings, ())
    if flat == target:
        return ()
    vectors = tuple(n for n in claim.formula.variables if np.ndim(bindings[n]) == 1)
    if vectors:
        cols, _ = _shape_at(claim, bindings, vectors)
        if cols is not None and _fits(cols, target):
            return vectors
    if flat == () or (flat is None and why is None):
        return ()  # one number claims every entry alike; or no value here, the points decide
    shown = "x".join(map(str, target)) or "one number"
    got = why or f"the claim has shape {'x'.join(map(str, flat)) or 'one number'}"
    v = vectors[0] if vectors else ""
    hint = (f"with {v} a 1-D vector, {v}.T is {v} and {v} @ {v}.T a dot product; bind vectors "
            f"as columns, e.g. {v}=[[0.2],[0.4]]" if vectors else
            f"a claim about {claim.name} has its shape, {shown}, or is one number")
    raise BindingError(f"claim {claim.shown}: {got} but d{claim.name} has shape {shown}, so "
                       "they cannot be compared", hint=hint)


def _shape_at(claim: Claim, point: Mapping[str, Any], columns: tuple[str, ...]):
    """(the claim's shape at point, None), (None, a shape error's message) or (None, None)
    when it has no value there for another reason."""
    import numpy as np

    from ..errors import ShapeError

    try:
        return np.shape(_value_at(claim, point, columns)), None
    except ShapeError as err:
        return None, f"the claim has no shape ({err.message})"
    except (BackpropError, ArithmeticError, ValueError, FloatingPointError):
        return None, None


def _fits(shape: tuple, target: tuple) -> bool:
    """A column reading fits a variable's shape, a flat vector's gradient as an n x 1 column."""
    return shape == target or (len(target) == 1 and shape == target + (1,))


def _value_at(claim: Claim, point: Mapping[str, Any], columns: tuple[str, ...]):
    """The formula's value at point, with the named flat vectors as n x 1 columns; an n x 1
    value for a flat variable comes back flat."""
    from ..engine.forward import forward

    values = {n: point[n].reshape(-1, 1) if n in columns else point[n]
              for n in claim.formula.variables}
    out = forward(claim.formula, values)[claim.formula.output]
    if columns and is_array(out) and out.ndim == 2 and out.shape[1] == 1 \
            and getattr(point[claim.name], "ndim", 0) == 1:
        out = out.reshape(-1)
    return out


def _grade_read(graph: Graph, bindings: Mapping[str, Any], claim: Claim, points: list,
                randoms: int, seed: Any, limits: Limits, columns: tuple[str, ...]) \
        -> ClaimResult:
    proved, why_not = _prove(graph, bindings, claim, seed, limits, columns)
    given = len(points) > randoms  # the given point is first, unless it lies on a kink
    method = "sympy" if proved else "points"
    compared = 0
    for point, grads in points:
        ours = grads.get(claim.name, 0.0)
        if claim.name not in grads:
            ours = _zeros_like(bindings[claim.name])
        claimed, problem = _evaluate(claim, point, columns)
        if problem is None:
            problem = _disagreement(claimed, ours)
        compared += 1
        if problem is not None and compared > 1 and given:
            problem += "; it agrees at the given point"
        if problem is not None:
            example = {"point": {n: plain(v) for n, v in point.items()},
                       "claimed": None if claimed is None else plain(claimed),
                       "backprop": plain(ours)}
            return ClaimResult(claim, "fail", method, compared, example, problem)
    if proved:
        return ClaimResult(claim, "pass", method, compared)
    if randoms >= CLAIM_POINTS:
        return ClaimResult(claim, "pass", method, compared, reason=why_not)
    return ClaimResult(claim, "inconclusive", method, compared, reason=(
        f"only {randoms} of {CLAIM_POINTS} random points lie inside the program's domain"
        + (f"; {why_not}" if why_not else "")))


def _evaluate(claim: Claim, point: Mapping[str, Any], columns: tuple[str, ...] = ()):
    """(the formula's value at point, None) or (None, why it has none)."""
    try:
        return _value_at(claim, point, columns), None
    except BackpropError as err:
        return None, f"the claim has no value here ({err.message})"
    except (ArithmeticError, ValueError, FloatingPointError) as exc:
        return None, f"the claim has no value here ({exc})"


def _disagreement(claimed, ours) -> str | None:
    if is_array(claimed) or is_array(ours):
        import numpy as np

        a = np.asarray(claimed, dtype=float)
        b = np.asarray(ours, dtype=float)
        if a.shape != b.shape and a.ndim:
            return f"the claim has shape {a.shape} but the gradient has shape {b.shape}"
        close = _agrees(b, a)
        if close.all():
            return None
        if a.ndim == 0 and b.ndim:  # a number claims every entry alike
            hint = ""
            if b.ndim == 2:
                hint = (" (an outer product of two vectors is a column times a row: bind the "
                        "vectors as columns, e.g. x=[[1],[2]], and write (W @ x) @ x.T)")
            return f"the claim is one number but the gradient has shape {b.shape}{hint}"
        k = int(np.argmin(close.ravel()))
        where = np.unravel_index(k, b.shape) if b.ndim else ()
        entry = f" at entry [{','.join(map(str, where))}]" if where else ""
        return f"{DIFFERS}{entry}"
    if _agrees(float(ours), float(claimed)):
        return None
    return DIFFERS


def _agrees(ours: Any, claimed: Any) -> Any:
    """Whether backprop's value agrees with the claim's, entry by entry, by the one grader of
    answers (checks/answers.py): the claim's value stands for a band of CLAIM_ATOL +
    CLAIM_RTOL * max(|a|, |b|) either side (two roundings of one number), and a claimed 0
    for that much too."""
    from .answers import rule

    a, b = claimed, ours
    width = CLAIM_ATOL + CLAIM_RTOL * (abs(a) + abs(b) + abs(abs(a) - abs(b))) / 2
    return rule(b, a, a - width, a + width, math.inf, width)


def _finite(g) -> bool:
    if is_array(g):
        import numpy as np

        return bool(np.isfinite(g).all())
    return math.isfinite(g)


def _zeros_like(v):
    if is_array(v):
        import numpy as np

        return np.zeros(v.shape)
    return 0.0


# --- the symbolic proof -------------------------------------------------------------------


def _prove(graph: Graph, bindings: Mapping[str, Any], claim: Claim, seed: Any,
           limits: Limits, columns: tuple[str, ...] = ()) -> tuple[bool, str]:
    """(True, "") when sympy shows derivative - formula == 0; else (False, why not)."""
    from .scalar import _deadline, _Timeout, sympy_gate, sympy_over_budget

    refused = sympy_gate(graph, limits)  # the one size gate of every sympy check
    if refused:
        return False, f"sympy is not asked: {refused}"
    if is_array(seed) or (not is_array(seed) and float(seed) != 1.0):
        return False, "sympy is not asked with a given upstream gradient"
    arrays = any(is_array(v) for v in bindings.values())
    try:
        with _deadline(limits.sympy_seconds):
            import sympy as sp

            if arrays:
                return _prove_arrays(sp, graph, bindings, claim, columns)
            from .scalar import sympy_expressions

            f = sympy_expressions(graph)[graph.output]
            d = sp.diff(f, sp.Symbol(claim.name, real=True))
            c = sympy_expressions(claim.formula)[claim.formula.output]
            if sp.simplify(d - c) == 0:
                return True, ""
            return False, "sympy did not reduce the difference to 0"
    except _Timeout:
        return False, sympy_over_budget(limits)
    except Exception as exc:  # sympy's failures are many; the points still decide
        return False, f"sympy could not compare ({type(exc).__name__})"


def _prove_arrays(sp, graph: Graph, bindings: Mapping[str, Any], claim: Claim,
                  columns: tuple[str, ...] = ()) -> tuple[bool, str]:
    """Every entry of sympy's gradient against every entry of the formula, with one symbol
    per entry of every array variable."""
    import numpy as np

    from .arrays import node_expressions

    entries = sum(int(np.size(v)) for v in bindings.values())
    if entries > SYMPY_MAX_ENTRIES:
        return False, (f"the variables have {entries} entries (sympy proves claims up to "
                       f"{SYMPY_MAX_ENTRIES})")
    symbols = {}
    for n, v in bindings.items():
        if is_array(v):
            arr = np.empty(v.shape, dtype=object)
            for e in np.ndindex(v.shape):
                arr[e] = sp.Symbol(f"{n}_{'_'.join(map(str, e))}", real=True)
            symbols[n] = arr
        else:
            symbols[n] = sp.Symbol(n, real=True)
    f = node_expressions(graph, {i: symbols[n] for n, i in graph.variables.items()})
    out = f[graph.output]
    if isinstance(out, np.ndarray):
        return False, "the output is an array"
    c = node_expressions(claim.formula, {
        i: symbols[n].reshape(-1, 1) if n in columns else symbols[n]
        for n, i in claim.formula.variables.items()})
    claimed = c[claim.formula.output]
    target = symbols[claim.name]
    if columns and np.ndim(target) == 1 and np.shape(claimed) == np.shape(target) + (1,):
        claimed = np.asarray(claimed, dtype=object).reshape(-1)
    if not isinstance(target, np.ndarray):
        target = np.array(target, dtype=object)
    claimed = np.broadcast_to(np.asarray(claimed, dtype=object), target.shape) \
        if np.ndim(claimed) < target.ndim else np.asarray(claimed, dtype=object)
    if claimed.shape != target.shape:
        return False, "the claim's shape differs from the variable's"
    for e in np.ndindex(target.shape):
        if sp.simplify(sp.diff(out, target[e]) - claimed[e]) != 0:
            return False, "sympy did not reduce the difference to 0"
    return True, ""


# --- claims in case files (batch/) ----------------------------------------------------------

CASE_MARK = "claim:"


def take_claims(words: list[str]) -> tuple[list[str], list[str]]:
    """A case line's words without its claims, and the claims: `claim: dx=2*x` or
    `claim:dx=2*x` (quote a formula with spaces: claim: "dx=2*x + 1")."""
    rest: list[str] = []
    claims: list[str] = []
    k = 0
    while k < len(words):
        w = words[k]
        if w.startswith(CASE_MARK):
            text = w[len(CASE_MARK):]
            if not text and k + 1 < len(words):
                k += 1
                text = words[k]
            if not text:
                raise BindingError("claim: needs dNAME=FORMULA after it",
                                   hint='e.g. claim: "dx=2*x*cos(x**2)"')
            claims.append(text)
        else:
            rest.append(w)
        k += 1
    return rest, claims


def json_claims(value: Any) -> list[str]:
    """The `"claims": {"dx": "2*x"}` field of a JSON case as claim texts."""
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise BindingError('"claims" must be an object of dNAME: formula text',
                           hint='"claims": {"dx": "2*x*cos(x**2)"}')
    return [f"{name}={formula}" for name, formula in value.items()]


def check_case_claims(texts: list[str], bound: Iterable[str], line: str) -> tuple[str, ...]:
    """Read a case's claims now, so a bad one is reported at its line; a caret moves to where
    the formula stands in the line. The texts travel on (to worker processes) as text."""
    try:
        parse_claims(texts, bound, lead=CASE_MARK)
    except BackpropError as err:
        if err.source is None or err.span is None:
            raise
        name, _, formula = err.source.partition("=")
        at = line.find(err.source)
        shift = at
        if at < 0:  # JSON: the formula stands quoted on its own
            at = line.find('"' + formula + '"')
            shift = at + 1 - len(name) - 1
        if at < 0:
            raise
        raise type(err)(err.message, line, (err.span[0] + shift, err.span[1] + shift),
                        err.hint) from None
    return tuple(texts)


def claim_checks(results: Iterable[ClaimResult]) -> tuple[list, list]:
    """For a case report: (name, (("claim", status),)) per claim, and for each failed claim
    (name, "claim", backprop's number, the claim's number, relative error), numbers from the
    counterexample (nan for arrays, whose entries the JSON report carries)."""
    checks = []
    failures = []
    for c in results:
        label = f"d{c.claim.name}"
        checks.append((label, (("claim", c.status),)))
        if c.status == "fail":
            ex = c.counterexample or {}
            ours, claimed = ex.get("backprop"), ex.get("claimed")
            where = ", ".join(f"{n}={v:.6g}" for n, v in ex.get("point", {}).items()
                              if not isinstance(v, list))
            numbers = isinstance(ours, float) and isinstance(claimed, float)
            a = ours if numbers else math.nan
            b = claimed if numbers else math.nan
            scale = max(abs(a), abs(b)) if numbers else 0.0
            rel = abs(a - b) / scale if numbers and scale else math.nan
            failures.append((f"{label} at {where}" if where else label, "claim", a, b, rel))
    return checks, failures

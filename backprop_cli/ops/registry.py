"""The op registry: the one place that knows each operation.

Every row says how an op is spelled and printed, how tightly it binds, how it computes forward,
its derivative rule, its sympy translation, where it is not differentiable, and its gate role in
the lecture's words. The parser, the forward and backward passes, the checker, the printers and
the op tests all read this table; adding an op is one row plus its sample points.

Each rule is written once, against a small math namespace `m` (see `SCALAR` and
`array_math()`): the same row drives Python floats for scalar programs and numpy arrays for array
programs, and any other namespace with the same names (the dual numbers that differentiate the
backward pass again, for Hessians) gets its rules from these rows rather than from a second
table. A rule calls only the namespace's basic math (`where`, `log`, `pow`, `exp`, `inf`, ...),
never a derivative helper, so no derivative is written anywhere but in its row. On numbers
`m.where(c, x, y)` evaluates both x and y, so a rule gives each side a safe argument (pow's rule
takes its power of 1 where the base is 0).

The fields of a row (`Op`), by group:

  what it is
    name         canonical name: the `op` field in JSON and the function spelling
    arity        number of arguments; None: variadic, `min_arity` to `max_arity` of them
    aliases      other spellings (`ln`, `^`, `σ`); identifiers among them are callable names
    function     callable as name(args)? None: exactly when it has no infix spelling
  the rule
    forward(m, *args) -> value
    local(m, *args, out) -> d(out)/d(arg_k) for each argument, elementwise (the diagonal of
                 the Jacobian). A partial that does not exist at the point (x**2's d/d(2) at
                 x < 0) is nan, never an exception: the backward pass only uses the partials
                 of inputs a variable flows into.
    vjp(m, upstream, args, out) -> the downstream gradient of each argument, for an op that
                 is not elementwise. A row states `local` or `vjp`, never both: for a row that
                 states a VJP, `local` is derived from it (`LocalFromVJP`: on numbers the VJP
                 of an upstream 1 is the partials), and the array pass derives an elementwise
                 row's VJP from `local` (upstream x local, summed over broadcast axes).
    shape(shapes, consts) -> output shape from the inputs' shapes (and constant inputs'
                 values, e.g. an axis); rows without one broadcast like numpy (shapes.py)
    elementwise  False for an op whose output entries mix input entries (sum, @)
    sympy(sp, *args) -> sympy expression built from the inputs' sympy expressions
    branch(*args) -> which smooth piece the point lies in; None exactly on a kink
    kinks(args, out) -> (outputs on a kink, outputs) for array rows whose kinks are not
                 entry by entry (a tie for the largest entry); None: `branch` per entry
    subgradient  the convention used exactly on a kink, said in warnings
    elsewhere  what other frameworks return there for d(out)/d(input): (framework, function,
      local) triples, the local a number ("1/2" as sympy prints it; each side of a tie gets
      it); set only on kinked rows, shown by eval --frameworks beside `subgradient`
    domain       what the op needs of its inputs, said in domain errors
    commutative  a + b == b + a (a folded constant reads `+1` on either side; grouping tries
                 both operand orders)
    increasing   a one-input op that never decreases where it is defined, so an interval of
                 inputs maps to the interval between its ends' images (the answer grader's
                 interval arithmetic, checks/answers.py)
    samples      argument tuples where the rules are tested: smooth points, in the domain
    matrix       the name of the op's form in sympy's matrix calculus, a function of
                 ops/matrix_forms.py (read by --symbolic's matrix formulas only, so a scalar
                 program never imports it): (sp, args, shapes) -> a form, or None
  how it is spelled
    label        how the op is drawn in a node: '+', '*', 'exp', ...
    symbol       infix or prefix spelling, for the parser and the printer
    bp, right_assoc   binding power and associativity of the infix form
    postfix      a postfix spelling the printer prefers (A.T for transpose)
    latex        LaTeX spelling for write-ups: an infix symbol (^ makes a superscript), a
                 function name (\\sqrt takes its argument in braces), or a postfix; "" means the
                 plain spelling, and \\operatorname{name} for a function
    spelled(labels) -> how a gate reads with its inputs' labels, for a spelling of its own: s[2]
  how it is taught
    role         the lecture's gate role, shown beside the gate ("(input)" is its input)
    kind         the lecture's gate kind where it has one: "distributor" (add), "switcher"
                 (mul: each input's local gradient is the other input), "router" (max)
    doc          one line for the reference
    local_text   the local partials, one per argument, in the language's own spelling with
                 `a` and `b` for the inputs: parseable by language/parser.py, and held equal
                 to `local` at the samples by a test (tests/test_ops.py), so --explain and the
                 grader's backward lines (`da = dout * (LOCAL)`) teach the rule that runs
    vjp_text     for a row that states a VJP: each input's downstream gradient in the
                 language's spelling with `dout` for the upstream gradient, for the plain case
                 (vectors and no axis; matrices for `@`: `dout @ b.T`, `a.T @ dout`); tested
                 against `vjp` the same way where the parser can read it
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from .lazy import MODULES, LazyRows, LazyTable, module_of, order_by

# Binding powers shared by the parser and the printer (Python's own precedence order).
BP_ADD = 10
BP_MUL = 20
BP_UNARY = 30
BP_POW = 40
BP_ATOM = 100

LEAKY_SLOPE = 0.01  # leaky_relu's default negative slope, as in PyTorch
_LN10 = math.log(10.0)
_LN2 = math.log(2.0)
ELU_ALPHA = 1.0  # elu's default alpha: with 1 the curve is C1 at 0, so elu has no kink


class LocalFromVJP:
    """The local partials of a row that states a VJP: on numbers (the only place a scalar
    rule runs for such a row) the VJP of an upstream gradient of 1 is the partials."""

    __slots__ = ("vjp",)

    def __init__(self, vjp: Callable[..., tuple]):
        self.vjp = vjp

    def __call__(self, m, *args_out) -> tuple:
        *args, out = args_out
        return tuple(self.vjp(m, 1.0, args, out))


@dataclass(frozen=True)
class Op:
    """One row of the registry; the fields are documented at the top of this module."""

    # what it is (and the rule's three main parts, positional in the rows below)
    name: str
    arity: int | None
    forward: Callable[..., Any] | None
    local: Callable[..., tuple] | None
    sympy: Callable[..., Any] | None
    min_arity: int = 1
    max_arity: int | None = None
    aliases: tuple[str, ...] = field(default=())
    function: bool | None = None
    # the rule
    vjp: Callable[..., tuple] | None = None
    shape: Callable[..., tuple] | None = None
    elementwise: bool = True
    branch: Callable[..., Any] | None = None
    kinks: Callable[..., Any] | None = None
    subgradient: str = ""
    elsewhere: tuple[tuple[str, str, str], ...] = ()
    domain: str = ""
    commutative: bool = False
    increasing: bool = False
    samples: tuple = ()
    matrix: str = ""
    # how it is spelled
    label: str = ""
    symbol: str | None = None
    bp: int = BP_ATOM
    right_assoc: bool = False
    postfix: str | None = None
    latex: str = ""
    spelled: Callable[[list[str]], str] | None = None
    # how it is taught
    role: str = ""
    kind: str = ""
    doc: str = ""
    local_text: tuple[str, ...] = ()
    vjp_text: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.vjp is None:
            if isinstance(self.local, LocalFromVJP):
                raise ValueError(f"{self.name}: a derived local rule with no VJP to derive it")
            return
        if self.local is not None and not isinstance(self.local, LocalFromVJP):
            raise ValueError(f"{self.name}: a row states its local partials or its VJP, "
                             "not both (the other is derived)")
        # Re-derived on every construction, so dataclasses.replace(row, vjp=...) stays whole.
        object.__setattr__(self, "local", LocalFromVJP(self.vjp))

    @property
    def is_leaf(self) -> bool:
        return self.forward is None

    @property
    def stated(self) -> str | None:
        """Which rule the row states: "local" or "vjp" (the other is derived); None for a leaf."""
        if self.vjp is not None:
            return "vjp"
        return "local" if self.local is not None else None

    def check_arity(self, n: int) -> str | None:
        """A sentence saying what is wrong with n arguments, or None."""
        if self.arity is None:
            if n < self.min_arity:
                plural = "argument" if self.min_arity == 1 else "arguments"
                return f"{self.name}() takes at least {self.min_arity} {plural}, got {n}"
            if self.max_arity is not None and n > self.max_arity:
                return (f"{self.name}() takes {self.min_arity} to {self.max_arity} arguments, "
                        f"got {n}")
        elif n != self.arity:
            plural = "argument" if self.arity == 1 else "arguments"
            return f"{self.name}() takes {self.arity} {plural}, got {n}"
        return None


# --- the math namespaces the rules are written against ------------------------------------


def _sigmoid(a: float) -> float:
    # Two branches so that exp never overflows for large |a|, and 1 - σ never cancels.
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    z = math.exp(a)
    return z / (1.0 + z)


def _softplus(a: float) -> float:
    return max(a, 0.0) + math.log1p(math.exp(-abs(a)))


def _sign(a: float) -> float:
    return 1.0 if a > 0 else (-1.0 if a < 0 else 0.0)


def _pow(a: float, b: float) -> float:
    # math.pow raises on a negative base with a fractional exponent instead of going complex,
    # and on overflow instead of returning inf.
    return math.pow(a, b)


def _where(cond: bool, a: float, b: float) -> float:
    return a if cond else b


SCALAR = SimpleNamespace(
    exp=math.exp, log=math.log, sqrt=math.sqrt, sin=math.sin, cos=math.cos, tan=math.tan,
    tanh=math.tanh, sinh=math.sinh, cosh=math.cosh, log10=math.log10, sigmoid=_sigmoid,
    softplus=_softplus, sign=_sign, pow=_pow, where=_where, abs=abs, max=max, min=min,
    log1p=math.log1p, expm1=math.expm1, log2=math.log2, exp2=lambda a: math.pow(2.0, a),
    arcsin=math.asin, arccos=math.acos, arctan=math.atan, arctan2=math.atan2,
    arcsinh=math.asinh, arccosh=math.acosh, arctanh=math.atanh, erf=math.erf, cbrt=math.cbrt,
    inf=math.inf, nan=math.nan, pi=math.pi, is_array=False,
)

_ARRAY_MATH: SimpleNamespace | None = None


def array_math() -> SimpleNamespace:
    """The numpy namespace, built on first use so scalar programs never import numpy."""
    global _ARRAY_MATH
    if _ARRAY_MATH is None:
        import numpy as np

        def pow_(a, b):
            a = np.asarray(a, dtype=float)
            b = np.asarray(b, dtype=float)
            if b.ndim == 0:
                if b != np.round(b) and np.any(a < 0):
                    raise ValueError("negative base with a fractional exponent")
                return a ** float(b)  # the operator's fast paths: x**2 squares, x**1 copies
            if np.any((a < 0) & (b != np.round(b))):
                raise ValueError("negative base with a fractional exponent")
            return np.power(a, b)

        def sigmoid(a):
            # As for numbers: exp of -|a| only, so nothing overflows and 1 - σ never cancels.
            z = np.exp(-np.abs(a))
            return np.where(np.asarray(a) >= 0, 1.0 / (1.0 + z), z / (1.0 + z))

        def erf(a):  # numpy has no erf: math's, entry by entry
            return np.vectorize(math.erf, otypes=[float])(a)

        _ARRAY_MATH = SimpleNamespace(
            exp=np.exp, log=np.log, sqrt=np.sqrt, sin=np.sin, cos=np.cos, tan=np.tan,
            tanh=np.tanh, sinh=np.sinh, cosh=np.cosh, log10=np.log10, sigmoid=sigmoid,
            softplus=lambda a: np.logaddexp(0.0, a), sign=np.sign, pow=pow_,
            where=np.where, abs=np.abs, log1p=np.log1p, expm1=np.expm1, log2=np.log2,
            exp2=np.exp2, arcsin=np.arcsin, arccos=np.arccos, arctan=np.arctan,
            arctan2=np.arctan2, arcsinh=np.arcsinh, arccosh=np.arccosh, arctanh=np.arctanh,
            erf=erf, cbrt=np.cbrt, inf=np.inf, nan=np.nan, pi=np.pi, is_array=True, np=np,
            scalar=float,  # a reduction to one number (the dual namespace keeps its tangent)
        )
    return _ARRAY_MATH


# --- rules shared by several rows, each stated once -------------------------------------


def pow_local(m, a, b, out):
    """d(a**b)/da = b * a**(b-1) and d(a**b)/db = a**b * log(a), each where it exists.

    At a == 0: b * 0**(b-1) is 0 for b == 0 (a**0 is flat in a), 1 for b == 1, 0 above 1 and
    infinite between 0 and 1; d/db is 0 there (a**b is flat in b) and does not exist below 0
    (nan). `where` evaluates both sides on numbers, so pow and log get 1 where their side is
    not taken. The dual numbers differentiate this very statement for Hessians."""
    zero = a == 0
    # b == 2 at zero: 2*a, which is 0 but keeps its slope 2 for the dual numbers (the
    # Hessian of (a + a)**2 at 0 is 8, not 0); other b > 1 are flat there to second order.
    at_zero = m.where(b == 1.0, 1.0, m.where(b == 2.0, 2.0 * a,
                                             m.where((b > 1.0) | (b == 0.0), 0.0, m.inf)))
    da = m.where(zero, at_zero, b * m.pow(m.where(zero, 1.0, a), b - 1.0))
    pos = a > 0
    db = m.where(pos, out * m.log(m.where(pos, a, 1.0)), m.where(zero, 0.0, m.nan))
    return da, db


def tie_shares(m, entries, out, count) -> list:
    """The tie rule of max and min, stated once: every entry equal to the result is a winner,
    and the winners share the upstream gradient evenly (as PyTorch's maximum does), so the
    parts still add up to the upstream gradient and the rule stays a subgradient. `entries`
    are the arguments of max(a, b, c), or one array whose entries compete along an axis;
    `count(hits)` adds up the winners over whichever they are."""
    hits = [m.where(e == out, 1.0, 0.0) for e in entries]
    n = count(hits)
    return [h / n for h in hits]


def _sum_hits(hits: list):
    total = hits[0]
    for h in hits[1:]:
        total = total + h
    return total


def tie_local(m, *args_out) -> tuple:
    """max / min of several arguments (numbers, or arrays entry by entry): the tie rule."""
    *args, out = args_out
    return tuple(tie_shares(m, args, out, _sum_hits))


# --- kinks --------------------------------------------------------------------------------


def _sign_branch(a):
    return 1 if a > 0 else (-1 if a < 0 else None)


def _elu_branch(a):
    # C1 at 0 with alpha = 1, so 0 is no kink; the pieces still differ in curvature, which is
    # what makes a finite-difference step across 0 inconclusive.
    return 1 if a >= 0 else -1


def _tanh_local(m, a, out):
    # sech(a)**2 = 4 e^(-2|a|) / (1 + e^(-2|a|))**2: 1 - tanh(a)**2 would cancel for large |a|
    # (all digits gone past |a| = 19), and cosh(a) would overflow past 710.
    t = m.exp(-2.0 * m.abs(a))
    return (4.0 * t / ((1.0 + t) * (1.0 + t)),)


# --- the rows -----------------------------------------------------------------------------

_S = ((0.5, 1.5), (-1.2, 0.7), (2.0, -3.0))  # generic binary sample points
_U = ((0.3,), (-1.1,), (2.4,))  # generic unary sample points

_UNIT = ((0.3,), (-0.6,), (0.9,))  # inside (-1, 1)


def _clip_forward(m, a, lo, hi):
    # numpy's clip, min(max(a, lo), hi): hi wherever lo > hi.
    t = m.where(a > lo, a, lo)
    return m.where(t < hi, t, hi)


def _clip_local(m, a, lo, hi, out):
    # Inside [lo, hi], ends included, the gradient goes to a (as PyTorch's clamp does); below
    # to lo, above to hi; where lo > hi the output is hi, so it all goes to hi.
    return (m.where((a >= lo) & (a <= hi), 1.0, 0.0), m.where((a < lo) & (lo <= hi), 1.0, 0.0),
            m.where((a > hi) | (lo > hi), 1.0, 0.0))


def _clip_branch(a, lo, hi):
    if a == lo or a == hi or lo == hi:  # lo == hi: the bounds tie for the gradient
        return None
    return 0 if a < lo else (2 if a > hi else 1)


def _atan2_branch(y, x):
    # atan2 jumps by 2 pi across the negative x axis, and is undefined at the origin.
    return None if y == 0 and x <= 0 else 1


def _sp_cbrt(sp, a):
    # The real cube root (sympy's cbrt is the principal, complex one for a < 0).
    return sp.Piecewise((a ** sp.Rational(1, 3), a >= 0), (-(-a) ** sp.Rational(1, 3), True))


# The elementwise vocabulary of numpy and PyTorch users; each row alone says its whole rule.
ELEMENTWISE: list[Op] = [
    Op("log1p", 1, lambda m, a: m.log1p(a), lambda m, a, out: (1.0 / (1.0 + a),),
       lambda sp, a: sp.log(1 + a), label="log1p",
       increasing=True, role="local gradient 1/(1 + input)",
       domain="an argument above -1", samples=((0.3,), (-0.5,), (2.4,)),
       doc="log(1 + a), exact for small a", local_text=("1/(1 + a)",)),
    Op("expm1", 1, lambda m, a: m.expm1(a), lambda m, a, out: (m.exp(a),),
       lambda sp, a: sp.exp(a) - 1, label="expm1",
       increasing=True, role="local gradient exp(input)",
       domain="an argument below about 709, past which float64 overflows", samples=_U,
       doc="e ** a - 1, exact for small a", local_text=("exp(a)",)),
    Op("log2", 1, lambda m, a: m.log2(a), lambda m, a, out: (1.0 / (a * _LN2),),
       lambda sp, a: sp.log(a, 2), label="log2",
       increasing=True, role="local gradient 1/(ln(2) (input))",
       domain="a positive argument", samples=((0.3,), (1.7,), (5.0,)),
       doc="base-2 logarithm", local_text=("1/(a*log(2))",)),
    Op("exp2", 1, lambda m, a: m.exp2(a), lambda m, a, out: (out * _LN2,),
       lambda sp, a: 2 ** a, label="exp2", increasing=True, role="local gradient ln(2) 2^(input)",
       domain="an argument below 1024, past which float64 overflows", samples=_U,
       doc="2 ** a", local_text=("exp2(a)*log(2)",)),
    Op("arcsin", 1, lambda m, a: m.arcsin(a),
       lambda m, a, out: (1.0 / m.sqrt((1.0 - a) * (1.0 + a)),),
       lambda sp, a: sp.asin(a), label="arcsin",
       increasing=True, role="local gradient 1/sqrt(1 - (input)^2)",
       domain="an argument in [-1, 1], and inside (-1, 1) for a gradient", samples=_UNIT,
       aliases=("asin",), doc="inverse sine (also asin)", local_text=("1/sqrt(1 - a**2)",)),
    Op("arccos", 1, lambda m, a: m.arccos(a),
       lambda m, a, out: (-1.0 / m.sqrt((1.0 - a) * (1.0 + a)),),
       lambda sp, a: sp.acos(a), label="arccos",
       role="local gradient -1/sqrt(1 - (input)^2)",
       domain="an argument in [-1, 1], and inside (-1, 1) for a gradient", samples=_UNIT,
       aliases=("acos",), doc="inverse cosine (also acos)",
       local_text=("-1/sqrt(1 - a**2)",)),
    Op("arctan", 1, lambda m, a: m.arctan(a), lambda m, a, out: (1.0 / (1.0 + a * a),),
       lambda sp, a: sp.atan(a), label="arctan",
       increasing=True, role="local gradient 1/(1 + (input)^2)",
       samples=_U, aliases=("atan",), doc="inverse tangent (also atan)",
       local_text=("1/(1 + a**2)",)),
    Op("arctan2", 2, lambda m, a, b: m.arctan2(a, b),
       lambda m, a, b, out: (b / (a * a + b * b), -a / (a * a + b * b)),
       lambda sp, a, b: sp.atan2(a, b), label="arctan2",
       role="the angle of the point (second input, first input): local gradients "
            "second/(first^2 + second^2) and -first/(first^2 + second^2)",
       domain="a point other than the origin", branch=_atan2_branch,
       subgradient="arctan2 is discontinuous across the negative x axis",
       samples=_S, aliases=("atan2",), doc="arctan2(y, x): the angle of the point (x, y) "
       "(also atan2)", local_text=("b/(a**2 + b**2)", "-a/(a**2 + b**2)")),
    Op("arcsinh", 1, lambda m, a: m.arcsinh(a),
       lambda m, a, out: (1.0 / m.sqrt(a * a + 1.0),), lambda sp, a: sp.asinh(a),
       label="arcsinh", increasing=True, role="local gradient 1/sqrt((input)^2 + 1)", samples=_U,
       aliases=("asinh",), doc="inverse hyperbolic sine (also asinh)",
       local_text=("1/sqrt(a**2 + 1)",)),
    Op("arccosh", 1, lambda m, a: m.arccosh(a),
       lambda m, a, out: (1.0 / m.sqrt((a - 1.0) * (a + 1.0)),), lambda sp, a: sp.acosh(a),
       label="arccosh", increasing=True, role="local gradient 1/sqrt((input)^2 - 1)",
       domain="an argument of at least 1, and above 1 for a gradient",
       samples=((3.0,), (1.3,), (7.5,)), aliases=("acosh",),
       doc="inverse hyperbolic cosine (also acosh)", local_text=("1/sqrt(a**2 - 1)",)),
    Op("arctanh", 1, lambda m, a: m.arctanh(a),
       lambda m, a, out: (1.0 / ((1.0 - a) * (1.0 + a)),), lambda sp, a: sp.atanh(a),
       label="arctanh", increasing=True, role="local gradient 1/(1 - (input)^2)",
       domain="an argument inside (-1, 1)", samples=_UNIT, aliases=("atanh",),
       doc="inverse hyperbolic tangent (also atanh)", local_text=("1/(1 - a**2)",)),
    Op("erf", 1, lambda m, a: m.erf(a),
       lambda m, a, out: (2.0 / math.sqrt(math.pi) * m.exp(-(a * a)),),
       lambda sp, a: sp.erf(a), label="erf", increasing=True,
       role="local gradient 2/sqrt(pi) exp(-(input)^2)", samples=_U,
       doc="the error function", local_text=("2/sqrt(pi)*exp(-a**2)",)),
    Op("sign", 1, lambda m, a: m.sign(a), lambda m, a, out: (0.0 * a,),
       lambda sp, a: sp.sign(a), label="sign", role="flat: local gradient 0 away from 0",
       branch=_sign_branch, subgradient="sign'(0) = 0", samples=_U,
       doc="-1, 0 or 1, the sign of a", local_text=("0",)),
    Op("square", 1, lambda m, a: a * a, lambda m, a, out: (2.0 * a,),
       lambda sp, a: a ** 2, label="square", role="local gradient 2 (input)", samples=_U,
       doc="a * a", local_text=("2*a",)),
    Op("cbrt", 1, lambda m, a: m.cbrt(a), lambda m, a, out: (1.0 / (3.0 * out * out),),
       _sp_cbrt, label="cbrt", increasing=True, role="local gradient 1/(3 cbrt(input)^2)",
       domain="a non-zero argument for a gradient", samples=_U,
       doc="the real cube root", local_text=("1/(3*cbrt(a)**2)",)),
    Op("reciprocal", 1, lambda m, a: 1.0 / a, lambda m, a, out: (-(out * out),),
       lambda sp, a: 1 / a, label="reciprocal", role="local gradient -1/(input)^2",
       domain="a non-zero argument", samples=_U, doc="1 / a", local_text=("-1/a**2",)),
    Op("clip", 3, _clip_forward, _clip_local,
       lambda sp, a, lo, hi: sp.Min(sp.Max(a, lo), hi), label="clip",
       role="router: the gradient goes to the input inside [lo, hi], else to the bound it "
            "was clipped to",
       kind="router", branch=_clip_branch,
       subgradient="at a bound the gradient goes to the input",
       # at either bound, for the input: torch.clamp's mask is lo <= a <= hi; jnp.clip is
       # minimum(hi, maximum(lo, a)), whose tie splits; sympy's Max/Min give Heaviside(0)
       elsewhere=(("PyTorch", "torch.clamp", "1"), ("JAX", "jnp.clip", "0.5"),
                  ("sympy", "Min(Max(a, lo), hi): Heaviside(0)", "1/2")),
       samples=((0.5, -1.0, 1.0), (-2.0, -1.0, 1.0), (1.5, -1.0, 1.0)),
       doc="clip(a, lo, hi): a held inside [lo, hi], numpy's min(max(a, lo), hi)",
       # a (b <= a)*(a <= c) is 1 where both hold; the upper bound takes the gradient where
       # max(a, lo), the value clipped from below, is above it
       local_text=("where((b <= a)*(a <= c), 1, 0)", "where((a < b)*(b <= c), 1, 0)",
                   "where(max(a, b) > c, 1, 0)")),
]

ROWS: list[Op] = LazyRows([
    Op("var", 0, None, None, None, label="var", role="input", min_arity=0,
       doc="a variable bound on the command line"),
    Op("const", 0, None, None, None, label="const", role="constant", min_arity=0,
       doc="a number or a named constant (pi, e)"),
    Op("add", 2, lambda m, a, b: a + b, lambda m, a, b, out: (1.0, 1.0),
       lambda sp, a, b: a + b, label="+", symbol="+", bp=BP_ADD,
       role="distributor: passes the upstream gradient unchanged to every input",
       samples=_S, doc="a + b", local_text=("1", "1"), commutative=True,
       kind="distributor", matrix="add"),
    Op("sub", 2, lambda m, a, b: a - b, lambda m, a, b, out: (1.0, -1.0),
       lambda sp, a, b: a - b, label="-", symbol="-", bp=BP_ADD,
       role="distributor: passes the upstream gradient on, negated for the second input",
       samples=_S, aliases=("−",), doc="a - b (also a − b, U+2212)",
       local_text=("1", "-1"), matrix="sub"),
    Op("mul", 2, lambda m, a, b: a * b, lambda m, a, b, out: (b, a),
       lambda sp, a, b: a * b, label="*", symbol="*", bp=BP_MUL,
       role="switcher: each input's local gradient is the other input's value",
       samples=_S, aliases=("×", "·", "⋅", "∙"), doc="a * b (also a × b, a · b)",
       local_text=("b", "a"), commutative=True, latex=r"\cdot", kind="switcher",
       matrix="mul"),
    Op("div", 2, lambda m, a, b: a / b, lambda m, a, b, out: (1.0 / b, -out / b),
       lambda sp, a, b: a / b, label="/", symbol="/", bp=BP_MUL,
       role="scales by 1/divisor; the divisor gets -quotient/divisor", domain="a non-zero divisor",
       samples=_S, aliases=("÷",), doc="a / b (also a ÷ b)",
       local_text=("1/b", "-a/b**2"), matrix="div"),
    Op("pow", 2, lambda m, a, b: m.pow(a, b),
       pow_local,
       lambda sp, a, b: a ** b, label="**", symbol="**", bp=BP_POW, right_assoc=True,
       role="power: the base gets exponent * base^(exponent - 1)",
       domain="a positive base for a fractional exponent, a non-zero base for a negative one",
       samples=((1.5, 2.0), (0.7, -1.3), (2.0, 0.5)), aliases=("^",), function=True,
       doc="a ** b (also a ^ b and pow(a, b))",
       local_text=("b*a**(b-1)", "a**b*log(a)"), latex="^", matrix="pow"),
    Op("neg", 1, lambda m, a: -a, lambda m, a, out: (-1.0,), lambda sp, a: -a,
       label="-", symbol="-", bp=BP_UNARY, role="negates the upstream gradient",
       samples=_U, doc="-a", local_text=("-1",), matrix="neg"),
    Op("exp", 1, lambda m, a: m.exp(a), lambda m, a, out: (out,), lambda sp, a: sp.exp(a),
       label="exp", increasing=True, role="local gradient is its own output", samples=_U,
       domain="an argument below about 709, past which float64 overflows",
       doc="e ** a", local_text=("exp(a)",), latex=r"\exp"),
    Op("log", 1, lambda m, a: m.log(a), lambda m, a, out: (1.0 / a,), lambda sp, a: sp.log(a),
       label="log", increasing=True, role="local gradient 1/(input)", domain="a positive argument",
       samples=((0.3,), (1.7,), (5.0,)), aliases=("ln",),
       doc="natural logarithm (also ln)", local_text=("1/a",), latex=r"\log"),
    Op("sqrt", 1, lambda m, a: m.sqrt(a), lambda m, a, out: (0.5 / out,),
       lambda sp, a: sp.sqrt(a), label="sqrt",
       increasing=True, role="local gradient 1/(2 sqrt(input))",
       domain="a non-negative argument, and a positive one for a gradient",
       samples=((0.3,), (1.7,), (5.0,)), doc="square root (also √a)",
       local_text=("1/(2*sqrt(a))",), latex=r"\sqrt"),
    Op("sin", 1, lambda m, a: m.sin(a), lambda m, a, out: (m.cos(a),), lambda sp, a: sp.sin(a),
       label="sin", role="local gradient cos(input)", samples=_U, doc="sine",
       local_text=("cos(a)",),
       latex=r"\sin"),
    Op("cos", 1, lambda m, a: m.cos(a), lambda m, a, out: (-m.sin(a),), lambda sp, a: sp.cos(a),
       label="cos", role="local gradient -sin(input)", samples=_U, doc="cosine",
       local_text=("-sin(a)",), latex=r"\cos"),
    Op("tan", 1, lambda m, a: m.tan(a), lambda m, a, out: (1.0 + out * out,),
       lambda sp, a: sp.tan(a), label="tan", role="local gradient 1 + tan(input)^2",
       samples=_U, doc="tangent", local_text=("1 + tan(a)**2",), latex=r"\tan"),
    Op("tanh", 1, lambda m, a: m.tanh(a), _tanh_local,
       lambda sp, a: sp.tanh(a), label="tanh", increasing=True,
       role="local gradient 1/cosh(input)^2, which is 1 - tanh(input)^2",
       samples=_U, doc="hyperbolic tangent",
       local_text=("1/cosh(a)**2",), latex=r"\tanh"),
    Op("sinh", 1, lambda m, a: m.sinh(a), lambda m, a, out: (m.cosh(a),),
       lambda sp, a: sp.sinh(a), label="sinh",
       increasing=True, role="local gradient cosh(input)", samples=_U,
       domain="an argument below about 710, past which float64 overflows",
       doc="hyperbolic sine", local_text=("cosh(a)",), latex=r"\sinh"),
    Op("cosh", 1, lambda m, a: m.cosh(a), lambda m, a, out: (m.sinh(a),),
       lambda sp, a: sp.cosh(a), label="cosh", role="local gradient sinh(input)", samples=_U,
       domain="an argument below about 710 in size, past which float64 overflows",
       doc="hyperbolic cosine", local_text=("sinh(a)",), latex=r"\cosh"),
    Op("log10", 1, lambda m, a: m.log10(a), lambda m, a, out: (1.0 / (a * _LN10),),
       lambda sp, a: sp.log(a, 10), label="log10",
       increasing=True, role="local gradient 1/(ln(10) (input))",
       domain="a positive argument", samples=((0.3,), (1.7,), (5.0,)),
       doc="base-10 logarithm", local_text=("1/(a*ln(10))",)),
    Op("sigmoid", 1, lambda m, a: m.sigmoid(a),
       lambda m, a, out: (m.sigmoid(a) * m.sigmoid(-a),),
       lambda sp, a: 1 / (1 + sp.exp(-a)), label="σ", increasing=True,
       role="sigmoid gate: local gradient (1 - σ) σ, σ being its output", samples=_U,
       aliases=("σ",),
       doc="1 / (1 + e ** -a) (also σ(a))", local_text=("σ(a)*σ(-a)",),
       latex=r"\sigma"),
    Op("relu", 1, lambda m, a: m.where(a > 0, a, 0.0),
       lambda m, a, out: (m.where(a > 0, 1.0, 0.0),), lambda sp, a: sp.Max(0, a),
       label="relu",
       increasing=True, role="router: passes the gradient only where its input is positive",
       branch=_sign_branch, subgradient="relu'(0) = 0", samples=_U,
       elsewhere=(("PyTorch", "torch.relu", "0"), ("PyTorch", "torch.clamp_min(x, 0)", "1"),
                  ("JAX", "jax.nn.relu", "0"), ("JAX", "jnp.maximum(x, 0)", "0.5"),
                  ("micrograd", "Value.relu", "0"), ("sympy", "Max(0, x): Heaviside(0)", "1/2")),
       doc="max(0, a)", local_text=("where(a > 0, 1, 0)",)),
    Op("abs", 1, lambda m, a: m.abs(a), lambda m, a, out: (m.sign(a),), lambda sp, a: sp.Abs(a),
       label="abs", role="local gradient sign(input)", branch=_sign_branch,
       subgradient="abs'(0) = 0", samples=_U,
       elsewhere=(("PyTorch", "torch.abs", "0"), ("JAX", "jnp.abs", "1"),
                  ("sympy", "Abs: sign(0)", "0")), doc="absolute value (also |a|)",
       local_text=("sign(a)",)),
    Op("leaky_relu", 1, lambda m, a: m.where(a > 0, a, LEAKY_SLOPE * a),
       lambda m, a, out: (m.where(a > 0, 1.0, LEAKY_SLOPE),),
       lambda sp, a: sp.Piecewise((a, a > 0), (sp.Rational(1, 100) * a, True)),
       label="leaky_relu", increasing=True, role="router with a leak: slope 1 above 0, 0.01 below",
       branch=_sign_branch, subgradient="leaky_relu'(0) = 0.01", samples=_U,
       elsewhere=(("PyTorch", "F.leaky_relu", "0.01"), ("JAX", "jax.nn.leaky_relu", "1"),
                  ("sympy", "Piecewise", "1/100")),
       doc="a if a > 0 else 0.01 * a", local_text=("where(a > 0, 1, 0.01)",)),
    Op("elu", 1, lambda m, a: m.where(a > 0, a, m.expm1(m.where(a > 0, 0.0, a))),
       lambda m, a, out: (m.where(a > 0, 1.0, m.exp(m.where(a > 0, 0.0, a))),),
       lambda sp, a: sp.Piecewise((a, a > 0), (sp.exp(a) - 1, True)),
       label="elu",
       increasing=True, role="slope 1 above 0, exp(input) below", branch=_elu_branch, samples=_U,
       doc="a if a > 0 else e ** a - 1 (alpha = 1)", local_text=("where(a > 0, 1, exp(a))",)),
    Op("softplus", 1, lambda m, a: m.softplus(a), lambda m, a, out: (m.sigmoid(a),),
       lambda sp, a: sp.log(1 + sp.exp(a)), label="softplus", increasing=True,
       role="smooth relu: local gradient sigmoid(input)", samples=_U,
       doc="log(1 + e ** a)", local_text=("σ(a)",)),
    *ELEMENTWISE,
])

# The tables by name. The rows of the array vocabulary live in modules loaded on first use
# (ops/lazy.py): their names are keys from the start, their rows load when read.
OPS: dict[str, Op] = LazyTable(module_of("rows"))
OPS.update((op.name, op) for op in list.__iter__(ROWS))

VAR = OPS["var"]
CONST = OPS["const"]

# Binary infix spellings (the parser and the printer read these).
INFIX: dict[str, Op] = LazyTable(module_of("infix"))
for _op in list.__iter__(ROWS):
    if _op.symbol and _op.arity == 2:
        for _spelling in (_op.symbol, *_op.aliases):
            if not _spelling.isidentifier():  # pow's alias `^` is infix; a name is a call
                INFIX[_spelling] = _op
# Prefix spellings; the page's minus sign (U+2212) and radical sign are the same rows.
PREFIX: dict[str, Op] = {"-": OPS["neg"], "−": OPS["neg"], "√": OPS["sqrt"]}

# Callable spellings: every op that is not a leaf, plus the binary infix ones that read as
# functions only under their own name (pow(a, b)); add(a, b) and friends are not offered.
FUNCTIONS: dict[str, Op] = LazyTable(module_of("functions"))
FUNCTIONS.update(
    (spelling, op) for op in list.__iter__(ROWS)
    if not op.is_leaf and (op.symbol is None if op.function is None else op.function)
    for spelling in (op.name, *(a for a in op.aliases if a.isidentifier())))

# Names that are functions only where they are called: `var = sum(xc**2, 0)/4` and
# `std = sqrt(var)` name values as they always did, and var(x) still calls. (Names added with
# numpy's vocabulary, which programs written before it may use for their own values.)
SOFT_NAMES = {"prod", "variance", "var", "std", "argmax", "argmin", "logsumexp", "reshape",
              "stack", "concatenate", "ones_like", "zeros_like", "arange", "one_hot", "where"}

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}


def role_for(role: str, input_text: str) -> str:
    """A row's role for one gate of a program: "(input)" in the role is the gate's input, so
    `cos(input)` reads `cos(x)` for sin(x). Roles name no other letters: every symbol in one is
    defined there (p = softmax(input); σ being its output)."""
    return role.replace("(input)", f"({input_text})")


# Where each row is listed: its module's place in lazy.MODULES, then the order of
# registration; the registry's own rows come first (in the order above), rows a test adds last.
_PLACE: dict[str, tuple[int, int]] = {op.name: (0, k)
                                      for k, op in enumerate(list.__iter__(ROWS))}
_RANK = {f"{__package__}.{module}": k + 1 for k, module in enumerate(MODULES)}


def _place(op: Op) -> tuple[int, int]:
    return _PLACE.get(op.name, (len(_RANK) + 1, 0))


order_by(_place)


def register(op: Op, *, function: bool = True) -> Op:
    """Add a row (the row modules call it as they load); returns it."""
    caller = sys._getframe(1).f_globals.get("__name__", "")
    _PLACE[op.name] = (_RANK.get(caller, len(_RANK) + 1), len(_PLACE))
    list.append(ROWS, op)
    OPS[op.name] = op
    if op.symbol and op.arity == 2:
        for spelling in (op.symbol, *op.aliases):
            if not spelling.isidentifier():
                INFIX[spelling] = op
    if function:
        FUNCTIONS[op.name] = op
        for alias in op.aliases:
            if alias.isidentifier():
                FUNCTIONS[alias] = op
    return op


def known_functions(limit: int = 200) -> str:
    """The callable names for a message, within about `limit` characters: the lecture's
    elementwise functions first, then numpy's vocabulary and the array rows, and a count
    of any left out. Aliases are not listed: each row once, by its canonical name."""
    lecture = sorted({op.name for op in FUNCTIONS.values()
                      if op.elementwise and op not in ELEMENTWISE})
    rest = sorted({op.name for op in FUNCTIONS.values()} - set(lecture))
    names = lecture + rest
    shown: list[str] = []
    used = 0
    for k, name in enumerate(names):
        more = f", and {len(names) - k} more (see docs/reference.md)"
        if used + len(name) + 2 + len(more) > limit:
            return ", ".join(shown) + more
        shown.append(name)
        used += len(name) + 2
    return ", ".join(shown)

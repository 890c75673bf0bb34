"""The op registry: the one place that knows each operation.

Every row says how an op is spelled and printed, how tightly it binds, how it computes forward,
its local partial derivatives (in argument order), its sympy translation, where it is not
differentiable, and its gate role in the lecture's words. The parser, the forward and backward
passes, the checker, the printers and the op tests all read this table; adding an op is one row
here plus its sample points.

Each rule is written once, against a small math namespace `m` (see `SCALAR` and
`array_math()`): the same row drives Python floats for scalar programs and numpy arrays for array
programs, and any other namespace with the same names (the dual numbers that differentiate the
backward pass again, for Hessians) gets its rules from these rows rather than from a second
table.

Row conventions:
  forward(m, *args) -> value
  local(m, *args, out) -> tuple of d(out)/d(arg_k), elementwise (the diagonal of the Jacobian).
    A partial that does not exist at the point (x**2's d/d(2) at x < 0) is nan, never an
    exception: the backward pass only uses the partials of inputs a variable flows into.
  vjp(m, upstream, args, out) -> tuple of downstream gradients, for ops that are not elementwise
  shape(shapes, consts) -> output shape from the inputs' shapes (and constant inputs' values,
    e.g. an axis); rows without one broadcast like numpy (see shapes.py)
  sympy(sp, *args) -> sympy expression built from the inputs' sympy expressions
  branch(*args) -> which smooth piece the point lies in; None exactly on a kink
  postfix, latex -> the printer's spellings (language/printer.py): A.T, and LaTeX for write-ups
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

# Binding powers shared by the parser and the printer (Python's own precedence order).
BP_ADD = 10
BP_MUL = 20
BP_UNARY = 30
BP_POW = 40
BP_ATOM = 100

LEAKY_SLOPE = 0.01
_LN10 = math.log(10.0)  # leaky_relu's default negative slope, as in PyTorch
ELU_ALPHA = 1.0  # elu's default alpha: with 1 the curve is C1 at 0, so elu has no kink


@dataclass(frozen=True)
class Op:
    """One row of the registry."""

    name: str  # canonical name: the `op` field in JSON, the function spelling
    arity: int | None  # None: variadic, at least `min_arity` arguments
    forward: Callable[..., Any] | None
    local: Callable[..., tuple] | None
    sympy: Callable[..., Any] | None
    label: str  # how the op is drawn in a node: '+', '*', 'exp', ...
    role: str = ""  # the lecture's gate role
    symbol: str | None = None  # infix or prefix spelling, for parser and printer
    bp: int = BP_ATOM  # binding power of the infix form
    right_assoc: bool = False
    branch: Callable[..., Any] | None = None
    subgradient: str = ""  # the convention used exactly on a kink, said in warnings
    # What other frameworks return there for d(out)/d(input): (framework, function, local)
    # triples, the local a number ("1/2" as sympy prints it; each of a tie gets it), set
    # only on kinked rows (eval --frameworks shows them beside `subgradient`).
    elsewhere: tuple[tuple[str, str, str], ...] = ()
    domain: str = ""  # what the op needs of its inputs, said in domain errors
    samples: tuple = ()  # argument tuples where the rules are tested; smooth points
    min_arity: int = 1
    max_arity: int | None = None  # for variadic ops with a ceiling (sum(x) or sum(x, axis))
    vjp: Callable[..., tuple] | None = None
    shape: Callable[..., tuple] | None = None  # shape rule for array programs
    elementwise: bool = True
    doc: str = ""
    aliases: tuple[str, ...] = field(default=())
    # Callable as name(args)? None: exactly when it has no infix spelling (pow is both).
    function: bool | None = None
    # Array rows whose kinks are not entry by entry (a tie for the largest entry of a whole
    # array): (args, out) -> (outputs on a kink, outputs), or None to apply `branch` to each
    # entry instead.
    kinks: Callable[..., Any] | None = None
    # The local partials as the lecture writes them, in argument order, with `a` and `b` for
    # the inputs (trace --explain puts the inputs' names in); empty for a VJP-only row.
    local_text: tuple[str, ...] = ()
    commutative: bool = False  # a + b == b + a: a folded constant reads `+1` on either side
    # How a gate reads with its inputs' labels where it has a spelling of its own: s[2].
    spelled: Callable[[list[str]], str] | None = None
    postfix: str | None = None  # a postfix spelling the printer prefers (A.T for transpose)
    # LaTeX spelling for write-ups: an infix symbol (^ makes a superscript), a function name
    # (\sqrt takes its argument in braces), or a postfix; "" means the plain spelling, and
    # \operatorname{name} for a function.
    latex: str = ""

    @property
    def is_leaf(self) -> bool:
        return self.forward is None

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
    # Two branches so that exp never overflows for large |a|.
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


def _pow_da(a: float, b: float) -> float:
    """d(a**b)/da = b * a**(b-1), and 0 for b == 0 (a**0 is constant, even at a == 0); nan or
    inf where it does not exist (0 ** -0.5), so that asking for it is what fails."""
    if b == 0:
        return 0.0
    try:
        return b * math.pow(a, b - 1.0)
    except ValueError:  # a negative base with a fractional exponent, or 0 to a negative power
        return math.nan if a < 0 else math.inf
    except OverflowError:
        return math.inf


def _pow_db(a: float, out: float) -> float:
    """d(a**b)/db = a**b * log(a); defined only for a > 0 (0 for a == 0, where a**b is flat)."""
    if a > 0:
        return out * math.log(a)
    if a == 0:
        return 0.0
    return math.nan


def _relu(a: float) -> float:
    return a if a > 0 else 0.0


def _where(cond: bool, a: float, b: float) -> float:
    return a if cond else b


SCALAR = SimpleNamespace(
    exp=math.exp, log=math.log, sqrt=math.sqrt, sin=math.sin, cos=math.cos, tan=math.tan,
    tanh=math.tanh, sinh=math.sinh, cosh=math.cosh, log10=math.log10, sigmoid=_sigmoid,
    softplus=_softplus, sign=_sign, pow=_pow, pow_db=_pow_db,
    pow_da=_pow_da, where=_where, abs=abs, max=max, min=min, is_array=False,
)

_ARRAY_MATH: SimpleNamespace | None = None


def array_math() -> SimpleNamespace:
    """The numpy namespace, built on first use so scalar programs never import numpy."""
    global _ARRAY_MATH
    if _ARRAY_MATH is None:
        import numpy as np

        def pow_db(a, out):
            # out * log(a): nan where a < 0, and 0 where a == 0 (a**b is flat in b there).
            with np.errstate(divide="ignore", invalid="ignore"):
                r = out * np.log(a)
            zero = np.equal(a, 0)
            return np.where(zero, 0.0, r) if np.any(zero) else r

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

        def pow_da(a, b):
            # b * a**(b-1), and 0 wherever b == 0 (where a**(b-1) may not even exist); nan or
            # inf where the partial does not exist, as for numbers.
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                r = b * np.power(np.asarray(a, dtype=float), np.asarray(b, dtype=float) - 1.0)
            zero = np.equal(b, 0)
            return np.where(zero, 0.0, r) if np.any(zero) else r

        _ARRAY_MATH = SimpleNamespace(
            exp=np.exp, log=np.log, sqrt=np.sqrt, sin=np.sin, cos=np.cos, tan=np.tan,
            tanh=np.tanh, sinh=np.sinh, cosh=np.cosh, log10=np.log10,
            sigmoid=lambda a: 0.5 * (1.0 + np.tanh(0.5 * a)),
            softplus=lambda a: np.logaddexp(0.0, a), sign=np.sign, pow=pow_, pow_db=pow_db,
            pow_da=pow_da, where=np.where, abs=np.abs, is_array=True, np=np,
            scalar=float,  # a reduction to one number (the dual namespace keeps its tangent)
        )
    return _ARRAY_MATH


# --- kinks --------------------------------------------------------------------------------


def _sign_branch(a):
    return 1 if a > 0 else (-1 if a < 0 else None)


def _elu_branch(a):
    # C1 at 0 with alpha = 1, so 0 is no kink; the pieces still differ in curvature, which is
    # what makes a finite-difference step across 0 inconclusive.
    return 1 if a >= 0 else -1


# --- the rows -----------------------------------------------------------------------------

_S = ((0.5, 1.5), (-1.2, 0.7), (2.0, -3.0))  # generic binary sample points
_U = ((0.3,), (-1.1,), (2.4,))  # generic unary sample points

ROWS: list[Op] = [
    Op("var", 0, None, None, None, label="var", role="input", min_arity=0,
       doc="a variable bound on the command line"),
    Op("const", 0, None, None, None, label="const", role="constant", min_arity=0,
       doc="a number or a named constant (pi, e)"),
    Op("add", 2, lambda m, a, b: a + b, lambda m, a, b, out: (1.0, 1.0),
       lambda sp, a, b: a + b, label="+", symbol="+", bp=BP_ADD,
       role="distributor: passes the upstream gradient unchanged to every input",
       samples=_S, doc="a + b", local_text=("1", "1"), commutative=True),
    Op("sub", 2, lambda m, a, b: a - b, lambda m, a, b, out: (1.0, -1.0),
       lambda sp, a, b: a - b, label="-", symbol="-", bp=BP_ADD,
       role="distributor: passes the upstream gradient on, negated for the second input",
       samples=_S, aliases=("−",), doc="a - b (also a − b, U+2212)",
       local_text=("1", "-1")),
    Op("mul", 2, lambda m, a, b: a * b, lambda m, a, b, out: (b, a),
       lambda sp, a, b: a * b, label="*", symbol="*", bp=BP_MUL,
       role="switcher: each input's local gradient is the other input's value",
       samples=_S, aliases=("×", "·", "⋅", "∙"), doc="a * b (also a × b, a · b)",
       local_text=("b", "a"), commutative=True, latex=r"\cdot"),
    Op("div", 2, lambda m, a, b: a / b, lambda m, a, b, out: (1.0 / b, -out / b),
       lambda sp, a, b: a / b, label="/", symbol="/", bp=BP_MUL,
       role="scales by 1/divisor; the divisor gets -quotient/divisor", domain="a non-zero divisor",
       samples=_S, aliases=("÷",), doc="a / b (also a ÷ b)",
       local_text=("1/b", "-a/b**2")),
    Op("pow", 2, lambda m, a, b: m.pow(a, b),
       lambda m, a, b, out: (m.pow_da(a, b), m.pow_db(a, out)),
       lambda sp, a, b: a ** b, label="**", symbol="**", bp=BP_POW, right_assoc=True,
       role="power: the base gets exponent * base^(exponent - 1)",
       domain="a positive base for a fractional exponent, a non-zero base for a negative one",
       samples=((1.5, 2.0), (0.7, -1.3), (2.0, 0.5)), aliases=("^",), function=True,
       doc="a ** b (also a ^ b and pow(a, b))",
       local_text=("b*a**(b-1)", "a**b*log(a)"), latex="^"),
    Op("neg", 1, lambda m, a: -a, lambda m, a, out: (-1.0,), lambda sp, a: -a,
       label="-", symbol="-", bp=BP_UNARY, role="negates the upstream gradient",
       samples=_U, doc="-a", local_text=("-1",)),
    Op("exp", 1, lambda m, a: m.exp(a), lambda m, a, out: (out,), lambda sp, a: sp.exp(a),
       label="exp", role="local gradient is its own output", samples=_U,
       domain="an argument below about 709, past which float64 overflows",
       doc="e ** a", local_text=("exp(a)",), latex=r"\exp"),
    Op("log", 1, lambda m, a: m.log(a), lambda m, a, out: (1.0 / a,), lambda sp, a: sp.log(a),
       label="log", role="local gradient 1/(input)", domain="a positive argument",
       samples=((0.3,), (1.7,), (5.0,)), aliases=("ln",),
       doc="natural logarithm (also ln)", local_text=("1/a",), latex=r"\log"),
    Op("sqrt", 1, lambda m, a: m.sqrt(a), lambda m, a, out: (0.5 / out,),
       lambda sp, a: sp.sqrt(a), label="sqrt", role="local gradient 1/(2 sqrt(input))",
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
    Op("tanh", 1, lambda m, a: m.tanh(a), lambda m, a, out: (1.0 - out * out,),
       lambda sp, a: sp.tanh(a), label="tanh", role="local gradient 1 - tanh(input)^2",
       samples=_U, doc="hyperbolic tangent",
       local_text=("1 - tanh(a)**2",), latex=r"\tanh"),
    Op("sinh", 1, lambda m, a: m.sinh(a), lambda m, a, out: (m.cosh(a),),
       lambda sp, a: sp.sinh(a), label="sinh", role="local gradient cosh(input)", samples=_U,
       domain="an argument below about 710, past which float64 overflows",
       doc="hyperbolic sine", local_text=("cosh(a)",), latex=r"\sinh"),
    Op("cosh", 1, lambda m, a: m.cosh(a), lambda m, a, out: (m.sinh(a),),
       lambda sp, a: sp.cosh(a), label="cosh", role="local gradient sinh(input)", samples=_U,
       domain="an argument below about 710 in size, past which float64 overflows",
       doc="hyperbolic cosine", local_text=("sinh(a)",), latex=r"\cosh"),
    Op("log10", 1, lambda m, a: m.log10(a), lambda m, a, out: (1.0 / (a * _LN10),),
       lambda sp, a: sp.log(a, 10), label="log10", role="local gradient 1/(ln(10) (input))",
       domain="a positive argument", samples=((0.3,), (1.7,), (5.0,)),
       doc="base-10 logarithm", local_text=("1/(a*ln(10))",)),
    Op("sigmoid", 1, lambda m, a: m.sigmoid(a), lambda m, a, out: (out * (1.0 - out),),
       lambda sp, a: 1 / (1 + sp.exp(-a)), label="σ",
       role="sigmoid gate: local gradient (1 - σ) σ, σ being its output", samples=_U,
       aliases=("σ",),
       doc="1 / (1 + e ** -a) (also σ(a))", local_text=("σ(a)*(1 - σ(a))",),
       latex=r"\sigma"),
    Op("relu", 1, lambda m, a: m.where(a > 0, a, 0.0),
       lambda m, a, out: (m.where(a > 0, 1.0, 0.0),), lambda sp, a: sp.Max(0, a),
       label="relu", role="router: passes the gradient only where its input is positive",
       branch=_sign_branch, subgradient="relu'(0) = 0", samples=_U,
       elsewhere=(("PyTorch", "torch.relu", "0"), ("PyTorch", "torch.clamp_min(x, 0)", "1"),
                  ("JAX", "jax.nn.relu", "0"), ("JAX", "jnp.maximum(x, 0)", "0.5"),
                  ("micrograd", "Value.relu", "0"), ("sympy", "Max(0, x): Heaviside(0)", "1/2")),
       doc="max(0, a)", local_text=("1 if a > 0 else 0",)),  # a > 0 counts as 1 or 0
    Op("abs", 1, lambda m, a: m.abs(a), lambda m, a, out: (m.sign(a),), lambda sp, a: sp.Abs(a),
       label="abs", role="local gradient sign(input)", branch=_sign_branch,
       subgradient="abs'(0) = 0", samples=_U,
       elsewhere=(("PyTorch", "torch.abs", "0"), ("JAX", "jnp.abs", "1"),
                  ("sympy", "Abs: sign(0)", "0")), doc="absolute value (also |a|)",
       local_text=("sign(a)",)),
    Op("leaky_relu", 1, lambda m, a: m.where(a > 0, a, LEAKY_SLOPE * a),
       lambda m, a, out: (m.where(a > 0, 1.0, LEAKY_SLOPE),),
       lambda sp, a: sp.Piecewise((a, a > 0), (sp.Rational(1, 100) * a, True)),
       label="leaky_relu", role="router with a leak: slope 1 above 0, 0.01 below",
       branch=_sign_branch, subgradient="leaky_relu'(0) = 0.01", samples=_U,
       elsewhere=(("PyTorch", "F.leaky_relu", "0.01"), ("JAX", "jax.nn.leaky_relu", "1"),
                  ("sympy", "Piecewise", "1/100")),
       doc="a if a > 0 else 0.01 * a", local_text=("1 if a > 0 else 0.01",)),
    Op("elu", 1, lambda m, a: m.where(a > 0, a, m.exp(m.where(a > 0, 0.0, a)) - 1.0),
       lambda m, a, out: (m.where(a > 0, 1.0, out + 1.0),),
       lambda sp, a: sp.Piecewise((a, a > 0), (sp.exp(a) - 1, True)),
       label="elu", role="slope 1 above 0, exp(input) below", branch=_elu_branch, samples=_U,
       doc="a if a > 0 else e ** a - 1 (alpha = 1)", local_text=("1 if a > 0 else exp(a)",)),
    Op("softplus", 1, lambda m, a: m.softplus(a), lambda m, a, out: (m.sigmoid(a),),
       lambda sp, a: sp.log(1 + sp.exp(a)), label="softplus",
       role="smooth relu: local gradient sigmoid(input)", samples=_U,
       doc="log(1 + e ** a)", local_text=("σ(a)",)),
]

OPS: dict[str, Op] = {op.name: op for op in ROWS}

VAR = OPS["var"]
CONST = OPS["const"]

# Binary infix spellings (the parser and the printer read these).
INFIX: dict[str, Op] = {}
for _op in ROWS:
    if _op.symbol and _op.arity == 2:
        for _spelling in (_op.symbol, *_op.aliases):
            INFIX[_spelling] = _op
# Prefix spellings; the page's minus sign (U+2212) and radical sign are the same rows.
PREFIX: dict[str, Op] = {"-": OPS["neg"], "−": OPS["neg"], "√": OPS["sqrt"]}

# Callable spellings: every op that is not a leaf, plus the binary infix ones that read as
# functions only under their own name (pow(a, b)); add(a, b) and friends are not offered.
FUNCTIONS: dict[str, Op] = {
    spelling: op for op in ROWS
    if not op.is_leaf and (op.symbol is None if op.function is None else op.function)
    for spelling in (op.name, *(a for a in op.aliases if a.isidentifier()))
}

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}


def role_for(role: str, input_text: str) -> str:
    """A row's role for one gate of a program: "(input)" in the role is the gate's input, so
    `cos(input)` reads `cos(x)` for sin(x). Roles name no other letters: every symbol in one is
    defined there (p = softmax(input); σ being its output)."""
    return role.replace("(input)", f"({input_text})")


def register(op: Op, *, function: bool = True) -> Op:
    """Add a row (used by the array ops module); returns it."""
    ROWS.append(op)
    OPS[op.name] = op
    if op.symbol and op.arity == 2:
        for spelling in (op.symbol, *op.aliases):
            INFIX[spelling] = op
    if function:
        FUNCTIONS[op.name] = op
        for alias in op.aliases:
            if alias.isidentifier():
                FUNCTIONS[alias] = op
    return op

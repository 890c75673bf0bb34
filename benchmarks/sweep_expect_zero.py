"""Expected 0 against rounding noise: random programs whose gradient is 0 by algebra but
computed through different roundings, each graded with the right expectation 0.

Counts (no timing): how many right expectations of 0 the grader calls FAIL ("false FAIL") with
the old rule (relative error, no floor: checks/scalar.expectation) and with the zero floor
(checks/rounding.py); and, as a control on 1 in 100 as many cases, with the identity broken by
a small relative amount (DRIFT): how many expectations of 0 are wrong (the true gradient, by
sympy, lies beyond the floor) and how many of those the floor passes anyway (must be 0).

    uv run python benchmarks/sweep_expect_zero.py            # 200,000 cases (20,000 over
                                                             # vectors, 2,000 in the control)
    uv run python benchmarks/sweep_expect_zero.py 2000 7     # cases, seed
    uv run python benchmarks/sweep_expect_zero.py 200000 20 control   # the control alone
"""

from __future__ import annotations

import random
import sys

# Pairs of expressions equal by algebra, computed through different roundings.
IDENTITIES = [
    ("(a+b)+c", "a+(b+c)"),
    ("a*(b+c)", "a*b+a*c"),
    ("(a+b)*(a-b)", "a*a-b*b"),
    ("(a+b)**2", "a**2+2*a*b+b**2"),
    ("exp(a+b)", "exp(a)*exp(b)"),
    ("sigmoid(a)", "1-sigmoid(-a)"),
    ("tanh(a)", "2*sigmoid(2*a)-1"),
    ("a/b+c/b", "(a+c)/b"),
    ("(a*b)/c", "a*(b/c)"),
    ("a-(b-c)", "(a-b)+c"),
]
# Where the identity's difference meets the gradient.
TEMPLATES = [
    ("v*(({E}) - ({F})) + y*z", "v a b c"),
    ("({E})*v - ({F})*v + y*z", "v a b c"),
    ("tanh(v*(({E}) - ({F})) + y*z)", "v a b c"),
    ("(a+b+c)*v - a*v - b*v - c*v + y", "v"),
    ("sigmoid(({E}) - ({F})) * v + y", "a b c"),
]
DRIFT = 1e-9  # the control: ({F}) * (1 + DRIFT) breaks the identity


def number(rng: random.Random, positive: bool = False) -> str:
    mantissa = rng.randint(100, 999)
    text = f"{mantissa / 100:.2f}e{rng.randint(-2, 1)}"
    return text if positive or rng.random() < 0.5 else "-" + text


def case(rng: random.Random, drift: bool = False) -> tuple[str, dict, list[str]]:
    e, f = rng.choice(IDENTITIES)
    template, zeros = rng.choice([t for t in TEMPLATES if "{F}" in t[0]] if drift
                                 else TEMPLATES)
    if drift:
        f = f"({f})*(1+{DRIFT:g})"
    program = template.format(E=e, F=f)
    at = case_point(rng, program)  # exp's arguments kept within [-3, 3], divisors positive
    zeros = zeros.split()
    if drift:  # only a variable the broken identity reads has a gradient that is not 0
        zeros = [n for n in zeros if n == "v" or n in f]
    return program, at, zeros


def sweep(cases: int, seed: int, drift: bool) -> dict:
    from backprop_cli.engine.bindings import parse_binding
    from backprop_cli.errors import BackpropError
    from backprop_cli.evaluate import Options, evaluate

    rng = random.Random(seed)
    out = {"cases": 0, "expectations": 0, "noise": 0, "old_fail": 0, "new_fail": 0,
           "new_pass": 0, "beyond": 0, "wrong_pass": 0, "unresolved": 0}
    while out["cases"] < cases:
        program, at, zeros = case(rng, drift)
        bindings = dict(parse_binding(f"{n}={v}") for n, v in at.items())
        try:
            result = evaluate(program, bindings, Options(
                check=False, expect=tuple((n, "0") for n in zeros)))
        except (BackpropError, ArithmeticError, ValueError):
            continue
        out["cases"] += 1
        truth = exact_gradients(result.graph, at, zeros) if drift else {}
        for row in result.rows:
            if row.name not in zeros:
                continue
            out["expectations"] += 1
            grad = float(row.gradient)
            out["noise"] += grad != 0.0
            # the old rule (relative error, half a unit of the last digit, no floor) passed
            # an expected 0 only for a gradient of exactly 0
            out["old_fail"] += grad != 0.0
            new = [c for c in row.checks if c.method == "expected"][0]
            out["new_fail"] += new.status == "fail"
            out["new_pass"] += new.status == "pass"
            if drift and truth[row.name] is None:
                out["unresolved"] += 1
            elif drift:
                floor = floor_of(result, row.name)
                beyond = abs(truth[row.name]) > floor
                out["beyond"] += beyond
                out["wrong_pass"] += beyond and new.status == "pass"
    return out


def sweep_arrays(cases: int, seed: int, size: int = 3) -> dict:
    """The same identities over vectors (every variable a vector of `size` entries, the
    output their sum), each gradient expected [0, 0, ...]."""
    from backprop_cli.engine.bindings import parse_binding
    from backprop_cli.errors import BackpropError
    from backprop_cli.evaluate import Options, evaluate

    rng = random.Random(seed)
    zero = "[" + ", ".join(["0"] * size) + "]"
    out = {"cases": 0, "expectations": 0, "noise": 0, "new_fail": 0}
    while out["cases"] < cases:
        program, _, zeros = case(rng, False)
        points = [case_point(rng, program) for _ in range(size)]
        at = {n: "[" + ",".join(p[n] for p in points) + "]" for n in points[0]}
        bindings = dict(parse_binding(f"{n}={v}") for n, v in at.items())
        try:
            result = evaluate(f"sum({program})", bindings, Options(
                check=False, expect=tuple((n, zero) for n in zeros)))
        except (BackpropError, ArithmeticError, ValueError):
            continue
        out["cases"] += 1
        for row in result.rows:
            if row.name in zeros:
                out["expectations"] += 1
                out["noise"] += bool((row.gradient != 0).any())
                new = [c for c in row.checks if c.method == "expected"][0]
                out["new_fail"] += new.status == "fail"
    return out


def case_point(rng: random.Random, program: str) -> dict:
    positive = "log" in program or "/" in program
    at = {n: number(rng, positive and n in "abc") for n in "vabcyz"}
    if "exp" in program:
        at["a"], at["b"] = f"{rng.uniform(-3, 3):.3f}", f"{rng.uniform(-3, 3):.3f}"
    return at


def floor_of(result, name: str) -> float:
    from backprop_cli.checks.rounding import floors

    return floors(result.graph, result.values, result.grads)[1][result.graph.variables[name]]


TRUTH_DIGITS = 40
TRUTH_MAX_DIGITS = 4000  # sympy's working precision may rise this far to get them


def exact_gradients(graph, at: dict, names: list[str]) -> dict:
    """The true gradients, by sympy from the graph, at the decimal point as written, to 40
    correct digits, as float64 rounds them (a true 1.3e-413 is 0.0). sympy's evalf stops at
    100 digits of working precision by default and then returns a zero of no accuracy
    ("0.e-181", which float() reads as 1.2e-181): past a saturated tanh the cancellation in
    1 - tanh^2 needs ~400 digits, so the precision is allowed to rise, and a gradient that
    still cannot be resolved is None (counted apart, never taken as a number)."""
    import sympy as sp
    from sympy.core.evalf import PrecisionExhausted

    from backprop_cli.checks.scalar import sympy_expressions

    f = sympy_expressions(graph)[graph.output]
    point = {sp.Symbol(n, real=True): sp.Rational(v) for n, v in at.items()}
    out = {}
    for n in names:
        d = sp.diff(f, sp.Symbol(n, real=True)).subs(point)
        try:
            out[n] = float(d.evalf(TRUTH_DIGITS, maxn=TRUTH_MAX_DIGITS, strict=True))
        except PrecisionExhausted:
            out[n] = None
    return out


def main() -> None:
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    if sys.argv[3:] != ["control"]:
        right_cases(cases, seed)
    wrong = sweep(max(1, cases // 100), seed + 1, drift=True)
    print(f"control, identity broken by {DRIFT:g}: {wrong['expectations']:,} expectations of "
          f"0 in {wrong['cases']:,} cases, {wrong['beyond']:,} of them wrong (the true "
          f"gradient, by sympy to {TRUTH_DIGITS} correct digits and rounded to float64, is "
          f"beyond the floor); passed anyway {wrong['wrong_pass']:,} (must be 0); failed "
          f"{wrong['new_fail']:,}; true gradient not resolved {wrong['unresolved']:,}")


def right_cases(cases: int, seed: int) -> None:
    right = sweep(cases, seed, drift=False)
    print(f"right expectations of 0: {right['expectations']:,} in {right['cases']:,} cases; "
          f"computed non-zero {right['noise']:,}; false FAIL old rule {right['old_fail']:,}, "
          f"with the floor {right['new_fail']:,}")
    arrays = sweep_arrays(max(1, cases // 10), seed + 2)
    print(f"the same over vectors of 3: {arrays['expectations']:,} expectations of [0, 0, 0] "
          f"in {arrays['cases']:,} cases; some entry computed non-zero {arrays['noise']:,} "
          f"(each a false FAIL by the old rule); false FAIL with the floor "
          f"{arrays['new_fail']:,}")


if __name__ == "__main__":
    main()

"""Property-based tests: random programs, written as text, through the whole pipeline.

The strategies build random expression trees over smooth ops (domains kept safe by
construction: log(1 + t**2), x / (1.5 + cos(t)), exp(sin(t)), ...), render them with
parentheses, and string them into statements that reuse names, so values fan out. At random
bindings, backprop, sympy and central finite differences must agree: no check may say "fail".
The `ci` profile in conftest.py keeps the example counts small enough for the suite's budget.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st

from backprop_cli.checks.scalar import Limits
from backprop_cli.errors import BackpropError
from backprop_cli.evaluate import Options, evaluate
from backprop_cli.language.parser import parse

VARIABLES = ("a", "b", "c")

# Each template keeps its inputs inside the op's domain whatever their values.
UNARY = [
    "sin({})", "cos({})", "tanh({})", "sigmoid({})", "softplus({})", "-{}", "+{}",
    "exp(sin({}))", "log(1 + {}**2)", "sqrt(1 + {}**2)", "tan(0.5*tanh({}))", "{}^2",
]
BINARY = [
    "{} + {}", "{} - {}", "{} * {}", "{} / (1.5 + cos({}))", "(1.5 + sin({}))**tanh({})",
    "pow(2 + tanh({}), {})", "{} - -{}", "{}*-{}",
]
CONSTANT_TEXT = ["2", "0.5", "3", "1e-1", ".25", "pi", "e"]


def expressions(names: tuple[str, ...]) -> st.SearchStrategy[str]:
    leaves = st.sampled_from(names) | st.sampled_from(CONSTANT_TEXT)

    def extend(children):
        unary = st.tuples(st.sampled_from(UNARY), children).map(
            lambda t: t[0].replace("{}", f"({t[1]})"))
        binary = st.tuples(st.sampled_from(BINARY), children, children).map(
            lambda t: t[0].format(f"({t[1]})", f"({t[2]})"))
        return unary | binary

    return st.recursive(leaves, extend, max_leaves=8)


@st.composite
def programs(draw) -> str:
    """Statements that assign, reassign and augment names, then a final expression."""
    names = list(VARIABLES)
    lines = []
    for k in range(draw(st.integers(0, 3))):
        assigned = names[len(VARIABLES):]
        if assigned and draw(st.booleans()):
            target = draw(st.sampled_from(assigned))
            op = draw(st.sampled_from(["=", "+=", "-=", "*="]))
        else:
            target, op = f"t{k}", "="
        lines.append(f"{target} {op} {draw(expressions(tuple(names)))}")
        if target not in names:
            names.append(target)
    lines.append(draw(expressions(tuple(names))))
    separator = draw(st.sampled_from(["; ", "\n", ";\n"]))
    return separator.join(lines)


SHORT_SYMPY = Limits(sympy_seconds=2.0)
TIMED_OUT = "over sympy's budget of 2 s of CPU time"

points = st.fixed_dictionaries({
    name: st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False) for name in VARIABLES})


@given(programs(), points)
def test_backprop_sympy_and_finite_differences_agree(program, at):
    note(f"program: {program!r}")
    result = evaluate(program, at, Options(limits=SHORT_SYMPY))
    for row in result.rows:
        for check in row.checks:
            assert check.status != "fail", (row.name, row.gradient, check)
        # On smooth ops sympy runs on programs this small, though it can be slow: nested tan
        # makes it reduce arguments modulo pi with polynomial gcds.
        sympy_check, fd_check = row.checks
        assert sympy_check.status == "pass" or sympy_check.reason == TIMED_OUT, sympy_check
        assert fd_check.status in ("pass", "inconclusive"), fd_check
    assert result.exit_code == 0


ROUTERS = ["relu({})", "abs({})", "leaky_relu({})", "elu({})", "max({}, {})", "min({}, {})",
           "max({}, 0)", "max({}, {}, {})"]


def routed(names: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Expressions with kinks; hypothesis loves 0.0 and equal values, so they land on them."""
    leaves = st.sampled_from(names) | st.sampled_from(["0", "1", "-1"])

    def extend(children):
        def fill(t):
            template, args = t
            return template.format(*(f"({a})" for a in args))

        ops = st.sampled_from(ROUTERS + ["{} + {}", "{} * {}", "{} - {}", "sin({})"])
        return st.tuples(ops, st.lists(children, min_size=3, max_size=3)).map(fill)

    return st.recursive(leaves, extend, max_leaves=6)


@given(routed(VARIABLES), st.fixed_dictionaries(
    {name: st.sampled_from([0.0, 1.0, -1.0, 0.5, -2.0]) | st.floats(-3, 3) for name in VARIABLES}))
def test_on_and_near_kinks_no_check_fails(program, at):
    # Exactly on a kink backprop uses the documented subgradient and says so; the checks may
    # be inconclusive there, but a correct rule is never reported as wrong.
    note(f"program: {program!r}")
    result = evaluate(program, at)
    for row in result.rows:
        for check in row.checks:
            assert check.status != "fail", (row.name, row.gradient, check)


# --- linearity ----------------------------------------------------------------------------


def gradients(program: str, at: dict) -> dict:
    return evaluate(program, at, Options(check=False)).gradients


@given(expressions(VARIABLES), expressions(VARIABLES), points,
       st.sampled_from(["2", "-3", "0.5"]), st.sampled_from(["1", "-0.25", "4"]))
def test_gradients_are_linear(f, g, at, alpha, beta):
    df = gradients(f, at)
    dg = gradients(g, at)
    combined = gradients(f"{alpha}*({f}) + {beta}*({g})", at)
    for name in VARIABLES:
        expected = float(alpha) * df.get(name, 0.0) + float(beta) * dg.get(name, 0.0)
        scale = max(1.0, abs(float(alpha) * df.get(name, 0.0)),
                    abs(float(beta) * dg.get(name, 0.0)))
        assert combined.get(name, 0.0) == pytest.approx(expected, rel=1e-9, abs=1e-12 * scale)


@given(expressions(VARIABLES), points)
def test_asking_twice_gives_the_same_gradients(program, at):
    from backprop_cli.engine.backward import backpropagate
    from backprop_cli.engine.forward import forward

    graph = parse(program)
    values = forward(graph, at)
    # repr, so that a nan (d(a**b)/db for a < 0, sent to a constant) compares equal to itself
    assert list(map(repr, backpropagate(graph, values))) == \
        list(map(repr, backpropagate(graph, values)))


@given(programs(), points)
def test_trace_shows_the_very_parts_backward_added_up(program, at):
    # One chain-rule step serves both: each node's upstream gradient is, to the bit, the sum
    # of what its consumers sent it in the trace, added from the output back as backward does.
    from backprop_cli.engine.backward import backpropagate
    from backprop_cli.engine.forward import forward
    from backprop_cli.engine.trace import trace_rows

    graph = parse(program)
    try:
        values = forward(graph, at)
        grads = backpropagate(graph, values)
    except BackpropError:
        assume(False)
    rows = trace_rows(graph, values, grads)
    for row in rows:
        if row.grad is None or row.id == graph.output:
            continue
        total = 0.0
        # backward's order: consumers from the output back, and one consumer's parts in the
        # order of its inputs (b - b sends +g, then -g); a stable sort keeps the latter
        for _, part in sorted(row.contributions, key=lambda c: -c[0]):
            total += part
        assert repr(total) == repr(grads[row.id]), row


@given(programs(), points)
def test_asking_for_one_gradient_gives_the_same_bits_as_asking_for_all(program, at):
    from backprop_cli.engine.backward import backpropagate
    from backprop_cli.engine.forward import forward

    graph = parse(program)
    try:
        values = forward(graph, at)
        every = backpropagate(graph, values)
    except BackpropError:
        assume(False)
    for name, i in graph.variables.items():
        assert repr(backpropagate(graph, values, wrt=[name])[i]) == repr(every[i])

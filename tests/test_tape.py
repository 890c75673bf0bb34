"""The scalar tape (tape.py) computes exactly what the node-by-node loops compute."""

import math
import operator

import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st
from test_properties import VARIABLES, programs, routed

from backprop_cli.engine import backward
from backprop_cli.engine import forward as fwd
from backprop_cli.errors import DomainError
from backprop_cli.language.parser import parse
from backprop_cli.ops.registry import ROWS, SCALAR, formula_value


@pytest.mark.parametrize("op", [r for r in ROWS if r.kernel is not None], ids=lambda r: r.name)
def test_every_kernel_is_its_rows_forward(op):
    for args in op.samples:
        assert op.kernel(*args) == op.forward(SCALAR, *args)


def loops(graph, bindings):
    """The generic node-by-node passes, bypassing the tape."""
    values = fwd.leaf_values(graph, bindings)
    fwd._run(graph, values, SCALAR)
    grads = [0.0] * len(graph)
    grads[graph.output] = 1.0
    backward._run_scalars(graph, values, grads)
    return values, grads


PROGRAMS = [
    ("(x+y)*z", {"x": -2.0, "y": 5.0, "z": -4.0}),
    ("1/(1+exp(-(w0*x0 + w1*x1 + w2)))",
     {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}),
    ("a = x*y; f = a + a*z; f = relu(f - 20) + tanh(a) ** 2", {"x": 2.0, "y": 3.0, "z": 4.0}),
    ("q = sin(x)*cos(y) - log(z) / sqrt(z)\nq = q*q + abs(-q) + sigmoid(q) + softplus(q)",
     {"x": 0.3, "y": 1.1, "z": 2.5}),
    ("x ** y + pow(y, 2) - -x + elu(-x) + leaky_relu(-y)", {"x": 1.5, "y": 0.5}),
]


@pytest.mark.parametrize("program,at", PROGRAMS)
def test_tape_matches_the_node_by_node_loops(program, at):
    graph = parse(program)
    assert graph.tape() is not None
    values = fwd.forward(graph, at)
    grads = backward.backpropagate(graph, values)
    want_values, want_grads = loops(graph, at)
    assert values == want_values
    assert grads == want_grads


def test_graphs_without_a_tape_form_still_run():
    graph = parse("max(x, y, z) * 2")  # a three-input op
    assert graph.tape() is None
    values = fwd.forward(graph, {"x": 1.0, "y": 3.0, "z": 2.0})
    assert backward.backpropagate(graph, values)[graph.variables["y"]] == 2.0
    leaf = parse("x")
    assert leaf.tape() is None
    assert backward.backpropagate(leaf, fwd.forward(leaf, {"x": 4.0}))[0] == 1.0


def test_a_domain_error_on_the_tape_names_the_node():
    graph = parse("a = x*2; b = log(a - 10); b + a")
    with pytest.raises(DomainError) as err:
        fwd.forward(graph, {"x": 1.0})
    assert "log(a - 10)" in err.value.message
    assert "log(-8)" in err.value.message


def test_an_infinite_derivative_on_the_tape_names_the_node():
    graph = parse("sqrt(x - 1) + x")
    values = fwd.forward(graph, {"x": 1.0})
    with pytest.raises(DomainError) as err:
        backward.backpropagate(graph, values)
    assert "sqrt" in err.value.message
    assert math.isfinite(values[-1])


@pytest.mark.parametrize("program,at,want", [
    ("x + sqrt(0)", {"x": 1.0}, 1.0),  # sqrt'(0) is infinite, but no variable flows in
    ("x + 0^0", {"x": 1.0}, 1.0),
    ("x + sqrt(0) + x**2", {"x": -1.0}, -1.0),  # a constant exponent reads its value
    ("x^0", {"x": 0.0}, 0.0),  # a**0 is constant, even at a == 0
    ("max(x, 2, sqrt(0)) * x", {"x": 3.0}, 6.0),  # the node-by-node loop, too
])
def test_constant_subexpressions_are_never_differentiated(program, at, want):
    graph = parse(program)
    grads = backward.backpropagate(graph, fwd.forward(graph, at))
    assert grads[graph.variables["x"]] == want


@pytest.mark.parametrize("op", [r for r in ROWS if r.local_formula is not None],
                         ids=lambda r: r.name)
def test_every_local_formula_is_its_rows_local_rule(op):
    for args in op.samples:
        out = op.forward(SCALAR, *args)
        got = tuple(formula_value(f, args, out) for f in op.local_formula)
        assert got == op.local(SCALAR, *args, out)


def test_a_partial_that_raises_where_nothing_flows_falls_back_to_the_loop():
    from backprop_cli.engine import tape as T

    # sqrt'(0) is infinite, but relu(x) = 0 sends nothing back through the sqrt: the tape's
    # bulk pass computes the partial anyway and raises, and the loop (which skips the node)
    # gives the answer.
    graph = parse("relu(x) * sqrt(y - 1) + x")
    at = {"x": -1.0, "y": 1.0}
    values = fwd.forward(graph, at)
    with pytest.raises(ZeroDivisionError):
        T.run_backward(graph.tape(), values, 1.0)
    grads = backward.backpropagate(graph, values)
    assert grads == loops(graph, at)[1]
    assert grads[graph.variables["x"]] == 1.0


def test_constant_sub_formulas_are_worked_out_once():
    # x**2's partial is 2 * x**(2 - 1): the 2 - 1 is no part of the backward pass.
    graph = parse("x**2 + x**y")
    groups = [fn for fn, _, _ in graph.tape().back.groups]
    assert groups.count(operator.sub) == 1  # y - 1 only
    values = fwd.forward(graph, {"x": 1.5, "y": 3.0})
    assert backward.backpropagate(graph, values) == loops(graph, {"x": 1.5, "y": 3.0})[1]


KINKY_POINTS = st.fixed_dictionaries(
    {name: st.sampled_from([0.0, 1.0, -1.0, 0.5]) | st.floats(-3, 3) for name in VARIABLES})


@given(programs() | routed(VARIABLES), KINKY_POINTS)
def test_the_tape_gives_the_loops_numbers_to_the_last_bit(program, at):
    note(f"program: {program!r}")
    graph = parse(program)
    assume(graph.tape() is not None)  # max(a, b, c) has none
    try:
        want_values, want_grads = loops(graph, at)
    except DomainError:
        with pytest.raises(DomainError):
            backward.backpropagate(graph, fwd.forward(graph, at))
        return
    values = fwd.forward(graph, at)
    assert values == want_values
    assert backward.backpropagate(graph, values) == want_grads


@pytest.mark.parametrize("step", ["relu(h*w + b)", "tanh(h)*w - b", "sigmoid(h*w)*2 + b"])
def test_a_long_chain_runs_as_running_products_with_the_loops_numbers(step):
    from backprop_cli.engine import tape as T

    graph = parse("h = x\n" + f"h = {step}\n" * 40)
    at = {"x": 0.3, "w": 1.1, "b": 0.05}
    assert any(seg[0] == "chain" for seg in graph.tape().back.segments)
    values = fwd.forward(graph, at)
    assert values == loops(graph, at)[0]
    assert backward.backpropagate(graph, values) == loops(graph, at)[1]
    assert T.MIN_CHAIN <= 40


def test_a_wide_pass_runs_level_by_level_with_the_loops_numbers():
    terms = [f"relu(x{k % 40}*x{(k * 7 + 1) % 40} + x{(k + 3) % 40})" if k % 2 else
             f"(x{k % 40} + x{(k * 3 + 2) % 40})**2 * x{(k * 5 + 1) % 40}" for k in range(80)]
    graph = parse(" + ".join(terms))
    at = {f"x{k}": 0.05 * k - 0.9 for k in range(40)}
    assert any(seg[0] == "level" for seg in graph.tape().back.segments)
    values = fwd.forward(graph, at)
    assert values == loops(graph, at)[0]
    assert backward.backpropagate(graph, values) == loops(graph, at)[1]



@pytest.mark.parametrize("program,at", [
    ("1e-320 ** x", {"x": 0.01}),  # d/d(base) of a constant base would overflow
    ("0.5 ** x", {"x": -1023.5}),
    ("0.001 ** x + x", {"x": -102.2}),
])
def test_the_loop_differentiates_only_what_a_variable_needs_as_the_tape_does(program, at):
    graph = parse(program)
    values = fwd.forward(graph, at)
    grads = backward.backpropagate(graph, values)
    assert math.isfinite(grads[graph.variables["x"]])
    assert grads == loops(graph, at)[1]


def test_many_shared_weights_sum_round_by_round_with_the_loops_numbers():
    from backprop_cli.engine import tape as T

    layers = T.MIN_ROUNDS * 20  # 20 weights and 20 biases, each read MIN_ROUNDS times
    text = "relu(" * layers + "x" + "".join(
        f"*w{k % 20} + b{(7 * k) % 20})" for k in range(layers))
    graph = parse(text)
    at = {"x": 0.5, **{f"w{k}": 1.0 + (-1) ** k * 0.001 for k in range(20)},
          **{f"b{k}": 0.001 * k for k in range(20)}}
    assert graph.tape().back.leaf_rounds is not None
    values = fwd.forward(graph, at)
    assert backward.backpropagate(graph, values) == loops(graph, at)[1]

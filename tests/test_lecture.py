"""The lecture's worked examples, with the numbers the notes print."""

import pytest

from backprop_cli.evaluate import evaluate


def grads(program, **at):
    result = evaluate(program, at)
    assert not result.failed
    return result.value, result.gradients


def test_x_plus_y_times_z():
    value, g = grads("(x+y)*z", x=-2.0, y=5.0, z=-4.0)
    assert value == -12
    assert g == {"x": -4, "y": -4, "z": 3}


def test_named_intermediate_q():
    value, g = grads("q = x + y; f = q * z", x=-2.0, y=5.0, z=-4.0)
    assert value == -12
    assert g == {"x": -4, "y": -4, "z": 3}


def test_sigmoid_neuron():
    value, g = grads("1/(1+exp(-(w0*x0 + w1*x1 + w2)))",
                     w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0)
    assert value == pytest.approx(0.73, abs=5e-3)
    assert {k: round(v, 2) for k, v in g.items()} == {
        "w0": -0.20, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.20}


def test_sigmoid_gate_gives_the_same_gradients():
    _, expanded = grads("1/(1+exp(-(w0*x0 + w1*x1 + w2)))",
                        w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0)
    _, gate = grads("sigmoid(w0*x0 + w1*x1 + w2)", w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0)
    assert gate == pytest.approx(expanded, rel=1e-12)


def test_sigmoid_backward_pass_node_by_node():
    # The lecture's circuit, right to left: 1/x gets 1.00 and sends back -0.53 (= -1/1.37^2),
    # +1 passes it on, exp multiplies by e^-1 = 0.37 to get -0.20, the negation flips it to
    # 0.20, and the adds distribute 0.20 to both products.
    from backprop_cli.engine.trace import trace_rows

    result = evaluate("1/(1+exp(-(w0*x0 + w1*x1 + w2)))",
                      {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0})
    rows = {r.text: r for r in trace_rows(result.graph, result.values, result.grads)}
    expected = {  # node text: (forward value, upstream gradient), to the lecture's 2 decimals
        "1/(1+exp(-(w0*x0 + w1*x1 + w2)))": (0.73, 1.00),
        "1+exp(-(w0*x0 + w1*x1 + w2))": (1.37, -0.53),
        "exp(-(w0*x0 + w1*x1 + w2))": (0.37, -0.53),
        "-(w0*x0 + w1*x1 + w2)": (-1.00, -0.20),
        "w0*x0 + w1*x1 + w2": (1.00, 0.20),
        "w0*x0 + w1*x1": (4.00, 0.20),
        "w0*x0": (-2.00, 0.20),
        "w1*x1": (6.00, 0.20),
    }
    got = {text: (round(rows[text].value, 2), round(rows[text].grad, 2)) for text in expected}
    assert got == expected


def test_add_distributes_max_routes_mul_switches():
    # The lecture's gate patterns on one circuit: f = 2 * (x*y + max(z, w)).
    value, g = grads("2 * (x*y + max(z, w))", x=3.0, y=-4.0, z=2.0, w=-1.0)
    assert value == -20
    assert g == {
        "x": -8.0,  # mul switches: the upstream 2 times the other input y = -4
        "y": 6.0,  # ... times x = 3
        "z": 2.0,  # max routes: all of the upstream 2 to the larger input
        "w": 0.0,  # ... and none to the smaller
    }


def test_gradients_add_up_at_a_fan_out():
    # A value used twice receives the sum of both gradients (the multivariate chain rule).
    value, g = grads("a = x*y; f = a + a*z", x=2.0, y=3.0, z=4.0)
    assert value == 30
    assert g == {"x": 15.0, "y": 10.0, "z": 6.0}  # da = 1 + z = 5; dx = 5*y, dy = 5*x


def test_the_neurons_backward_pass_in_the_notes_arithmetic():
    # The notes: 1/x sends back (-1/1.37^2)(1.00) = -0.53; w0 gets 0.2 * -1 (= x0) = -0.2 and
    # x0 gets 0.2 * 2 (= w0) = 0.4, the mul gate switching its inputs.
    from click.testing import CliRunner

    from backprop_cli.cli import cli

    def explain(precision):
        out = CliRunner().invoke(cli, ["trace", "1/(1+exp(-(w0*x0 + w1*x1 + w2)))", "w0=2",
                                       "x0=-1", "w1=-3", "x1=-2", "w2=-3", "--explain",
                                       "--precision", str(precision)])
        assert out.exit_code == 0
        return out.stdout.splitlines()

    assert "  d#11 = df/d#11 = -1/x² (x = #11) = -0.53" in explain(2)  # as the gate says
    one = explain(1)
    assert "  local d(w0*x0)/dw0 = x0 = -1" in one
    assert "  dw0 = d(w0*x0) * d(w0*x0)/dw0 = 0.2 * (-1) = -0.2" in one
    assert "  dx0 = d(w0*x0) * d(w0*x0)/dx0 = 0.2 * 2 = 0.4" in one


def test_the_vectorized_example_in_the_notes_arithmetic():
    # df/dW = 2 q x^T = [[0.088, 0.176], [0.104, 0.208]] and df/dx = 2 W^T q = [-0.112, 0.636].
    import numpy as np

    result = evaluate("q = W @ x; f = sum(q**2)",
                      {"W": np.array([[0.1, 0.5], [-0.3, 0.8]]), "x": np.array([0.2, 0.4])})
    np.testing.assert_allclose(result.gradients["W"], [[0.088, 0.176], [0.104, 0.208]])
    np.testing.assert_allclose(result.gradients["x"], [-0.112, 0.636])

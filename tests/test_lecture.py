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

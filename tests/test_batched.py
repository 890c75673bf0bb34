"""Level-batched passes (batched.py) give the tape's numbers on wide programs."""

import math

import pytest

from backprop_cli.engine import backward
from backprop_cli.engine import forward as fwd
from backprop_cli.engine.batched import MIN_NODES
from backprop_cli.language.parser import parse


def wide(terms: int) -> str:
    """A balanced sum of distinct lecture-like terms over 40 shared inputs."""
    parts = [f"relu(x{i % 40}*x{(i * 7 + 1) % 40} - {i / 1000}) + "
             f"tanh(x{i % 40})**2 * sigmoid(x{(i + 5) % 40}) - max(x{i % 40}, x{(i + 1) % 40})"
             for i in range(terms)]
    while len(parts) > 1:
        parts = [f"({a} + {b})" if b else a for a, b in
                 zip(parts[::2], parts[1::2] + [""] * (len(parts) % 2))]
    return parts[0]


AT = {f"x{i}": math.sin(i + 1) for i in range(40)}


def test_a_wide_program_is_batched_and_matches_the_tape():
    graph = parse(wide(2_000))
    assert len(graph) >= MIN_NODES
    assert graph.plan() is not None
    values = fwd.forward(graph, AT)
    grads = backward.backpropagate(graph, values)
    tape_values = fwd._run_tape(graph, AT)
    assert values == pytest.approx(tape_values, rel=1e-12, abs=1e-300)
    # The tape's gradients, computed with batching turned off for this graph.
    graph.__dict__["_plan"] = None
    tape_grads = backward.backpropagate(graph, tape_values)
    # nan_ok: a constant exponent of a negative base has no derivative (d(a**b)/db)
    assert grads == pytest.approx(tape_grads, rel=1e-9, abs=1e-12, nan_ok=True)


def test_a_chain_is_not_batched():
    program = "h = x\n" + "h = tanh(h * w + b)\n" * 5_000
    graph = parse(program)
    assert graph.plan() is None


def test_a_domain_error_in_a_batched_program_still_names_its_node():
    graph = parse(wide(2_000) + " + log(x3 - 5)")
    with pytest.raises(Exception) as err:
        fwd.forward(graph, AT)
    assert "log(x3 - 5)" in str(err.value)

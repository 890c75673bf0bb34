"""Deep and large inputs: nothing recurses on the user's input, and big programs stay linear.

micrograd's recursive topological sort dies near 1,000 nested nodes and CPython's own parser
refuses 200 nested parentheses; here 100,000-deep nests and a million-node program go through
parse, forward and backward. sympy cannot follow (its diff recurses), so on such input it is
skipped with a reason, and a skipped check never counts as a pass.
"""

import json
import math
import time

import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli
from backprop_cli.engine.backward import backpropagate
from backprop_cli.engine.forward import forward
from backprop_cli.evaluate import Options, evaluate
from backprop_cli.language.parser import parse

N = 100_000


pytestmark = pytest.mark.slow  # 10^5-10^6-node programs: .ci/run runs them


def run(source: str, **at: float):
    graph = parse(source)
    values = forward(graph, at)
    grads = backpropagate(graph, values)
    return graph, values[graph.output], {n: grads[i] for n, i in graph.variables.items()}


def test_100k_nested_parentheses_left():
    # ((((x+1)+1)+1)...+1): 100,000 '(' open before the first operand
    graph, value, grads = run("(" * N + "x" + "+1)" * N, x=0.5)
    assert len(graph) == 2 * N + 1  # x, then a 1 and a + for each level, as typed
    assert graph.depth() == N
    assert value == N + 0.5
    assert grads == {"x": 1.0}


def test_100k_nested_calls_right():
    # sin(sin(sin(...sin(x)...))): 100,000 calls still open when x arrives
    graph, value, grads = run("sin(" * N + "x" + ")" * N, x=0.5)
    assert graph.depth() == N
    # The chain rule by hand: d/dx = product of cos at every level.
    v, d = 0.5, 1.0
    for _ in range(N):
        d *= math.cos(v)
        v = math.sin(v)
    assert value == v
    assert grads["x"] == pytest.approx(d, rel=1e-9)


def test_100k_nested_mixed_operators():
    # x*(1 + x*(1 + x*(1 + ...))) evaluated at x = 0.5 is a geometric series
    n = 30_000
    _, value, grads = run("x*(1 + " * n + "x" + ")" * n, x=0.5)
    assert value == pytest.approx(1.0)
    assert grads["x"] == pytest.approx(4.0)  # d/dx of x/(1-x) at 0.5


def test_100k_unary_minus_and_plus():
    _, value, grads = run("-" * N + "+" * N + "x", x=3.0)
    assert (value, grads["x"]) == (3.0, 1.0)  # an even number of negations
    _, value, grads = run("-" * (N + 1) + "x", x=3.0)
    assert (value, grads["x"]) == (-3.0, -1.0)


def test_100k_right_associative_powers():
    graph, value, grads = run("x" + "**1" * N, x=1.5)  # x**(1**(1**...)) = x
    assert graph.depth() == N
    assert value == 1.5
    assert grads["x"] == pytest.approx(1.0)


def test_a_chain_of_100k_statements():
    source = "a = x\n" + "a = a*0.5 + x\n" * N + "a"
    graph, value, grads = run(source, x=1.0)
    assert graph.depth() == 2 * N
    assert value == pytest.approx(2.0)
    assert grads["x"] == pytest.approx(2.0)
    assert graph.names[graph.output] == "a"


def test_a_million_node_program_parses_and_runs_with_checks():
    # 333,333 terms x*k summed: a million nodes, about 3 MB of text.
    terms = 333_333
    source = "+".join(f"x*{k}" for k in range(1, terms + 1))
    t0 = time.process_time()  # CPU time: the same on a busy machine
    result = evaluate(source, {"x": 0.5})
    elapsed = time.process_time() - t0
    assert len(result.graph) == 3 * terms
    total = terms * (terms + 1) // 2
    assert result.gradients == {"x": float(total)}
    assert result.value == 0.5 * total
    (sympy_check, fd_check) = result.rows[0].checks
    assert sympy_check.status == "skipped"
    assert sympy_check.reason == f"the graph has {3 * terms:,} nodes (sympy limit 2,000)"
    assert fd_check.status == "pass"
    assert elapsed < 60, f"a million nodes took {elapsed:.1f} s"


@pytest.mark.parametrize("source, reason", [
    ("sin(" * N + "x" + ")" * N, f"the graph has {N + 1:,} nodes (sympy limit 2,000)"),
    ("sin(" * 100 + "x" + ")" * 100, "the graph is 100 deep (sympy limit 40)"),
])
def test_sympy_is_skipped_with_a_reason_and_never_counted_as_a_pass(source, reason):
    result = evaluate(source, {"x": 0.5}, Options(numeric=False))
    (check,) = result.rows[0].checks
    assert (check.status, check.reason) == ("skipped", reason)
    assert result.rows[0].verdict == "unchecked"
    assert result.exit_code == 0


def test_deep_input_through_the_cli():
    source = "(" * N + "x" + "*1.0)" * N
    result = CliRunner().invoke(cli, ["eval", "--json", source, "x=2"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["value"] == 2.0
    assert data["gradients"] == {"x": 1.0}
    assert [c["status"] for c in data["checks"]["x"]] == ["skipped", "pass"]
    assert data["status"] == "pass"  # confirmed by finite differences alone


def test_deep_trace_through_the_cli_streams_one_line_per_node():
    n = 20_000
    result = CliRunner().invoke(cli, ["trace", "sin(" * n + "x" + ")" * n, "x=0.5"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 + n + 1  # header, the variable, n sin nodes
    assert lines[-1].split()[0] == f"#{n}"


def test_a_deep_parse_error_points_at_the_right_place():
    source = "(" * N + "x" + ")" * (N - 1)
    result = CliRunner().invoke(cli, ["eval", source, "x=1"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "parse error at column 1: '(' is never closed (add ')' before the end of the statement)")

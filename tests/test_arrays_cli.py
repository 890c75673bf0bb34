"""The array features from the command line: eval, --json, --seed, trace shapes, --jacobian."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli

LECTURE = ("sum((W @ x)**2)", "W=[[0.1,0.5],[-0.3,0.8]]", "x=[0.2,0.4]")


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_eval_prints_shapes_gradients_and_how_much_was_checked():
    result = run("eval", *LECTURE, "--plain")
    assert result.exit_code == 0
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "value  0.116"
    assert lines[2].split() == ["name", "shape", "gradient", "sympy", "finite-difference"]
    assert lines[3].startswith("W     2x2    [[0.088, 0.176], [0.104, 0.208]]  pass ")
    assert "(all 4 entries)" in lines[3]
    assert lines[4].startswith("x     2      [-0.112, 0.636]")
    assert lines[-1] == "all 2 gradients agree with sympy and finite differences"


def test_json_gives_nested_lists_shapes_and_entry_counts():
    data = json.loads(run("eval", *LECTURE, "--json").stdout)
    np.testing.assert_allclose(data["gradients"]["W"], [[0.088, 0.176], [0.104, 0.208]])
    np.testing.assert_allclose(data["gradients"]["x"], [-0.112, 0.636])
    assert data["shapes"] == {"W": [2, 2], "x": [2]}
    sympy, fd = data["checks"]["W"]
    assert sympy["method"] == "sympy" and sympy["status"] == "pass"
    assert sympy["entries_checked"] == sympy["entries_total"] == 4
    assert fd["method"] == "finite-difference" and fd["entries_checked"] == 4
    assert data["exit_code"] == 0


def test_a_non_scalar_output_gets_its_jacobian_and_trace_still_asks_for_a_seed():
    # eval gives d(Wx)/dx = W (issue 14); trace shows one backward pass, which needs a seed.
    data = json.loads(run("eval", "W @ x", *LECTURE[1:], "--json").stdout)
    np.testing.assert_allclose(data["jacobian"]["x"], [[0.1, 0.5], [-0.3, 0.8]])
    assert "gradients" not in data and data["exit_code"] == 0
    result = run("trace", "W @ x", *LECTURE[1:])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == (
        "shape error at column 1: the output has shape (2,): a gradient needs a scalar output "
        "(wrap it in sum(...), or give the upstream gradient with --seed)")


def test_seed_gives_the_upstream_gradient():
    data = json.loads(run("eval", "W @ x", *LECTURE[1:], "--seed", "[0.44,0.52]",
                          "--json").stdout)
    np.testing.assert_allclose(data["gradients"]["W"], [[0.088, 0.176], [0.104, 0.208]])
    np.testing.assert_allclose(data["gradients"]["x"], [-0.112, 0.636])


@pytest.mark.parametrize("seed", ["[1,2]", "[3]"])
def test_a_list_seed_for_a_scalar_output_is_a_shape_error(seed):
    result = run("eval", "sum(x)", "x=[1,2]", "--seed", seed)
    assert (result.exit_code, result.stdout) == (2, "")
    shape = "(2,)" if seed == "[1,2]" else "(1,)"
    assert result.stderr == (f"shape error: --seed has shape {shape} but the output is a "
                             "scalar (give one number, e.g. --seed 2)\n")


def test_shape_error_points_at_the_node():
    result = run("eval", "sum(W @ x)", "W=[[1,2,3],[4,5,6]]", "x=[1,2]")
    assert result.exit_code == 2
    assert result.stderr == (
        "shape error at column 5: W @ x: cannot multiply shapes (2, 3) and (2,): the left has "
        "3 columns but the right has 2 rows (a transpose (.T) may be missing)\n"
        "  sum(W @ x)\n"
        "      ^^^^^\n")


def test_trace_shows_shapes_and_full_small_arrays():
    result = run("trace", "q = W @ x; f = sum(q**2)", *LECTURE[1:], "--plain")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split()[:6] == ["id", "node", "op", "inputs", "shape", "value"]
    q = next(line for line in lines if line.startswith("#2"))
    assert q.split()[:5] == ["#2", "q", "@", "#0,", "#1"]
    assert "2       [0.22, 0.26]" in q and "[0.44, 0.52]" in q and "Jacobian, Jacobian" in q


def test_trace_summarises_large_arrays():
    result = run("trace", "sum(tanh(v))", "v=" + json.dumps([0.01 * k for k in range(100)]),
                 "--plain")
    assert result.exit_code == 0
    assert "array(100,) min 0 max 0.99 mean 0.495" in result.stdout


def test_trace_json_has_shapes():
    nodes = json.loads(run("trace", *LECTURE, "--json").stdout)["nodes"]
    assert [n.get("shape") for n in nodes] == [[2, 2], [2], [2], None, [2], None]


def test_jacobian_of_a_matrix_product_is_what_the_lecture_draws():
    result = run("trace", *LECTURE, "--jacobian", "W @ x")
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith("local Jacobian of #2 W @ x  (op matmul, output 2)")
    assert "d #2 / d #0 W: 2 x 4" in out
    assert "[[0.2, 0.4, 0, 0],\n   [0, 0, 0.2, 0.4]]" in out  # dq_i/dW_ij = x_j
    assert "d #2 / d #1 x: 2 x 2" in out
    assert "[[0.1, 0.5],\n   [-0.3, 0.8]]" in out  # dq/dx = W
    assert "never builds this matrix" in out


def test_jacobian_of_an_elementwise_op_is_diagonal_and_says_why():
    # #3 as the trace shows q**2: the 2 inside the gate takes no number on screen
    result = run("trace", "q = W @ x; f = sum(q**2)", *LECTURE[1:], "--jacobian", "#3")
    assert result.exit_code == 0
    assert "[[0.44, 0],\n   [0, 0.52]]" in result.stdout
    assert "diagonal: the op works entry by entry" in result.stdout
    assert "2 (inside its gate): a constant: no gradient flows into it" in result.stdout


def test_jacobian_json():
    data = json.loads(run("trace", *LECTURE, "--jacobian", "#2", "--json").stdout)["jacobian"]
    assert data["op"] == "matmul" and data["shape"] == [2]
    assert [b["input"] for b in data["blocks"]] == [0, 1]
    assert data["blocks"][1]["matrix"] == [[0.1, 0.5], [-0.3, 0.8]]
    assert data["blocks"][1]["diagonal"] is False


@pytest.mark.parametrize("node, message", [
    ("#9", "binding error: --jacobian #9: there is no node #9"),
    ("W", "binding error: --jacobian: #0 W is an input, not an operation"),
    ("nope", "binding error: --jacobian nope: no node is named or written like that"),
])
def test_jacobian_bad_node(node, message):
    result = run("trace", *LECTURE, "--jacobian", node)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)


def test_jacobian_too_large_to_print():
    v = "v=" + json.dumps([0.5] * 100)
    result = run("trace", "sum(tanh(v))", v, "--jacobian", "tanh(v)")
    assert result.exit_code == 2
    assert "100 x 100 = 10,000 entries; --jacobian prints up to 4,096" in result.stderr
    assert "multiplies the upstream gradient by it without writing it out" in result.stderr
    assert "vector-Jacobian" not in result.stderr  # the lecture's words, not the jargon


def test_no_check_array_program():
    result = run("eval", *LECTURE, "--no-check", "--plain")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "not checked (--no-check)"


def test_an_unread_array_gets_a_zero_gradient_of_its_shape():
    result = run("eval", "sum(x)", "x=[1,2]", "W=[[1,2,3]]", "--json")
    assert result.exit_code == 0
    assert result.stderr == "warning: W is bound but the program never reads it\n"
    data = json.loads(result.stdout)
    assert data["gradients"]["W"] == [[0.0, 0.0, 0.0]]
    assert data["shapes"] == {"x": [2], "W": [1, 3]}


def test_the_shape_column_is_the_variables_shape_with_or_without_a_jacobian():
    # A vector output's table showed the Jacobian's shape: x (a scalar) as "2", v (2 entries)
    # as "2x2", W (2x3) as "2x2x3", while --seed showed "scalar" and "2" for the same x and v.
    from rich.console import Console

    from backprop_cli.evaluate import Options, evaluate
    from backprop_cli.render.tables import FittedTable

    def shapes(text: str) -> dict[str, str]:
        rows = [line.replace("│", " ").split() for line in text.splitlines()]
        return {r[0]: r[1] for r in rows if len(r) > 1 and r[0] in ("x", "v", "W")}

    point = ["x=2", "v=[1,2]", "W=[[1,2,3],[3,4,5]]"]
    for seed in ([], ["--seed", "[1,1]"]):
        out = CliRunner().invoke(cli, ["eval", "x*v + W @ v3", *point, "v3=[1,0,0]", *seed])
        assert shapes(out.stdout) == {"x": "scalar", "v": "2", "W": "2x3"}, out.stdout
    result = evaluate("x*v + W @ v3", {"x": 2.0, "v": np.array([1.0, 2]),
                                       "W": np.array([[1.0, 2, 3], [3, 4, 5]]),
                                       "v3": np.array([1.0, 0, 0])},
                      Options(full_jacobian=True))
    console = Console(width=120, record=True, file=open("/dev/null", "w"))
    console.print(FittedTable(result, 6))
    assert shapes(console.export_text()) == {"x": "scalar", "v": "2", "W": "2x3"}

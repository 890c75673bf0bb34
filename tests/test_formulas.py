"""--symbolic: the lecture's formulas, matrix formulas for arrays, and a plain word when there
is none (never a scalar formula for a matrix, never "sympy failed")."""

import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli

W = "W=[[0.1,0.5],[-0.3,0.8]]"
X = "x=[0.2,0.4]"


def formulas(*argv: str) -> dict[str, str]:
    result = CliRunner().invoke(cli, ["eval", "--symbolic", *argv])
    assert result.exit_code == 0, result.stderr
    return dict(line[len("d/d"):].split(" = ", 1) for line in result.stdout.splitlines()
                if line.startswith("d/d"))


def test_the_lecture_vectorized_example_in_matrix_form():
    # f = ||W x||^2: df/dW = 2 (W x) x^T, df/dx = 2 W^T (W x)
    expected = {"x": "2*W.T @ W @ x", "W": "2*W @ x @ x.T"}
    assert formulas("sum((W @ x)**2)", X, W) == expected
    assert formulas("norm(W @ x)**2", X, W) == expected
    assert formulas("q = W @ x; sum(q*q)", X, W) == expected


@pytest.mark.parametrize("program, bindings, expected", [
    ("sum(W @ x)", [X, W], {"x": "W.T @ ones(2,1)", "W": "ones(2,1) @ x.T"}),
    ("x @ A @ x", ["x=[1,2]", "A=[[1,2],[3,4]]"], {"x": "A @ x + A.T @ x", "A": "x @ x.T"}),
    ("sum(x*y) + mean(A)", ["x=[1,2]", "y=[3,4]", "A=[[1,2],[3,4]]"],
     {"x": "y", "y": "x", "A": "(1/4)*ones(2,2)"}),
])
def test_matrix_formulas(program, bindings, expected):
    assert formulas(program, *bindings) == expected


@pytest.mark.parametrize("program, bindings, op", [
    ("cross_entropy(s, y)", ["s=[1,2,3]", "y=[0,1,0]"], "cross_entropy"),
    ("sum(W2 @ relu(W1 @ x))", ["x=[1,2]", "W1=[[1,2],[3,4]]", "W2=[[1,1],[2,2]]"], "relu"),
    ("sum(softmax(s))", ["s=[1,2,3]"], "softmax"),
])
def test_an_array_program_without_a_matrix_formula_says_so(program, bindings, op):
    for text in formulas(program, *bindings).values():
        assert text == (f"(no matrix formula: {op} of an array has no form in sympy's matrix "
                        "calculus here)")


def test_the_sigmoid_neuron_reads_sigma_one_minus_sigma():
    got = formulas("1/(1+exp(-(w0*x0 + w1*x1 + w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2",
                   "w2=-3")
    where = ", where σ = σ(w0*x0 + w1*x1 + w2)"
    assert got == {"w0": "x0*σ*(1 - σ)" + where, "x0": "w0*σ*(1 - σ)" + where,
                   "w1": "x1*σ*(1 - σ)" + where, "x1": "w1*σ*(1 - σ)" + where,
                   "w2": "σ*(1 - σ)" + where}
    assert formulas("sigmoid(w*x)", "w=2", "x=1")["w"] == "x*σ*(1 - σ), where σ = σ(w*x)"


def test_scalar_formulas_are_sympys():
    assert formulas("x*y + sin(x)", "x=1", "y=2") == {"x": "y + cos(x)", "y": "x"}

"""A rule that breaks its own contract is backprop's fault: an internal error (exit 3) that
names the rule and what it got wrong, never the user's "domain error" (exit 2)."""

import dataclasses

import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli
from backprop_cli.errors import InternalError
from backprop_cli.evaluate import evaluate
from backprop_cli.ops import registry as ops

W = "W=[[0.1,0.5],[-0.3,0.8]]"
X = "x=[0.2,0.4]"


def swap_row(monkeypatch, name: str, **fields) -> None:
    broken = dataclasses.replace(ops.OPS[name], **fields)
    monkeypatch.setitem(ops.OPS, name, broken)
    for table in (ops.FUNCTIONS, ops.INFIX):
        for spelling, row in list(table.items()):
            if row.name == name:
                monkeypatch.setitem(table, spelling, broken)


def test_a_vjp_that_forgets_a_transpose_is_an_internal_error(monkeypatch):
    # dA = g B^T written as g B: for W @ x with W 2x2 and x a 2-vector, the gradient for x
    # comes out 1x2 where x is (2,).
    from backprop_cli.ops import arrays

    def no_transpose(m, g, args, out):
        a, b = args
        dx, _ = arrays._matmul_vjp(m, g, args, out)
        return dx, m.np.outer(g, b)[:1]

    swap_row(monkeypatch, "matmul", vjp=no_transpose)
    result = CliRunner().invoke(cli, ["eval", "sum((W @ x)**2)", W, X])
    assert result.exit_code == 3, result.stderr
    assert result.stderr == ("internal error: the matmul rule gave input 2 of W @ x a gradient "
                             "of shape (1, 2), but the input has shape (2,) (please report "
                             "this)\n")


def test_a_rule_with_too_few_partials_is_an_internal_error(monkeypatch):
    swap_row(monkeypatch, "mul", local=lambda m, a, b, out: (b,))
    with pytest.raises(InternalError, match="the mul rule gave 1 partials for 2 inputs"):
        evaluate("x*y", {"x": 2.0, "y": 3.0})
    result = CliRunner().invoke(cli, ["eval", "x*y", "x=2", "y=3"])
    assert result.exit_code == 3
    assert result.stderr.startswith("internal error: the mul rule gave 1 partials")


def test_the_users_domain_error_is_still_the_users():
    result = CliRunner().invoke(cli, ["eval", "sqrt(x)", "x=0"])
    assert result.exit_code == 2
    assert result.stderr.startswith("domain error")

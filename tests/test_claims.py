"""Claims: a derivative formula graded as a formula (sympy proof and 33 seeded points), not as
one number at one point."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from backprop_cli.checks.claims import CLAIM_POINTS, grade_claims, parse_claims
from backprop_cli.checks.scalar import Limits
from backprop_cli.cli import cli
from backprop_cli.errors import BackpropError
from backprop_cli.evaluate import Options, evaluate
from backprop_cli.language.parser import parse

NO_SYMPY = Limits(sympy_max_nodes=0)


def run(*args: str, code: int = 0):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


def grade(program: str, claims: list[str], limits: Limits | None = None, **at):
    graph = parse(program)
    return grade_claims(graph, at, parse_claims(claims, list(at)), limits=limits)


def test_the_chain_rule_formula_is_proved_by_sympy_and_agrees_at_every_point():
    (c,) = grade("sin(x**2)", ["dx=2*x*cos(x**2)"], x=1.5)
    assert (c.status, c.method, c.points) == ("pass", "sympy", CLAIM_POINTS + 1)


def test_a_claim_right_at_the_point_but_wrong_elsewhere_fails_with_a_counterexample():
    # d(x*y)/dx = y, and at x = y = 1 the claim dx = x gives the same number.
    (c,) = grade("x*y", ["dx=x"], x=1.0, y=1.0)
    assert c.status == "fail"
    ex = c.counterexample
    assert ex["point"] != {"x": 1.0, "y": 1.0}
    assert ex["claimed"] == pytest.approx(ex["point"]["x"])
    assert ex["backprop"] == pytest.approx(ex["point"]["y"])


def test_without_sympy_the_points_decide():
    (right, wrong) = grade("x*y", ["dy=x", "dx=x"], NO_SYMPY, x=1.0, y=1.0)
    assert (right.status, right.method) == ("pass", "points")
    assert (wrong.status, wrong.method) == ("fail", "points")


def test_the_sigmoid_gate_claim_from_the_lecture():
    # the lecture's shortcut: d(sigmoid(t))/dt = (1 - sigmoid(t)) * sigmoid(t)
    program = "1/(1+exp(-(w0*x0 + w1*x1 + w2)))"
    s = "sigmoid(w0*x0 + w1*x1 + w2)"
    at = dict(w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0)
    (c,) = grade(program, [f"dw0=(1 - {s})*{s}*x0"], **at)
    assert c.status == "pass"
    (c,) = grade(program, [f"dw0=(1 - {s})*{s}"], **at)  # forgot the local factor x0
    assert c.status == "fail"


def test_a_domain_too_narrow_for_the_points_is_inconclusive():
    # log is defined only where |x - 1| < 0.01: few draws land there, and sympy is off.
    program = "log(1e-4 - (x - 1)**2)"
    (c,) = grade(program, ["dx=-2*(x - 1)/(1e-4 - (x - 1)**2)"], NO_SYMPY, x=1.0)
    assert c.status == "inconclusive" and "random points" in c.reason
    (c,) = grade(program, ["dx=-2*(x - 1)/(1e-4 - (x - 1)**2)"], x=1.0)
    assert (c.status, c.method) == ("pass", "sympy")


def test_the_same_claim_gets_the_same_points_every_time():
    first = grade("x*y", ["dx=x"], x=1.0, y=1.0)[0].counterexample
    assert grade("x*y", ["dx=x"], x=1.0, y=1.0)[0].counterexample == first


def test_array_claims_with_vectors_as_columns():
    W = np.array([[0.1, 0.5], [-0.3, 0.8]])
    x = np.array([[0.2], [0.4]])
    right = grade("sum((W @ x)**2)", ["dW=2*(W @ x) @ x.T", "dx=2*W.T @ (W @ x)"], W=W, x=x)
    assert [(c.status, c.method) for c in right] == [("pass", "sympy"), ("pass", "sympy")]
    (wrong,) = grade("sum((W @ x)**2)", ["dx=2*W @ (W @ x)"], W=W, x=x)
    assert wrong.status == "fail"


def test_the_symbolic_outer_product_with_flat_vectors_is_read_with_them_as_columns():
    # --symbolic writes dW = 2*W @ x @ x.T (a vector is a column); with a flat x it is one
    # number as bound, so the claim is read again with x as a 2x1 column, and graded so.
    W = np.array([[0.1, 0.5], [-0.3, 0.8]])
    x = np.array([0.2, 0.4])
    right = grade("sum((W @ x)**2)", ["dW=2*W @ x @ x.T", "dx=2*W.T @ W @ x"], W=W, x=x)
    assert [(c.status, c.method, c.columns) for c in right] == [
        ("pass", "sympy", ("x",)), ("pass", "sympy", ())]
    (wrong,) = grade("sum((W @ x)**2)", ["dW=3*W @ x @ x.T"], W=W, x=x)
    assert (wrong.status, wrong.columns) == ("fail", ("x",))
    assert np.allclose(wrong.counterexample["claimed"], 3 * np.outer(W @ x, x))


def test_a_flat_vector_read_as_a_column_gives_back_a_flat_gradient():
    x = np.array([0.2, 0.4])
    (c,) = grade("sum(x * x)", ["dx=2*x.T.T @ (x.T @ x) / (x.T @ x)"], x=x)
    assert (c.status, c.columns) == ("pass", ("x",))


def test_a_claim_of_another_shape_cannot_be_compared_and_exits_2():
    result = run("eval", "sum((W @ x)**2)", "x=[0.2,0.4]", "W=[[0.1,0.5],[-0.3,0.8]]",
                 "--claim", "dW=x", code=2)
    assert result.stderr.rstrip("\n") == (
        "binding error: claim dW = x: the claim has shape 2 but dW has shape 2x2, so they "
        "cannot be compared (with x a 1-D vector, x.T is x and x @ x.T a dot product; bind "
        "vectors as columns, e.g. x=[[0.2],[0.4]])")
    assert result.stdout == ""


def test_one_number_no_reading_shapes_still_claims_every_entry_and_fails_with_a_hint():
    W = np.array([[0.1, 0.5], [-0.3, 0.8]])
    x = np.array([0.2, 0.4])
    (c,) = grade("sum((W @ x)**2)", ["dW=sum(x)"], W=W, x=x)
    assert c.status == "fail" and "bind the vectors as columns" in c.reason


def test_eval_says_which_vectors_it_read_as_columns():
    ok = run("eval", "sum((W @ x)**2)", "x=[0.2,0.4]", "W=[[0.1,0.5],[-0.3,0.8]]",
             "--claim", "dW=2*W @ x @ x.T")
    assert ("claim dW = 2*W @ x @ x.T (x read as a column, n x 1): pass (sympy proof; 33 "
            "points agree)") in ok.stdout.splitlines()


@pytest.mark.parametrize("claim, message", [
    ("dx=2*(x+", "parse error at column 9: in the claim: unexpected end of input: expected a "
                 "number, a name or '('\n  dx=2*(x+\n          ^"),
    ("dz=1", "binding error: --claim dz=1: dz names no bound variable (claim dNAME for one of: "
             "x, y)"),
    ("2*x", "binding error: --claim 2*x: not dNAME=FORMULA (e.g. --claim \"dx=2*x*cos(x**2)\")"),
    ("dx=q*y", "name error at column 4: in the claim: q is not a bound variable (a claim's "
               "formula reads the bound variables: x, y)\n  dx=q*y\n     ^"),
])
def test_a_claim_that_does_not_parse_or_names_no_variable_exits_2(claim, message):
    result = run("eval", "x*y", "x=1", "y=1", "--claim", claim, code=2)
    assert result.stderr.rstrip("\n") == message
    assert result.stdout == ""


def test_claimed_twice_is_refused():
    with pytest.raises(BackpropError, match="dx is claimed twice"):
        evaluate("x*y", {"x": 1.0, "y": 1.0}, Options(claims=("dx=y", "x=y")))


def test_eval_exit_codes_and_lines():
    ok = run("eval", "sin(x**2)", "x=1.5", "--claim", "dx=2*x*cos(x**2)")
    assert "claim dx = 2*x*cos(x**2): pass (sympy proof; 33 points agree)" in ok.stdout
    bad = run("eval", "x*y", "x=1", "y=1", "--claim", "dx=x", "--claim", "dy=x", code=1)
    lines = bad.stdout.splitlines()
    assert any(line.startswith("claim dx = x: FAIL at x=") and "the claim gives" in line
               and line.endswith("; it agrees at the given point") for line in lines)
    assert "claim dy = x: pass (sympy proof; 33 points agree)" in lines
    assert lines[-1] == "FAILED: a claim does not hold: dx"


def test_json_claims():
    out = json.loads(run("eval", "x*y", "x=1", "y=1", "--claim", "dx=x", "--claim", "dy=x",
                         "--json", code=1).stdout)
    assert out["claims"]["y"] == {"status": "pass", "method": "sympy", "claim": "dy = x",
                                  "points": 33, "counterexample": None, "reason": None,
                                  "columns": []}
    fail = out["claims"]["x"]
    assert (fail["status"], fail["method"]) == ("fail", "sympy") or fail["status"] == "fail"
    assert set(fail["counterexample"]) == {"point", "claimed", "backprop"}
    assert out["exit_code"] == 1


def test_case_files_accept_claims(tmp_path):
    cases = tmp_path / "cases.txt"
    cases.write_text('"x*y" x=1 y=1 claim: dy=x claim: "dx = y"\n'
                     '"x*y" x=1 y=1 claim:dx=x\n'
                     '{"expr": "x*y", "at": {"x": 1, "y": 1}, "claims": {"dx": "y"}}\n'
                     '{"expr": "x*y", "at": {"x": 1, "y": 1}, "claims": {"dx": "x"}}\n'
                     '"x*y" x=1 y=1 claim: dx=2*(x+\n')
    result = run("check", str(cases), "--json", code=2)
    report = json.loads(result.stdout)
    assert [c["status"] for c in report["cases"]] == ["pass", "fail", "pass", "fail", "error"]
    assert report["cases"][4]["error"]["message"].endswith(
        "5:30: parse error: in the claim: unexpected end of input: expected a number, a name "
        "or '('")


@pytest.mark.parametrize("program, at", [
    ("(x+y)*z", dict(x=-2.0, y=5.0, z=-4.0)),
    ("tanh(w0*x0 + w1*x1 + w2)", dict(w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0)),
    ("x/(y+1) - sqrt(x)", dict(x=2.0, y=0.5)),
    ("log(x)*exp(-x)", dict(x=1.5)),
])
def test_symbolic_formulas_pasted_back_as_claims_hold(program, at):
    # --symbolic writes sympy's derivative in the program language, so it reads back as a claim
    result = evaluate(program, at, Options(check=False, symbolic=True))
    claims = [f"d{r.name}={r.formula}" for r in result.rows]
    graded = grade(program, claims, **at)
    assert [c.status for c in graded] == ["pass"] * len(at)

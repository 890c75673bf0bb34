"""Verdicts a user can trust: a right gradient is never called wrong, a gradient no check
confirmed is never called right, and the figures say what decided them (docs/checks.md)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from backprop_cli.checks.scalar import Limits
from backprop_cli.cli import cli
from backprop_cli.evaluate import Options, evaluate


def invoke(*argv: str, code: int = 0):
    result = CliRunner().invoke(cli, list(argv))
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return result


def statuses(result) -> dict[str, dict[str, str]]:
    return {r.name: {c.method: c.status for c in r.checks} for r in result.rows}


# Right gradients where the standard finite-difference step is too coarse: a fast oscillation,
# a pole within reach of the step, a function that overflows its way up. Each must not FAIL,
# with sympy (which outranks a finite difference) and without it (where the extrapolated
# difference has to stand on its own).
STEEP = [
    ("sin(3000*x)", {"x": 0.3}),
    ("tan(x)", {"x": 1.5707}),
    ("tan(x)", {"x": 1.5707963}),
    ("1/x", {"x": 1e-9}),
    ("sin(1/x)", {"x": 1e-5}),
    ("log(x)", {"x": 1e-12}),
    ("exp(50*sin(x))", {"x": 1.5}),
    ("sqrt(x)", {"x": 1e-7}),
    ("x**3", {"x": 0.0}),
    ("1/(x - 2)", {"x": 2.000001}),
    ("tanh(1000*x)*y", {"x": 0.001, "y": 3.0}),
]


@pytest.mark.parametrize("sympy", [True, False])
@pytest.mark.parametrize("program, at", STEEP)
def test_a_steep_function_is_never_a_false_failure(program, at, sympy):
    result = evaluate(program, at, Options(sympy=sympy))
    assert result.exit_code == 0, statuses(result)
    for row in result.rows:
        assert row.verdict in ("pass", "unchecked")


def test_sin_3000x_now_converges_and_shows_its_error_bound():
    out = invoke("eval", "sin(3000*x)", "x=0.3", "--no-sympy").stdout
    row = next(line for line in out.splitlines() if line.startswith("x "))
    figure = row.split("pass ")[1]
    assert "±" in figure  # the extrapolated difference carries its own error estimate
    assert out.splitlines()[-1] == "the gradient agrees with finite differences"


def test_sympy_outranks_a_finite_difference_that_disagrees():
    from backprop_cli.checks.scalar import Check
    from backprop_cli.checks.verdict import row_status, settle

    sympy = Check("sympy", "pass", 198.74, 5e-13)
    fd = Check("finite-difference", "fail", 198.73, 5.5e-5)
    settled = settle([sympy, fd])
    assert [c.status for c in settled] == ["pass", "inconclusive"]
    assert settled[1].reason.startswith("sympy's exact derivative agrees; finite differences "
                                        "differ by 5.5e-05")
    assert row_status(settled) == "pass"
    # Without sympy's agreement, the same finite difference is evidence, and it fails.
    assert row_status(settle([Check("sympy", "skipped"), fd])) == "fail"
    assert row_status(settle([Check("sympy", "fail", 1.0, 0.5), fd])) == "fail"


def test_tan_at_its_pole_is_never_a_failure():
    result = evaluate("tan(x)*1e-20", {"x": 1.5707963267948966})
    sympy_check, fd_check = result.rows[0].checks
    assert sympy_check.status == "pass"
    assert fd_check.status in ("pass", "inconclusive")
    assert result.exit_code == 0


def test_a_steep_term_among_many_is_not_a_failure_when_sympy_is_skipped():
    # 3,000 nodes: past sympy's size limit, so finite differences decide alone.
    terms = " + ".join(f"{(k % 7) / 10}*sin(y*{k % 5 + 1})" for k in range(600))
    program = f"sin(3000*x)*2 + tan(x + 1.2707) + {terms}"
    result = evaluate(program, {"x": 0.3, "y": 0.7})
    assert statuses(result)["x"] == {"sympy": "skipped", "finite-difference": "pass"}
    assert result.exit_code == 0


# --- a kink elsewhere never excuses a wrong rule ------------------------------------------


def test_a_nearby_kink_is_stepped_around(monkeypatch):
    # relu's kink is 1e-7 from the point, inside the standard step (6e-6): a smaller step keeps
    # clear of it, so x is checked, not excused.
    out = invoke("eval", "relu(x)*y", "x=1e-7", "y=2").stdout
    assert out.splitlines()[-1] == "all 2 gradients agree with sympy and finite differences"
    data = json.loads(invoke("eval", "--json", "relu(x)*y", "x=1e-7", "y=2").stdout)
    fd = data["checks"]["x"][1]
    assert fd["status"] == "pass"
    assert fd["reason"] == "a smaller step kept clear of a kink or the domain's edge"


def test_a_wrong_rule_behind_a_nearby_kink_fails_without_sympy(monkeypatch):
    from test_broken_rule import swap_rule

    swap_rule(monkeypatch, "sin", lambda m, a, out: (m.sin(a),))
    # sympy skipped (depth), a relu within the step of its kink on x's path, and a wrong sin
    # rule on the same path: the kink must not excuse the rule.
    chain = "t = relu(x - 0.3) + sin(x)\n" + "t = t*1.0001 + 0.001\n" * 45 + "t"
    result = evaluate(chain, {"x": 0.3 + 1e-7})
    assert statuses(result)["x"] == {"sympy": "skipped", "finite-difference": "fail"}
    assert result.exit_code == 1


def test_a_kink_the_step_does_not_move_never_excuses_a_wrong_rule(monkeypatch):
    from test_broken_rule import swap_rule

    swap_rule(monkeypatch, "sin", lambda m, a, out: (m.sin(a),))
    # relu(x - x) is exactly on its kink at every x, but no step in x moves it off: the finite
    # difference is fair, and the wrong sin rule must fail, not be excused as a subgradient.
    result = evaluate("relu(x - x) + sin(x)*y", {"x": 0.5, "y": 2.0}, Options(sympy=False))
    assert statuses(result)["x"] == {"finite-difference": "fail"}
    assert result.exit_code == 1


# --- no silent unchecked gradient -----------------------------------------------------------


def test_a_gradient_no_check_confirmed_is_unchecked_in_the_table_json_and_summary():
    # Three variables, a budget for two finite differences, sympy capped: z has no check.
    argv = ["x*y + z", "x=1", "y=2", "z=3"]
    result = evaluate(argv[0], {"x": 1.0, "y": 2.0, "z": 3.0},
                      Options(limits=Limits(sympy_max_nodes=1, fd_max_node_evals=2 * 5 * 2)))
    assert [r.verdict for r in result.rows] == ["pass", "pass", "unchecked"]
    assert result.status == "unchecked" and result.exit_code == 0
    assert result.unchecked == ["z"]
    from backprop_cli.render.json_out import eval_json
    from backprop_cli.render.plain import eval_text

    data = eval_json(result, argv[0])
    assert data["status"] == "unchecked"
    assert data["verdicts"] == {"x": "pass", "y": "pass", "z": "unchecked"}
    assert data["unchecked"]["z"].startswith("sympy: the graph has 5 nodes")
    last = eval_text(result, 6).splitlines()[-1]
    assert last.startswith("2 of 3 gradients confirmed by finite differences; z: unchecked (")
    assert "over the finite-difference budget: checked 2 of 3 variables" in last


def test_a_big_program_over_its_budgets_says_each_reason_once_in_a_bounded_line():
    # The lecture's sum over many inputs, sum of sin(xi)*xi: sympy capped below the graph's
    # size and a finite-difference budget of 10 variables, so 30 of 40 share one reason.
    names = [f"x{k}" for k in range(40)]
    program = " + ".join(f"sin({n})*{n}" for n in names)
    result = evaluate(program, {n: 0.1 * k for k, n in enumerate(names)},
                      Options(limits=Limits(sympy_max_nodes=10, fd_max_node_evals=10 * 2 * 159)))
    from backprop_cli.render.json_out import eval_json
    from backprop_cli.render.plain import verdict

    line = verdict(result)
    reason = result.rows[10].unchecked_reason
    assert "over the finite-difference budget: checked 10 of 40 variables" in reason
    assert line == (f"10 of 40 gradients confirmed by finite differences; 30 gradients "
                    f"(x10, x11, x12, …, x39): unchecked ({reason})")
    assert line.count("budget") == 1
    # The JSON keeps every name with its reason: only the human line groups them.
    unchecked = eval_json(result, program)["unchecked"]
    assert list(unchecked) == names[10:] and set(unchecked.values()) == {reason}


def test_unchecked_gradients_with_different_reasons_are_grouped_and_the_rest_counted():
    from backprop_cli.render import plain

    # relu(a), relu(b) on their kinks; c, d over the budget (sympy off: only finite
    # differences, budget of two variables).
    program = "relu(a) + relu(b) + c*d"
    at = {"a": 0.0, "b": 0.0, "c": 1.0, "d": 2.0}
    graph_nodes = len(evaluate(program, at, Options(check=False)).graph)
    result = evaluate(program, at, Options(
        sympy=False, limits=Limits(fd_max_node_evals=2 * 2 * graph_nodes)))
    line = plain.verdict(result)
    assert line.startswith("4 of 4 gradients unchecked: 2 gradients (a, b): unchecked (finite "
                           "differences: the finite-difference step straddles a kink); "
                           "2 gradients (c, d): unchecked (finite differences: over the ")
    # Past GROUPS_SHOWN reasons, the rest are counted, not spelled out.
    from types import SimpleNamespace

    rows = [SimpleNamespace(name=f"v{k}", unchecked_reason=f"reason {k % 5}") for k in range(10)]
    text = plain._unchecked_groups(plain._by_reason(rows))
    assert text.startswith("2 gradients (v0, v5): unchecked (reason 0); "
                           "2 gradients (v1, v6): unchecked (reason 1); ")
    assert text.endswith("; 4 more unchecked for 2 other reasons (--json lists each)")


def test_the_summary_counts_a_method_that_did_not_confirm_every_gradient():
    from backprop_cli.render.plain import verdict

    # At the float nearest pi/2, tan's pole is closer than any step float64 can take.
    result = evaluate("tan(x)*y", {"x": 1.5707963267948966, "y": 2.0})
    assert verdict(result) == ("all 2 gradients agree with sympy; finite differences "
                               "agree on 1 of 2 (x: inconclusive)")
    result = evaluate("tan(x)*y", {"x": 1.5707963267948966, "y": 2.0}, Options(sympy=False))
    assert verdict(result).startswith("1 of 2 gradients confirmed by finite differences; "
                                      "x: unchecked (finite differences: no step converges")
    assert result.exit_code == 0


# --- figures that mean what they say --------------------------------------------------------


def test_a_pass_decided_by_the_absolute_floor_shows_the_absolute_difference():
    out = invoke("eval", "x**3", "x=0").stdout
    row = next(line for line in out.splitlines() if line.startswith("x "))
    assert row.split()[-3:-1] == ["pass", "abs"]  # not "pass 1.0e+00", a relative error of 1
    data = json.loads(invoke("eval", "--json", "x**3", "x=0").stdout)
    fd = data["checks"]["x"][1]
    assert fd["decided_by"] == "absolute" and fd["rel_error"] == 1.0
    assert 0 < fd["abs_error"] < 1e-8


# --- --wrt needs only what its variables need -----------------------------------------------


def test_a_gradient_not_asked_for_never_fails_the_run():
    # d(x**y)/dy = x**y log(x) does not exist at x = -2, but only x is asked for.
    result = invoke("eval", "--json", "x**y", "x=-2", "y=2", "--wrt", "x")
    data = json.loads(result.stdout)
    assert data["gradients"] == {"x": -4.0}
    assert data["status"] == "pass"
    # Asked for, it is the user's domain error, as before.
    assert invoke("eval", "x**y", "x=-2", "y=2", code=2).stderr.startswith("domain error")


# --- the array checker reads the same policy ------------------------------------------------


def test_arrays_steep_entries_are_not_false_failures():
    result = evaluate("sum(sin(3000*x)) + sum(tan(y))",
                      {"x": np.array([0.3, 0.1]), "y": np.array([1.5707, 0.2])},
                      Options(sympy=False))
    assert result.exit_code == 0, statuses(result)
    assert result.status == "pass"


def test_an_extrapolation_that_never_converged_is_null_in_json_not_a_crash():
    result = invoke("eval", "--json", "--no-sympy", "tan(x)*y", "x=1.5707963267948966", "y=2")
    data = json.loads(result.stdout)
    fd = data["checks"]["x"][0]
    assert (fd["status"], fd["error_bound"]) == ("inconclusive", None)
    assert data["status"] == "unchecked" and data["exit_code"] == 0
    assert data["unchecked"]["x"].startswith("finite differences: no step converges here")


def test_an_array_kink_elsewhere_never_excuses_a_wrong_rule(monkeypatch):
    from test_broken_rule import swap_rule

    swap_rule(monkeypatch, "sin", lambda m, a, out: (m.sin(a),))
    # One entry of relu(v) is exactly on its kink, so v "flows into a kink"; but stepping the
    # other entry does not move it, and w's path never meets it: the wrong sin rule fails.
    result = evaluate("sum(relu(v)) + sum(sin(v)) + sum(sin(w))",
                      {"v": np.array([0.0, 0.7]), "w": np.array([0.2, 0.4])},
                      Options(sympy=False))
    fd = {r.name: r.checks[0] for r in result.rows}
    assert fd["v"].status == "fail" and fd["w"].status == "fail"
    assert result.exit_code == 1


def test_a_disagreement_the_budget_cannot_measure_again_is_inconclusive_not_a_failure():
    # Budget for the plain differences only: sin(3000 x)'s plain difference disagrees (by
    # 5.5e-05) and there is nothing left to extrapolate with.
    limits = Limits(sympy_max_nodes=1, fd_max_node_evals=2 * 5)
    result = evaluate("sin(3000*x)", {"x": 0.3}, Options(limits=limits))
    fd = result.rows[0].checks[1]
    assert fd.status == "inconclusive"
    assert fd.reason == ("the plain difference disagrees, and the finite-difference budget ran "
                         "out before it could be measured again")
    assert result.exit_code == 0 and result.status == "unchecked"


def test_an_array_figure_comes_from_the_entries_compared_not_the_excused_ones():
    # svm_loss(s, 0) at s=[1,0,2]: entry [1] sits on a margin of exactly 0; the other two are
    # compared. The figure and the count speak of those two alone.
    result = evaluate("svm_loss(s, 0)", {"s": np.array([1.0, 0.0, 2.0])}, Options())
    fd = next(c for c in result.rows[0].checks if c.method == "finite-difference")
    assert fd.status == "pass" and fd.rel_error < 1e-6
    assert (fd.entries, fd.total) == (1, 3)

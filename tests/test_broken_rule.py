"""Break one op's derivative rule and watch the cross-checks catch it.

The registry is the single source of each op's local gradient; if a row's rule is wrong, both
independent checks (sympy's derivative of the row's sympy form, and finite differences of its
forward rule) must disagree with backprop, and the exit code must say so.
"""

import dataclasses

import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli
from backprop_cli.evaluate import evaluate
from backprop_cli.ops import registry as ops


def swap_rule(monkeypatch, name: str, local) -> None:
    """Replace the row `name` with a copy whose local rule is `local`, wherever it is looked up:
    the row's one statement of its gradient, which every path reads."""
    broken = dataclasses.replace(ops.OPS[name], local=local)
    monkeypatch.setitem(ops.OPS, name, broken)
    if name in ops.FUNCTIONS:
        monkeypatch.setitem(ops.FUNCTIONS, name, broken)
    for spelling, row in list(ops.INFIX.items()):
        if row.name == name:
            monkeypatch.setitem(ops.INFIX, spelling, broken)


@pytest.fixture
def sin_is_broken(monkeypatch):
    # The classic slip: d sin(a)/da written as +sin(a) instead of cos(a).
    swap_rule(monkeypatch, "sin", lambda m, a, out: (m.sin(a),))


@pytest.fixture
def mul_is_broken(monkeypatch):
    # A switcher that forgot to switch: each input gets its own value instead of the other's.
    swap_rule(monkeypatch, "mul", lambda m, a, b, out: (a, b))


def test_a_wrong_sin_rule_fails_both_checks(sin_is_broken):
    result = evaluate("sin(x) * y", {"x": 1.0, "y": 2.0})
    by_name = {r.name: {c.method: c for c in r.checks} for r in result.rows}
    # backprop now says 2*sin(1); the truth is 2*cos(1)
    assert result.gradients["x"] == pytest.approx(2 * 0.8414709848078965)
    for method in ("sympy", "finite-difference"):
        check = by_name["x"][method]
        assert check.status == "fail"
        assert check.reference == pytest.approx(2 * 0.5403023058681398, rel=1e-6)
    # y's gradient does not pass through sin, so it is still right and still passes
    assert {c.status for c in by_name["y"].values()} == {"pass"}
    assert result.failed
    assert result.exit_code == 1


def test_the_cli_prints_fail_and_exits_1(sin_is_broken):
    result = CliRunner().invoke(cli, ["eval", "--plain", "sin(x) * y", "x=1", "y=2"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    x_row = next(line for line in lines if line.startswith("x "))
    assert x_row.split()[:2] == ["x", "1.68294"]
    assert x_row.count("FAIL") == 2
    assert lines[-1] == "FAILED: 1 of 2 gradients disagree (x)"
    assert "Traceback" not in result.stderr


def test_the_json_report_says_fail(sin_is_broken):
    import json

    result = CliRunner().invoke(cli, ["eval", "--json", "sin(x)", "x=0.5"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["status"] == "fail"
    assert report["exit_code"] == 1
    assert [c["status"] for c in report["checks"]["x"]] == ["fail", "fail"]


def test_a_wrong_switcher_is_caught(mul_is_broken):
    result = evaluate("(x+y)*z", {"x": -2.0, "y": 5.0, "z": -4.0})
    assert result.exit_code == 1
    assert {r.name for r in result.rows if r.failed} == {"x", "y", "z"}


def test_without_checks_nothing_can_catch_it(sin_is_broken):
    from backprop_cli.evaluate import Options

    result = evaluate("sin(x)", {"x": 1.0}, Options(check=False))
    assert result.exit_code == 0  # which is why the checks are on by default
    assert result.rows[0].verdict == "unchecked"


def test_the_registry_is_restored_after_the_test():
    assert evaluate("sin(x) * y", {"x": 1.0, "y": 2.0}).exit_code == 0


def test_a_kink_elsewhere_does_not_excuse_a_wrong_rule(sin_is_broken):
    # relu(x) sits exactly on its kink, but y's gradient does not pass through it: the wrong
    # sin rule must still fail for y (a kink excuses only the variables that flow into it).
    result = evaluate("relu(x) + sin(y)", {"x": 0.0, "y": 0.5})
    by_name = {r.name: {c.method: c.status for c in r.checks} for r in result.rows}
    assert by_name["y"] == {"sympy": "fail", "finite-difference": "fail"}
    assert by_name["x"]["sympy"] != "fail"
    assert result.exit_code == 1

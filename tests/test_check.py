"""The cross-checks themselves: relative error, tolerances, expectations, limits, statuses."""

import pytest

from backprop_cli.checks.gradients import cross_check, sympy_gradients
from backprop_cli.checks.scalar import (
    Check,
    Limits,
    _last_digit_exponent,
    compare,
    expectation,
    finite_difference,
    rel_error,
)
from backprop_cli.evaluate import Options, evaluate
from backprop_cli.language.parser import parse


@pytest.mark.parametrize("a, b, expected", [
    (0.0, 0.0, 0.0),
    (3.0, 3.0, 0.0),
    (1.0, 2.0, 0.5),
    (-1.0, 1.0, 2.0),
    (-4.0, -4.000000000073337, 1.8334e-11),
    (1e-300, 0.0, 1.0),
])
def test_relative_error_is_cs231n_s(a, b, expected):
    assert rel_error(a, b) == pytest.approx(expected, rel=1e-4)
    assert rel_error(b, a) == rel_error(a, b)


@pytest.mark.parametrize("ours, ref, on_kink, status", [
    (-4.0, -4.0, False, "pass"),
    (1.0, 1.0 + 1e-10, False, "pass"),  # within rtol
    (1e-15, 3e-15, False, "pass"),  # tiny numbers: within the absolute floor
    (1.0, 1.1, False, "fail"),
    (0.0, 0.5, True, "subgradient"),  # relu'(0): backprop's 0 against sympy's Heaviside(0)
])
def test_compare(ours, ref, on_kink, status):
    check = compare("sympy", ours, ref, 1e-9, 1e-12, on_kink)
    assert check.status == status
    assert check.reference == ref


# (what a student wrote, the true gradient, verdict): right to the digits it was written with
EXPECTATIONS = [
    ("-0.2", -0.19661193324148185, "pass"),
    ("-0.20", -0.19661193324148185, "pass"),
    ("0.39", 0.3932238664829637, "pass"),
    ("-0.59", -0.5898357997244456, "pass"),
    ("0.4", 0.3932238664829637, "pass"),
    ("-4", -4.0, "pass"),
    ("-4", -3.6, "fail"),  # rounding may not hide 10 %
    ("-0.19", -0.19661193324148185, "fail"),  # wrongly rounded
    ("3", 3.0000000001, "pass"),
    ("1.5e-3", 0.0015, "pass"),
    ("1.5e-3", 0.00152, "pass"),
    ("1.5e-3", 0.0016, "fail"),
    ("0", 0.3, "fail"),
    ("0", 0.0, "pass"),
]


@pytest.mark.parametrize("text, ours, status", EXPECTATIONS)
def test_expectations(text, ours, status):
    check = expectation(ours, text)
    assert (check.method, check.status, check.reference) == ("expected", status, float(text))
    assert check.reason == ("" if status == "pass" else f"expected {text}")


@pytest.mark.parametrize("text, exponent", [
    ("0.39", -2), ("-4", 0), ("1.5e-3", -4), ("12.0", -1), ("+2.50", -2), ("3E2", 2),
])
def test_last_digit_exponent(text, exponent):
    assert _last_digit_exponent(text) == exponent


def test_finite_difference_of_the_lecture_example():
    graph = parse("(x+y)*z")
    at = {"x": -2.0, "y": 5.0, "z": -4.0}
    for name, grad in (("x", -4.0), ("y", -4.0), ("z", 3.0)):
        ref, why = finite_difference(graph, at, name)
        assert why == ""
        assert ref == pytest.approx(grad, rel=1e-8)


@pytest.mark.parametrize("program, at", [
    ("sqrt(x)", 1e-7),  # x - h < 0
    ("log(x)", 1e-7),
    ("log(x - 1)", 1.000001),
])
def test_a_step_out_of_the_domain_is_shrunk_until_it_fits(program, at):
    result = evaluate(program, {"x": at})
    sympy_check, fd_check = result.rows[0].checks
    assert sympy_check.status == "pass"
    assert (fd_check.status, fd_check.reason) == (
        "pass", "a smaller step kept clear of a kink or the domain's edge")
    assert result.exit_code == 0


def test_a_point_no_step_fits_is_inconclusive_not_a_failure():
    # sqrt(x) at 5e-324 (the smallest double): every step leaves the domain or is 0.
    result = evaluate("sqrt(x - 1) * 2", {"x": 1.0 + 2.0 ** -52})
    fd_check = result.rows[0].checks[-1]
    assert (fd_check.status, fd_check.reason) == (
        "inconclusive", "the finite-difference step leaves the function's domain")
    assert result.exit_code == 0


def test_sympy_sees_the_exact_binary_value_of_a_literal():
    # 0.1 is not 1/10 in float64; sympy is given the float's exact value, so it computes what
    # backprop computed and the two agree to the last bit.
    refs = sympy_gradients(parse("x*0.1 + pi*y + e*z"), {"x": 1.0, "y": 1.0, "z": 1.0},
                           ["x", "y", "z"])
    assert {n: r.reason for n, r in refs.items()} == {"x": "", "y": "", "z": ""}
    assert {n: float(r.values) for n, r in refs.items()} == {
        "x": 0.1, "y": 3.141592653589793, "z": 2.718281828459045}


@pytest.mark.parametrize("limits, reason", [
    (Limits(sympy_max_nodes=3), "the graph has 4 nodes (sympy limit 3)"),
    (Limits(sympy_max_depth=1), "the graph is 2 deep (sympy limit 1)"),
])
def test_sympy_limits_skip_with_a_reason(limits, reason):
    graph = parse("sin(x)*y")
    refs = sympy_gradients(graph, {"x": 1.0, "y": 2.0}, ["x", "y"], limits)
    assert [(r.reason, bool(r.done)) for r in refs.values()] == [(reason, False)] * 2


def test_sympy_time_limit():
    source = "+".join(f"sin(x*{k})*cos(y+{k})" for k in range(1, 150))
    refs = sympy_gradients(parse(source), {"x": 0.5, "y": 0.25}, ["x", "y"],
                           Limits(sympy_seconds=0.05, sympy_max_depth=1000))
    assert {r.reason for r in refs.values()} == {"over sympy's budget of 0.05 s of CPU time"}
    assert not any(r.done for r in refs.values())


def test_a_skipped_check_is_never_a_pass():
    result = evaluate("sin(x)*y", {"x": 1.0, "y": 2.0},
                      Options(numeric=False, limits=Limits(sympy_max_nodes=1)))
    for row in result.rows:
        assert [c.status for c in row.checks] == ["skipped"]
        assert row.verdict == "unchecked"
    assert not result.failed


def test_the_finite_difference_budget_is_honest():
    graph = parse("x*y + z")
    at = {"x": 1.0, "y": 2.0, "z": 3.0}
    from backprop_cli.engine.backward import backpropagate
    from backprop_cli.engine.forward import forward

    values = forward(graph, at)
    grads = backpropagate(graph, values)
    checks = cross_check(graph, at, values, grads, ["x", "y", "z"], sympy=False,
                         limits=Limits(fd_max_node_evals=2 * len(graph) * 2))
    assert [c[0].status for c in checks.values()] == ["pass", "pass", "skipped"]
    assert checks["z"][0].reason == "over the finite-difference budget: checked 2 of 3 variables"


def test_an_unread_variable_has_gradient_zero_and_both_checks_agree():
    result = evaluate("x*y", {"x": 1.0, "y": 2.0, "w": 5.0})
    row = result.rows[-1]
    assert (row.name, row.gradient) == ("w", 0.0)
    assert [c.status for c in row.checks] == ["pass", "pass"]


def test_check_fields_are_the_json_interface():
    assert Check("sympy", "pass", -4.0, 0.0, abs_error=0.0).to_dict() == {
        "method": "sympy", "status": "pass", "reference": -4.0, "rel_error": 0.0,
        "reason": None, "abs_error": 0.0, "decided_by": "relative", "error_bound": None}


def test_the_sympy_budget_is_not_swallowed():
    """The budget counts this thread's CPU time, and sympy's `except Exception` cannot eat it."""
    import time

    from backprop_cli.checks.scalar import _deadline, _Timeout

    raised = 0
    t0 = time.thread_time()
    with pytest.raises(_Timeout), _deadline(0.05):
        while raised < 2:
            try:
                while time.thread_time() - t0 < 5:  # inside the try: where the raise lands
                    sum(range(10_000))
            except Exception:  # noqa: BLE001 - as sympy does; the budget is no Exception
                pytest.fail("the budget was caught as an Exception")
            except _Timeout:
                raised += 1  # swallowed, as a gc callback or __del__ would: it comes again
                if raised == 2:
                    raise
    assert raised == 2
    assert time.thread_time() - t0 < 1.0


def test_a_budget_holds_in_a_worker_thread_and_leaves_nothing_behind():
    """Dask runs cases in worker threads, where no alarm reaches: the budget still stops the
    work there, and a raise never lands after the block."""
    import threading
    import time

    from backprop_cli.checks.scalar import _deadline, _Timeout

    seen = []

    def work():
        t0 = time.thread_time()
        try:
            with _deadline(0.05):
                while time.thread_time() - t0 < 5:
                    sum(range(10_000))
        except _Timeout:
            seen.append(time.thread_time() - t0 < 1.0)
        for _ in range(200):  # past the block: no raise may land here
            sum(range(10_000))
        seen.append("after")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [True, "after"]


def test_a_scalar_seed_scales_backprop_and_both_references():
    from backprop_cli.evaluate import Options, evaluate

    result = evaluate("x*y", {"x": 2.0, "y": 3.0}, Options(seed=3.0))
    assert result.gradients == {"x": 9.0, "y": 6.0}
    assert {c.status for r in result.rows for c in r.checks} == {"pass"}
    assert result.exit_code == 0

"""Jacobians of vector outputs and Hessians, on the lecture's examples (issue 14).

Each Hessian is compared with the closed form the lecture's algebra gives; the engine gets it by
running the forward and backward passes on dual numbers (engine/hessian.py), and checks/second.py
compares it again with sympy and with finite differences of the gradient, so every test here
also shows which of those checks ran and what they found.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st
from test_properties import SHORT_SYMPY, TIMED_OUT, VARIABLES, points, programs, routed

from backprop_cli.cli import cli
from backprop_cli.errors import BackpropError
from backprop_cli.evaluate import Options, evaluate
from backprop_cli.ops import registry as ops

W = [[0.1, 0.5], [-0.3, 0.8]]
X = [0.2, 0.4]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def eval_json(*args: str) -> dict:
    result = run("eval", *args, "--json")
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


def statuses(data: dict) -> dict[str, str]:
    return {c["method"]: c["status"] for c in data["hessian_checks"]}


# --- the lecture's Hessians ---------------------------------------------------------------


def test_xyz_has_curvature_only_between_the_sum_and_z():
    # f = (x+y) z: d2f/dx dz = d2f/dy dz = 1; every other second derivative is 0.
    data = eval_json("(x+y)*z", "x=-2", "y=5", "z=-4", "--hessian")
    assert data["hessian"] == {"x": {"x": 0.0, "y": 0.0, "z": 1.0},
                               "y": {"x": 0.0, "y": 0.0, "z": 1.0},
                               "z": {"x": 1.0, "y": 1.0, "z": 0.0}}
    assert statuses(data) == {"sympy": "pass", "finite-difference": "pass", "symmetry": "pass"}
    assert data["exit_code"] == 0


def test_the_squared_norm_of_wx_has_hessian_2_wt_w_in_x():
    data = eval_json("norm(W @ x)**2", f"x={X}", f"W={W}", "--hessian")
    Wm, x = np.array(W), np.array(X)
    np.testing.assert_allclose(data["hessian"]["x"]["x"], 2 * Wm.T @ Wm, rtol=1e-14)
    # d2f/dW_ij dW_kl = 2 [i == k] x_j x_l, shaped W's shape + W's shape
    expected = 2 * np.einsum("ik,j,l->ijkl", np.eye(2), x, x)
    np.testing.assert_allclose(data["hessian"]["W"]["W"], expected, atol=1e-15)
    assert np.shape(data["hessian"]["x"]["W"]) == (2, 2, 2)
    assert statuses(data) == {"sympy": "pass", "finite-difference": "pass", "symmetry": "pass"}


def test_the_sigmoid_neuron():
    point = dict(w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0)
    data = eval_json("1/(1+exp(-(w0*x0 + w1*x1 + w2)))",
                     *(f"{k}={v}" for k, v in point.items()), "--hessian")
    # s = w0 x0 + w1 x1 + w2, f = sigma(s): H = sigma'' ds ds^T + sigma' d2s, with
    # sigma' = f(1-f), sigma'' = f(1-f)(1-2f), and d2s/dw0 dx0 = d2s/dw1 dx1 = 1.
    s = point["w0"] * point["x0"] + point["w1"] * point["x1"] + point["w2"]
    f = 1 / (1 + math.exp(-s))
    d1, d2 = f * (1 - f), f * (1 - f) * (1 - 2 * f)
    names = list(point)
    ds = {"w0": point["x0"], "x0": point["w0"], "w1": point["x1"], "x1": point["w1"], "w2": 1.0}
    pairs = {("w0", "x0"), ("x0", "w0"), ("w1", "x1"), ("x1", "w1")}
    for a in names:
        for b in names:
            want = d2 * ds[a] * ds[b] + (d1 if (a, b) in pairs else 0.0)
            assert data["hessian"][a][b] == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert statuses(data) == {"sympy": "pass", "finite-difference": "pass", "symmetry": "pass"}


def test_a_tanh_layer_jacobian_and_hessian():
    b = [0.1, -0.2]
    Wm, x = np.array(W), np.array(X)
    h = np.tanh(Wm @ x + np.array(b))
    data = eval_json("tanh(W @ x + b)", f"W={W}", f"x={X}", f"b={b}")
    # dh/dx = diag(1 - h^2) W;  dh/db = diag(1 - h^2);  dh_i/dW_kl = [i == k] (1 - h_i^2) x_l
    np.testing.assert_allclose(data["jacobian"]["x"], np.diag(1 - h**2) @ Wm, rtol=1e-14)
    np.testing.assert_allclose(data["jacobian"]["b"], np.diag(1 - h**2), rtol=1e-14)
    np.testing.assert_allclose(data["jacobian"]["W"],
                               np.einsum("ik,i,l->ikl", np.eye(2), 1 - h**2, x), atol=1e-16)
    assert {c["status"] for checks in data["checks"].values() for c in checks} == {"pass"}
    # and the curvature of the layer's sum: d2/dx2 sum(tanh(Wx+b)) = W^T diag(-2h(1-h^2)) W
    data = eval_json("sum(tanh(W @ x + b))", f"W={W}", f"x={X}", f"b={b}", "--hessian",
                     "--wrt", "x")
    np.testing.assert_allclose(data["hessian"]["x"]["x"],
                               Wm.T @ np.diag(-2 * h * (1 - h**2)) @ Wm, rtol=1e-13)


def test_the_softmax_jacobian_is_diag_p_minus_p_pt():
    s = [1.0, 2.0, 0.5]
    data = eval_json("softmax(s)", f"s={s}")
    p = np.exp(s) / np.exp(s).sum()
    np.testing.assert_allclose(data["jacobian"]["s"], np.diag(p) - np.outer(p, p), rtol=1e-14)
    assert [c["status"] for c in data["checks"]["s"]] == ["pass", "pass"]
    assert data["jacobian_mode"] == "reverse"


def test_the_softmax_note_defines_p_with_the_inputs_own_name():
    # It once read "diag(s) - s s^T" whatever the input was called: s came from nowhere.
    note = eval_json("softmax(v)", "v=[1.0,2.0,0.5]")["jacobian_notes"]["v"]
    assert note == ("one op from v to the output, softmax: local Jacobian diag(p) - p pᵀ for "
                    "p = softmax(v); downstream p * (upstream - sum(upstream * p))")


def test_relu_of_a_shift_shows_a_diagonal_jacobian_and_says_why():
    result = run("eval", "relu(x - 0.5)", "x=[0.2,0.9,1.5]")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[5:10] == [
        "d f / d x: 3 x 3, output entries (rows) x entries of x (columns)",
        "        x[0]  x[1]  x[2]",
        "  f[0]  0     0     0",
        "  f[1]  0     1     0",
        "  f[2]  0     0     1",
    ]
    assert "diagonal: every op from x to the output (sub, relu) works entry by entry, so " \
           "output entry i depends only on x[i]" in result.stdout
    assert result.stdout.splitlines()[-1] == "the Jacobian agrees with sympy and finite " \
                                             "differences"


def test_forward_mode_and_reverse_mode_give_the_same_jacobian():
    # softmax(W @ x) has 3 outputs but x has 2 entries: eval goes forward (2 dual passes);
    # the reverse answer (3 backward passes) is the gradient of each output entry in turn.
    Wm = np.array([[0.1, 0.5], [-0.3, 0.8], [0.7, 0.2]])
    result = evaluate("softmax(W @ x) * 2 + max(W @ x, 0.1) ** 2",
                      {"W": Wm, "x": np.array(X)},
                      Options(full_jacobian=True, wrt=("x",)))
    assert result.jacobian.mode == "forward"
    rows = []
    for r in range(3):
        seed = np.eye(3)[r]
        rows.append(evaluate("softmax(W @ x) * 2 + max(W @ x, 0.1) ** 2",
                             {"W": Wm, "x": np.array(X)},
                             Options(check=False, seed=seed)).gradients["x"])
    np.testing.assert_allclose(result.jacobian.blocks["x"], np.array(rows), rtol=1e-14)
    assert all(c.status == "pass" for r in result.rows for c in r.checks)


# --- bad input: one line, exit 2 ----------------------------------------------------------


def test_hessian_of_a_vector_output_is_one_line_and_exit_2():
    result = run("eval", "W @ x", f"W={W}", f"x={X}", "--hessian")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[0] == (
        "shape error at column 1: --hessian needs a scalar output; the output has shape (2,) "
        "(wrap it in sum(...) or norm(...)**2 to get a number)")


def test_hessian_with_a_seed_is_one_line_and_exit_2():
    result = run("eval", "x*x", "x=3", "--hessian", "--seed", "2")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "binding error: --hessian is the Hessian of the output itself, and --seed would scale "
        "only its gradients (drop --seed, or multiply the program by the number)"]


def test_past_the_size_cap_is_one_line_and_exit_2(tmp_path):
    big = str(np.linspace(-1, 1, 400).tolist())
    result = run("eval", "x * 2", f"x={big}")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[0].startswith(
        "limit exceeded at column 1: the Jacobian of the output (shape (400,)) would have "
        "400 x 400 = 160,000 entries; eval computes up to 100,000")
    result = run("eval", "sum(x**3)", f"x={big}", "--hessian")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "limit exceeded: the Hessian would have 400 x 400 = 160,000 entries; --hessian "
        "computes up to 100,000 (pick fewer variables with --wrt)"]


# --- kinks: zero curvature off them, said so on them ---------------------------------------


def test_relu_has_zero_curvature_off_its_kink_and_says_so_on_it():
    off = evaluate("relu(x) * y", {"x": 0.5, "y": 2.0}, Options(hessian=True))
    assert off.hessian.matrix().tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert {c.status for c in off.hessian_checks} == {"pass"}
    on = evaluate("relu(x) * y", {"x": 0.0, "y": 2.0}, Options(hessian=True))
    by = {c.method: c for c in on.hessian_checks}
    assert on.hessian.matrix().tolist() == [[0.0, 0.0], [0.0, 0.0]]  # relu'(0) = 0
    assert by["sympy"].status == "subgradient"
    assert "on a kink the second derivative does not exist" in by["sympy"].reason
    assert by["finite-difference"].status in ("pass", "inconclusive")
    assert on.exit_code == 0


def test_the_closing_line_on_a_kink_says_how_many_entries_agree():
    # relu(x)*y at x = 0: finite differences straddle the kink on the two entries with x, so
    # only 2 of the 4 entries were compared; the closing line must not claim all of H.
    lines = run("eval", "relu(x)*y", "x=0", "y=2", "--hessian").stdout.splitlines()
    assert lines[-1].startswith(
        "the Hessian agrees with finite differences on 2 of 4 entries (2 inconclusive: the "
        "finite-difference step straddles a kink)")
    assert "is symmetric; sympy: on a kink the second derivative does not exist" in lines[-1]
    # Off the kink every entry is compared, and the line says so without a count.
    off = run("eval", "relu(x)*y", "x=0.5", "y=2", "--hessian").stdout.splitlines()
    assert off[-1] == "the Hessian agrees with sympy and finite differences and is symmetric"


def test_at_a_kink_the_difference_of_gradients_is_no_curvature_and_says_so():
    # abs(x) at 0: the gradient jumps from -1 to 1, so (g(h) - g(-h)) / 2h is about 1/h, a
    # huge number that a relative error would be measured against. The step follows abs's
    # piece, as a gradient's does, so no step across the kink is used at all.
    out = run("eval", "abs(x)", "x=0", "--hessian").stdout
    assert ("finite differences of the gradient: inconclusive: the finite-difference step "
            "straddles a kink") in out.splitlines()
    assert "ref" not in out
    assert out.splitlines()[-1].endswith(
        "finite differences of the gradient: the finite-difference step straddles a kink")


def test_a_gradient_on_a_kink_shows_sympys_convention_not_an_error_figure():
    # sympy's derivative of relu at 0 is Heaviside(0) = 1/2 (times y = 2): its convention,
    # not backprop's 0, and not a mistake either.
    out = run("eval", "relu(x)*y", "x=0", "y=2").stdout
    assert "subgradient: at a kink sympy's convention gives 1 " in out
    # svm_loss with a margin of exactly 0 (s1 - s0 + 1 = 0): the same wording, per entry.
    out = run("eval", "svm_loss(s, 0)", "s=[1,0,2]").stdout
    assert "subgradient: at a kink sympy's convention gives 0.5 at [1] (all 3 entries)" in out
    assert "(ref" not in out
    # Finite differences confirm s[2] alone: s[0] and s[1] move the margin on the kink, so
    # nothing confirms them, and the gradient is unchecked, not passed.
    assert out.splitlines()[-1].startswith("s: unchecked (sympy: non-differentiable point")


def test_a_kink_where_sympys_convention_agrees_confirms_nothing():
    # A tie of max: backprop splits the gradient evenly, and sympy's Heaviside(0) = 1/2 gives
    # the same numbers; both are conventions (the derivative does not exist there), so the
    # agreement is no confirmation and the case is unchecked, as relu's kink is.
    result = evaluate("max(x, y)*x", {"x": 1.0, "y": 1.0}, Options())
    assert result.gradients == {"x": 1.5, "y": 0.5}
    assert {row.name: row.verdict for row in result.rows} == {"x": "unchecked", "y": "unchecked"}
    assert result.status == "unchecked" and result.exit_code == 0
    # Off the tie the same program is confirmed.
    assert evaluate("max(x, y)*x", {"x": 1.0, "y": 0.5}, Options()).status == "pass"


def test_a_tie_of_max_splits_the_curvature_as_it_splits_the_gradient():
    # f = max(x, y)**2 at x = y = 1: each input gets half the gradient 2 max = 2, and the
    # forward tangent is the winners' average too, so every entry of H is 0.5: symmetric.
    result = evaluate("max(x, y)**2", {"x": 1.0, "y": 1.0}, Options(hessian=True))
    assert result.gradients == {"x": 1.0, "y": 1.0}
    assert result.hessian.matrix().tolist() == [[0.5, 0.5], [0.5, 0.5]]
    by = {c.method: c for c in result.hessian_checks}
    assert by["symmetry"].status == "pass"
    assert by["sympy"].status == "subgradient" and by["finite-difference"].status != "fail"
    assert result.exit_code == 0


# --- a wrong rule ----------------------------------------------------------------------------


A0 = 0.7


def test_a_rule_right_in_value_but_wrong_in_slope_fails_only_the_hessian(monkeypatch):
    # exp's local gradient replaced by its tangent line at A0 with twice the slope: at x = A0
    # it is exp(A0), so the gradient is right and passes; its own derivative is 2 exp(A0), so
    # the Hessian, which comes from differentiating that very rule, is wrong, and sympy says
    # so. Finite differences of the gradient agree with the wrong Hessian: they differentiate
    # the same wrong rule. That check is about the passes (the Hessian is the derivative of
    # backprop's gradient), sympy's is about the rules.
    broken = dataclasses.replace(
        ops.OPS["exp"], local=lambda m, a, out: (math.exp(A0) * (1.0 + 2.0 * (a - A0)),))
    monkeypatch.setitem(ops.OPS, "exp", broken)
    monkeypatch.setitem(ops.FUNCTIONS, "exp", broken)
    result = evaluate("exp(x) * y", {"x": A0, "y": 1.5}, Options(hessian=True))
    assert {c.status for r in result.rows for c in r.checks} == {"pass"}
    by = {c.method: c for c in result.hessian_checks}
    assert by["sympy"].status == "fail"
    assert by["sympy"].reference == pytest.approx(1.5 * math.exp(A0), rel=1e-12)
    assert by["finite-difference"].status == "pass"
    assert result.hessian.blocks["x"]["x"] == pytest.approx(2 * 1.5 * math.exp(A0))
    assert result.exit_code == 1


def test_the_cli_says_the_hessian_disagrees(monkeypatch):
    broken = dataclasses.replace(
        ops.OPS["exp"], local=lambda m, a, out: (math.exp(A0) * (1.0 + 2.0 * (a - A0)),))
    monkeypatch.setitem(ops.OPS, "exp", broken)
    monkeypatch.setitem(ops.FUNCTIONS, "exp", broken)
    result = run("eval", "exp(x)", f"x={A0}", "--hessian")
    assert result.exit_code == 1
    # The one verdict line says the case failed, and why, like the exit code and --json.
    # Said once: no second FAILED line under it.
    assert result.stdout.splitlines()[-2:] == [
        "",
        "FAILED: the Hessian disagrees with sympy (the gradient agrees with sympy and finite "
        "differences)"]


def test_a_rule_with_no_dual_form_is_one_clear_line(monkeypatch):
    # A (correct) sum rule written with a numpy call the dual numbers do not provide: the
    # gradient is unaffected, and the Hessian says what is missing, in one line, exit 2.
    row = dataclasses.replace(ops.OPS["sum"], vjp=lambda m, g, args, out: (
        m.np.ones_like(args[0]) * g, *(0.0,) * (len(args) - 1)))
    monkeypatch.setitem(ops.OPS, "sum", row)
    monkeypatch.setitem(ops.FUNCTIONS, "sum", row)
    result = run("eval", "sum(x**3)", "x=[0.5,1.5]", "--hessian")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "not supported: an op's rule calls numpy.ones_like, which the dual numbers that "
        "differentiate the backward pass do not provide, so this program's second derivatives "
        "cannot be taken (every op in the registry today is supported: see docs/hessians.md)"]
    assert run("eval", "sum(x**3)", "x=[0.5,1.5]").exit_code == 0


# --- random programs ------------------------------------------------------------------------


def _random_programs_agree(program, at):
    note(f"program: {program!r}")
    try:
        result = evaluate(program, at, Options(hessian=True, limits=SHORT_SYMPY))
    except BackpropError:  # a second derivative that overflows at this point
        assume(False)
    by = {c.method: c for c in result.hessian_checks}
    assert by["sympy"].status == "pass" or by["sympy"].reason == TIMED_OUT, by["sympy"]
    assert by["finite-difference"].status in ("pass", "inconclusive"), by["finite-difference"]
    assert by["symmetry"].status == "pass", by["symmetry"]
    assert result.exit_code == 0


@settings(max_examples=12)
@given(programs(), points)
def test_the_hessian_agrees_with_sympy_on_random_programs(program, at):
    _random_programs_agree(program, at)


@pytest.mark.slow
@settings(max_examples=150)
@given(programs(), points)
def test_the_hessian_agrees_with_sympy_on_many_random_programs(program, at):
    _random_programs_agree(program, at)


@settings(max_examples=40)
@given(routed(VARIABLES), st.fixed_dictionaries(
    {name: st.sampled_from([0.0, 1.0, -1.0, 0.5]) | st.floats(-3, 3) for name in VARIABLES}))
def test_on_and_near_kinks_no_hessian_check_fails(program, at):
    # relu, abs, max and friends: 0 curvature off the kinks, "subgradient" or "inconclusive"
    # on and near them, never a wrong verdict on a correct rule.
    note(f"program: {program!r}")
    try:
        result = evaluate(program, at, Options(hessian=True, limits=SHORT_SYMPY))
    except BackpropError:
        assume(False)
    for check in result.hessian_checks:
        assert check.status != "fail", check


# --- every row of the registry, differentiated twice -----------------------------------------


def _scalar_text(row) -> str:
    names = ["a", "b", "c"][:len(row.samples[0])]
    if row.symbol and row.arity == 2:
        return f"a {row.symbol} b"
    if row.name == "neg":
        return "-a"
    return f"{row.name}({', '.join(names)})"


@pytest.mark.parametrize("row", [r for r in ops.ROWS if r.samples and r.local is not None
                                 and r.arity in (1, 2, None) and r.vjp is None],
                         ids=lambda r: r.name)
def test_every_scalar_rows_hessian_agrees_with_sympy(row):
    text = _scalar_text(row)
    for sample in row.samples:
        at = dict(zip("abc", map(float, sample)))
        result = evaluate(f"({text}) * (a + 0.5)", at, Options(hessian=True))
        by = {c.method: c for c in result.hessian_checks}
        assert by["sympy"].status == "pass", (text, sample, by["sympy"])
        assert by["finite-difference"].status == "pass", (text, sample, by["finite-difference"])


@pytest.mark.parametrize("with_sympy", [
    False, pytest.param(True, marks=pytest.mark.slow)])  # sympy: ~50 s for all of them
def test_every_array_row_runs_on_dual_arrays_and_agrees(with_sympy):
    from backprop_cli.ops.arrays import array_samples

    for name, samples in array_samples().items():
        if name in ("arange", "one_hot"):  # a count, integer labels: nothing to differentiate
            continue
        for sample in samples:
            args, bindings = [], {}
            for k, value in enumerate(sample):
                if isinstance(value, float):  # an axis, an index, a number: written in
                    args.append(str(int(value)) if value == int(value) else repr(value))
                else:
                    args.append(f"a{k}")
                    bindings[f"a{k}"] = value
            row = ops.OPS[name]
            if row.spelled is not None:  # x[1], x[0:2]
                call = row.spelled(args)
            elif name in ops.FUNCTIONS:
                call = f"{name}({', '.join(args)})"
            else:
                call = f" {row.symbol} ".join(args)
            text = f"sum(({call}) ** 2)"
            result = evaluate(text, bindings, Options(hessian=True, sympy=with_sympy))
            by = {c.method: c for c in result.hessian_checks}
            assert by["finite-difference"].status == "pass", (text, by["finite-difference"])
            if with_sympy:
                assert by["sympy"].status in ("pass", "skipped"), (text, by["sympy"])
            assert by["symmetry"].status == "pass", (text, by["symmetry"])


# --- on a terminal ----------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(__import__("os"), "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [80, 120])
def test_a_terminal_shows_labelled_matrices_within_its_width(columns):
    import os
    import re

    from test_cli import BACKPROP, _run_on_a_terminal

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(TERM="xterm-256color", COLUMNS=str(columns), NO_COLOR="1")
    # 8 x 8 numbers of up to 11 characters: wider than 80 columns, so the matrix comes as
    # tables of consecutive columns there, and as one at 120; no number is ever cut short.
    shown = _run_on_a_terminal([*BACKPROP, "eval", "--no-sympy", "sum(tanh(W @ x + b))",
                                f"W={W}", f"x={X}", "b=[0.1,-0.2]", "--hessian"], env)
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in shown.splitlines()]
    assert all(len(line) <= columns for line in lines)
    assert "…" not in shown
    assert any(line.startswith("Hessian d2f / d(row) d(column): 8 x 8") for line in lines)
    headers = [line for line in lines if line.startswith("┃") and "W[0,0]" not in line[:9]
               and "[" in line]
    assert len(headers) == (2 if columns == 80 else 1)
    labels = " ".join(headers)
    for label in ("W[0,0]", "W[0,1]", "W[1,0]", "W[1,1]", "x[0]", "x[1]", "b[0]", "b[1]"):
        assert label in labels
    assert any(re.match(r"│ x\[0\]\s*│\s*0\.893011\s*│", line) for line in lines)
    assert "the Hessian agrees with finite differences and is symmetric" in lines


def test_a_program_with_no_variables_has_an_empty_hessian():
    result = run("eval", "2*3", "--hessian")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-4:] == [
        "Hessian d2f / d(row) d(column): 0 x 0", "",
        "no variables: the program has nothing to differentiate",
        "no variables: the Hessian is empty"]


def test_a_square_at_zero_keeps_its_curvature():
    """pow's rule at a == 0 once gave the constant 0 for b == 2, so the dual numbers lost its
    slope and the Hessian of sqrt(1 + (a + a)**2) at 0 came out 0 (sympy and finite
    differences both said 4: found by the random programs)."""
    for program, want in (("(a + a)**2", 8.0), ("sqrt(1 + (a + a)**2)", 4.0), ("a**3", 0.0)):
        result = evaluate(program, {"a": 0.0}, Options(hessian=True))
        assert float(result.hessian.matrix()[0][0]) == pytest.approx(want), program
        assert result.status == "pass", program


def test_a_hessian_no_check_confirmed_leaves_the_case_unchecked():
    # 17 entries: past sympy's Hessian limit (16), and --no-numeric skips finite differences.
    # The gradient is confirmed by sympy, but nothing confirmed the Hessian the user asked
    # for: symmetry alone is no confirmation, so the case is unchecked, never passed.
    x = np.arange(1.0, 18.0)
    result = evaluate("sum(x*x*x)", {"x": x}, Options(hessian=True, numeric=False))
    assert [r.verdict for r in result.rows] == ["pass"]
    assert {c.method: c.status for c in result.hessian_checks} == {
        "sympy": "skipped", "symmetry": "pass"}
    assert result.status == "unchecked" and result.exit_code == 0
    with_fd = evaluate("sum(x*x*x)", {"x": x}, Options(hessian=True))
    assert with_fd.status == "pass"

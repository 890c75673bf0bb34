"""Vectors, matrices and small networks: the lecture's vectorized example, nets, broadcasting,
shape errors, and every array row's VJP against finite differences."""

import numpy as np
import pytest

from backprop_cli.errors import ArityError, DomainError, ShapeError
from backprop_cli.evaluate import Options, evaluate
from backprop_cli.ops.arrays import array_samples
from backprop_cli.ops.registry import OPS, array_math

W = np.array([[0.1, 0.5], [-0.3, 0.8]])
x = np.array([0.2, 0.4])
NO_CHECK = Options(check=False)
FD_ONLY = Options(sympy=False)


def checks_of(result):
    return {r.name: {c.method: c for c in r.checks} for r in result.rows}


# --- the lecture: f(x, W) = ||W x||^2 -------------------------------------------------------

LECTURE_SPELLINGS = [
    "sum((W @ x)**2)",
    "norm(W @ x)**2",
    "q = W @ x; f = dot(q, q)",
    "q = W @ x; sum(q * q)",
    "sum((x @ W.T)**2)",
    "sum(transpose(W) .T @ x * (W @ x))",
]


@pytest.mark.parametrize("program", LECTURE_SPELLINGS)
def test_lecture_vectorized_example(program):
    result = evaluate(program, {"W": W, "x": x})
    assert result.value == pytest.approx(0.116, rel=1e-12)
    g = result.gradients
    np.testing.assert_allclose(g["W"], [[0.088, 0.176], [0.104, 0.208]], rtol=1e-12)
    np.testing.assert_allclose(g["x"], [-0.112, 0.636], rtol=1e-12)
    assert g["W"].shape == W.shape and g["x"].shape == x.shape
    assert result.exit_code == 0
    for name, by in checks_of(result).items():
        assert by["sympy"].status == "pass", name
        assert by["finite-difference"].status == "pass", name
        assert by["sympy"].entries == by["sympy"].total == W.size if name == "W" else x.size


def test_lecture_intermediate_q_and_its_upstream():
    result = evaluate("q = W @ x; f = sum(q**2)", {"W": W, "x": x}, NO_CHECK)
    q = result.graph.names
    node = next(i for i, n in q.items() if n == "q")
    np.testing.assert_allclose(result.values[node], [0.22, 0.26])
    np.testing.assert_allclose(result.grads[node], [0.44, 0.52])  # df/dq = 2q


# --- 2- and 3-layer networks, checked by finite differences and by hand-written numpy ---------

rng = np.random.default_rng(231)
D, H1, H2, C, N = 3, 4, 3, 2, 5
NET = {"W1": rng.normal(size=(H1, D)), "W2": rng.normal(size=(H2, H1)),
       "W3": rng.normal(size=(C, H2)), "X": rng.normal(size=(D, N))}


def two_layer_by_hand(W1, W2, X):
    h_pre = W1 @ X
    h = np.maximum(0, h_pre)
    dh = W2.T @ np.ones((W2.shape[0], X.shape[1]))
    dh_pre = dh * (h_pre > 0)
    return {"W1": dh_pre @ X.T, "W2": np.ones((W2.shape[0], X.shape[1])) @ h.T,
            "X": W1.T @ dh_pre}


def test_two_layer_net_minibatch():
    b = {k: NET[k] for k in ("W1", "W2", "X")}
    result = evaluate("sum(W2 @ max(0, W1 @ X))", b, FD_ONLY)
    hand = two_layer_by_hand(**b)
    for name, want in hand.items():
        np.testing.assert_allclose(result.gradients[name], want, rtol=1e-12, atol=1e-14)
        fd = checks_of(result)[name]["finite-difference"]
        assert fd.status == "pass" and fd.entries == fd.total == b[name].size


def test_three_layer_net_with_cross_entropy_loss():
    Y = np.eye(C)[[0, 1, 1, 0, 1]]  # one-hot labels, one row per example
    program = "h1 = relu(W1 @ X); h2 = relu(W2 @ h1); s = (W3 @ h2).T; cross_entropy(s, Y)"
    result = evaluate(program, {**NET, "Y": Y}, FD_ONLY)
    assert result.exit_code == 0
    for name in ("W1", "W2", "W3", "X"):
        assert result.gradients[name].shape == NET[name].shape
        assert checks_of(result)[name]["finite-difference"].status == "pass"
    # softmax(s) - Y, averaged over the batch, is the loss's gradient w.r.t. the scores
    i = next(i for i, n in result.graph.names.items() if n == "s")
    s = result.values[i]
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(result.grads[i], (p - Y) / N, rtol=1e-12)


def test_small_net_is_checked_by_sympy_entry_by_entry():
    b = {"W1": NET["W1"][:2, :2], "W2": NET["W2"][:1, :2], "x": np.array([0.5, -0.7])}
    result = evaluate("sum(sigmoid(W2 @ tanh(W1 @ x)))", b)
    for name, by in checks_of(result).items():
        assert by["sympy"].status == "pass", (name, by["sympy"].reason)
        assert by["sympy"].entries == b[name].size


# --- broadcasting: numpy's rules, and gradients shaped like their variables -------------------

BROADCASTS = [
    ("sum(W @ X + b)", {"W": (4, 3), "X": (3, 5), "b": (4, 1)}),
    ("sum(X * r)", {"X": (3, 5), "r": (5,)}),
    ("sum(X * c)", {"X": (3, 5), "c": ()}),
    ("sum(A + B)", {"A": (3, 1), "B": (1, 4)}),
    ("mean(exp(X - amax(X, 0)))", {"X": (3, 5)}),
    ("sum(softmax(X, 0) * T)", {"X": (3, 5), "T": (3, 5)}),
    ("sum(max(X, r))", {"X": (3, 5), "r": (5,)}),
    ("sum(mean(X, 1) * v)", {"X": (3, 5), "v": (3,)}),
]


@pytest.mark.parametrize("program, shapes", BROADCASTS)
def test_broadcasting_gradients_have_their_variables_shapes(program, shapes):
    gen = np.random.default_rng(7)
    b = {k: (gen.normal(size=s) if s else 0.7) for k, s in shapes.items()}
    result = evaluate(program, b, FD_ONLY)
    assert result.exit_code == 0
    for name, shape in shapes.items():
        assert np.shape(result.gradients[name]) == shape
        assert checks_of(result)[name]["finite-difference"].status == "pass"


# --- shape errors: caught before anything runs, naming both shapes and the node ---------------

SHAPE_ERRORS = [
    ("W @ x", {"W": (2, 3), "x": (2,)}, "W @ x: cannot multiply shapes (2, 3) and (2,)", 0,
     "transpose"),
    ("sum(x + y)", {"x": (2,), "y": (3,)}, "x + y: cannot broadcast shapes (2,) and (3,)", 4,
     "'@' is the matrix product"),
    ("sum(x, 2)", {"x": (2, 3)}, "sum() over axis 2: the input has shape (2, 3)", 0, None),
    ("sum(x, y)", {"x": (2, 3), "y": ()}, "the axis of sum() must be a number written", 0,
     None),
    ("sum(s @ x)", {"s": (), "x": (3,)},
     ("needs a vector or matrix on each side, got shapes () and (3,)"), 4, "use *"),
    ("cross_entropy(s, t)", {"s": (2, 3), "t": (2, 2)},
     "targets shaped like the scores: scores (2, 3), targets (2, 2)", 0, "one-hot"),
    ("q = W @ x\nsum(q @ V)", {"W": (2, 2), "x": (2,), "V": (3, 3)},
     "q @ V: cannot multiply shapes (2,) and (3, 3)", 4, None),
]


@pytest.mark.parametrize("program, shapes, message, column, hint", SHAPE_ERRORS)
def test_shape_errors(program, shapes, message, column, hint):
    b = {k: (np.ones(s) if s else 1.0) for k, s in shapes.items()}
    with pytest.raises(ShapeError) as info:
        evaluate(program, b, NO_CHECK)
    err = info.value
    assert message in err.message
    assert err.span[0] - (program.rfind("\n", 0, err.span[0]) + 1) == column
    if hint:
        assert hint in (err.hint or "")
    assert "^" in err.render()


def test_non_scalar_output_asks_for_sum_or_a_seed():
    with pytest.raises(ShapeError, match=r"shape \(2,\): a gradient needs a scalar output") as e:
        evaluate("W @ x", {"W": W, "x": x}, NO_CHECK)
    assert "sum(" in e.value.hint and "--seed" in e.value.hint


def test_seed_is_the_upstream_gradient_of_a_non_scalar_output():
    seed = np.array([1.0, 2.0])
    result = evaluate("W @ x", {"W": W, "x": x}, Options(seed=seed))
    np.testing.assert_allclose(result.gradients["W"], np.outer(seed, x))
    np.testing.assert_allclose(result.gradients["x"], W.T @ seed)
    assert result.exit_code == 0
    assert {c.status for r in result.rows for c in r.checks} == {"pass"}


def test_reduction_takes_at_most_an_axis():
    with pytest.raises(ArityError, match=r"sum\(\) takes 1 to 2 arguments, got 3"):
        evaluate("sum(x, 0, 1)", {"x": np.ones((2, 2))}, NO_CHECK)


def test_matrix_product_of_numbers_is_an_error_naming_the_node():
    with pytest.raises(DomainError, match="a @ b is undefined"):
        evaluate("a @ b", {"a": 2.0, "b": 3.0}, NO_CHECK)


# --- max and min: elementwise with several arguments, a reduction with one ---------------------

def test_max_of_zero_and_an_array_is_relu():
    v = np.array([-1.0, 2.0, 0.5])
    result = evaluate("sum(max(0, v))", {"v": v}, NO_CHECK)
    assert result.value == 2.5
    np.testing.assert_array_equal(result.gradients["v"], [0, 1, 1])


@pytest.mark.parametrize("program, grad", [
    ("max(v)", [0, 0.5, 0.5]),  # ties split the gradient evenly, as for max(a, b)
    ("amax(v)", [0, 0.5, 0.5]),
    ("min(v)", [1, 0, 0]),
    ("sum(amax(M, 0))", [[0, 1], [1, 0]]),
])
def test_reductions_route_the_gradient_to_the_winner(program, grad):
    b = {"v": np.array([1.0, 3.0, 3.0]), "M": np.array([[1.0, 5.0], [2.0, 4.0]])}
    used = {k: v for k, v in b.items() if k in program}
    result = evaluate(program, used, NO_CHECK)
    name = next(iter(used))
    np.testing.assert_array_equal(result.gradients[name], grad)


def test_scalar_programs_may_use_reductions():
    result = evaluate("sum(x) * mean(y) + transpose(x)", {"x": 3.0, "y": 2.0})
    assert result.value == 9.0
    assert result.gradients == {"x": 3.0, "y": 3.0}
    assert result.exit_code == 0


# --- the backward pass never builds a Jacobian ----------------------------------------------

def test_a_wide_layer_runs_without_a_jacobian():
    # The Jacobian of tanh(W @ X) w.r.t. W would be (2000*20) x (2000*2000) = 1.6e11 entries.
    gen = np.random.default_rng(0)
    b = {"W": gen.normal(size=(2000, 2000)) / 45, "X": gen.normal(size=(2000, 20))}
    result = evaluate("sum(tanh(W @ X))", b, NO_CHECK)
    t = 1 / np.cosh(b["W"] @ b["X"]) ** 2  # sech², as the tanh row computes it
    # atol: entries near 0 are sums of terms near 3, rounded in a different order
    np.testing.assert_allclose(result.gradients["W"], t @ b["X"].T, rtol=1e-10, atol=1e-13)


# --- every array row's VJP against central differences at its sample points ------------------

def _vjp_cases():
    for name, points in array_samples().items():
        for k, args in enumerate(points):
            yield pytest.param(name, args, id=f"{name}-{k}")


@pytest.mark.parametrize("name, args", list(_vjp_cases()))
def test_vjp_matches_finite_differences(name, args):
    op = OPS[name]
    m = array_math()
    out = op.forward(m, *args)
    g = np.random.default_rng(1).normal(size=np.shape(out))
    parts = op.vjp(m, g if np.ndim(out) else float(g), list(args), out)
    # An axis argument (a number after the array) gets no gradient, nor does an integer
    # array (positions, labels).
    differentiable = [k for k, a in enumerate(args) if (np.ndim(a) or k == 0 or name in
                      ("max", "min")) and np.asarray(a).dtype.kind == "f" and name != "arange"]
    for k in differentiable:
        base = np.array(args[k], dtype=float)
        num = np.zeros(base.shape)
        for e in np.ndindex(base.shape):
            h = 1e-6
            hi, lo = base.copy(), base.copy()
            hi[e] += h
            lo[e] -= h
            f_hi = np.sum(g * op.forward(m, *args[:k], hi if base.ndim else float(hi),
                                         *args[k + 1:]))
            f_lo = np.sum(g * op.forward(m, *args[:k], lo if base.ndim else float(lo),
                                         *args[k + 1:]))
            num[e] = (f_hi - f_lo) / (2 * h)
        np.testing.assert_allclose(parts[k], num, rtol=1e-6, atol=1e-8,
                                   err_msg=f"{name} input {k}")


def test_every_array_row_has_samples_and_a_shape_rule():
    samples = array_samples()
    for op in OPS.values():
        if op.vjp is not None:
            assert op.name in samples, op.name
            assert op.shape is not None, op.name


# --- array cross-checks: what was used, and how many entries --------------------------------

def test_large_variables_are_sampled_and_sympy_says_why_it_skipped():
    gen = np.random.default_rng(3)
    b = {"W": gen.normal(size=(60, 60)), "x": gen.normal(size=(60,))}
    result = evaluate("sum(tanh(W @ x))", b)
    c = checks_of(result)["W"]
    assert c["sympy"].status == "skipped"
    assert "3,660 entries" in c["sympy"].reason
    fd = c["finite-difference"]
    assert fd.status == "pass" and fd.entries == 12 and fd.total == 3600
    assert fd.scope == "12 of 3,600 entries, sampled"
    assert checks_of(result)["x"]["finite-difference"].scope == "all 60 entries"


def test_a_step_across_a_kink_is_retried_with_a_smaller_step():
    # 1e-9 is within the standard step (6e-6) of max's kink at 0: smaller steps keep clear
    # of it, so the entry is checked, not set aside.
    result = evaluate("sum(max(0, v))", {"v": np.array([1e-9, 1.0])})
    fd = checks_of(result)["v"]["finite-difference"]
    assert (fd.status, fd.entries, fd.reason) == ("pass", 2, "")
    assert result.exit_code == 0


def test_an_entry_exactly_on_a_kink_is_inconclusive_not_a_failure():
    result = evaluate("sum(relu(v)) * 3", {"v": np.array([0.0, 1.0])})
    fd = checks_of(result)["v"]["finite-difference"]
    assert fd.status == "pass"  # the other entry passes; the kink entry is set aside
    assert fd.reason == "1 of 2 entries inconclusive: the finite-difference step straddles a kink"
    assert result.exit_code == 0


def test_entries_exactly_on_a_kink_are_warned_about():
    result = evaluate("sum(max(0, v)) + norm(v * 0)", {"v": np.array([0.0, 1.0])})
    assert result.warnings == (
        ("max(0, v) is evaluated exactly at a non-differentiable point in 1 of 2 entries; "
         "backprop uses the subgradient convention: ties split the gradient evenly"),
        ("norm(v * 0) is evaluated exactly at a non-differentiable point; backprop uses the "
         "subgradient convention: norm'(0) = 0"))
    np.testing.assert_array_equal(result.gradients["v"], [0.5, 1.0])
    assert result.exit_code == 0


TIES = "backprop uses the subgradient convention: ties split the gradient evenly"


@pytest.mark.parametrize("program,at,warning,grad", [
    ("max(x)", {"x": [1.0, 3.0, 3.0]}, "max(x) is evaluated exactly at a non-differentiable "
     "point; " + TIES, [0.0, 0.5, 0.5]),
    ("sum(amax(W, 1))", {"W": [[1.0, 3.0, 3.0], [2.0, 1.0, 0.0]]}, "amax(W, 1) is evaluated "
     "exactly at a non-differentiable point in 1 of 2 entries; " + TIES,
     [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]]),
    ("2*amin(x)", {"x": [1.0, 3.0, 1.0, 1.0]}, "amin(x) is evaluated exactly at a "
     "non-differentiable point; " + TIES, [2 / 3, 0.0, 2 / 3, 2 / 3]),
])
def test_a_tie_for_the_largest_entry_is_warned_about(program, at, warning, grad):
    name = next(iter(at))
    result = evaluate(program, {name: np.array(at[name])})
    assert result.warnings == (warning,)
    np.testing.assert_allclose(result.gradients[name], grad, rtol=1e-15)
    assert result.exit_code == 0  # a three-way split is no failure: it is the convention


def test_a_largest_entry_without_a_tie_is_no_kink():
    assert evaluate("max(x) + sum(amin(W, 0))", {"x": np.array([1.0, 2.0, 3.0]),
                                                 "W": np.eye(2)}).warnings == ()


def test_a_check_cut_short_grades_the_entries_it_reached():
    from backprop_cli.checks.reference import Reference, compare_entries

    ours = np.array([[1.0, 2.0], [3.0, 4.0]])
    refs = np.array([[1.0, 2.0], [0.0, 0.0]])  # the second row was never reached
    done = np.array([[True, True], [False, False]])
    c = compare_entries(ours, Reference("sympy", refs, done,
                                        "over sympy's budget of 10 s of CPU time"))
    assert (c.status, c.entries, c.total, c.sampled) == ("pass", 2, 4, False)
    assert c.scope == "2 of 4 entries"
    assert c.reason == "over sympy's budget of 10 s of CPU time"


def test_a_wrong_vjp_is_caught(monkeypatch):
    import dataclasses

    from backprop_cli import ops

    bad = dataclasses.replace(OPS["transpose"], vjp=lambda m, g, args, out: (2 * g.T,))
    monkeypatch.setitem(ops.OPS, "transpose", bad)
    monkeypatch.setitem(ops.FUNCTIONS, "transpose", bad)
    result = evaluate("sum(transpose(A) @ v)", {"A": W, "v": x})
    by = checks_of(result)["A"]
    assert by["sympy"].status == "fail" and by["finite-difference"].status == "fail"
    assert result.exit_code == 1


# --- every scalar row works entry by entry on arrays, with the scalar path's numbers ----------

def _elementwise_rows():
    from backprop_cli.ops.registry import ROWS

    for op in ROWS:
        if op.vjp is None and op.samples and op.arity in (1, 2) and op.name != "pow" or \
                op.name in ("max", "min"):
            yield pytest.param(op, id=op.name)


def _call(op, names):
    if op.symbol and op.arity == 2:
        return f"({names[0]} {op.symbol} {names[1]})"
    if op.symbol and op.arity == 1:
        return f"({op.symbol}{names[0]})"
    return f"{op.name}({', '.join(names)})"


@pytest.mark.parametrize("op", list(_elementwise_rows()))
def test_scalar_rows_broadcast_entry_by_entry(op):
    samples = [s for s in op.samples if len(s) == len(op.samples[0])]
    names = [f"a{k}" for k in range(len(samples[0]))]
    program = f"sum({_call(op, names)})"
    arrays = {n: np.array([s[k] for s in samples]) for k, n in enumerate(names)}
    result = evaluate(program, arrays, NO_CHECK)
    for j, point in enumerate(samples):
        scalar = evaluate(_call(op, names), dict(zip(names, point)), NO_CHECK)
        for n in names:
            assert result.gradients[n][j] == pytest.approx(scalar.gradients[n], rel=1e-12,
                                                           abs=1e-15), (n, point)
    assert result.value == pytest.approx(sum(
        evaluate(_call(op, names), dict(zip(names, p)), NO_CHECK).value for p in samples),
        rel=1e-12)


def test_pow_broadcasts_entry_by_entry():
    a, b = np.array([1.5, 0.7, 2.0]), np.array([2.0, -1.3, 0.5])
    result = evaluate("sum(a ** b)", {"a": a, "b": b}, NO_CHECK)
    np.testing.assert_allclose(result.gradients["a"], b * a ** (b - 1), rtol=1e-12)
    np.testing.assert_allclose(result.gradients["b"], a ** b * np.log(a), rtol=1e-12)

"""Rules that keep their digits: every row's forward value and local partials, for numbers and
for numpy arrays, against a 50-digit reference (mpmath, through sympy's derivative of the row's
own sympy form) over a wide range of inputs, tiny to huge, both signs.

A partial written in a form that cancels (tanh's as 1 - tanh**2, sigmoid's as σ(1 - σ)) loses
every digit far from 0: 1 - tanh(20)**2 is 0 in float64 where sech(20)**2 is 1.7e-17. Those
forms fail here; the rows' own forms (sech², σ(a)σ(-a)) keep all but the last bits.
"""

from __future__ import annotations

import math
from itertools import product

import pytest

from backprop_cli.evaluate import evaluate
from backprop_cli.ops.registry import OPS, ROWS, SCALAR, array_math

DIGITS = 50
FLOOR = 1e-40
REL = 1e-12  # a cancelling form is off by far more (2e-5 for tanh at 14.18, 1 for it at 20)

MAGNITUDES = (1e-12, 1e-6, 1e-3, 0.1, 0.5, 0.9, 1.0, 1.3, 2.0, 5.0, 14.18, 30.1, 100.0, 700.0)
UNARY = tuple(s * x for x in MAGNITUDES for s in (1.0, -1.0))
BINARY = tuple(product((-7.5, -1.0, -1e-3, 0.5, 1.5, 2.0, 30.1), (-2.5, -1.0, 1e-3, 0.5, 2.0, 3.0)))

ROWS_ON_NUMBERS = [op for op in ROWS if not op.is_leaf and op.local is not None and op.samples
                   and all(isinstance(a, float) for s in op.samples for a in s)]


def _points(op) -> list[tuple]:
    n = len(op.samples[0])
    if n == 1:
        return [(a,) for a in UNARY]
    if n == 2:
        return list(BINARY)
    return [s for s in product((-2.0, -0.5, 0.5, 30.1), repeat=n)]


def _reference(op, n: int):
    """(value, partials) at a point, to DIGITS digits, from the row's sympy form: mpmath
    evaluates sympy's expressions (evalf where a piece has no mpmath form, as Heaviside)."""
    import mpmath
    import sympy as sp

    symbols = sp.symbols(f"a0:{n}", real=True)
    expr = op.sympy(sp, *symbols)
    exprs = [expr, *(sp.diff(expr, s) for s in symbols)]

    def one(e):
        try:
            fn = sp.lambdify(symbols, e, modules="mpmath")
            fn(*(mpmath.mpf(0.5),) * n)
        except Exception:  # noqa: BLE001  (no mpmath form: sympy's evalf instead)
            return lambda *args: e.evalf(DIGITS, subs={s: sp.Rational(a)
                                                       for s, a in zip(symbols, args)})
        return fn

    fns = [one(e) for e in exprs]

    def at(args):
        with mpmath.workdps(DIGITS):
            got = []
            for fn in fns:
                try:
                    got.append(mpmath.mpf(fn(*map(mpmath.mpf, args))))  # each double exactly
                except (TypeError, ValueError, ZeroDivisionError):
                    return None
            return got[0], got[1:]
    return at


def _close(got: float, want) -> bool:
    # Below FLOOR the 50-digit reference is itself only noise (it cancels as 1 - tanh**2
    # does, 35 digits further out), so tinier values are compared with that absolute floor.
    want = float(want)
    return abs(got - want) <= REL * abs(want) + FLOOR


def _smooth_and_defined(op, args) -> bool:
    try:
        out = op.forward(SCALAR, *args)
        local = op.local(SCALAR, *args, out)
    except (ArithmeticError, ValueError):
        return False
    if op.branch is not None and op.branch(*args) is None:
        return False
    return math.isfinite(out) and all(math.isfinite(x) for x in local)


def digits_lost(op) -> list[str]:
    """Every point where the row's forward or a local partial, for numbers or numpy arrays, is
    further than REL from the 50-digit reference."""
    import numpy as np

    n = len(op.samples[0])
    ref = _reference(op, n)
    m = array_math()
    wrong = []
    for args in _points(op):
        if not _smooth_and_defined(op, args):
            continue
        found = ref(args)
        if found is None:
            continue
        value, partials = found
        out = op.forward(SCALAR, *args)
        local = op.local(SCALAR, *args, out)
        arrays = [np.array([a]) for a in args]
        with np.errstate(all="ignore"):
            out_np = op.forward(m, *arrays)
            local_np = [float(np.broadcast_to(x, (1,))[0])
                        for x in op.local(m, *arrays, out_np)] if op.vjp is None else local
        for what, got, want in (("value", out, value), ("value (numpy)", float(out_np[0])
                                                         if np.ndim(out_np) else float(out_np),
                                                         value),
                                *((f"partial {k + 1}", local[k], p) for k, p in
                                  enumerate(partials)),
                                *((f"partial {k + 1} (numpy)", local_np[k], p) for k, p in
                                  enumerate(partials))):
            if not _close(got, want):
                wrong.append(f"{op.name}{args}: {what} {got!r}, reference {float(want)!r}")
    return wrong


@pytest.mark.parametrize("op", ROWS_ON_NUMBERS, ids=lambda op: op.name)
def test_every_rule_keeps_its_digits(op):
    assert digits_lost(op) == []


def test_a_cancelling_form_is_caught():
    import dataclasses

    old_tanh = dataclasses.replace(OPS["tanh"], local=lambda m, a, out: (1.0 - out * out,))
    old_sigmoid = dataclasses.replace(OPS["sigmoid"], local=lambda m, a, out: (out * (1 - out),))
    assert any("tanh(14.18,): partial 1" in w for w in digits_lost(old_tanh))
    assert any("sigmoid(30.1,): partial 1" in w for w in digits_lost(old_sigmoid))


@pytest.mark.parametrize("program, at", [("1000000*tanh(x)", {"x": 14.18}),
                                         ("1000000*sigmoid(x)", {"x": 30.1}),
                                         ("1000000*sigmoid(x)", {"x": -30.1}),
                                         ("1000000*tanh(x)", {"x": -19.5})])
def test_far_from_zero_the_gradient_agrees_with_sympy(program, at):
    result = evaluate(program, at)
    assert result.exit_code == 0
    assert {c.status for r in result.rows for c in r.checks} == {"pass"}


# --- array rules (VJPs) ---------------------------------------------------------------------
#
# Rows whose rule is a vector-Jacobian product, at scores from tiny to huge (softmax of 700 and
# -700 side by side), against the VJP sympy's derivative of the row's own form gives, in 50
# digits. An array is compared as a whole (the largest entry sets the scale): an entry far
# below the rest may carry the rounding of the rest, as any float64 sum does.

WIDE_VECTORS = ([700.0, -700.0, 0.5, 1e-8], [30.1, -30.1, 14.18, 0.0], [1e-12, 2e-12, -3e-12, 5.0],
                [-5.0, 19.5, 3.25, -0.75])


def _array_cases(name: str):
    import numpy as np

    vectors = [np.array(v) for v in WIDE_VECTORS]
    if name in ("matmul",):
        return [(np.array([[1.5, -2.0], [3e-3, 40.0]]), v[:2]) for v in vectors]
    if name == "cross_entropy":
        return [(v, np.array([0.1, 0.2, 0.3, 0.4])) for v in vectors] + \
            [(v, 1.0) for v in vectors]
    if name == "svm_loss":
        return [(v, 2.0) for v in vectors]
    return [(v,) for v in vectors]


ARRAY_RULES = ["matmul", "transpose", "sum", "mean", "amax", "amin", "norm", "softmax",
               "log_softmax", "cross_entropy", "svm_loss"]


def vjp_digits_lost(op) -> list[str]:
    import mpmath
    import numpy as np
    import sympy as sp

    m = array_math()
    wrong = []
    for args in _array_cases(op.name):
        out = op.forward(m, *args)
        g = np.linspace(0.5, 1.5, np.size(out)).reshape(np.shape(out)) if np.ndim(out) else 1.3
        parts = op.vjp(m, g, list(args), out)
        syms = [np.array(sp.symbols(f"x{k}_0:{np.size(a)}", real=True), dtype=object)
                .reshape(np.shape(a)) if np.ndim(a) else a for k, a in enumerate(args)]
        expr = op.sympy(sp, *[s if np.ndim(a) else sp.Rational(a) for s, a in zip(syms, args)])
        gs = [sp.Rational(x) for x in np.ravel(g)]
        loss = sp.Add(*[gk * e for gk, e in zip(gs, np.ravel(np.asarray(expr, dtype=object)))])
        for k, (a, s) in enumerate(zip(args, syms)):
            if not np.ndim(a):
                continue  # a class label: no gradient
            flat = list(np.ravel(s))
            point = {v: sp.Rational(x) for v, x in zip(
                [v for t in syms if np.ndim(t) for v in np.ravel(t)],
                [x for b in args if np.ndim(b) for x in np.ravel(b)])}
            with mpmath.workdps(DIGITS):
                ref = np.array([float(sp.diff(loss, v).evalf(DIGITS, subs=point)) for v in flat])
            got = np.ravel(parts[k])
            scale = float(np.max(np.abs(ref))) if ref.size else 0.0
            if np.max(np.abs(got - ref), initial=0.0) > REL * scale + FLOOR:
                at = [np.ravel(x).tolist() if np.ndim(x) else x for x in args]
                wrong.append(f"{op.name} part {k + 1} at {at}: {got.tolist()} against "
                             f"{ref.tolist()}")
    return wrong


@pytest.mark.parametrize("name", ARRAY_RULES)
def test_every_array_rule_keeps_its_digits(name):
    assert vjp_digits_lost(OPS[name]) == []

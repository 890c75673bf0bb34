"""Every wrong rule is caught: mutation testing of the registry against the default cross-check.

Each derivative rule of each row is broken in the ways a person slips when deriving one by hand,
one mutant at a time:

  scalar rules (`local`, the diagonal partials): a partial's sign flipped, a partial doubled, a
  factor dropped (the partial replaced by 1, so the upstream gradient passes unchanged), the
  partials of a two-input op swapped;
  array rules (`vjp`, the downstream gradients): a part's sign flipped, a part doubled, the
  upstream factor dropped (the rule applied to an upstream of ones), the parts swapped when the
  inputs have the same shape.

Each mutant is patched into the registry and the row's sample programs are evaluated with the
default checks: small programs (sympy and finite differences), wide ones (past sympy's size
limit: finite differences alone) and deep ones (past sympy's depth limit), for numbers and,
for the elementwise rows and the array rows, for arrays. Every mutant must turn the exit code
to 1 on every program where it changes a gradient at all (a mutant that changes nothing there,
like doubling an axis argument's part that no gradient reads, is equivalent, and counted apart).
docs/checks.md reports the kill rate; a surviving mutant is a bug in the checks.

The whole enumeration is slow (several thousand evaluations); the quick suite runs a slice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from backprop_cli.engine.forward import forward
from backprop_cli.errors import InternalError
from backprop_cli.evaluate import Options, evaluate
from backprop_cli.language.parser import parse
from backprop_cli.ops import registry as ops
from backprop_cli.ops.arrays import array_samples

# --- mutants ------------------------------------------------------------------------------


def _local_mutants(op) -> Iterator[tuple[str, Callable]]:
    rule = op.local
    n = op.arity or 2

    def part(k: int, how: str):
        def mutated(m, *args, **params):  # params: a row bound to keyword arguments
            parts = list(rule(m, *args, **params))
            if k < len(parts):
                parts[k] = {"negated": lambda p: -p, "doubled": lambda p: 2 * p,
                            "dropped": lambda p: 1.0 + 0 * p}[how](parts[k])
            return tuple(parts)
        return mutated

    for k in range(n):
        for how in ("negated", "doubled", "dropped"):
            yield f"local partial {k + 1} {how}", part(k, how)
    if n == 2:
        def swapped(m, *args, **params):
            parts = rule(m, *args, **params)
            return parts if len(parts) < 2 else (parts[1], parts[0], *parts[2:])
        yield "local partials swapped", swapped


def _vjp_mutants(op) -> Iterator[tuple[str, Callable]]:
    rule = op.vjp

    def part(k: int, how: str):
        def mutated(m, g, args, out, **params):
            if how == "no upstream":
                array = m.is_array and m.np.ndim(g)
                return rule(m, m.np.ones_like(g) if array else 1.0, args, out, **params)
            parts = list(rule(m, g, args, out, **params))
            if k < len(parts):
                parts[k] = -parts[k] if how == "negated" else 2 * parts[k]
            return tuple(parts)
        return mutated

    for k in range(2):
        for how in ("negated", "doubled"):
            yield f"vjp part {k + 1} {how}", part(k, how)
    yield "vjp upstream dropped", part(0, "no upstream")

    def swapped(m, g, args, out, **params):
        parts = rule(m, g, args, out, **params)
        if len(parts) < 2 or np.shape(parts[0]) != np.shape(parts[1]):
            return parts  # the parts cannot trade places: an equivalent mutant here
        return (parts[1], parts[0], *parts[2:])
    yield "vjp parts swapped", swapped


def mutants(op) -> Iterator[tuple[str, str, Callable]]:
    """(label, field, rule) for every mutant of the rule the row states (a row states its local
    partials or its VJP; the other is derived from it, so a mutant reaches both)."""
    if op.stated == "local":
        for label, fn in _local_mutants(op):
            yield label, "local", fn
    if op.stated == "vjp":
        for label, fn in _vjp_mutants(op):
            yield label, "vjp", fn


def patch(monkeypatch, name: str, field: str, fn: Callable) -> None:
    """The row `name` with one rule replaced, in every table the parser reads it from."""
    broken = dataclasses.replace(ops.OPS[name], **{field: fn})
    monkeypatch.setitem(ops.OPS, name, broken)
    for table in (ops.FUNCTIONS, ops.INFIX, ops.PREFIX):
        for spelling, row in list(table.items()):
            if row.name == name:
                monkeypatch.setitem(table, spelling, broken)


# --- the programs each row is tried in ----------------------------------------------------

Program = tuple[str, str, dict[str, Any], tuple[str, ...]]  # (kind, source, bindings, wrt)

WIDE_TERMS = 800  # 2,400 nodes of filler: past sympy's 2,000-node limit
DEEP_STEPS = 45  # a chain 90 deep beside the op: past sympy's depth limit of 40


def _call(op, names: list[str]) -> str:
    if op.spelled is not None:  # a row with a spelling of its own: s[2], s[1:3]
        return op.spelled(names)
    if op.name == "neg":
        return f"(-{names[0]})"
    if op.symbol and op.arity == 2 and not op.function:
        return f"({names[0]} {op.symbol} {names[1]})"
    return f"{op.name}({', '.join(names)})"


def _around(kind: str, expr: str) -> str:
    """The op's expression alone, after 2,400 nodes of filler, or beside a 90-deep chain.
    The filler reads only u, and the gradients asked for are the op's inputs', so a broken
    add or mul in the filler cannot overflow them: only the op's own rule is on their path."""
    if kind == "small":
        return expr
    if kind == "wide":
        filler = " + ".join(f"u*{k}" for k in range(1, WIDE_TERMS))
        return f"w = {filler}\nw*0.5 + {expr}"
    chain = "c = u\n" + "c = c*1.01 + 0.01\n" * DEEP_STEPS
    return f"{chain}c*0.5 + {expr}"


def scalar_programs(op) -> list[Program]:
    if not op.samples or op.local is None:
        return []
    found = []
    for sample in op.samples[:2]:
        names = ["x", "y", "z"][:len(sample)]
        expr = _call(op, names)
        at = dict(zip(names, sample))
        for kind in ("small", "wide", "deep"):
            bindings = {**at, "u": 0.7} if kind != "small" else at
            found.append((f"numbers, {kind}", _around(kind, expr), bindings, tuple(names)))
    return found


def _weights(shape: tuple, seed: int):
    return np.random.default_rng(seed).uniform(0.5, 1.5, size=shape)


def array_programs(op) -> list[Program]:
    """The array samples of a row (arrays.py's), weighted by fixed random numbers so that
    no part of the gradient is a sum that a mutant could leave unchanged."""
    samples = array_samples().get(op.name)
    if op.name in ("matmul", "dot"):  # two different square matrices: parts that can swap
        samples = [*samples[:2], (_weights((3, 3), 1) - 1, _weights((3, 3), 2) - 1)]
    if samples is None and op.vjp is None and op.local is not None and op.samples:
        rng = np.random.default_rng(7)
        # An elementwise row over arrays, at points shifted off its own sample.
        samples = [tuple(np.asarray(a) + rng.uniform(-0.05, 0.05, size=(3, 4))
                         for a in op.samples[0])]
    if not samples:
        return []
    found = []
    for k, sample in enumerate(samples[:4]):
        arrays = [a for a in sample if np.ndim(a)]
        numbers = [a for a in sample if not np.ndim(a)]
        for kind in ("small", "wide", "deep"):
            arrs = arrays
            if kind == "wide":  # every array 3x larger on each axis: past sympy's entry limit
                arrs = [np.kron(a, _weights((3,) * np.ndim(a), 11)) if a.dtype.kind == "f"
                        else a for a in arrays]  # positions stay positions
            names = [f"a{j}" for j in range(len(arrs))]
            at = dict(zip(names, arrs))
            if op.name in ("max", "min"):  # a number here is a value, not an axis: bind it
                scalars = [f"s{j}" for j in range(len(numbers))]
                at.update(zip(scalars, (float(a) for a in numbers)))
                names += scalars
                args = names
            else:
                args = names + [str(int(a)) for a in numbers]  # axis arguments
            expr = _call(op, args)
            graph = parse(expr)
            value = forward(graph, at)[graph.output]
            if np.ndim(value):
                at["cw"] = _weights(np.shape(value), 5 + k)
                expr = f"sum(cw * {expr})"
            else:
                expr = f"{expr} * 1.7"
            if kind == "deep":
                at["u"] = 0.7
            source = _around("deep" if kind == "deep" else "small", expr)
            wrt = tuple(n for n in names if not (np.ndim(at[n]) and at[n].dtype.kind in "iu"))
            found.append((f"arrays, {kind}", source, at, wrt))  # positions get no gradient
    return found


def programs(op) -> list[Program]:
    return scalar_programs(op) + array_programs(op)


# arange's only input is a count written in the program: no gradient flows through it anywhere.
ROWS = [op for op in ops.ROWS if not op.is_leaf and op.name != "arange"]
CASES = [(op.name, label, field) for op in ROWS for label, field, _ in mutants(op)]


def _gradients(program: Program) -> dict[str, Any]:
    _, source, at, wrt = program
    return evaluate(source, at, Options(check=False, wrt=wrt)).gradients


def _changed(before: dict, after: dict) -> bool:
    return any(not np.allclose(before[n], after[n], rtol=1e-12, atol=0, equal_nan=True)
               for n in before)


def run_mutant(monkeypatch, name: str, label: str, field: str) -> tuple[int, int, list[str]]:
    """(programs where the mutant changed a gradient, of those where it was caught, the
    programs where it survived). A mutant that makes the backward pass raise (a part of the
    wrong shape: an internal error, exit 3) counts as caught: it is loud, not a wrong
    number."""
    op = ops.OPS[name]
    fn = next(f for lab, fld, f in mutants(op) if (lab, fld) == (label, field))
    progs = programs(op)
    originals = [_gradients(p) for p in progs]
    patch(monkeypatch, name, field, fn)
    changed = caught = 0
    survived = []
    for program, before in zip(progs, originals):
        try:
            after = _gradients(program)
        except InternalError:  # the mutant breaks the rule's contract outright
            changed += 1
            caught += 1
            continue
        if not _changed(before, after):
            continue  # equivalent on this program
        changed += 1
        kind, source, at, wrt = program
        result = evaluate(source, at, Options(wrt=wrt))
        if result.exit_code == 1:
            caught += 1
        else:
            survived.append(f"{kind}: {source[-60:]!r} at {_short(at)}: "
                            + "; ".join(f"{r.name} {[c.status for c in r.checks]}"
                                        for r in result.rows))
    monkeypatch.undo()
    return changed, caught, survived


def _short(at: dict) -> str:
    return ", ".join(f"{k}={v if not np.ndim(v) else np.shape(v)}" for k, v in at.items()
                     if k != "u")


# A representative slice for the quick suite: a switcher, a function, a matrix product.
QUICK = [("mul", "local partials swapped", "local"), ("sin", "local partial 1 negated", "local"),
         ("sigmoid", "local partial 1 dropped", "local"),
         ("matmul", "vjp part 1 doubled", "vjp"), ("softmax", "vjp upstream dropped", "vjp")]


@pytest.mark.parametrize("name, label, field", QUICK)
def test_a_slice_of_mutants_is_caught(monkeypatch, name, label, field):
    changed, caught, survived = run_mutant(monkeypatch, name, label, field)
    assert changed > 0
    assert survived == []


def test_every_row_has_programs_to_be_mutated_in():
    assert [op.name for op in ROWS if not programs(op)] == []


@pytest.mark.parametrize("name", ["sin", "pow", "matmul"])
def test_wide_and_deep_programs_leave_finite_differences_alone(name):
    for kind, source, at, wrt in programs(ops.OPS[name]):
        result = evaluate(source, at, Options(wrt=wrt))
        sympy = {r.checks[0].status for r in result.rows}
        assert sympy == ({"pass"} if kind.endswith("small") else {"skipped"}), kind
        assert result.exit_code == 0


@pytest.mark.slow
@pytest.mark.parametrize("name, label, field", CASES)
def test_every_mutant_of_every_rule_is_caught(monkeypatch, name, label, field):
    changed, caught, survived = run_mutant(monkeypatch, name, label, field)
    assert survived == []


# The Hessian's symbolic reference is chained node by node from the rows' sympy forms, never
# from their derivative rules: a broken rule changes the engine's Hessian (dual numbers through
# the backward pass) and sympy's alone must catch it.
HESSIAN_MUTANTS = [
    ("sin", "local partial 1 negated", "local", "sin(x*y) + x", {"x": 0.7, "y": 1.3}),
    ("mul", "local partials swapped", "local", "x*y*y", {"x": 0.7, "y": 1.3}),
    ("tanh", "local partial 1 doubled", "local", "tanh(x*y)", {"x": 0.7, "y": 1.3}),
    ("matmul", "vjp part 2 doubled", "vjp", "sum(tanh(W @ x))",
     {"W": np.array([[0.1, 0.2], [0.3, -0.4]]), "x": np.array([1.0, 2.0])}),
]


@pytest.mark.parametrize("name, label, field, source, at", HESSIAN_MUTANTS)
def test_a_broken_rule_fails_the_hessians_sympy_check(monkeypatch, name, label, field,
                                                      source, at):
    before = evaluate(source, at, Options(hessian=True, numeric=False))
    assert {c.method: c.status for c in before.hessian_checks}["sympy"] == "pass"
    fn = next(f for lab, fld, f in mutants(ops.OPS[name]) if (lab, fld) == (label, field))
    patch(monkeypatch, name, field, fn)
    after = evaluate(source, at, Options(hessian=True, numeric=False))
    assert not np.allclose(after.hessian.matrix(), before.hessian.matrix())
    assert {c.method: c.status for c in after.hessian_checks}["sympy"] == "fail"

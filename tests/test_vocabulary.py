"""Every spelling a numpy user types (issue 21's list), through the real command: each program's
value is numpy's, and its gradients agree with finite differences (and sympy where it answers).

One table: (program, the variables it reads, numpy's value of it). The bindings are written on
the command line as a user writes them; integer arrays (Xb, y) are positions.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli

V = {
    "x": [0.3, -1.2, 2.5, 0.7],  # distinct entries: no ties, no kinks
    "y": [1.1, 0.4, -0.9, 2.2],
    "p": [0.2, 0.5, 0.9, 0.35],  # inside (-1, 1) and (0, 1)
    "q": [1.5, 2.0, 3.2, 1.1],  # above 1
    "W": [[0.5, -1.3, 2.1], [1.7, 0.4, -0.6]],
    "T": np.round(np.linspace(-2.0, 2.3, 24) ** 3 / 3, 3).reshape(2, 3, 4).tolist(),
    "A": np.round(np.sin(np.arange(24.0)) * 2, 3).reshape(2, 3, 4).tolist(),
    "B": np.round(np.cos(np.arange(16.0)) * 2, 3).reshape(2, 4, 2).tolist(),
    "C": np.round(np.cos(np.arange(12.0) * 1.7), 3).reshape(4, 3).tolist(),
    "Xb": [[0, 2], [1, 1], [3, 0]],  # integers: positions
    "lab": [2, 0],
    "s": 0.6,
}

ARR = {k: np.array(v) for k, v in V.items()}

# (program, numpy's value), every spelling of the list
SPELLINGS = [
    # elementwise math
    ("sum(log1p(p) + expm1(x))", lambda a: np.sum(np.log1p(a.p) + np.expm1(a.x))),
    ("sum(log2(q) * exp2(x))", lambda a: np.sum(np.log2(a.q) * np.exp2(a.x))),
    ("sum(arctan2(x, y))", lambda a: np.sum(np.arctan2(a.x, a.y))),
    ("sum(atan2(x, y))", lambda a: np.sum(np.arctan2(a.x, a.y))),
    ("sum(arcsin(p) + arccos(p) * arctan(x))",
     lambda a: np.sum(np.arcsin(a.p) + np.arccos(a.p) * np.arctan(a.x))),
    ("sum(asin(p) + acos(p) * atan(x))",
     lambda a: np.sum(np.arcsin(a.p) + np.arccos(a.p) * np.arctan(a.x))),
    ("sum(arcsinh(x) + arccosh(q) + arctanh(p))",
     lambda a: np.sum(np.arcsinh(a.x) + np.arccosh(a.q) + np.arctanh(a.p))),
    ("sum(asinh(x) + acosh(q) + atanh(p))",
     lambda a: np.sum(np.arcsinh(a.x) + np.arccosh(a.q) + np.arctanh(a.p))),
    ("sum(erf(x) * y)", lambda a: np.sum(np.vectorize(math.erf)(a.x) * a.y)),
    ("sum(sign(x) * y + square(x))", lambda a: np.sum(np.sign(a.x) * a.y + np.square(a.x))),
    ("sum(cbrt(x) + reciprocal(y))", lambda a: np.sum(np.cbrt(a.x) + np.reciprocal(a.y))),
    ("sum(clip(x, -1, 1) * y)", lambda a: np.sum(np.clip(a.x, -1, 1) * a.y)),
    ("sum(where(x > 0, x, 0.1*x))", lambda a: np.sum(np.where(a.x > 0, a.x, 0.1 * a.x))),
    ("sum(where(x < y, x, y) + where(x >= 0.3, y, 0) * (x <= 1))",
     lambda a: np.sum(np.where(a.x < a.y, a.x, a.y) + np.where(a.x >= 0.3, a.y, 0) * (a.x <= 1))),
    ("sum(maximum(x, y) - minimum(x, 0))",
     lambda a: np.sum(np.maximum(a.x, a.y) - np.minimum(a.x, 0))),
    ("sum(x % 0.7 * y)", lambda a: np.sum(a.x % 0.7 * a.y)),
    ("sum(y % x)", lambda a: np.sum(a.y % a.x)),
    # reductions: axis= an int or a tuple, keepdims, ddof
    ("sum(sum(T, axis=0) ** 2)", lambda a: np.sum(np.sum(a.T, axis=0) ** 2)),
    ("sum(sum(T, axis=(0, 2)) ** 2)", lambda a: np.sum(np.sum(a.T, axis=(0, 2)) ** 2)),
    ("sum(W / sum(W, axis=1, keepdims=True))",
     lambda a: np.sum(a.W / np.sum(a.W, axis=1, keepdims=True))),
    ("sum(sum(W, 0) * y[:3])", lambda a: np.sum(np.sum(a.W, 0) * a.y[:3])),
    ("sum(mean(T, axis=-1) * T[:, :, 0])",
     lambda a: np.sum(np.mean(a.T, axis=-1) * a.T[:, :, 0])),
    ("sum(prod(W, axis=0))", lambda a: np.sum(np.prod(a.W, axis=0))),
    ("prod(x)", lambda a: np.prod(a.x)),
    ("sum(max(T, axis=1)) + sum(min(T, axis=(1, 2)))",
     lambda a: np.sum(np.max(a.T, axis=1)) + np.sum(np.min(a.T, axis=(1, 2)))),
    ("max(x) - min(x)", lambda a: np.max(a.x) - np.min(a.x)),
    ("sum(var(W, axis=1)) + var(x)", lambda a: np.sum(np.var(a.W, axis=1)) + np.var(a.x)),
    ("sum(var(W, axis=0, ddof=1, keepdims=True))",
     lambda a: np.sum(np.var(a.W, axis=0, ddof=1, keepdims=True))),
    ("std(x) + sum(std(T, axis=(0, 1), ddof=1))",
     lambda a: np.std(a.x) + np.sum(np.std(a.T, axis=(0, 1), ddof=1))),
    ("sum(logsumexp(W, axis=1)) + logsumexp(x)",
     lambda a: np.sum(np.log(np.sum(np.exp(a.W), axis=1))) + np.log(np.sum(np.exp(a.x)))),
    ("sum(logsumexp(T, axis=(1, 2), keepdims=True))",
     lambda a: np.sum(np.log(np.sum(np.exp(a.T), axis=(1, 2), keepdims=True)))),
    ("x[argmax(x)] - x[argmin(x)]", lambda a: a.x[np.argmax(a.x)] - a.x[np.argmin(a.x)]),
    ("sum(W[arange(2), argmax(W, axis=1)])",
     lambda a: np.sum(a.W[np.arange(2), np.argmax(a.W, axis=1)])),
    ("sum(argmin(T, axis=2) * T[:, :, 1])",
     lambda a: np.sum(np.argmin(a.T, axis=2) * a.T[:, :, 1])),
    ("sum(argmax(W, axis=0, keepdims=True) * W)",
     lambda a: np.sum(np.argmax(a.W, axis=0, keepdims=True) * a.W)),
    # methods
    ("sum(x.sum() * W.sum(axis=1))", lambda a: np.sum(a.x.sum() * a.W.sum(axis=1))),
    ("W.max(axis=1).sum() + W.min() + W.mean()",
     lambda a: a.W.max(axis=1).sum() + a.W.min() + a.W.mean()),
    ("T.mean(axis=(0, 1)).sum() + T.prod(axis=0).sum()",
     lambda a: a.T.mean(axis=(0, 1)).sum() + a.T.prod(axis=0).sum()),
    ("W.var(axis=1, ddof=1).sum() + W.std() + x.argmax() * x.max()",
     lambda a: a.W.var(axis=1, ddof=1).sum() + a.W.std() + a.x.argmax() * a.x.max()),
    ("W.argmin(axis=1).sum() * W.sum()", lambda a: a.W.argmin(axis=1).sum() * a.W.sum()),
    ("x.exp().sum() + x.tanh().sum() + W.abs().sum()",
     lambda a: np.exp(a.x).sum() + np.tanh(a.x).sum() + np.abs(a.W).sum()),
    # N-d arrays, broadcasting, @ on stacks of matrices
    ("sum((A @ B) ** 2)", lambda a: np.sum((a.A @ a.B) ** 2)),
    ("sum(matmul(A, B[0]))", lambda a: np.sum(np.matmul(a.A, a.B[0]))),
    ("sum(T * x)", lambda a: np.sum(a.T * a.x)),
    ("sum((W @ T[0]) ** 2)", lambda a: np.sum((a.W @ a.T[0]) ** 2)),
    ("dot(x, y)", lambda a: np.dot(a.x, a.y)),
    # reshape, transpose
    ("sum(reshape(T, (4, -1))[:, 0] ** 2) + sum(reshape(T, 6, 4) @ x)",
     lambda a: np.sum(a.T.reshape(4, -1)[:, 0] ** 2) + np.sum(a.T.reshape(6, 4) @ a.x)),
    ("sum(T.reshape(6, 4) @ x)", lambda a: np.sum(a.T.reshape(6, 4) @ a.x)),
    ("sum(T.reshape((-1,)) * T.reshape(24))", lambda a: np.sum(a.T.reshape(-1) ** 2)),
    ("sum(W.T @ W)", lambda a: np.sum(a.W.T @ a.W)),
    ("sum(transpose(W) * W.T)", lambda a: np.sum(a.W.T ** 2)),
    ("sum(transpose(T, (1, 0, 2)) * T.transpose(1, 0, 2) * A.transpose(1, 0, 2))",
     lambda a: np.sum(np.transpose(a.T, (1, 0, 2)) ** 2 * a.A.transpose(1, 0, 2))),
    ("sum(T.transpose(2, 0, 1)[0] * transpose(T, axes=(2, 0, 1))[1])",
     lambda a: np.sum(a.T.transpose(2, 0, 1)[0] * a.T.transpose(2, 0, 1)[1])),
    # indexing, slices with steps
    ("T[1, 0, 3] * T[0, 2, 1]", lambda a: a.T[1, 0, 3] * a.T[0, 2, 1]),
    ("sum(x[::-1] * y)", lambda a: np.sum(a.x[::-1] * a.y)),
    ("sum(T[:, ::2, 1:3] ** 2)", lambda a: np.sum(a.T[:, ::2, 1:3] ** 2)),
    ("sum(x[1:] * y[:3]) + x[-1]", lambda a: np.sum(a.x[1:] * a.y[:3]) + a.x[-1]),
    ("sum(x[[0, 1, 0]] * y[:3])", lambda a: np.sum(a.x[[0, 1, 0]] * a.y[:3])),
    ("sum(C[Xb] ** 2)", lambda a: np.sum(a.C[a.Xb] ** 2)),
    ("sum(W[arange(2), lab])", lambda a: np.sum(a.W[np.arange(2), a.lab])),
    ("sum(W * one_hot(lab, 3))", lambda a: np.sum(a.W * np.eye(3)[a.lab])),
    # lists, stack, concatenate, arange, ones_like, zeros_like
    ("sum([x, x + 2][1] * y)", lambda a: np.sum((a.x + 2) * a.y)),
    ("sum(stack([x, y]) ** 2) + sum(stack([x, y], axis=1)[0])",
     lambda a: np.sum(np.stack([a.x, a.y]) ** 2) + np.sum(np.stack([a.x, a.y], axis=1)[0])),
    ("sum(concatenate([x, y * 2]) ** 2)", lambda a: np.sum(np.concatenate([a.x, a.y * 2]) ** 2)),
    ("sum(concatenate([W, W * 2], axis=1) ** 2)",
     lambda a: np.sum(np.concatenate([a.W, a.W * 2], axis=1) ** 2)),
    ("sum(arange(4) * x) + sum(ones_like(x) * y) + sum(zeros_like(W) + W)",
     lambda a: np.sum(np.arange(4) * a.x) + np.sum(a.y) + np.sum(a.W)),
    # a scalar program with the same vocabulary
    ("log1p(s) * clip(s, 0, 1) + where(s > 0.5, s, 0) + s % 0.25 + maximum(s, 0.1)",
     lambda a: (np.log1p(a.s) * np.clip(a.s, 0, 1) + np.where(a.s > 0.5, a.s, 0)
                + a.s % 0.25 + np.maximum(a.s, 0.1))),
]


def _names(program: str) -> list[str]:
    import re

    return [n for n in V if re.search(rf"\b{n}\b", program)]


INDEX = ("Xb", "lab")  # integer arrays from a file: positions (written inline they are floats)


def _binding(name: str, folder) -> str:
    if name in INDEX:
        path = folder / f"{name}.json"
        path.write_text(json.dumps(V[name]))
        return f"{name}=@{path}"
    return f"{name}={json.dumps(V[name], separators=(',', ':'))}"


def _run(program: str, folder, *extra: str) -> tuple[int, dict, str]:
    args = [_binding(n, folder) for n in _names(program)]
    run = CliRunner().invoke(cli, ["eval", program, *args, "--json", *extra])
    return run.exit_code, (json.loads(run.stdout) if run.stdout.strip() else {}), run.stderr


@pytest.mark.parametrize(("program", "numpy_value"), SPELLINGS, ids=[s[0] for s in SPELLINGS])
def test_every_spelling_has_numpys_value_and_checked_gradients(program, numpy_value, tmp_path):
    code, record, err = _run(program, tmp_path, "--no-sympy")
    assert code == 0, err
    want = numpy_value(type("Values", (), ARR))
    assert np.allclose(record["value"], want, rtol=1e-12, atol=1e-12), (record["value"], want)
    for name, checks in record["checks"].items():
        fd = [c for c in checks if c["method"] == "finite-difference"]
        assert fd and fd[0]["status"] == "pass", (name, fd)
    for name in INDEX:  # positions: no gradient is reported, nor checked
        assert name not in record["gradients"] and name not in record["checks"]


# sympy answers too, on a few of each kind (it takes longer: one program per kind)
SYMPY_SAMPLE = ["sum(arctan2(x, y))", "sum(clip(x, -1, 1) * y)", "sum(y % x)",
                "sum(var(W, axis=0, ddof=1, keepdims=True))", "x[argmax(x)] - x[argmin(x)]",
                "sum(argmin(T, axis=2) * T[:, :, 1])", "sum((A @ B) ** 2)",
                "sum(T.transpose(2, 0, 1)[0] * transpose(T, axes=(2, 0, 1))[1])",
                "sum(C[Xb] ** 2)", "sum(concatenate([W, W * 2], axis=1) ** 2)"]


@pytest.mark.parametrize("program", SYMPY_SAMPLE)
def test_sympy_agrees_on_each_kind(program, tmp_path):
    code, record, err = _run(program, tmp_path, "--no-numeric")
    assert code == 0, err
    for name, checks in record["checks"].items():
        assert [c["status"] for c in checks if c["method"] == "sympy"] == ["pass"], name


# What a numpy user types that the language spells otherwise: one line, exit 2, and the
# message (or its hint) names what to write. (program, what the message says)
MISSPELT = [
    ("sum(x, axis=y)", "expected a value written in the program but found 'y'"),
    ("sum(axis=0, x)", "a positional argument follows a keyword argument"),
    ("sum(x, dim=0)", "write axis= (numpy's spelling)"),
    ("mean(x, ddof=1)", "mean() takes the keywords axis, keepdims"),
    ("x.summ()", "an array has no method 'summ' (did you mean .sum()?)"),
    ("x.meen()", "an array has no method 'meen' (did you mean .mean()?)"),
    ("x.clamp(0, 1)", "write x.clip(lo, hi) (numpy's spelling)"),
    ("outer(x, x)", "write a.reshape(-1, 1) @ b.reshape(1, -1) (a column times a row)"),
    ("len(x)", "a size is a number written in the program"),
    ("clamp(x, 0, 1)", "write clip(x, lo, hi) (numpy's spelling)"),
    ("x.shape", "a size is a number written in the program"),
    ("x.flatten()", "write x.reshape(-1)"),
    ("x.T()", "x.T is an attribute: drop the ()"),
    ("np.sum(x)", "write sum(...): a function is called by its own name, without np."),
    ("np.linalg.norm(x)", "np.linalg.norm: the language has no modules"),
    ("x[x > 0]", "where(mask, x, 0) keeps the shape"),
    ("W[:, None]", "write x.reshape(...) with a size 1 where the new axis goes"),
    ("W[..., 0]", "name each axis before the one you take: W[:, 0]"),
    ("x // y", "'//' (floor division) is not in the language"),
    ("x**2 if x > 0 else 0", "a choice is where(cond, a, b)"),
    ("sum(x and y)", "for 'and' multiply the tests"),
    ("sum(x + W)", "cannot broadcast shapes (4,) and (2, 3): sizes 4 and 3 differ in axis -1"),
    ("sum(W, axis=2)", "sum() over axis 2: the input has shape (2, 3), so the axis must be in"),
    ("W @ x", "cannot multiply shapes (2, 3) and (4,)"),
    ("sum(W, axis=1, keepdims=True) @ W", "the left has 1 column but the right has 2 rows"),
    ("sum(log(W))", "log(a 2x3 array) is outside the function's domain"),
    ("concatenate([W, x])", "entry 0 has shape (2, 3), entry 1 has (4,)"),
    ("transpose(T, (1, 0))", "transpose() with axes (1, 0) on shape (2, 3, 4)"),
    ("reshape(W, 4, -1)", "cannot reshape shape (2, 3) (6 entries) to (4, -1)"),
]


@pytest.mark.parametrize(("program", "says"), MISSPELT, ids=[m[0] for m in MISSPELT])
def test_a_numpy_spelling_the_language_lacks_names_the_one_to_use(program, says, tmp_path):
    code, _, err = _run(program, tmp_path)
    assert code == 2 and says in err and "Traceback" not in err, err


def test_a_keyword_argument_is_never_an_assignment(tmp_path):
    code, record, err = _run("q = sum(W, axis=0); r = q.sum(keepdims=True); sum(r * 2)",
                             tmp_path)
    assert code == 0 and record["value"] == pytest.approx(2 * np.sum(ARR["W"])), err


@pytest.mark.parametrize("suffix", ["json", "npy", "csv"])
def test_integer_positions_from_any_file_are_indices(suffix, tmp_path):
    path = tmp_path / f"Xb.{suffix}"
    Xb = np.array(V["Xb"])
    if suffix == "npy":
        np.save(path, Xb)
    elif suffix == "csv":
        np.savetxt(path, Xb, fmt="%d", delimiter=",")
    else:
        path.write_text(json.dumps(V["Xb"]))
    C = json.dumps(V["C"], separators=(",", ":"))
    run = CliRunner().invoke(cli, ["eval", "sum(C[Xb] ** 2)", f"C={C}", f"Xb=@{path}",
                                   "--json"])
    record = json.loads(run.stdout)
    assert run.exit_code == 0 and list(record["gradients"]) == ["C"], run.stderr
    assert record["value"] == pytest.approx(np.sum(ARR["C"][Xb] ** 2))

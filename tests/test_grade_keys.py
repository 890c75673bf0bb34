"""The answer keys `backprop backward` writes for array programs: nn-zero-to-hero's backprop
ninja (docs/examples/ninja) and CS231n's layers (affine, relu, softmax loss, SVM loss, batch
norm), each graded exact or approx on every line; their numpy spelling passes its own
finite-difference self-test; their torch spelling agrees with autograd where torch is."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backprop_cli.grade.code import as_numpy, as_torch, write
from backprop_cli.grade.grading import read_and_grade
from backprop_cli.grade.writing import write_key

ROOT = Path(__file__).resolve().parent.parent
NINJA = ROOT / "docs" / "examples" / "ninja"
RIGHT = ("exact", "approx")


def ninja_point() -> dict:
    with np.load(NINJA / "batch.npz") as data:
        return {k: data[k] for k in data.files}


def small_ninja() -> tuple[str, dict]:
    """The notebook's forward pass at a batch of 6, embedding 2, hidden 5, vocabulary 7: small
    enough for central differences entry by entry."""
    source = (NINJA / "forward.bp").read_text().replace("n = 32", "n = 6")
    r = np.random.default_rng(5)
    point = {"C": r.normal(size=(7, 2)), "W1": r.normal(size=(6, 5)) * 0.5,
             "b1": r.normal(size=5) * 0.1, "W2": r.normal(size=(5, 7)) * 0.3,
             "b2": r.normal(size=7) * 0.1, "bngain": 1 + 0.1 * r.normal(size=5),
             "bnbias": 0.1 * r.normal(size=5), "Xb": r.integers(0, 7, size=(6, 3)),
             "Yb": r.integers(0, 7, size=6)}
    return source, point


CS231N = {
    "affine-relu-softmax": (
        "h = x @ w1 + b1\na = relu(h)\nscores = a @ w2 + b2\nloss = cross_entropy(scores, y)\n",
        lambda r: {"x": r.normal(size=(4, 3)), "w1": r.normal(size=(3, 5)),
                   "b1": r.normal(size=5), "w2": r.normal(size=(5, 3)), "b2": r.normal(size=3),
                   "y": np.eye(3)[[0, 2, 1, 2]]}),
    "softmax-written-out": (
        "scores = x @ w\nshifted = scores - scores.max(1, keepdims=True)\n"
        "logp = shifted - log(exp(shifted).sum(1, keepdims=True))\n"
        "loss = -mean(logp[arange(4), y])\n",
        lambda r: {"x": r.normal(size=(4, 3)), "w": r.normal(size=(3, 5)),
                   "y": np.array([0, 4, 2, 1])}),
    # One example's scores as CS231n's svm_loss_naive takes them, X[i] @ W (a (1, D) row:
    # @'s texts speak of matrices), with L2 regularization.
    "svm": (
        "s = reshape(x @ w, 4) + b\nloss = svm_loss(s, 2) + 0.1*sum(w**2)\n",
        lambda r: {"w": r.normal(size=(3, 4)), "x": r.normal(size=(1, 3)),
                   "b": r.normal(size=4)}),
    "svm-label-cross-entropy": (
        "s = reshape(x @ w, 5)\nloss = svm_loss(s, 1) + cross_entropy(s, 3)\n",
        lambda r: {"w": r.normal(size=(3, 5)), "x": r.normal(size=(1, 3))}),
    "batch-norm": (
        "mu = x.mean(0, keepdims=True)\nxc = x - mu\nvar = (xc**2).mean(0, keepdims=True)\n"
        "xhat = xc / (var + 1e-5)**0.5\nout = gamma * xhat + beta\nloss = sum(out * g)\n",
        lambda r: {"x": r.normal(size=(6, 3)), "g": r.normal(size=(6, 3)),
                   "gamma": r.normal(size=3), "beta": r.normal(size=3)}),
    "batch-norm-var": (
        "xhat = (x - mean(x, 0)) / sqrt(var(x, 0) + 1e-5)\nloss = sum((gamma*xhat + beta) * g)\n",
        lambda r: {"x": r.normal(size=(6, 3)), "g": r.normal(size=(6, 3)),
                   "gamma": r.normal(size=3), "beta": r.normal(size=3)}),
    "rows-max-pool": (
        "m = amax(x, 1)\nloss = sum(m * v) + sum(reshape(x, 2, -1)[1])\n",
        lambda r: {"x": r.normal(size=(4, 3)), "v": r.normal(size=4)}),
}


def graded(source: str, point: dict):
    key = write(source, point)
    return key, read_and_grade(source, key, point)


def test_the_ninja_key_is_graded_right_on_every_line():
    key, report = graded((NINJA / "forward.bp").read_text(), ninja_point())
    assert report.status == "pass"
    assert len(report.lines) == 30
    assert all(g.status in RIGHT for g in report.lines), [g for g in report.lines
                                                           if g.status not in RIGHT]
    assert report.missing == ()
    lines = key.splitlines()[2:]
    assert lines[-2:] == ["demb = reshape(dembcat, 32, 3, 10)",
                          "dC = add_at(zeros_like(C), demb, Xb)"]
    assert "dcounts += dcounts_sum*ones_like(counts)" in lines  # the fan-out's +=
    assert "dbndiff += dbndiff2*(2*bndiff)" in lines


@pytest.mark.parametrize("name", sorted(CS231N))
def test_cs231n_layer_keys_are_graded_right(name):
    source, make = CS231N[name]
    key, report = graded(source, make(np.random.default_rng(7)))
    assert report.status == "pass", key
    assert all(g.status in RIGHT for g in report.lines)


def _run(code: str, folder: Path, python: str = sys.executable) -> subprocess.CompletedProcess:
    path = folder / "key.py"
    path.write_text(code)
    return subprocess.run([python, str(path)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)


def test_the_ninja_numpy_key_passes_its_self_test(tmp_path):
    source, point = small_ninja()
    done = _run(as_numpy(write_key(source, point), "forward.bp"), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("pass: backward() agrees with central differences")


@pytest.mark.parametrize("name", ["affine-relu-softmax", "svm", "batch-norm"])
def test_cs231n_numpy_keys_pass_their_self_test(name, tmp_path):
    source, make = CS231N[name]
    done = _run(as_numpy(write_key(source, make(np.random.default_rng(7))), name), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def _torch_python() -> str | None:
    """An interpreter with torch: this one, or $BACKPROP_TORCH_PYTHON (e.g. a venv beside)."""
    for python in (sys.executable, os.environ.get("BACKPROP_TORCH_PYTHON")):
        if python and shutil.which(python) and subprocess.run(
                [python, "-c", "import torch, numpy"], capture_output=True,
                check=False).returncode == 0:
            return python
    return None


@pytest.mark.parametrize("program", ["ninja", "affine-relu-softmax", "batch-norm"])
def test_the_torch_key_agrees_with_autograd(program, tmp_path):
    python = _torch_python()
    if python is None:
        pytest.skip("torch is not installed (set BACKPROP_TORCH_PYTHON to an interpreter "
                    "with torch and numpy)")
    if program == "ninja":
        source, point = small_ninja()
    else:
        source, make = CS231N[program]
        point = make(np.random.default_rng(7))
    done = _run(as_torch(write_key(source, point), program), tmp_path, python)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DIFFERS" not in done.stdout


# @ with a vector operand (the lecture's vectorized examples): what a matrix receives is an
# outer product, never `upstream @ x.T` (numpy's .T leaves a vector as it is).
VECTOR_MATMUL = {
    "lecture": ("q = W @ x\nf = sum(q**2)\n",
                {"x": np.array([0.2, 0.4]), "W": np.array([[0.1, 0.5], [-0.3, 0.8]])},
                "dW = reshape(dq, 2, 1)*x"),
    "two-layer": ("h = relu(W1 @ x)\nf = sum(W2 @ h)\n",
                  {"x": np.array([0.2, 0.4, -0.7]), "W1": np.arange(6.0).reshape(2, 3) - 2.5,
                   "W2": np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.25]])}, "*x"),
    "row-vector": ("s = x @ W\nf = sum(exp(s))\n",
                   {"x": np.array([0.2, 0.4]), "W": np.array([[0.1, 0.5, 1], [-0.3, 0.8, 2]])},
                   "dW = reshape(x, 2, 1)*ds"),
    "dot": ("d = u @ v\nf = d**2\n", {"u": np.array([1.0, -2.0]), "v": np.array([0.5, 3.0])},
            "du = dd*v"),
}


@pytest.mark.parametrize("name", sorted(VECTOR_MATMUL))
def test_at_with_a_vector_operand_keys_are_exact(name):
    source, point, expected = VECTOR_MATMUL[name]
    key, report = graded(source, point)
    assert report.status == "pass", key
    assert all(g.status == "exact" for g in report.lines), key
    assert expected in key
    assert ".T @ " in key or name == "dot" or "@ d" in key


def test_the_trace_names_the_outer_product_for_a_vector_operand():
    from click.testing import CliRunner

    from backprop_cli.cli import cli

    done = CliRunner().invoke(cli, ["trace", "q = W @ x; f = sum(q**2)", "x=[0.2,0.4]",
                                    "W=[[0.1,0.5],[-0.3,0.8]]", "--explain"])
    assert done.exit_code == 0, done.output
    assert "dA = outer(upstream, B)" in done.output
    assert "upstream @ B.T" not in done.output


def test_the_notes_formula_typed_in_numpy_is_named():
    source, point, _ = VECTOR_MATMUL["lecture"]
    report = read_and_grade(source, "dq = 2*q\ndW = dq @ x.T\ndx = W.T @ dq\n", point)
    assert report.first_wrong.line == 2 and report.first_wrong.status == "shape"
    assert ".T does nothing to a 1-D array" in report.diagnosis
    assert "reshape(dq, 2, 1) * x (np.outer(dq, x) in numpy)" in report.diagnosis


@pytest.mark.parametrize("name", ["lecture", "row-vector"])
def test_vector_matmul_numpy_keys_pass_their_self_test(name, tmp_path):
    source, point, _ = VECTOR_MATMUL[name]
    done = _run(as_numpy(write_key(source, point), name), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_penalty_and_a_mean_read_as_the_lecture_writes_them():
    source = ("h = relu(X @ W1)\nscores = h @ W2\n"
              "data_loss = -mean(log_softmax(scores)[arange(5), y])\n"
              "loss = data_loss + 0.5*0.1*sum(W2*W2)\n")
    r = np.random.default_rng(1)
    point = {"X": r.normal(size=(5, 2)), "W1": r.normal(size=(2, 3)),
             "W2": r.normal(size=(3, 4)), "y": np.array([0, 1, 3, 2, 1])}
    key, report = graded(source, point)
    assert all(g.status == "exact" for g in report.lines), key
    assert "dW2 = 0.05*W2" in key and "ones_like(W2*W2)" not in key
    assert "arange(5), y])/5," in key  # the mean's n, not sum(ones_like(...))


# One program per row whose text is written with the call's positions (`at`), its part of a
# joined output (`part`), or prod's product of the others: graded right on every line.
ROW_KEYS = {
    "slice": ("top = x[1:3]\nloss = sum(top*w) + sum(x[-1:]**2)\n",
              lambda r: {"x": r.normal(size=(4, 3)), "w": r.normal(size=(2, 3))},
              "dx += add_at(zeros_like(x), dtop, 1 + arange(2))"),
    "subscript": ("rev = x[::-1, 0]\ncol = x[:, 1:3]\nodd = x[1, ::2]\n"
                  "loss = sum(rev*v) + sum(col**2) + sum(exp(odd))\n",
                  lambda r: {"x": r.normal(size=(3, 4)), "v": r.normal(size=3)},
                  "add_at(zeros_like(x), dcol, reshape(arange(3), 3, 1), 1 + arange(2))"),
    "prod": ("p = prod(W, 1)\nloss = sum(p*v) + prod(u)\n",
             lambda r: {"W": np.array([[1.5, 0.0, 2.0], [3.0, 0.5, -1.0], [0.0, 2.0, 0.0]]),
                        "v": r.normal(size=3), "u": r.normal(size=4)},
             "prod(where(W == 0, 1, W), axis=1, keepdims=True)"),
    "stack": ("h = stack([x, 2*x, y], axis=1)\nloss = sum(h*W)\n",
              lambda r: {"x": r.normal(size=2), "y": r.normal(size=2),
                         "W": r.normal(size=(2, 3))},
              "dy = dh[:, 2]"),
    "concatenate": ("j = concatenate([A, B], axis=1)\nk = concatenate([j, 2*j, C])\n"
                    "loss = sum(k**2)\n",
                    lambda r: {"A": r.normal(size=(2, 3)), "B": r.normal(size=(2, 1)),
                               "C": r.normal(size=(1, 4))},
                    "dB = dj[:, 3:4]"),
}


@pytest.mark.parametrize("name", sorted(ROW_KEYS))
def test_a_key_for_each_positioned_row_is_graded_right(name):
    source, make, expected = ROW_KEYS[name]
    key, report = graded(source, make(np.random.default_rng(3)))
    assert report.status == "pass", key
    assert all(g.status in RIGHT for g in report.lines), key
    assert expected in key, key


@pytest.mark.parametrize("name", ["subscript", "prod"])
def test_positioned_numpy_keys_pass_their_self_test(name, tmp_path):
    source, make, _ = ROW_KEYS[name]
    done = _run(as_numpy(write_key(source, make(np.random.default_rng(3))), name), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("pass: backward() agrees with central differences")

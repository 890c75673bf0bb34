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

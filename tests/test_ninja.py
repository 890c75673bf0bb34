"""The forward pass of nn-zero-to-hero's "becoming a backprop ninja", typed in the language:
an embedding gathered by integer positions (C[Xb]), a reshape, batch norm with keepdims sums,
tanh, and cross-entropy written out op by op (logits.max(1, keepdims=True), counts_sum**-1,
logprobs[arange(n), Yb]). Its gradients agree with the notebook's manual backward pass and with
finite differences; the integer batches get none."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli
from backprop_cli.evaluate import Options, evaluate

HERE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "ninja"
PROGRAM = (HERE / "forward.bp").read_text()
NAMES = ("C", "W1", "b1", "W2", "b2", "bngain", "bnbias", "Xb", "Yb")


@pytest.fixture(scope="module")
def batch():
    with np.load(HERE / "batch.npz") as data:
        return {k: data[k] for k in NAMES}


def manual_backward(b):
    """The notebook's exercise 1, by hand (numpy for torch)."""
    C, W1, b1, W2, b2, bngain, bnbias, Xb, Yb = (b[k] for k in NAMES)
    n = Xb.shape[0]
    emb = C[Xb]
    embcat = emb.reshape(n, -1)
    hprebn = embcat @ W1 + b1
    bnmeani = 1 / n * hprebn.sum(0, keepdims=True)
    bndiff = hprebn - bnmeani
    bndiff2 = bndiff**2
    bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdims=True)
    bnvar_inv = (bnvar + 1e-5) ** -0.5
    bnraw = bndiff * bnvar_inv
    hpreact = bngain * bnraw + bnbias
    h = np.tanh(hpreact)
    logits = h @ W2 + b2
    logit_maxes = logits.max(1, keepdims=True)
    norm_logits = logits - logit_maxes
    counts = np.exp(norm_logits)
    counts_sum = counts.sum(1, keepdims=True)
    counts_sum_inv = counts_sum**-1
    probs = counts * counts_sum_inv
    logprobs = np.log(probs)
    loss = -logprobs[np.arange(n), Yb].mean()

    dlogprobs = np.zeros_like(logprobs)
    dlogprobs[np.arange(n), Yb] = -1.0 / n
    dprobs = 1.0 / probs * dlogprobs
    dcounts_sum_inv = (counts * dprobs).sum(1, keepdims=True)
    dcounts = counts_sum_inv * dprobs
    dcounts_sum = -counts_sum**-2 * dcounts_sum_inv
    dcounts += np.ones_like(counts) * dcounts_sum
    dnorm_logits = counts * dcounts
    dlogits = dnorm_logits.copy()
    dlogit_maxes = -dnorm_logits.sum(1, keepdims=True)
    dlogits += np.eye(logits.shape[1])[logits.argmax(1)] * dlogit_maxes
    dh = dlogits @ W2.T
    dW2 = h.T @ dlogits
    db2 = dlogits.sum(0)
    dhpreact = (1.0 - h**2) * dh
    dbngain = (bnraw * dhpreact).sum(0, keepdims=True)
    dbnraw = bngain * dhpreact
    dbnbias = dhpreact.sum(0, keepdims=True)
    dbndiff = bnvar_inv * dbnraw
    dbnvar_inv = (bndiff * dbnraw).sum(0, keepdims=True)
    dbnvar = -0.5 * (bnvar + 1e-5) ** -1.5 * dbnvar_inv
    dbndiff2 = 1.0 / (n - 1) * np.ones_like(bndiff2) * dbnvar
    dbndiff += 2 * bndiff * dbndiff2
    dhprebn = dbndiff.copy()
    dbnmeani = -dbndiff.sum(0)
    dhprebn += 1.0 / n * np.ones_like(hprebn) * dbnmeani
    dembcat = dhprebn @ W1.T
    dW1 = embcat.T @ dhprebn
    db1 = dhprebn.sum(0)
    demb = dembcat.reshape(emb.shape)
    dC = np.zeros_like(C)
    np.add.at(dC, Xb, demb)
    return loss, {"C": dC, "W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "bngain": dbngain,
                  "bnbias": dbnbias}


def test_the_ninja_forward_pass_runs_and_its_gradients_are_the_notebooks(batch):
    assert batch["Xb"].shape == (32, 3) and batch["C"].shape == (27, 10)
    assert batch["W1"].shape == (30, 64) and batch["W2"].shape == (64, 27)
    result = evaluate(PROGRAM, batch, Options(check=False))
    loss, want = manual_backward(batch)
    assert result.value == pytest.approx(loss, rel=1e-12)
    assert set(result.gradients) == set(want)  # the integer batches Xb, Yb get no gradient
    for name, grad in want.items():
        np.testing.assert_allclose(result.gradients[name], grad, rtol=1e-9, atol=1e-15,
                                   err_msg=name)


def test_the_ninja_gradients_agree_with_finite_differences(batch):
    result = evaluate(PROGRAM, batch)
    assert result.exit_code == 0
    for row in result.rows:
        fd = {c.method: c.status for c in row.checks}["finite-difference"]
        assert fd == "pass", (row.name, row.checks)


def test_the_ninja_example_runs_from_the_command_line():
    words = [f"{k}=@{HERE / 'batch.npz'}" for k in NAMES]
    result = CliRunner().invoke(cli, ["eval", "-f", str(HERE / "forward.bp"), *words,
                                      "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data["gradients"]) == ["C", "W1", "b1", "W2", "b2", "bngain", "bnbias"]
    assert data["value"] == pytest.approx(manual_backward_loss())


def manual_backward_loss() -> float:
    with np.load(HERE / "batch.npz") as data:
        return manual_backward({k: data[k] for k in NAMES})[0]

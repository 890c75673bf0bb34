"""Every array row's vjp_text is its VJP: spelled as `backprop backward` spells it (the call's
words in place: idx, keep, dims, rows, ddof, onehot), read by the language's parser, run by its
forward pass at the row's array samples and at calls bound to keywords (axis, keepdims, ddof),
and compared with the row's `vjp`. A text that drifts from its rule fails here."""

import dataclasses

import numpy as np
import pytest

from backprop_cli.engine.forward import forward
from backprop_cli.grade.spelling import Call, params_of, row_text, spell
from backprop_cli.language.parser import parse
from backprop_cli.ops import OPS
from backprop_cli.ops.arrays import array_samples
from backprop_cli.ops.keywords import bind
from backprop_cli.ops.registry import array_math

RNG = np.random.default_rng(21)
W = RNG.normal(size=(3, 4))
T = RNG.normal(size=(2, 3, 4))
ZEROS = np.array([[1.5, -0.5, 2.0], [0.7, 0.0, -3.0], [0.0, 2.0, 0.0]])

# Calls bound to keyword arguments, as the programs write them (x.sum(1, keepdims=True)).
BOUND = {
    "sum": [(W, dict(axis=1)), (W, dict(axis=1, keepdims=True)), (T, dict(axis=(0, 2))),
            (T, dict(axis=1, keepdims=True)), (T, dict(keepdims=True))],
    "mean": [(W, dict(axis=1)), (W, dict(axis=0, keepdims=True)), (T, dict(axis=(1, 2)))],
    "amax": [(W, dict(axis=1)), (W, dict(axis=1, keepdims=True)), (T, dict(axis=(0, 2)))],
    "amin": [(W, dict(axis=0)), (T, dict(axis=2, keepdims=True))],
    "variance": [(W, dict(axis=0, ddof=1)), (T, dict(axis=1, ddof=1, keepdims=True)),
                 (W, dict(ddof=1))],
    "logsumexp": [(W, dict(axis=1)), (T, dict(axis=(0, 1), keepdims=True))],
    "std": [(W, dict(axis=0, ddof=1)), (T, dict(axis=(0, 2), keepdims=True))],
    # Rows with no 0, one 0 and two 0s: the product of the others, where out/a is not.
    "prod": [(W, dict(axis=1)), (T, dict(axis=(0, 2), keepdims=True)), (W, dict(keepdims=True)),
             (ZEROS, dict(axis=1)), (ZEROS, dict(axis=0, keepdims=True)), (ZEROS[0], {}),
             (ZEROS[1], {}), (ZEROS[2], {})],
    # The keys the parser binds: x[::-1], x[:, 0], x[1, ::2], x[0, 2], x[-2:, 1:3, ::-2].
    "subscript": [(W, dict(key=((None, None, -1),))), (W, dict(key=((None, None, None), 0))),
                  (W, dict(key=(1, (None, None, 2)))), (W, dict(key=(0, 2))),
                  (T, dict(key=((-2, None, None), (1, 3, None), (None, None, -2)))),
                  (T, dict(key=((None, None, None), -1)))],
}
# Variadic rows bound to an axis: their inputs, then the axis.
JOINED = {
    "stack": [((W, 2 * W, W - 1), dict(axis=1)), ((W[0], W[1]), dict(axis=-1))],
    "concatenate": [((W, T[0], W[:2]), dict(axis=0)), ((W, T[1][:, :2]), dict(axis=1)),
                    ((T, T[:, :1]), dict(axis=-2))],
}

TEXT_ROWS = sorted({op.name for op in OPS.values() if op.vjp_text and not op.elementwise})

# The rows the ninja forward and CS231n's layers read, each of which must have a text.
NEEDED = ("matmul", "transpose", "sum", "mean", "amax", "amin", "take", "reshape", "index",
          "cross_entropy", "softmax", "log_softmax", "svm_loss", "add_at", "variance")


def _samples(name: str) -> list:
    """The row's array samples, in the case its texts speak of: @'s of matrices (`dout @
    b.T`), not vectors; add_at's of values shaped like what was taken (`dout[idx2]`), not
    broadcast. backward refuses a key whose lines its own grading does not pass."""
    found = array_samples().get(name, [])
    if name == "subscript":  # the row unbound is no call a program makes: its keys, in BOUND
        return []
    if name == "matmul":
        return [args for args in found if all(np.ndim(a) == 2 for a in args)]
    if name == "add_at":
        full = [(a, RNG.normal(size=np.shape(a[tuple(idx)])), *idx) for a, _v, *idx in found]
        return [args for args in found if np.shape(args[1]) == np.shape(args[0][args[2:]])] + \
            [(a, v, *idx) for a, v, *idx in full]
    return found


def _cases():
    for name in TEXT_ROWS:
        for k, args in enumerate(_samples(name)):
            yield pytest.param(name, args, {}, id=f"{name}-{k}")
        for k, (a, params) in enumerate(BOUND.get(name, [])):
            yield pytest.param(name, (a,), params, id=f"{name}-bound{k}")
        for k, (args, params) in enumerate(JOINED.get(name, [])):
            yield pytest.param(name, args, params, id=f"{name}-axis{k}")


def _inputs(args) -> tuple[list[str], dict]:
    """Each input as the program would write it: a number in place, an array by name."""
    names, at = [], {}
    for k, value in enumerate(args):
        if isinstance(value, float | int) and not isinstance(value, bool):
            names.append(repr(int(value)) if value == int(value) else repr(value))
        else:
            names.append("abc"[k] if k < 3 else f"p{k}")
            at[names[-1]] = value
    return names, at


def disagreements(op, args, params=None) -> list[str]:
    """Where the row's spelled texts differ from its VJP at these arguments."""
    op = bind(op, params or {})
    m = array_math()
    out = op.forward(m, *args)
    dout = RNG.normal(size=np.shape(out)) if np.ndim(out) else 0.7
    parts = op.vjp(m, dout, list(args), out)
    inputs, at = _inputs(args)
    call = Call(tuple(np.shape(a) for a in args), np.shape(out),
                tuple(a if isinstance(a, float) else None for a in args), params_of(op))
    at.update(out=out, dout=dout)
    wrong = []
    for k, value in enumerate(args):
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            continue  # a number in place (axis, label, position) or positions: no gradient
        text = spell(op, k, inputs, "out", "dout", call)
        if text is None:
            wrong.append(f"{op.name} input {k + 1}: no text")
            continue
        graph = parse(text)
        got = forward(graph, {n: at[n] for n in graph.variables})[graph.output]
        if np.shape(got) != np.shape(parts[k]) and np.ndim(got) >= np.ndim(parts[k]):
            wrong.append(f"{op.name} input {k + 1}: {text} has shape {np.shape(got)}, the "
                         f"rule's {np.shape(parts[k])}")
        elif not np.allclose(got, parts[k], rtol=1e-12, atol=1e-14):
            wrong.append(f"{op.name} input {k + 1}: {text} differs from the rule by "
                         f"{np.max(np.abs(got - parts[k])):.2e}")
    return wrong


@pytest.mark.parametrize("name, args, params", list(_cases()))
def test_the_spelled_vjp_text_is_the_vjp(name, args, params):
    assert disagreements(OPS[name], args, params) == []


def test_every_row_the_exercises_read_has_a_text():
    assert [n for n in NEEDED if not all(row_text(OPS[n], k) for k in (0,))] == []


def test_every_text_row_is_sampled():
    samples = array_samples()
    assert [n for n in TEXT_ROWS if not samples.get(n) and n not in BOUND] == []


@pytest.mark.parametrize("name, drifted, args, params", [
    ("mean", ("dout*ones_like(a)",), (W, 1.0), {}),
    ("mean", ("dout*ones_like(a)/sum(ones_like(a))",), (W,), dict(axis=1)),
    ("sum", ("dout",), (W,), dict(axis=1)),
    ("amax", ("dout*where(a >= out, 1, 0)",), (np.array([[1.0, 3, 3], [2, 0, 2]]), 1.0), {}),
    ("amin", ("dout*where(a >= out, 1, 0)/sum(where(a >= out, 1, 0), keep)",), (W,),
     dict(axis=0)),
    ("take", ("add_at(zeros_like(a), 1, idx)",), None, {}),
    ("reshape", ("reshape(dout.T, dims)",), None, {}),
    ("svm_loss", ("dout*(where(a - a[b] + 1 > 0, 1, 0) - onehot*sum(where(a - a[b] + 1 > 0, "
                  "1, 0)*(1 - onehot)))",), None, {}),
    ("cross_entropy", ("dout*(softmax(a) - onehot)", "-dout*log_softmax(a)"), None, {}),
    ("variance", ("dout*2*(a - mean(a, keep))/sum(ones_like(a), keep)",), (W,),
     dict(axis=0, ddof=1)),
    ("softmax", ("out*(dout - sum(dout*out))",), None, {}),
    ("add_at", ("dout", "dout"), None, {}),
    ("slice", ("add_at(zeros_like(a), dout, arange(2))",), (W, 1.0, 3.0), {}),
    ("subscript", ("add_at(zeros_like(a), dout, arange(3))",), (W,),
     dict(key=((None, None, -1),))),
    ("prod", ("dout*out/a",), (np.array([[1.0, 0.0, 2.0], [3.0, 0.5, 2.0]]), 1.0), {}),
    ("prod", ("dout*prod(where(a == 0, 1, a), keep)*where(a == 0, 1, 1/where(a == 0, 1, a))",),
     (np.array([[1.0, 0.0, 2.0], [0.0, 0.5, 0.0]]), 1.0), {}),
    ("stack", ("dout[0]",), (W, W), {}),
    ("concatenate", ("dout[:, 0:3]",), (W, T[0]), {}),
])
def test_a_drifted_text_fails(name, drifted, args, params):
    row = dataclasses.replace(OPS[name], vjp_text=drifted)
    cases = [args] if args else _samples(name)
    found = []
    for a in cases:
        try:
            found += disagreements(row, a, params)
        except Exception as exc:  # noqa: BLE001  (a text that does not even run has drifted)
            found.append(repr(exc))
    assert found, (name, drifted)

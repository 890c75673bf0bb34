"""The answer key written out (`write`): as the backward file, or as Python: numpy code with
its own finite-difference self-test, or PyTorch code that compares itself with autograd.

Both spell the same four things, each from the key: the language's functions bound to their
registry rows (so `add_at`, `where`, `sum(x, axis=1, keepdims=True)` run the rows' own
rules), forward(), backward() (the forward statements, then the key's lines) and the point.
Integer arrays (positions, Xb and Yb) are passed to both functions and get no gradient.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from typing import Any

from ..errors import shown
from ..ops.registry import CONSTANTS, FUNCTIONS, SCALAR
from ..values import is_array
from .reading import tokens
from .writing import CannotWrite, Key, as_program, write_key

_NUMPY_HEAD = '''"""The backward pass of {origin}, written by `backprop backward --to numpy`.

forward() is the program and backward() its backward pass, one line per gradient step
from the output back (+= where a value fans out). Run this file to check backward()
against central finite differences at POINT.

The language's functions are computed by backprop's own registry rows, so this file imports
backprop_cli: run it where backprop is installed, e.g. `uv run python key.py` in the project."""

import numpy as np

try:
    from backprop_cli.ops import CONSTANTS, FUNCTIONS, array_math
except ImportError:
    raise SystemExit("this key imports backprop_cli: run it where backprop is installed, "
                     "e.g. `uv run python key.py` in the project") from None

_m = array_math()


def _row(name):
    # the language's function, computed by its own registry row on numpy arrays
    op = FUNCTIONS[name]
    return lambda *args, **kw: op.forward(_m, *args, **kw)

'''

_NUMPY_TEST = '''def self_test(point=None, step=1e-6, rtol=1e-4, atol=1e-6):
    """backward() against central differences of forward(), entry by entry."""
    point = {k: np.array(v, dtype=int if k in POSITIONS else float)
             for k, v in (point or POINT).items()}
    grads = backward(**point)
    ok, worst = True, 0.0
    for name in grads:
        value = point[name]
        ours = np.broadcast_to(np.asarray(grads[name], dtype=float), value.shape)
        for index in np.ndindex(value.shape):
            up = {k: v.copy() for k, v in point.items()}
            down = {k: v.copy() for k, v in point.items()}
            up[name][index] += step
            down[name][index] -= step
            slope = (float(forward(**up)) - float(forward(**down))) / (2 * step)
            err = abs(float(ours[index]) - slope)
            ok = ok and err <= atol + rtol * abs(slope)
            worst = max(worst, err)
    print(f"{'pass' if ok else 'FAIL'}: backward() agrees with central differences "
          f"to {worst:.1e} at most")
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if self_test() else 1)
'''

_TORCH_HEAD = '''"""The backward pass of {origin}, written by `backprop backward --to torch`.

forward() is the program on tensors and backward() its backward pass written out;
run this file to compare backward() with autograd at POINT.

The language's functions are computed by backprop's own registry rows, so this file imports
backprop_cli: run it with a Python that has torch and backprop installed, e.g. `uv run
python key.py` in the project once torch is added there."""

import contextlib
import math
from types import SimpleNamespace

import torch
import torch.nn.functional as F

try:
    from backprop_cli.ops import CONSTANTS, FUNCTIONS
except ImportError:
    raise SystemExit("this key imports backprop_cli: run it with a Python that has torch and "
                     "backprop installed, e.g. `uv run python key.py` in the project") from None

torch.set_default_dtype(torch.float64)


class _TorchNumpy:
    """The numpy calls the registry's rules make, on torch tensors (autograd follows them)."""

    ndarray = torch.Tensor
    inf, nan, pi = math.inf, math.nan, math.pi

    def __getattr__(self, name):
        return getattr(torch, name)

    @staticmethod
    def asarray(a, dtype=None):
        t = torch.as_tensor(a)
        return t.double() if dtype is float else t

    def _reduced(self, how, a, axis, keepdims):
        a = self.asarray(a)
        dims = tuple(range(a.ndim)) if axis is None else axis
        return getattr(a, how)(dim=dims, keepdim=keepdims)

    def sum(self, a, axis=None, keepdims=False):
        return self._reduced("sum", a, axis, keepdims)

    def mean(self, a, axis=None, keepdims=False):
        return self._reduced("mean", a, axis, keepdims)

    def max(self, a, axis=None, keepdims=False):
        return self._reduced("amax", a, axis, keepdims)

    def min(self, a, axis=None, keepdims=False):
        return self._reduced("amin", a, axis, keepdims)

    def shape(self, a):
        return tuple(self.asarray(a).shape)

    def ndim(self, a):
        return self.asarray(a).ndim

    def zeros(self, shape):
        return torch.zeros(shape)

    def reshape(self, a, shape):
        return torch.reshape(self.asarray(a), tuple(shape))

    def transpose(self, a, axes=None):
        return a.T if axes is None else a.permute(*axes)

    def expand_dims(self, a, axes):
        for k in sorted(axes if isinstance(axes, tuple) else (axes,)):
            a = a.unsqueeze(k)
        return a

    def where(self, c, x, y):
        return torch.where(self.asarray(c), self.asarray(x), self.asarray(y))

    def errstate(self, **kw):
        return contextlib.nullcontext()

    def arange(self, n):
        return torch.arange(n)


# The registry's rules are written against a math namespace; this one is torch's.
_np = _TorchNumpy()
_m = SimpleNamespace(is_array=True, np=_np, scalar=lambda t: t, where=_np.where, pow=torch.pow,
                     sigmoid=torch.sigmoid, softplus=F.softplus, inf=math.inf, nan=math.nan,
                     pi=math.pi, cbrt=lambda a: torch.sign(a) * a.abs() ** (1 / 3),
                     **{{n: getattr(torch, n) for n in {names!r} if hasattr(torch, n)}})


def _row(name):
    op = FUNCTIONS[name]
    return lambda *args, **kw: op.forward(_m, *args, **kw)

'''

_TORCH_CHECK = '''def check(point=None, rtol=1e-5, atol=1e-8):
    """backward() against autograd's gradients of forward()."""
    point = point or POINT
    leaves = {k: torch.tensor(v) if k in POSITIONS else
              torch.tensor(v, dtype=torch.float64, requires_grad=True)
              for k, v in point.items()}
    forward(**leaves).backward()
    with torch.no_grad():
        ours = backward(**{k: v.detach() for k, v in leaves.items()})
    ok = True
    for name in ours:
        leaf = leaves[name]
        mine = torch.as_tensor(ours[name], dtype=torch.float64).expand_as(leaf.grad)
        same = torch.allclose(mine, leaf.grad, rtol=rtol, atol=atol)
        worst = (mine - leaf.grad).abs().max().item()
        print(f"{name}: {'agrees' if same else 'DIFFERS'} with autograd (largest "
              f"difference {worst:.1e})")
        ok = ok and same
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if check() else 1)
'''


def as_numpy(key: Key, origin: str) -> str:
    _python_names(key)
    head = _NUMPY_HEAD.format(origin=origin or "a program")
    return "\n".join([head, *_definitions(key), _NUMPY_TEST])


def as_torch(key: Key, origin: str) -> str:
    _python_names(key)
    names = [n for n, v in vars(SCALAR).items() if callable(v) and not n.startswith("pow_")
             and n not in ("where", "pow", "sigmoid", "softplus", "cbrt")]
    head = _TORCH_HEAD.format(origin=origin or "a program", names=names)
    return "\n".join([head, *_definitions(key), _TORCH_CHECK])


def _python_names(key: Key) -> None:
    for name in [*key.variables, *(s.split(" = ")[0] for s in key.statements if " = " in s)]:
        if keyword.iskeyword(name) or name in ("np", "torch", "POINT", "POSITIONS"):
            raise CannotWrite(f"{name} cannot be a Python variable's name",
                              hint="rename it in the program")


def _words(key: Key):
    for line in (*key.statements, *key.lines):
        yield list(tokens(line.replace("+=", "=")))


def _functions(key: Key) -> list[str]:
    """The language's functions the code calls (each bound to its registry row)."""
    found: dict[str, None] = {}
    for toks in _words(key):
        for a, b in zip(toks, toks[1:]):
            if a.kind == "name" and b.text == "(" and a.text in FUNCTIONS:
                found[FUNCTIONS[a.text].name] = None
    return list(found)


def _constants(key: Key) -> list[str]:
    used = {t.text for toks in _words(key) for t in toks if t.kind == "name"}
    return [c for c in CONSTANTS if c in used]


def _point(key: Key) -> str:
    items = []
    for name in key.variables:
        v = key.bindings[name]
        items.append(f"    {name!r}: {v.tolist()!r}," if is_array(v) else f"    {name!r}: {v!r},")
    positions = tuple(n for n in key.variables if n not in key.differentiable)
    return "POINT = {\n" + "\n".join(items) + f"\n}}\nPOSITIONS = {positions!r}"


def _forward_lines(key: Key) -> tuple[list[str], str]:
    """The forward statements as Python lines, and the name of the value they end in."""
    fwd = list(key.statements)
    last = fwd[-1]
    if " = " in last.split("(")[0]:
        return fwd, last.split(" = ")[0]
    return [*fwd[:-1], f"_loss = {last}"], "_loss"


def _bodies(key: Key) -> tuple[str, str]:
    params = ", ".join(key.variables)
    fwd_lines, result = _forward_lines(key)
    grads = ", ".join(f"{n!r}: d{n}" for n in key.differentiable)
    forward_def = "\n".join([f"def forward({params}):", *(f"    {s}" for s in fwd_lines),
                             f"    return {result}"])
    backward_def = "\n".join([
        f"def backward({params}):",
        '    """The gradient of forward() with respect to each input, one line per step."""',
        *(f"    {s}" for s in fwd_lines), *(f"    {line}" for line in key.lines),
        f"    return {{{grads}}}"])
    return forward_def, backward_def


def _definitions(key: Key) -> list[str]:
    """What the numpy and torch outputs share: the bindings, forward(), backward() and the
    point, each followed by two blank lines."""
    binds = [f"{f} = _row({f!r})" for f in _functions(key)]
    binds += [f"{c} = CONSTANTS[{c!r}]" for c in _constants(key)]
    forward_def, backward_def = _bodies(key)
    return [*binds, "", "", forward_def, "", "", backward_def, "", "", _point(key), "", ""]


def write(source: str, bindings: Mapping[str, Any], to: str = "program",
          origin: str = "") -> str:
    key = write_key(source, bindings)
    passed(source, key)
    if to == "program":
        return as_program(key, origin)
    return (as_numpy if to == "numpy" else as_torch)(key, origin)


def passed(source: str, key: Key) -> None:
    """The key graded against its program before it is given: a row's text that does not
    cover this call (a broadcast add_at, a stack of matrices @ a vector) is refused,
    never written wrong."""
    from .grading import read_and_grade

    report = read_and_grade(source, as_program(key, ""), key.bindings)
    if report.status != "pass":
        bad = next(g for g in report.lines if g.status not in ("exact", "approx"))
        # Each part cut to its own share of the one-line headline, so the reason is read
        # whole rather than cut off mid-word after a long line.
        raise CannotWrite(f"the line written for {bad.name}, `{shown(bad.text, 90)}`, fails "
                          f"its own grading ({bad.status}: {shown(bad.why or '', 150)})",
                          hint="the row's text does not cover this call; write this step by hand")

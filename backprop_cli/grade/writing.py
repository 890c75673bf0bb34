"""A program -> its backward pass, written out: as a backward file (the answer key `grade`
passes), as numpy code with its own finite-difference self-test, or as PyTorch code that
compares itself with autograd.

One loop over the nodes from the output back, as the engine's backward pass runs: each gate
sends each input `upstream x local`, spelled from the gate's registry row (its `vjp_text` for
that input, or `dout * (local_text)` for an elementwise row, with `a`, `b` the inputs, `out`
the gate's value and `dout` its upstream gradient), summed over the axes the forward broadcast.
A value read by several gates gets `=` for the first share and `+=` for the others, in the
engine's order, so the key adds the same numbers in the same order. A named value or a
variable gets lines of its own; an unnamed intermediate's gradient is written in place where
its inputs' lines need it. Nothing here holds a rule of its own: a row without the text needed
is named in the error.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..engine.backward import wanted_nodes
from ..engine.forward import forward
from ..errors import BackpropError
from ..graph import Graph
from ..language.parser import parse
from ..language.printer import Printer, number, program
from ..ops.registry import CONSTANTS, FUNCTIONS, SCALAR, Op
from ..values import is_array
from .reading import tokens
from .spelling import Call, params_of, row_text, spell, summed, summed_back, tidy

MAX_LINE = 2_000  # characters: past this an unnamed intermediate is too long to write inline
FORMATS = ("program", "numpy", "torch")


class CannotWrite(BackpropError):
    kind = "cannot write"


@dataclass(frozen=True)
class Key:
    """A program's backward pass as lines `dNAME = EXPR` / `dNAME += EXPR`, output first."""

    graph: Graph
    bindings: Mapping[str, Any]
    lines: tuple[str, ...]
    statements: tuple[str, ...]  # the forward program, one statement a line, canonical spelling
    variables: tuple[str, ...]


def vjp_text(op: Op, k: int) -> str | None:
    """The row's text for what input k receives (spelling.row_text)."""
    return row_text(op, k)


def write_key(source: str, bindings: Mapping[str, Any]) -> Key:
    graph = parse(source)
    values = forward(graph, bindings)  # the bindings are complete and the program runs
    if is_array(values[graph.output]):
        raise CannotWrite("the program's output is an array; a backward pass starts from one "
                          "number (a loss)", graph.source,
                          (graph.starts[graph.output], graph.ends[graph.output]))
    writer = _Writer(graph, values, _targets(graph))
    writer.run()
    writer.refuse_gaps()
    _check_parses(writer.lines)
    statements = tuple(program(graph).split("; "))
    return Key(graph, bindings, tuple(writer.lines), statements, tuple(graph.variables))


def _targets(graph: Graph) -> dict[int, str]:
    """The nodes that get lines of their own (named values and variables), by name; the
    output's gradient is 1 and gets none."""
    owner: dict[str, int] = {}
    for i, name in graph.names.items():
        if graph.ops[i].is_leaf and i not in graph.variables.values():
            continue  # a named constant is written as its number
        if name in owner and owner[name] != i:
            raise CannotWrite(f"{name} is assigned twice; a backward pass needs one value per "
                              "name", graph.source, (graph.starts[i], graph.ends[i]),
                              "give the second value a name of its own")
        owner[name] = i
    return {i: n for n, i in owner.items() if i != graph.output}


class _Writer:
    """The loop from the output back: each gate's shares, written where their input's
    gradient is written (its own lines, or in place inside a later share)."""

    def __init__(self, graph: Graph, values: list, targets: dict[int, str]):
        self.graph, self.values, self.targets = graph, values, targets
        self.shapes = [tuple(v.shape) if is_array(v) else () for v in values]
        self.wants = wanted_nodes(graph)
        self.printer = Printer(graph, by_name=True)
        self.lines: list[str] = []
        self.started: set[int] = set()
        self.inline: dict[int, list[str]] = {}
        self.no_text: list[str] = []  # rows with no text for a step the program needs
        self.unread: list[str] = []  # rows whose text the language does not read

    def text(self, j: int) -> str:
        g = self.graph
        if j in g.consts:
            name = g.names.get(j)
            return name if name in CONSTANTS else number(g.consts[j])
        if j in self.targets or j in g.variables.values():
            return g.names[j]
        return f"({self.printer.expression(j)})"

    def upstream(self, i: int) -> str | None | bool:
        """The gate's upstream gradient as text (None: the output's 1; False: none flows)."""
        if i == self.graph.output:
            return None
        if i in self.targets:
            return "d" + self.targets[i]
        parts = self.inline.get(i)
        return "(" + " + ".join(parts) + ")" if parts else False

    def run(self) -> None:
        g = self.graph
        for i in range(len(g) - 1, -1, -1):
            if g.ops[i].is_leaf or not self.wants[i]:
                continue
            dout = self.upstream(i)
            if dout is not False:
                self.gate(i, dout)

    def call(self, i: int) -> Call:
        g = self.graph
        args = g.args[i]
        return Call(tuple(self.shapes[a] for a in args), self.shapes[i],
                    tuple(g.consts.get(a) for a in args), params_of(g.ops[i]))

    def gate(self, i: int, dout: str | None) -> None:
        g = self.graph
        op, args = g.ops[i], g.args[i]
        inputs = [self.text(a) for a in args]
        call = self.call(i)
        for k, j in enumerate(args):
            if not self.wants[j] or _position(self.values[j]):
                continue  # a constant, or integer positions (an index array): no gradient
            try:
                share = spell(op, k, inputs, self.text(i), dout, call)
            except BackpropError:
                self.unread.append(f"{op.name}'s {row_text(op, k)!r}")
                continue
            if share is None:
                self.no_text.append(op.name)
                continue
            if op.elementwise and self.shapes[j] != self.shapes[i]:
                share = summed_back(share, self.shapes[i], self.shapes[j])
            self.send(j, share)

    def send(self, j: int, share: str) -> None:
        g = self.graph
        if j not in self.targets and j not in g.variables.values():
            self.inline.setdefault(j, []).append(share)
            return
        name = g.names[j]
        step = "+=" if j in self.started else "="
        self.started.add(j)
        self.lines.append(f"d{name} {step} {share}")
        if len(self.lines[-1]) > MAX_LINE:
            raise CannotWrite(f"the line for d{name} is longer than {MAX_LINE:,} characters",
                              hint="name the intermediates (h = ...) so that each gets lines "
                                   "of its own")

    def refuse_gaps(self) -> None:
        if self.no_text or self.unread:
            parts = []
            if self.no_text:
                parts.append(f"no vjp_text for {', '.join(dict.fromkeys(self.no_text))}")
            if self.unread:
                parts.append("the language does not read "
                             + "; ".join(dict.fromkeys(self.unread)))
            raise CannotWrite("the registry's rows do not spell every backward step: "
                              + "; ".join(parts), hint="each step is spelled from its op's row")
        if not self.lines:
            raise CannotWrite("the program has no gate between its variables and its output: "
                              "there is no backward step to write")


def _check_parses(lines: list[str]) -> None:
    for line in lines:
        try:
            parse(line.split(" ", 2)[2])
        except BackpropError as err:
            raise CannotWrite(f"the written line {line!r} does not parse: {err.message}",
                              hint="sums over a broadcast axis of size 1 need keepdims "
                                   "reductions, sum(x, axis=0, keepdims=True)") from None


def _position(value: Any) -> bool:
    """Integer arrays are positions (indices): they get no gradient."""
    return getattr(getattr(value, "dtype", None), "kind", "f") in "iub"


# --- the three spellings --------------------------------------------------------------------


def as_program(key: Key, origin: str) -> str:
    head = [f"# The backward pass of {origin or 'the program'}, written by backprop backward:",
            "# one line per gradient step from the output back; += where a value fans out."]
    return "\n".join([*head, *key.lines]) + "\n"


def _python_names(key: Key) -> None:
    for name in [*key.variables, *(s.split(" = ")[0] for s in key.statements if " = " in s)]:
        if keyword.iskeyword(name) or name in ("np", "torch", "POINT"):
            raise CannotWrite(f"{name} cannot be a Python variable's name",
                              hint="rename it in the program")


def _functions(key: Key) -> list[str]:
    """The language's functions the code calls (each bound to its registry row)."""
    found: dict[str, None] = {}
    for line in (*key.statements, *key.lines):
        toks = list(tokens(line.replace("+=", "=")))
        for a, b in zip(toks, toks[1:]):
            if a.kind == "name" and b.text == "(" and a.text in FUNCTIONS:
                found[FUNCTIONS[a.text].name] = None
    return list(found)


def _constants(key: Key) -> list[str]:
    used = set()
    for line in (*key.statements, *key.lines):
        used |= {t.text for t in tokens(line.replace("+=", "=")) if t.kind == "name"}
    return [c for c in CONSTANTS if c in used]


def _point(key: Key) -> str:
    items = []
    for name in key.variables:
        v = key.bindings[name]
        items.append(f"    {name!r}: {v.tolist()!r}," if is_array(v) else f"    {name!r}: {v!r},")
    return "POINT = {\n" + "\n".join(items) + "\n}"


def _bodies(key: Key) -> tuple[str, str, str]:
    params = ", ".join(key.variables)
    fwd = list(key.statements)
    last = fwd[-1]
    if " = " in last.split("(")[0]:
        result = last.split(" = ")[0]
        fwd_lines = fwd
    else:
        result = "_loss"
        fwd_lines = [*fwd[:-1], f"_loss = {last}"]
    grads = ", ".join(f"{n!r}: d{n}" for n in key.variables)
    forward_def = "\n".join([f"def forward({params}):", *(f"    {s}" for s in fwd_lines),
                             f"    return {result}"])
    backward_def = "\n".join([
        f"def backward({params}):",
        '    """The gradient of forward() with respect to each input, one line per step."""',
        *(f"    {s}" for s in fwd_lines), *(f"    {line}" for line in key.lines),
        f"    return {{{grads}}}"])
    return params, forward_def, backward_def


def as_numpy(key: Key, origin: str) -> str:
    _python_names(key)
    _, forward_def, backward_def = _bodies(key)
    binds = [f"{f} = _row({f!r})" for f in _functions(key)]
    binds += [f"{c} = CONSTANTS[{c!r}]" for c in _constants(key)]
    return "\n".join([
        f'"""The backward pass of {origin or "a program"}, written by `backprop backward '
        '--to numpy`.',
        "",
        "forward() is the program and backward() its backward pass, one line per gradient step",
        "from the output back (+= where a value fans out). Run this file to check backward()",
        'against central finite differences at POINT."""',
        "",
        "import numpy as np",
        "",
        "from backprop_cli.ops import CONSTANTS, FUNCTIONS, array_math",
        "",
        "_m = array_math()",
        "",
        "",
        "def _row(name):",
        "    # the language's function, computed by its own registry row on numpy arrays",
        "    op = FUNCTIONS[name]",
        "    return lambda *args, **kw: op.forward(_m, *args, **kw)",
        "",
        "",
        *_definitions(binds, forward_def, backward_def, key),
        "def self_test(point=None, step=1e-6, rtol=1e-4, atol=1e-6):",
        '    """backward() against central differences of forward(), entry by entry."""',
        "    point = {k: np.array(v, dtype=float) for k, v in (point or POINT).items()}",
        "    grads = backward(**point)",
        "    ok, worst = True, 0.0",
        "    for name, value in point.items():",
        "        ours = np.broadcast_to(np.asarray(grads[name], dtype=float), value.shape)",
        "        for index in np.ndindex(value.shape):",
        "            up = {k: v.copy() for k, v in point.items()}",
        "            down = {k: v.copy() for k, v in point.items()}",
        "            up[name][index] += step",
        "            down[name][index] -= step",
        "            slope = (float(forward(**up)) - float(forward(**down))) / (2 * step)",
        "            err = abs(float(ours[index]) - slope)",
        "            ok = ok and err <= atol + rtol * abs(slope)",
        "            worst = max(worst, err)",
        "    print(f\"{'pass' if ok else 'FAIL'}: backward() agrees with central differences \"",
        "          f\"to {worst:.1e} at most\")",
        "    return ok",
        "",
        "",
        'if __name__ == "__main__":',
        "    raise SystemExit(0 if self_test() else 1)",
        "",
    ])


def as_torch(key: Key, origin: str) -> str:
    _python_names(key)
    _, forward_def, backward_def = _bodies(key)
    names = [n for n, v in vars(SCALAR).items() if callable(v) and not n.startswith("pow_")]
    binds = [f"{f} = _row({f!r})" for f in _functions(key)]
    binds += [f"{c} = CONSTANTS[{c!r}]" for c in _constants(key)]
    return "\n".join([
        f'"""The backward pass of {origin or "a program"}, written by `backprop backward '
        '--to torch`.',
        "",
        "forward() is the program on tensors and backward() its backward pass written out;",
        'run this file to compare backward() with autograd at POINT."""',
        "",
        "from types import SimpleNamespace",
        "",
        "import torch",
        "import torch.nn.functional as F",
        "",
        "from backprop_cli.ops import CONSTANTS, FUNCTIONS",
        "",
        "# The registry's rules are written against a math namespace; this one is torch's.",
        f"_NAMES = {names!r}",
        "_m = SimpleNamespace(is_array=True, np=torch, scalar=lambda t: t,",
        "                     **{n: getattr(torch, n, None) or getattr(F, n) for n in _NAMES})",
        "",
        "",
        "def _row(name):",
        "    op = FUNCTIONS[name]",
        "    return lambda *args, **kw: op.forward(_m, *args, **kw)",
        "",
        "",
        *_definitions(binds, forward_def, backward_def, key),
        "def check(point=None, rtol=1e-5, atol=1e-8):",
        '    """backward() against autograd\'s gradients of forward()."""',
        "    leaves = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)",
        "              for k, v in (point or POINT).items()}",
        "    forward(**leaves).backward()",
        "    with torch.no_grad():",
        "        ours = backward(**{k: v.detach() for k, v in leaves.items()})",
        "    ok = True",
        "    for name, leaf in leaves.items():",
        "        mine = torch.as_tensor(ours[name], dtype=torch.float64).expand_as(leaf.grad)",
        "        same = torch.allclose(mine, leaf.grad, rtol=rtol, atol=atol)",
        "        worst = (mine - leaf.grad).abs().max().item()",
        "        print(f\"{name}: {'agrees' if same else 'DIFFERS'} with autograd (largest \"",
        "              f\"difference {worst:.1e})\")",
        "        ok = ok and same",
        "    return ok",
        "",
        "",
        'if __name__ == "__main__":',
        "    raise SystemExit(0 if check() else 1)",
        "",
    ])


def write(source: str, bindings: Mapping[str, Any], to: str = "program",
          origin: str = "") -> str:
    key = write_key(source, bindings)
    return {"program": as_program, "numpy": as_numpy, "torch": as_torch}[to](key, origin)


__all__ = ["FORMATS", "CannotWrite", "Key", "summed", "tidy", "vjp_text", "write",
           "write_key"]


def _definitions(binds: list[str], forward_def: str, backward_def: str, key) -> list[str]:
    """What the numpy and torch outputs share: the bindings, forward(), backward() and the
    point, each followed by two blank lines."""
    return [*binds, "", "", forward_def, "", "", backward_def, "", "", _point(key), "", ""]

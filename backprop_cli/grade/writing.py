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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..engine.backward import wanted_nodes
from ..engine.forward import forward
from ..errors import BackpropError
from ..graph import Graph
from ..language.parser import parse
from ..language.printer import Printer, number
from ..ops.registry import CONSTANTS, Op
from ..values import is_array
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

    @property
    def differentiable(self) -> tuple[str, ...]:
        """The variables that get a gradient: all but integer positions (Xb, Yb)."""
        return tuple(n for n in self.variables if not _position(self.bindings[n]))


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
    return Key(graph, bindings, tuple(writer.lines), writer.statements(),
               tuple(graph.variables))


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

    def statements(self) -> tuple[str, ...]:
        """The forward program, one statement per named value, by the names the key's lines
        read (the printer's program() would rename a value called var or std)."""
        g = self.graph
        named = sorted(i for i in self.targets if i not in g.variables.values())
        out = [f"{self.targets[i]} = {self.printer.expression(i)}" for i in named]
        last = self.printer.expression(g.output)
        name = g.names.get(g.output)
        out.append(f"{name} = {last}" if name and g.output not in g.variables.values()
                   else last)
        return tuple(out)

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


# --- the spellings: the backward file here, numpy and torch code in code.py ---------------


def as_program(key: Key, origin: str) -> str:
    head = [f"# The backward pass of {origin or 'the program'}, written by backprop backward:",
            "# one line per gradient step from the output back; += where a value fans out."]
    return "\n".join([*head, *key.lines]) + "\n"


__all__ = ["FORMATS", "CannotWrite", "Key", "as_program", "summed", "tidy", "vjp_text",
           "write_key"]


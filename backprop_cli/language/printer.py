"""Graph -> text: the one printer, with parentheses placed by the registry's binding powers.

The parser and this printer read the same table (BP_* and `right_assoc` in ops/registry.py), so
what is printed parses back to the same graph: `-3**2` prints as `-3**2` (it is -(3**2)), the
power of a negative number as `(-3)**2`, `2**3**2` needs no parentheses and `(2**3)**2` does.

Spacing follows the lecture's handwriting: `+`, `-` and `@` are spaced, `*`, `/` and `**` are
not (`2*x*cos(x**2) + y`); a `label` printer spaces no elementwise operator, for the names the
trace gives its nodes (`d(x+y)`, language/labels.py).

Nothing recurses: every node's text is a short template of strings and references to its
inputs, built in one forward loop, and the text is written out with an explicit stack. A
shared input is spelled out at every use in `expression`; `program` names shared values in
statements instead, so a DAG whose inlined text would be exponential prints in linear size.
"""

from __future__ import annotations

import math
import re

from ..graph import Graph
from ..ops.registry import BP_ADD, BP_ATOM, BP_UNARY, CONSTANTS, FUNCTIONS, PREFIX

LABEL_LIMIT = 80  # longest text `expression(..., limit)` shows whole; past it, its two ends


def number(value: float) -> str:
    """How a constant prints: integers without '.0', everything else as Python's repr, which
    reads back as the same float."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15 \
            and (value != 0 or math.copysign(1.0, value) > 0):  # -0.0 keeps its sign: repr
        return str(int(value))
    return repr(value)


def expression(graph: Graph, node: int | None = None, limit: int | None = None) -> str:
    """The text of one node (the output by default), every input spelled out in place.

    With `limit`, text longer than that shows its first and last characters around " ... ":
    the cost stays bounded however large the node is (labels of a 10^5-node chain).
    """
    return Printer(graph).expression(node, limit)


class Printer:
    """Every node's template built once, so labelling each node of a big graph costs the
    labels' length, not the graph's size per label: with a limit, each node's first and last
    characters are kept, built from its inputs' (the first character of a left-nested chain
    lies at its bottom, so writing each label out from the top would cost its depth)."""

    def __init__(self, graph: Graph, latex: bool = False, by_name: bool = False,
                 label: bool = False):
        """`by_name`: an input that has a name (q in `q = x + y; q*z`) is written as that name,
        as a write-up's steps read; the node itself is still spelled out. `label`: text as the
        trace names a node (language/labels.py): no spaces around `+` and `-` either, and a
        named constant by its name too (k in `k = 2.5; k*x`): `d(k*x+y)`, by its gate `*k`."""
        self.graph = graph
        named: dict[int, str] = {}
        if by_name:
            named = {i: latex_name(n) if latex else n for i, n in graph.names.items()
                     if not graph.ops[i].is_leaf
                     or (label and i in graph.consts and n not in CONSTANTS)}
        # power[i]: how tightly node i's text binds (BP_ATOM for a name, a call, x.T, s[1]).
        self.parts, self.power = _templates(graph, len(graph) - 1, named=named, latex=latex,
                                            compact=label)
        self._ends: dict[int, tuple[list[str], list[str], list[int]]] = {}

    def short(self, node: int, limit: int) -> str | None:
        """Node's whole text if it is at most `limit` characters long, else None; all nodes'
        short texts cost one pass over the graph together, whatever their depth."""
        heads, _, sizes = self._ends_for(limit)
        return heads[node] if sizes[node] <= limit else None

    def expression(self, node: int | None = None, limit: int | None = None) -> str:
        root = self.graph.output if node is None else node
        if limit is None:
            return _write(self.parts, root, None)
        heads, tails, sizes = self._ends_for(limit)
        if sizes[root] <= limit:
            return heads[root]
        half = (limit - 5) // 2
        return heads[root][:half].rstrip() + " ... " + tails[root][-half:].lstrip()

    def _ends_for(self, limit: int):
        ends = self._ends.get(limit)
        if ends is None:
            heads: list[str] = []
            tails: list[str] = []
            sizes: list[int] = []
            for seq in self.parts:
                size = 0
                for piece in seq:
                    size += len(piece) if type(piece) is str else sizes[piece]
                head = ""
                for piece in seq:
                    head += piece if type(piece) is str else heads[piece]
                    if len(head) > limit:
                        break
                tail = ""
                for piece in reversed(seq):
                    tail = (piece if type(piece) is str else tails[piece]) + tail
                    if len(tail) > limit:
                        break
                heads.append(head[:limit + 1])
                tails.append(tail[-limit - 1:])
                sizes.append(size)
            ends = self._ends[limit] = (heads, tails, sizes)
        return ends


def program(graph: Graph) -> str:
    """The whole graph as a program that parses back to the same graph: a value used more than
    once, or given a name by an assignment, becomes a statement `name = ...`; the output is
    the last statement."""
    root = graph.output
    uses = [0] * (root + 1)
    for i in range(root + 1):
        for j in graph.args[i]:
            uses[j] += 1
    neg = PREFIX["-"]
    statement = set()
    for i in range(root):
        op = graph.ops[i]
        if op.is_leaf:
            continue
        if uses[i] > 1 or (i in graph.names and uses[i]):
            statement.add(i)
        # A negated constant must be read through a name: `-2.5` is one constant, not a
        # negation node, and so is `-(2.5)`.
        if op is neg and graph.args[i][0] in graph.consts and \
                graph.names.get(graph.args[i][0]) not in CONSTANTS:
            statement.add(graph.args[i][0])
    names = _statement_names(graph, sorted(statement))
    parts, _ = _templates(graph, root, named=names)
    lines = []
    for i in sorted(statement):
        lines.append(f"{names[i]} = {_write(parts, i, None)}")
    last = _write(parts, root, None)
    out_name = graph.names.get(root)
    if out_name and not graph.ops[root].is_leaf and out_name not in graph.variables \
            and out_name not in names.values():
        last = f"{out_name} = {last}"
    lines.append(last)
    return "; ".join(lines)


def _statement_names(graph: Graph, nodes: list[int]) -> dict[int, str]:
    """A distinct name per statement: the assigned one when it is free, else t1, t2, ..."""
    taken = set(graph.variables) | set(CONSTANTS) | set(FUNCTIONS)
    names: dict[int, str] = {}
    fresh = 0
    for i in nodes:
        name = graph.names.get(i)
        if name is None or name in taken:
            while True:
                fresh += 1
                name = f"t{fresh}"
                if name not in taken and name not in graph.names.values():
                    break
        taken.add(name)
        names[i] = name
    return names


def _templates(graph: Graph, root: int, named, latex: bool = False,
               compact: bool = False) -> tuple[list, list[int]]:
    """Each node's text as a tuple of strings and input references, and its binding power.

    A node named in `named` is referred to by that name (its own template stays, for its
    statement). With `latex`, each op is spelled by its row's `latex` field: the parentheses
    are the same, except that a superscript or a square root's braces already group. With
    `compact`, no elementwise operator is spaced."""
    parts: list = [None] * (root + 1)
    power = [BP_ATOM] * (root + 1)
    neg = PREFIX["-"]
    for i in range(root + 1):
        op = graph.ops[i]
        args = graph.args[i]
        if i in graph.consts:
            parts[i], power[i] = _constant_template(graph, i, latex)
        elif op.is_leaf:
            parts[i] = (latex_name(graph.names[i]) if latex else graph.names[i],)
        elif op.symbol and len(args) == 2:
            parts[i] = _infix_template(op, args, named, power, latex, compact)
            power[i] = op.bp
        elif op is neg:
            # `--x` would be read as one token by a reader, if not by our lexer: -(-x).
            parts[i] = ("-", *_ref(args[0], named, power, BP_UNARY + 1))
            power[i] = BP_UNARY
        elif op.spelled is not None:
            parts[i] = _spelled_template(graph, op, args, named, power)
        elif op.postfix and len(args) == 1:  # A.T: a postfix spelling binds tightest
            fix = (op.latex or op.postfix) if latex else op.postfix
            parts[i] = (*_ref(args[0], named, power, BP_ATOM), fix)
        elif latex and op.latex == r"\sqrt":
            parts[i] = (r"\sqrt{", args[0], "}")
        else:
            parts[i] = _call_template(op, args, named, latex)
    return parts, power


def _constant_template(graph: Graph, i: int, latex: bool) -> tuple[tuple, int]:
    """A constant's text and binding power: a named constant (pi, e) by its name, any other
    by its number."""
    name = graph.names.get(i)
    value = graph.consts[i]
    if name in CONSTANTS:
        return (_LATEX_CONSTANTS.get(name, name) if latex else name,), BP_ATOM
    # A negative literal reads like a unary minus, so it binds like one.
    return (number(value),), BP_UNARY if math.copysign(1.0, value) < 0 else BP_ATOM


def _infix_template(op, args, named, power: list[int], latex: bool, compact: bool) -> tuple:
    """`a + b`, `a*b`, `a**b`: the operator between its inputs, each parenthesised only when
    it binds looser than the operator."""
    a, b = args
    bp = op.bp
    # Equal binding powers: the side the operator associates to needs no parentheses.
    left = _ref(a, named, power, bp + op.right_assoc)
    if latex and op.latex == "^":
        return (*left, "^{", b, "}")
    right = _ref(b, named, power, bp + (not op.right_assoc))
    spaced = latex or (bp <= BP_ADD and not compact) or not op.elementwise
    sym = (op.latex or op.symbol) if latex else op.symbol
    return (*left, f" {sym} " if spaced else sym, *right)


def _spelled_template(graph: Graph, op, args, named, power: list[int]) -> tuple:
    """s[1], s[1:3], C[idx], [a, b]: the row's own spelling around its inputs (a constant
    after the first is written in); binds tightest."""
    marks = [f"\x00{k}\x00" for k in range(len(args))]
    text = op.spelled([m if k == 0 or j not in graph.consts else number(graph.consts[j])
                       for k, (m, j) in enumerate(zip(marks, args))])
    pieces: list = []
    for k, j in enumerate(args):
        before, found, text = text.partition(marks[k])
        pieces.append(before)
        if found:  # an input inside brackets needs no parentheses; s in s[1] may
            inside = before.endswith(("(", "[", ", "))
            pieces.extend(_ref(j, named, power, 0 if inside else BP_ATOM))
    return (*pieces, text)


def _call_template(op, args, named, latex: bool) -> tuple:
    """`f(a, b)`: a function call, whose parentheses already group its inputs."""
    name = (op.latex or rf"\operatorname{{{op.name}}}") if latex else op.name
    call = [name, r"\left(" if latex else "("]
    for k, j in enumerate(args):
        if k:
            call.append(", ")
        call.append(j if j not in named else named[j])
    call.append(r"\right)" if latex else ")")
    return tuple(call)


_LATEX_CONSTANTS = {"pi": r"\pi", "e": "e"}
_SUBSCRIPT = re.compile(r"([A-Za-z]+)_?([0-9]+)")


def latex_name(name: str) -> str:
    """x -> x, w0 and w_0 -> w_{0}, other long names upright: loss -> \\mathrm{loss}."""
    m = _SUBSCRIPT.fullmatch(name)
    if m:
        return f"{latex_name(m[1])}_{{{m[2]}}}"
    if len(name) == 1:
        return name
    return r"\mathrm{" + name.replace("_", r"\_") + "}"


def latex(graph: Graph, node: int | None = None) -> str:
    """The node's expression in LaTeX math (without the $ signs), by the same rules."""
    root = graph.output if node is None else node
    parts, _ = _templates(graph, root, named=frozenset(), latex=True)
    return _write(parts, root, None)


def _ref(j: int, named, power: list[int], tight: int) -> tuple:
    """Input j as a reference, parenthesised when it binds looser than `tight`."""
    if j in named:
        return (named[j],)
    if power[j] < tight:
        return ("(", j, ")")
    return (j,)


def _write(parts: list, root: int, limit: int | None) -> str:
    """The text of `root`, written with an explicit stack; with `limit`, its two ends."""
    if limit is None:
        return "".join(_pieces(parts, root, None, False))
    head = "".join(_pieces(parts, root, limit + 1, False))
    if len(head) <= limit:
        return head
    half = (limit - 5) // 2
    tail = "".join(reversed(list(_pieces(parts, root, half, True))))
    return head[:half].rstrip() + " ... " + tail[-half:].lstrip()


def _pieces(parts: list, root: int, budget: int | None, backwards: bool):
    """The strings of root's text in order (or in reverse), stopping once `budget` characters
    have been given."""
    stack: list = [root]
    given = 0
    while stack:
        item = stack.pop()
        if type(item) is int:
            seq = parts[item]
            stack.extend(seq if backwards else reversed(seq))
            continue
        yield item
        given += len(item)
        if budget is not None and given >= budget:
            return

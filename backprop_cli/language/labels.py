"""Graph -> the short labels the lecture writes: gates with their constants folded in (`+1`,
`*-1`, `1/x`, `**2`), a node's name for the chain-rule arithmetic (`q`, `(x+y)`), and a local
gradient's formula in its inputs' names (`z` for d(q*z)/dq).

Kept apart from the renderers so trace, explain and every picture say the same thing. A node's
name in the arithmetic is the one printer's text (printer.py), parenthesised by the binding
power the printer gives it, so labels and formulas share one statement of precedence. Gates
are not printed text: they show the op's pretty label (σ) and 6-digit constants, drop the
free input (`+1`, `**2`) and move a commutative gate's constant to the right (1+x is `+1`).
"""

from __future__ import annotations

import re

from ..graph import Graph
from ..ops.registry import BP_ATOM
from .printer import Printer

# Placeholders for a gate's free input, tried in order: the lecture's `x`, unless the program
# itself has a value called x (then `2*x` would read as twice that variable).
PLACEHOLDERS = ("x", "t", "u", "v", "□")
SHORT_TEXT = 10  # an unnamed node is called by its printed text up to this length, else #id


def constant_text(value: float) -> str:
    """A constant as a gate shows it: 6 significant digits, never '-0'."""
    return "0" if value == 0 else f"{value:.6g}"


def placeholder(graph: Graph) -> str:
    taken = set(graph.names.values())
    return next(p for p in PLACEHOLDERS if p not in taken)


def folded_inputs(graph: Graph, i: int) -> tuple[bool, ...]:
    """Which inputs of node i are constants drawn inside its gate: a constant leaf read next to
    at least one computed input (`x + 1`); a gate of constants alone keeps its inputs."""
    a = graph.args[i]
    const = tuple(graph.ops[j].is_leaf and j in graph.consts for j in a)
    return const if const and not all(const) else (False,) * len(a)


def free_input(graph: Graph, i: int, hole: str | None = None) -> str:
    """What a gate with a constant folded in calls its free input: the program's own name for
    it (`1/g` when the program reads g), else the placeholder (`1/x`), never a name the
    program does not have."""
    free = [j for j, f in zip(graph.args[i], folded_inputs(graph, i)) if not f]
    if len(free) == 1 and free[0] in graph.names and free[0] not in graph.consts:
        return graph.names[free[0]]
    return hole or placeholder(graph)


def gate_label(graph: Graph, i: int, hole: str | None = None) -> str:
    """'+1' for x + 1 and 1 + x, '1/x' for 1 / x, '**2', 'max(0, x)'; the op's own label when
    no constant is folded in. `hole` is the placeholder (default: `placeholder(graph)`); an
    input with a name of its own is called by it (`1/g`, `xent(s, 1)`)."""
    op = graph.ops[i]
    folded = folded_inputs(graph, i)
    if not any(folded):
        return op.label
    hole = free_input(graph, i, hole)
    parts = [(graph.names.get(j) or constant_text(graph.consts[j])) if f else hole
             for j, f in zip(graph.args[i], folded)]
    if op.spelled is not None:
        return op.spelled(parts)
    if op.name in _SHAPE_TUPLES and len(parts) > 2:
        return _as_typed(graph.text(i), op.name, parts)
    if op.symbol and len(parts) == 2:
        a, b = parts
        if folded[1]:
            return f"{op.symbol}{b}"
        # A constant on the left of a commutative gate reads as on the right: 1+x is +1.
        return f"{op.symbol}{a}" if op.commutative else f"{a}{op.symbol}{b}"
    return f"{op.label}({', '.join(parts)})"


_SHAPE_TUPLES = ("transpose", "reshape")  # their constants are one tuple: (1, 0, 2)


def _as_typed(text: str, name: str, parts: list[str]) -> str:
    """A gate whose constants are one tuple, as the program spells it: transpose(x, (1, 0,
    2)) as a function, x.transpose(1, 0, 2) as a method; not T(x, 1, 0, 2)."""
    rest = ", ".join(parts[1:])
    if text.lstrip().startswith(name + "("):
        return f"{name}({parts[0]}, ({rest}))"
    return f"{parts[0]}.{name}({rest})"


_MIXED = re.compile(r"[\d.]\s*[-+*/]\s*\(?\s*[\d.]")  # constant arithmetic: 2*x**(2-1)
_SQUARE = re.compile(r"\*\*2\b")


def gate_role(graph: Graph, i: int, hole: str | None = None) -> str:
    """The gate's role in the lecture's words. A gate with a constant folded in has a role of
    its own, its one local gradient written in its free input: `1/x` is not the divide gate
    (whose divisor gets -quotient/divisor) but `local gradient -1/x²`; `*2` is `local
    gradient 2`. Where that formula would read worse than the op's role (`+1`: local
    gradient 1, the distributor; `**2`: 2*x**(2-1)), the op's role stays."""
    op = graph.ops[i]
    folded = folded_inputs(graph, i)
    if not any(folded) or sum(not f for f in folded) != 1 or \
            len(op.local_text) != len(folded):
        return op.role
    k = folded.index(False)
    name = free_input(graph, i, hole)
    labels = [(graph.names.get(j) or constant_text(graph.consts[j])) if f else name
              for j, f in zip(graph.args[i], folded)]
    labels = [t if re.fullmatch(r"[\w.]+", t) else f"({t})" for t in labels]
    formula = local_formula(op.local_text[k], labels)
    if op.kind == "switcher" and len(folded) == 2:
        # A multiply by a constant scales: its one local gradient is that constant.
        return f"scaler: its local gradient is the constant {formula}"
    # A case split (where(...)) reads better in the role's words: the router's.
    if formula in ("1", "-1") or _MIXED.search(formula) or "where(" in formula:
        return op.role
    return f"local gradient {squared(formula)}"


def squared(formula: str) -> str:
    """A formula as a gate's role writes it: x**2 as x²."""
    return _SQUARE.sub("²", formula)


def label_printer(graph: Graph) -> Printer:
    """The printer every label of `graph` reads: built once per graph (its short texts cost
    one pass over it), with named inputs written by name and operators unspaced: `exp(q)*z`."""
    return Printer(graph, by_name=True, label=True)


def _called(text: Printer, i: int) -> tuple[str, bool, bool]:
    """What node i is called, whether that binds as tightly as a name (so it needs no
    parentheses anywhere) and whether it is one token: its name, f for the output, a
    constant's value, its printed text up to SHORT_TEXT characters, else #id (the number the
    screen shows, `text.numbers[i]` when the caller set it: hidden constants take none)."""
    graph = text.graph
    name = graph.names.get(i)
    if name:
        return name, True, True
    if i == graph.output:
        return "f", True, True
    if i in graph.consts:
        # A negative number binds like a unary minus, as the printer reads it (-0 shows as 0).
        shown = constant_text(graph.consts[i])
        return shown, not shown.startswith("-"), True
    short = text.short(i, SHORT_TEXT)
    if short is None:
        numbers = getattr(text, "numbers", None)
        return f"#{numbers[i] if numbers else i}", True, True
    return short, text.power[i] >= BP_ATOM, False


def operand(text: Printer, i: int) -> str:
    """What the chain-rule arithmetic calls node i (`text` is `label_printer(graph)`): q,
    f, exp(x), (x+y) in parentheses where it binds looser than a name, or #7 for a long one."""
    called, tight, _ = _called(text, i)
    return called if tight else f"({called})"


def gradient_name(text: Printer, i: int) -> str:
    """dq for q, d(x+y) for x+y, d(exp(x)) for exp(x), d#7 for a long unnamed node: the
    lecture's dq notation, with anything longer than one token in parentheses."""
    called, tight, token = _called(text, i)
    return "d" + (called if tight and token else f"({called})")


_PLACE = re.compile(r"\b[abc]\b")


def local_formula(template: str, labels: list[str]) -> str:
    """A row's local-gradient formula with its inputs' names put in (a, b, c in argument
    order): 'b' with inputs q, z reads 'z'. Our own template text only; the labels are
    `operand`s, parenthesised where they bind looser than a name, so each fits any place in a
    template (`a**b`, `-a/b**2`)."""
    def name(m: re.Match) -> str:
        k = "abc".index(m.group(0))
        return labels[k] if k < len(labels) else m.group(0)

    return _PLACE.sub(name, template)

"""Graph -> the short labels the lecture writes: gates with their constants folded in (`+1`,
`*-1`, `1/x`, `**2`), a node's name for the chain-rule arithmetic (`q`, `(x+y)`), and a local
gradient's formula in its inputs' names (`z` for d(q*z)/dq).

Kept apart from the renderers so trace, explain and every picture say the same thing; when the
precedence-aware printer (printer.py) lands, `operand` is the one place that should call it.
"""

from __future__ import annotations

import re

from ..graph import Graph

# Placeholders for a gate's free input, tried in order: the lecture's `x`, unless the program
# itself has a value called x (then `2*x` would read as twice that variable).
PLACEHOLDERS = ("x", "t", "u", "v", "□")
SHORT_TEXT = 10  # an unnamed node is called by its source text up to this length, else #id


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


def gate_label(graph: Graph, i: int, hole: str | None = None) -> str:
    """'+1' for x + 1 and 1 + x, '1/x' for 1 / x, '**2', 'max(0, x)'; the op's own label when
    no constant is folded in. `hole` is the placeholder (default: `placeholder(graph)`)."""
    op = graph.ops[i]
    folded = folded_inputs(graph, i)
    if not any(folded):
        return op.label
    hole = hole or placeholder(graph)
    parts = [(graph.names.get(j) or constant_text(graph.consts[j])) if f else hole
             for j, f in zip(graph.args[i], folded)]
    if op.spelled is not None:
        return op.spelled(parts)
    if op.symbol and len(parts) == 2:
        a, b = parts
        if folded[1]:
            return f"{op.symbol}{b}"
        # A constant on the left of a commutative gate reads as on the right: 1+x is +1.
        return f"{op.symbol}{a}" if op.commutative else f"{a}{op.symbol}{b}"
    return f"{op.label}({', '.join(parts)})"


def operand(graph: Graph, i: int) -> str:
    """What the chain-rule arithmetic calls node i: its name, its short source text in
    parentheses where it is not one token, or #id for a long one."""
    name = graph.names.get(i)
    if name:
        return name
    if i == graph.output:
        return "f"
    if i in graph.consts:
        return constant_text(graph.consts[i])
    text = graph.text(i).strip()
    if len(text) > SHORT_TEXT:
        return f"#{i}"
    return text if _ATOM.fullmatch(text) or _is_call(text) else f"({text})"


def _is_call(text: str) -> bool:
    """exp(x+1): a name and one bracket that closes at the end, so it reads as one operand."""
    m = _CALL.match(text)
    if not m or not text.endswith(")"):
        return False
    depth = 0
    for k in range(m.end() - 1, len(text)):
        depth += {"(": 1, ")": -1}.get(text[k], 0)
        if depth == 0:
            return k == len(text) - 1
    return False


def gradient_name(graph: Graph, i: int) -> str:
    """dq for q, d(x+y) for x+y, d(exp(x)) for exp(x), d#7 for a long unnamed node: the
    lecture's dq notation."""
    name = operand(graph, i)
    return "d" + (name if _ATOM.fullmatch(name) or name.startswith("(") else f"({name})")


def output_name(graph: Graph) -> str:
    return graph.names.get(graph.output) or "f"


_ATOM = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|[0-9.]+|#\d+")
_CALL = re.compile(r"[A-Za-z_σ][A-Za-z_0-9]*\(")
_PLACE = re.compile(r"\b[ab]\b")


def local_formula(template: str, labels: list[str]) -> str:
    """A row's local-gradient formula with its inputs' names put in: 'b' with inputs q, z
    reads 'z'. Our own template text only; a label that is not one token is parenthesised."""
    def name(m: re.Match) -> str:
        k = "ab".index(m.group(0))
        text = labels[k] if k < len(labels) else m.group(0)
        return text if _ATOM.fullmatch(text) or text.startswith("(") or _is_call(text) \
            else f"({text})"

    return _PLACE.sub(name, template)

"""Gradients -> the lecture's picture as data, and that picture as Graphviz dot and Mermaid text.

The picture is the one CS231n draws: inputs on the left, the output on the right, each gate a
circle with its op, each edge carrying the forward value in green above and the gradient in red
below. The red number on an edge is what flows back along that edge: the downstream gradient
the consumer sends to that input (upstream x local). Where a value fans out, its edges carry the
parts, and the node's own gradient is their sum (the html view shows the sum on click).

Constants are folded into the gate that reads them, as the lecture draws `+1`, `*-1` and `1/x`,
so the picture shows only the edges whose gradients matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine.forward import is_array
from ..engine.trace import TraceRow
from ..errors import LimitError
from ..graph import Graph
from . import numbers

MAX_DRAWN_NODES = 2_000  # past this a drawing is unreadable
# Layout time grows much faster than the node count: it follows the ranks the edges cross
# (`Picture.span`). Measured with graphviz-pure on sums of products: span 900 lays out in
# 0.4 s, 3,400 in 9 s, 13,200 in 229 s; with the fast settings below, 3,400 in 1.4 s and
# 13,200 in 26 s. Past MAX_LAYOUT_SPAN svg/png/html refuse and suggest the text formats.
FAST_LAYOUT_SPAN = 800
MAX_LAYOUT_SPAN = 6_000

GREEN = "#1a7f37"  # forward values
RED = "#cf222e"  # gradients
EDGE = "#57606a"
SINK = -1  # the id of the output's label on the right


@dataclass(frozen=True)
class Box:
    """One node as drawn."""

    id: int  # the graph's node id; SINK for the output's label
    kind: str  # "input", "const", "gate", "output"
    label: str  # what the circle says: '+', 'exp', '+1', '1/x', 'σ', or a variable's name
    name: str | None  # the name an assignment gave the value, for gates
    role: str  # the lecture's gate role in one word ('distributor', 'switcher', 'router')
    text: str  # the source text of the node's expression


@dataclass(frozen=True)
class Arrow:
    """One edge: the value flowing forward and the gradient flowing back along it."""

    src: int
    dst: int  # SINK for the edge out of the output node
    value: Any
    grad: Any


@dataclass(frozen=True)
class Picture:
    boxes: tuple[Box, ...]
    arrows: tuple[Arrow, ...]
    rows: tuple[TraceRow, ...]  # the backward pass per node id, for the html panel
    precision: int
    roles: bool  # show each gate's role under its op
    gates: frozenset[int]  # ids of gates made by --group
    span: int  # ranks crossed by all edges together: what layout time grows with

    def number(self, x: Any) -> str:
        return short(x, self.precision)


class TooLarge(LimitError):
    """The graph is past MAX_DRAWN_NODES; the message says so and suggests trace."""


def short(x: Any, precision: int = 3) -> str:
    """A number for an edge label: small arrays in full, larger ones by shape."""
    if is_array(x) and x.size > 6:
        return "array " + numbers.shape(x)
    return numbers.number(x, precision)


def role_word(role: str) -> str:
    """'distributor: passes ...' -> 'distributor'; roles without a one-word name give ''."""
    head, colon, _ = role.partition(":")
    return head if colon else ""


def picture(graph: Graph, rows: list[TraceRow], *, precision: int = 3,
            roles: bool = False, gates: frozenset[int] = frozenset(),
            fold_constants: bool = True, limit: int = MAX_DRAWN_NODES) -> Picture:
    """The drawing of one evaluated graph from its trace rows (the command computes them: a
    renderer computes no gradients). Raises TooLarge past `limit` nodes."""
    if len(graph) > limit:
        raise TooLarge(f"the graph has {len(graph):,} nodes; drawings stop at {limit:,}",
                       hint="a picture that large is unreadable; backprop trace lists every "
                       "node's gradients")
    # Constants are folded as the trace folds them (language/labels.py says how), so the
    # picture and the trace name every gate alike.
    folded = {(i, k) for i, r in enumerate(rows) for k, f in enumerate(r.folded)
              if f and fold_constants}
    boxes = []
    drawn = set()
    for i, op in enumerate(graph.ops):
        if op.is_leaf:
            kind = "input" if i not in graph.consts else "const"
            label = graph.names.get(i) or numbers.number(graph.consts.get(i), precision)
            boxes.append(Box(i, kind, label, None, "", graph.text(i)))
            continue
        label = rows[i].gate if fold_constants else op.label
        # The row's role (language/labels.py gate_role), as the trace's gate column reads it.
        boxes.append(Box(i, "gate", label, graph.names.get(i), role_word(rows[i].role),
                         graph.text(i)))
    arrows = []
    for i, a in enumerate(graph.args):
        for k, j in enumerate(a):
            if (i, k) in folded:
                continue
            drawn.add(j)
            arrows.append(Arrow(j, i, rows[j].value, rows[i].downstream[k]))
    # A constant every reader folded in is not drawn on its own.
    boxes = [b for b in boxes if b.kind != "const" or b.id in drawn or b.id == graph.output]
    out = graph.output
    boxes.append(Box(SINK, "output", graph.names.get(out) or "f", None, "", graph.text(out)))
    arrows.append(Arrow(out, SINK, rows[out].value, rows[out].grad))
    depth = [0] * len(graph)
    for i, a in enumerate(graph.args):
        if a:
            depth[i] = 1 + max(depth[j] for j in a)
    span = sum(depth[a.dst] - depth[a.src] for a in arrows if a.dst != SINK)
    return Picture(tuple(boxes), tuple(arrows), tuple(rows), precision, roles,
                   frozenset(gates), span)


def check_layout_size(pic: Picture) -> None:
    """Refuse a layout that would take minutes, saying what works instead."""
    if pic.span > MAX_LAYOUT_SPAN:
        raise TooLarge(f"this graph's edges cross {pic.span:,} ranks; svg, png and html stop "
                       f"at {MAX_LAYOUT_SPAN:,} (the layout would take minutes)",
                       hint="--format text, dot or mermaid draw it at once; backprop trace "
                       "lists every node")


# --- Graphviz dot -------------------------------------------------------------------------


def _html(s: str) -> str:
    """Escape text for a Graphviz HTML-like label (user text is never markup)."""
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("]", "&#93;").replace("[", "&#91;"))


def _quoted(s: str) -> str:
    """A dot double-quoted string; backslash escapes are literal in Graphviz's attribute text."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def node_key(i: int) -> str:
    return "out" if i == SINK else f"n{i}"


def to_dot(pic: Picture, title: str = "") -> str:
    """The picture in Graphviz's dot language: rankdir LR, green values over red gradients."""
    # Large graphs trade some crossing reduction for a layout in seconds rather than minutes.
    fast = (", mclimit=0.05, nslimit=2, nslimit1=2, remincross=false, searchsize=10"
            if pic.span > FAST_LAYOUT_SPAN else "")
    lines = [
        "digraph backprop {",
        '  graph [rankdir=LR, bgcolor="white", fontname="Helvetica", nodesep=0.35, '
        'ranksep=0.2, pad=0.2' + fast
        + (f", label={_quoted(title)}, labelloc=t, fontsize=12" if title else "") + "];",
        '  node [fontname="Helvetica", fontsize=14];',
        '  edge [fontname="Helvetica", fontsize=11, arrowsize=0.7, color="' + EDGE + '"];',
    ]
    for b in pic.boxes:
        tip = _quoted(b.text.strip() or b.label)
        if b.kind in ("input", "const", "output"):
            style = "bold" if b.kind != "const" else "normal"
            label = f"<b>{_html(b.label)}</b>" if style == "bold" else _html(b.label)
            lines.append(f'  {node_key(b.id)} [id="{node_key(b.id)}", class="{b.kind}", '
                         f"shape=plaintext, label=<{label}>, tooltip={tip}];")
            continue
        label = _html(b.label)
        small = []
        if b.name:
            small.append(f'<font point-size="10" color="#0550ae">{_html(b.name)}</font>')
        if pic.roles and b.role:
            small.append(f'<font point-size="8" color="#6e7781">{_html(b.role)}</font>')
        if small:
            label += "<br/>" + "<br/>".join(small)
        fill = "#fff8c5" if b.id in pic.gates else "#f6f8fa"
        lines.append(f'  {node_key(b.id)} [id="{node_key(b.id)}", class="gate", shape=circle, '
                     f'style=filled, fillcolor="{fill}", color="#57606a", margin=0.02, '
                     f"label=<{label}>, tooltip={tip}];")
    for n, a in enumerate(pic.arrows):
        # Each edge runs through a small label node whose middle row is a rule continuing the
        # edge, so the value sits above the line and the gradient below it, as in the lecture.
        label = (f'<table border="0" cellborder="0" cellspacing="0" cellpadding="1">'
                 f'<tr><td><font color="{GREEN}">{_html(pic.number(a.value))}</font></td></tr>'
                 f'<tr><td port="r" height="1" cellpadding="0" bgcolor="{EDGE}"></td></tr>'
                 f'<tr><td><font color="{RED}">{_html(pic.number(a.grad))}</font></td></tr>'
                 "</table>")
        lines.append(f'  e{n} [id="e{n}", class="edge-label", shape=plaintext, margin=0, '
                     f'fontsize=11, label=<{label}>];')
        lines.append(f"  {node_key(a.src)} -> e{n}:r:w [arrowhead=none, headclip=false];")
        lines.append(f"  e{n}:r:e -> {node_key(a.dst)} [tailclip=false];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- Mermaid ------------------------------------------------------------------------------


def _mermaid_text(s: str) -> str:
    """Text inside a Mermaid "quoted" label: quotes and markup become entity codes."""
    return (s.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")
            .replace(">", "#gt;"))


def to_mermaid(pic: Picture) -> str:
    """A Mermaid flowchart (renders on GitHub): each edge says its value and its gradient.

    Mermaid cannot colour two halves of one edge label, so the label spells the two out.
    """
    lines = ["flowchart LR"]
    for b in pic.boxes:
        key = node_key(b.id)
        text = _mermaid_text(b.label)
        if b.kind == "gate":
            extra = [b.name] if b.name else []
            if pic.roles and b.role:
                extra.append(b.role)
            if extra:
                text += "<br/><small>" + _mermaid_text(" · ".join(extra)) + "</small>"
            lines.append(f'  {key}(("{text}")):::{"grouped" if b.id in pic.gates else "gate"}')
        else:
            lines.append(f'  {key}["{text}"]:::{b.kind}')
    for a in pic.arrows:
        label = (f"value {_mermaid_text(pic.number(a.value))}<br/>"
                 f"grad {_mermaid_text(pic.number(a.grad))}")
        lines.append(f'  {node_key(a.src)} -- "{label}" --> {node_key(a.dst)}')
    lines += [
        "  classDef gate fill:#f6f8fa,stroke:#57606a,color:#24292f",
        "  classDef grouped fill:#fff8c5,stroke:#57606a,color:#24292f",
        "  classDef input fill:#ffffff,stroke:#ffffff,color:#24292f,font-weight:bold",
        "  classDef const fill:#ffffff,stroke:#ffffff,color:#24292f",
        "  classDef output fill:#ffffff,stroke:#ffffff,color:#24292f,font-weight:bold",
    ]
    return "\n".join(lines) + "\n"

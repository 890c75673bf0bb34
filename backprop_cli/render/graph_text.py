"""The picture as a tree of text for a terminal: the output at the top, each gate's inputs below.

No layout program is needed: the graph is printed from the output back to the inputs, the
direction the gradient flows, with each edge's forward value (cyan) and gradient (magenta). A value
used twice appears in full under its first consumer and as a reference under the others.
"""

from __future__ import annotations

from .drawing import SINK, Arrow, Box, Picture

Segment = tuple[str, str]  # (text, rich style); the plain view drops the style


def _head(b: Box, pic: Picture) -> list[Segment]:
    if b.kind == "gate":
        out = [(b.name, "bold blue"), (" = ", "")] if b.name else []
        # A gate in brackets, the picture's circle in text: `f = [-1]` is a gate subtracting
        # 1, never the value -1.
        out += [("[", "dim"), (b.label, "bold"), ("]", "dim")]
        if b.id in pic.gates:
            out.append((" (gate)", "yellow"))
        if pic.roles and b.role:
            out.append((f" {b.role}", "dim"))
        return out
    return [(b.label, "bold")]


def _numbers(pic: Picture, a: Arrow) -> list[Segment]:
    from .numbers import GRAD_STYLE, VALUE_STYLE

    return [("   value ", "dim"), (pic.number(a.value), VALUE_STYLE),
            ("   grad ", "dim"), (pic.number(a.grad), GRAD_STYLE)]


def tree(pic: Picture) -> list[list[Segment]]:
    """One list of segments per line, the output first."""
    boxes = {b.id: b for b in pic.boxes}
    into: dict[int, list[Arrow]] = {}
    for a in pic.arrows:
        into.setdefault(a.dst, []).append(a)
    top = into[SINK][0]
    root = boxes[top.src]
    name = [] if root.name else [(boxes[SINK].label, "bold blue"), (" = ", "")]
    lines: list[list[Segment]] = [name + _head(root, pic) + _numbers(pic, top)]
    shown = {top.src}
    # (arrow, prefix for its line, last child?) in print order; the stack replaces recursion.
    stack = [(a, "", k == len(into.get(top.src, [])) - 1)
             for k, a in enumerate(into.get(top.src, []))][::-1]
    while stack:
        a, prefix, last = stack.pop()
        b = boxes[a.src]
        line: list[Segment] = [(prefix + ("└── " if last else "├── "), "dim")]
        line += _head(b, pic)
        children = into.get(a.src, [])
        again = a.src in shown and children
        if again:
            line.append((" (drawn above)", "dim"))
        lines.append(line + _numbers(pic, a))
        if again:
            continue
        shown.add(a.src)
        deeper = prefix + ("    " if last else "│   ")
        stack.extend((c, deeper, k == len(children) - 1) for k, c in enumerate(children))
        stack[len(stack) - len(children):] = stack[len(stack) - len(children):][::-1]
    return lines


def plain(pic: Picture) -> str:
    return lines_plain(tree(pic))


def rich(pic: Picture):
    return lines_rich(tree(pic))


def lines_plain(lines: list[list[Segment]]) -> str:
    """Styled lines as plain text: the styles dropped."""
    return "\n".join("".join(text for text, _ in line) for line in lines)


def lines_rich(lines: list[list[Segment]]):
    """Styled lines for a terminal (user text is never read as markup): a line wider than
    the window goes on under its node, the tree's bars kept, never at column 0."""
    from rich.console import Group
    from rich.text import Text

    from .wrap import Hanging

    out = []
    for line in lines:
        text = Text()
        for part, style in line:
            text.append(part, style=style or None)
        prefix = line[0][0] if line and line[0][0].endswith(("├── ", "└── ")) else ""
        bars = prefix[:-4] + ("│   " if prefix.endswith("├── ") else "    ") if prefix else ""
        out.append(Hanging(text, lead=Text(bars + "    ", style="dim")))
    return Group(*out)

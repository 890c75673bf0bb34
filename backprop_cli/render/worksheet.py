"""An exercise -> its worksheet (no answers) or answer key, as Markdown or HTML from the same
content, and the lines the interactive quiz shows. The picture is the graph drawing's
(drawing.py), with every gradient a "?" until it is the key."""

from __future__ import annotations

import html
from dataclasses import fields, replace

from ..exercises.circuits import Exercise
from ..exercises.grading import Mark, explain
from . import drawing, graph_text

Block = tuple  # ("h", text) ("p", text) ("pre", text) ("table", header, rows) ("picture",)


class _Blank(drawing.Picture):
    """The picture with the gradients left for the learner: a red "?" on every edge."""

    def number(self, x):
        return "?" if x is None else super().number(x)


def picture(ex: Exercise, answers: bool = False, precision: int = 3) -> drawing.Picture:
    pic = drawing.picture(ex.graph, list(ex.rows), precision=precision)
    if answers:
        return pic
    blank = replace(pic, arrows=tuple(replace(a, grad=None) for a in pic.arrows))
    return _Blank(**{f.name: getattr(blank, f.name) for f in fields(blank)})


def tree_segments(ex: Exercise, answers: bool = False) -> list[list[graph_text.Segment]]:
    """The circuit as the terminal tree, each edge with its forward value (and gradient, in
    the key): (text, rich style) segments per line."""
    lines = graph_text.tree(picture(ex, answers))
    # Without answers, drop each edge's "grad ?" pair: nothing to show yet.
    return lines if answers else [line[:-2] for line in lines]


def tree_text(ex: Exercise, answers: bool = False) -> str:
    return graph_text.lines_plain(tree_segments(ex, answers))


def tree_rich(ex: Exercise):
    return graph_text.lines_rich(tree_segments(ex))


def intro(ex: Exercise) -> list[str]:
    at = ", ".join(f"{n} = {_num(v)}" for n, v in ex.bindings.items())
    return [f"Circuit ({ex.command}):", *(f"  {s}" for s in ex.statements), f"at {at}"]


def content(ex: Exercise, answers: bool = False, precision: int = 6,
            page: str = "markdown") -> list[Block]:
    """The sheet's blocks. `page` is "markdown" (a text tree; filled in and graded) or
    "html" (the drawing when one could be laid out, else the tree; a printout)."""
    title = "Answer key" if answers else "Backpropagation exercise"
    at = ", ".join(f"{n} = {_num(v)}" for n, v in ex.bindings.items())
    drawn = page == "drawing"
    where = ("each value is written on the edge that carries it" if drawn else
             "the output is at the top, each gate's inputs indented under it, each with its "
             "forward value")
    if answers and not drawn:  # a tree line's grad is its edge's part, not the node's answer
        where += (" and, after grad, the gradient flowing back along that edge; a node that "
                  "feeds several gates is drawn under each, and its gradient is the sum")
    blocks: list[Block] = [
        ("h", f"{title}: seed {ex.seed}"),
        ("p", f"Made by `{ex.command}`; the same command makes the same circuit."),
        ("pre", "\n".join(ex.statements)),
        ("p", f"At {at}. The circuit with its forward values ({where}):"),
        ("picture",),
        ("table", ["node", "computes", "value"],
         [[n, _computes(ex, n), _num(v, precision)] for n, v in ex.values.items()]),
    ]
    if answers:
        blocks.append(("p", "Each gradient is the sum, over the gates the node feeds, of "
                            "upstream × local:"))
        blocks.append(("table", ["gradient", "answer", "why"],
                       [[f"∂f/∂{q.name}", _num(q.answer, precision), explain(q, precision)]
                        for q in ex.questions]))
    elif page != "markdown":
        sheet = f"{ex.command} --worksheet sheet.md"
        blocks.append(("p", "Work out each gradient on paper, from the output back (∂f/∂f = "
                            "1). This page is a printout: it cannot be filled in or graded. "
                            f"To be graded, make the Markdown sheet, `{sheet}`, fill in its "
                            "table and run `backprop quiz --grade sheet.md`."))
    else:
        blocks.append(("p", "Fill in each gradient, from the output back (∂f/∂f = 1). An answer "
                            "is a number or arithmetic on numbers, e.g. `-4` or `2*3`. Grade "
                            "it with `backprop quiz --grade FILE`."))
    if not answers:
        blocks.append(("table", ["gradient", "your answer"],
                       [[f"∂f/∂{q.name}", ""] for q in ex.questions]))
    return blocks


def markdown(ex: Exercise, answers: bool = False, precision: int = 6) -> str:
    out = [_mark_line(ex)]
    for block in content(ex, answers, precision):
        kind = block[0]
        if kind == "h":
            out.append(f"# {block[1]}")
        elif kind == "p":
            out.append(block[1])
        elif kind == "pre":
            out.append("```\n" + block[1] + "\n```")
        elif kind == "picture":
            out.append("```\n" + tree_text(ex, answers) + "\n```")
        else:
            header, rows = block[1], block[2]
            lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
            lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def to_html(ex: Exercise, svg: str | None, answers: bool = False, precision: int = 6) -> str:
    """The same content as HTML; the picture is the svg drawing when one could be laid out,
    else the text tree."""
    body = []
    for block in content(ex, answers, precision, "drawing" if svg else "html"):
        kind = block[0]
        if kind == "h":
            body.append(f"<h1>{_inline(block[1])}</h1>")
        elif kind == "p":
            body.append(f"<p>{_inline(block[1])}</p>")
        elif kind == "pre":
            body.append(f"<pre>{html.escape(block[1])}</pre>")
        elif kind == "picture":
            if svg:
                start = svg.find("<svg")
                body.append(f'<div class="picture">{svg[start:] if start >= 0 else svg}</div>')
            else:
                body.append(f"<pre>{html.escape(tree_text(ex, answers))}</pre>")
        else:
            header, rows = block[1], block[2]
            head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
            cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                            for r in rows)
            body.append(f"<table><tr>{head}</tr>{cells}</table>")
    title = html.escape(content(ex, answers)[0][1])
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{title}</title>\n<style>body{{font-family:sans-serif;max-width:50em;"
            "margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
            "padding:.3em .6em;text-align:left}td:nth-child(2){min-width:8em}"
            # The drawing scales down to the page (a window or paper), never cut off.
            ".picture svg{max-width:100%;height:auto}"
            "@media print{body{margin:0;max-width:none}}</style>"
            f"</head>\n<body>\n{_mark_line(ex)}\n" + "\n".join(body) + "\n</body></html>\n")


def mark_line(m: Mark, precision: int = 6) -> str:
    """One graded answer: '∂f/∂a = 3: right' or '∂f/∂a = 2: wrong, it is 3. <hint>'."""
    return f"∂f/∂{m.name} = {m.given or '(blank)'}: {verdict(m, precision)}"


def verdict(m: Mark, precision: int = 6) -> str:
    """'right', or 'wrong, it is 3.' ('unanswered, it is 3.' for a blank) and the hint:
    upstream x local, and the slip."""
    if m.right:
        return "right"
    word = "wrong" if m.given else "unanswered"
    return f"{word}, it is {_num(m.answer, precision)}. {m.hint}"


def score(marks: list[Mark]) -> str:
    right = sum(m.right for m in marks)
    return f"score {right}/{len(marks)}"


def _mark_line(ex: Exercise) -> str:
    # Read back by --grade (exercises/grading.py SHEET_MARK): which exercise this sheet is.
    return f"<!-- {ex.command} -->"


def _computes(ex: Exercise, name: str) -> str:
    for s in ex.statements:
        if s.startswith(f"{name} = "):
            return s.split(" = ", 1)[1]
    return "input"


def _inline(text: str) -> str:
    """Markdown's `code` spans as <code>, everything else escaped."""
    parts = text.split("`")
    return "".join(f"<code>{html.escape(p)}</code>" if k % 2 else html.escape(p)
                   for k, p in enumerate(parts))


def _num(x: float, precision: int = 6) -> str:
    x = float(x)
    return "0" if x == 0 else f"{x:.{precision}g}"

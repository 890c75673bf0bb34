"""Trace rows -> a homework write-up in Markdown or LaTeX: the per-node table, then the
chain-rule steps from the output back (upstream x local = what each input receives), then each
variable's gradient as the sum of what it received. Expressions come from the one printer;
numbers from the trace rows (nothing is computed here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine.trace import TraceRow
from ..graph import Graph
from ..language.printer import Printer, latex_name
from . import numbers
from .plain import feeds_text

LABEL_LIMIT = 60  # longest expression shown whole in a row or a step
LATEX_LIMIT = 160  # longer LaTeX expressions are named by their node id


class _Page:
    """What both write-ups read: the graph, its printer, how numbers are written, and how a
    node is shown (a named node with what it computes: q = x + y)."""

    def __init__(self, graph: Graph, precision: int, latex: bool = False):
        self.graph = graph
        self.text = Printer(graph, latex=latex, by_name=True)
        self.precision = precision
        self.latex = latex

    def num(self, x) -> str:
        return numbers.number(x, self.precision)

    def expr(self, i: int) -> str:
        if not self.latex:
            return self.text.expression(i, LABEL_LIMIT)
        # Cut short, a LaTeX expression would lose its braces: a long one is named by its id.
        expr = self.text.expression(i, LATEX_LIMIT)
        return expr if " ... " not in expr else rf"\text{{node \#{i}}}"

    def shown(self, i: int) -> str:
        name = self.graph.names.get(i)
        if self.graph.ops[i].is_leaf or name is None:
            return self.expr(i)
        return f"{latex_name(name) if self.latex else name} = {self.expr(i)}"


def markdown(graph: Graph, rows: list[TraceRow], bindings: Mapping[str, Any],
             precision: int = 6) -> str:
    page = _Page(graph, precision)
    out_name = _output_name(graph)
    point = ", ".join(f"{n} = {page.num(v)}" for n, v in bindings.items())
    lines = [f"## Backpropagation through `{_plain(graph)}`", "",
             f"At {point}; upstream is ∂{out_name}/∂node, and each input receives "
             "upstream × local.", "",
             "| node | expression | op | value | upstream | local | downstream | gate |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |",
             *_markdown_table(page, rows),
             "", "### Chain rule, from the output back", "",
             f"1. ∂{out_name}/∂{out_name} = 1 at the output `{page.shown(graph.output)}`.",
             *_markdown_steps(page, rows),
             "", "### Gradients", ""]
    for r in rows:
        if r.op == "var":
            lines.append(f"- ∂{out_name}/∂{r.name} = {_sum(r, page.num)}")
        elif r.fans_out:
            lines.append(f"- `{_label(graph, page.text, r.id)}` {feeds_text(r)}: "
                         f"∂{out_name}/∂{_label(graph, page.text, r.id)} = {_sum(r, page.num)}")
    return "\n".join(lines) + "\n"


def _markdown_table(page: _Page, rows: list[TraceRow]) -> list[str]:
    lines = []
    for r in _shown_rows(rows):
        value, grad, local, down = _numbers(page, r, "Jacobian")
        op = "var" if r.op == "var" else ("const" if r.op == "const" else f"`{r.gate}`")
        lines.append("| " + " | ".join([r.ref, f"`{page.shown(r.id)}`", op, value, grad, local,
                                        down, r.role.split(":")[0]]) + " |")
    return lines


def _shown_rows(rows: list[TraceRow]) -> list[TraceRow]:
    """The rows a table shows: a constant drawn inside its gate has none, as in trace."""
    return [r for r in rows if not r.hidden]


def _numbers(page: _Page, r: TraceRow, jacobian: str) -> tuple[str, str, str, str]:
    """A row's value, upstream, locals and downstreams as both tables write them."""
    num, k = page.num, r.shown_inputs
    return (num(r.value), num(r.grad),
            ", ".join(jacobian if r.local[j] is None else num(r.local[j]) for j in k),
            ", ".join(num(r.downstream[j]) for j in k))


def _markdown_steps(page: _Page, rows: list[TraceRow]) -> list[str]:
    """The chain-rule steps from the output back, numbered from 2 (1 is the output's)."""
    num = page.num
    lines = []
    for r, sent in _sends(rows):
        parts = []
        for k, j in sent:
            if r.local[k] is None:  # an array op given as a vector-Jacobian product
                product = f"{numbers.factor(num(r.grad))} × the local Jacobian"
            else:
                product = f"{numbers.factor(num(r.grad))} × {numbers.factor(num(r.local[k]))}"
            parts.append(f"`{_label(page.graph, page.text, j)}` receives {product} = "
                         f"{num(r.downstream[k])}")
        gate = r.role.split(":")[0]
        lines.append(f"{len(lines) + 2}. `{page.shown(r.id)}` ({gate}): " +
                     "; ".join(parts) + ".")
    return lines


def _sends(rows: list[TraceRow]):
    """From the output back, each node that sends its inputs something, with the (position,
    input) of each input that receives: the chain-rule steps both write-ups write."""
    for r in reversed(rows):
        if not r.inputs or r.grad is None:
            continue
        sent = [(k, j) for k, j in enumerate(r.inputs) if r.downstream[k] is not None]
        if sent:
            yield r, sent


def latex(graph: Graph, rows: list[TraceRow], bindings: Mapping[str, Any],
          precision: int = 6) -> str:
    page = _Page(graph, precision, latex=True)
    out = latex_name(_output_name(graph))
    point = ", ".join(f"${latex_name(n)} = {page.num(v)}$" for n, v in bindings.items())
    lines = [rf"% backprop trace --format latex: {_plain(graph)}",
             rf"At {point}; upstream is $\partial {out} / \partial \text{{node}}$, and each "
             r"input receives upstream $\times$ local.", "",
             r"\begin{tabular}{rlrrrrl}", r"\hline",
             r"node & expression & value & upstream & local & downstream & gate \\", r"\hline",
             *_latex_table(page, rows),
             r"\hline", r"\end{tabular}", "", r"\begin{align*}",
             rf"{_partial(page, out, graph.output)} &= 1 && \text{{the output}} \\",
             *_latex_steps(page, out, rows)]
    lines[-1] = lines[-1].removesuffix(r" \\")
    lines += [r"\end{align*}", "", r"\begin{align*}"]
    # Each variable's gradient, and every fan-out's sum, as the Markdown lists them.
    summed = [r for r in rows if r.op == "var" or (r.fans_out and not r.hidden)]
    for k, r in enumerate(summed):
        end = "" if k == len(summed) - 1 else r" \\"
        lines.append(rf"{_partial(page, out, r.id)} &= {_sum(r, page.num)}{end}")
    lines.append(r"\end{align*}")
    return "\n".join(lines) + "\n"


def _partial(page: _Page, out: str, i: int) -> str:
    name = page.graph.names.get(i)
    math = latex_name(name) if name is not None else "(" + page.expr(i) + ")"
    return rf"\frac{{\partial {out}}}{{\partial {math}}}"


def _latex_table(page: _Page, rows: list[TraceRow]) -> list[str]:
    lines = []
    for r in _shown_rows(rows):
        value, grad, local, down = _numbers(page, r, r"\text{Jacobian}")
        edges = bool(r.shown_inputs)
        lines.append(" & ".join([
            rf"\#{r.number}", f"${page.shown(r.id)}$", f"${value}$", f"${grad}$",
            f"${local}$" if edges else "", f"${down}$" if edges else "",
            r.role.split(":")[0]]) + r" \\")
    return lines


def _latex_steps(page: _Page, out: str, rows: list[TraceRow]) -> list[str]:
    num = page.num
    lines = []
    for r, sent in _sends(rows):
        for k, j in sent:
            if r.local[k] is None:  # an array op given as a vector-Jacobian product
                product = rf"{num(r.grad)} \times J_{{\text{{local}}}}"
            else:
                product = rf"{numbers.factor(num(r.grad))} \cdot {numbers.factor(num(r.local[k]))}"
            lines.append(rf"{_partial(page, out, j)} &\mathrel{{+}}= {product} = "
                         rf"{num(r.downstream[k])} && \text{{from }} {page.shown(r.id)} \\")
    return lines


def _output_name(graph: Graph) -> str:
    name = graph.names.get(graph.output)
    return name if name and not graph.ops[graph.output].is_leaf else "f"


def _label(graph: Graph, text: Printer, i: int) -> str:
    return graph.names.get(i) or text.expression(i, LABEL_LIMIT)


def _plain(graph: Graph, limit: int = 200) -> str:
    """The program as the printer writes it, named values as statements; its two ends when
    long."""
    from ..language.printer import program

    whole = program(graph)
    if len(whole) <= limit:
        return whole
    return whole[:limit // 2 - 3] + " ... " + whole[-(limit // 2 - 2):]


def _sum(r: TraceRow, num) -> str:
    """A variable's gradient, and where it fans out, the parts it is the sum of."""
    if r.grad is None:
        return "0 (the output does not depend on it)"
    if len(r.contributions) > 1:
        parts = " + ".join(numbers.factor(num(g)) for _, g in r.contributions)
        return f"{parts} = {num(r.grad)}"
    return num(r.grad)


def views(shown: list, fmt: str) -> str:
    """The lecture's views (commands/lecture.py `View`) as the write-up's last sections: each
    under its title, its lines as the terminal shows them, kept verbatim so their columns
    and the #n of each node (trace's, as in the node table above) stay as printed."""
    out = []
    for view in shown:
        body = [line.rstrip() for line in view.lines]
        if fmt == "markdown":
            # ~~~ fences: a write-up pasted into a page's ``` block does not close it
            out += ["", f"### {view.title}", "", "~~~text", *body, "~~~"]
        else:
            out += ["", rf"\subsection*{{{view.title}}}", r"\begin{verbatim}", *body,
                    r"\end{verbatim}"]
    return "\n".join(out) + "\n"

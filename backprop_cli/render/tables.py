"""Results -> rich renderables for a terminal. User text is passed as Text, never as markup."""

from __future__ import annotations

import re

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..checks.formulas import MATRIX_NOTE
from ..engine.trace import TraceRow
from ..errors import shown
from ..evaluate import Result
from . import matrices, numbers
from .plain import (
    check_columns,
    fan_out_line,
    has_arrays,
    node_title,
    variable_shape,
    verdict,
)
from .wrap import Hanging

# An array op's local gradient is a Jacobian the backward pass applies without forming it.
JACOBIAN = "Jacobian, applied to the upstream (trace --jacobian writes it out)"


def _check_cell(c) -> Text:
    if c is None:
        return Text("-", style="dim")
    return Text(numbers.check(c), style=numbers.STATUS_STYLE.get(c.status, ""))


# eval's header shows this many characters of the program: with "f = " they fit one line of 80
# columns, and the value may wrap to a second. A line break shows as a mark (a ';' would seem
# to end a comment that in fact runs to the end of its line).
PROGRAM_SHOWN = 60
NEWLINE = " \u21b5 "


_COMMENT = re.compile(r"#[^\n]*")  # the language's comments run to the end of the line


def program_head(program: str) -> str:
    """The program for eval's one-line header: its statements without their comments (a file's
    `# a 2-layer net` is not part of what is computed), its lines joined by a visible mark,
    made safe to echo and cut to its two ends."""
    lines = [line.strip() for line in _COMMENT.sub("", program).split("\n") if line.strip()]
    return shown(NEWLINE.join(lines), PROGRAM_SHOWN)


def eval_view(result: Result, program: str, precision: int) -> Group:
    # `f = (x+y)*z` for an expression; a program with assignments already reads as
    # assignments (`q = x + y; f = q * z`, `h = W @ x; sum(h)`), and an `f = ` before it
    # would chain them (`f = h = W @ x; ...`).
    graph = result.graph
    named = any(not graph.ops[i].is_leaf for i in graph.names)
    head = Text.assemble(*([] if named else [("f", "bold"), " = "]),
                         (program_head(program), "bold"), "   value ",
                         (numbers.number(result.value, precision), "bold " + numbers.VALUE_STYLE))
    parts = [head]
    for c in result.value_checks:
        parts.append(Text.assemble("expected value: ", _check_cell(c)))
    for key, c in result.named_checks:
        parts.append(Text.assemble(f"expected {key}: ", _check_cell(c)))
    parts.append(FittedTable(result, precision))
    parts.extend(_expect_reasons(result))
    jacobian = result.jacobian is not None  # the matrices follow the table
    if jacobian:
        parts.extend(_matrix_view(m) for m in matrices.jacobian_matrices(result, precision))
    if result.hessian is not None:
        parts.append(_matrix_view(matrices.hessian_matrix(result, precision)))
        for c in result.hessian_checks:
            parts.append(Text.assemble(f"{matrices.METHOD_WORDS[c.method]}: ", _check_cell(c)))
    for r in result.rows:
        if r.formula:
            parts.append(Text.assemble(f"d/d{r.name} = ", (r.formula, "magenta")))
    if any(r.formula and " @ " in r.formula for r in result.rows):
        parts.append(Text(MATRIX_NOTE, style="dim"))
    for c in result.claims:
        parts.append(Text(numbers.claim(c, precision), style=numbers.STATUS_STYLE[c.status]))
    style = {"fail": "bold red", "unchecked": "yellow"}.get(result.status, "green")
    parts.append(Hanging(Text(verdict(result), style=style), extra=2))
    hessian = matrices.hessian_verdict(result) if result.hessian is not None else None
    if hessian:  # a failed Hessian is said by the verdict above
        sure = all(c.status == "pass" for c in result.hessian_checks)
        parts.append(Text(hessian, style="green" if sure else "yellow"))
    # A sentence wider than the window goes on indented, never back at column 0.
    return Group(*(Hanging(p) if isinstance(p, Text) else p for p in parts))


def _expect_reasons(result: Result) -> list[Text]:
    """Why each failed gradient --expect failed (the slip it most likely is), as --plain's
    column says: the table's cell has room for the verdict only (the value's and a named
    value's lines above the table say it already)."""
    return [Text(f"expected d{r.name}: {c.reason}", style="red")
            for r in result.rows for c in r.checks
            if c.method == "expected" and c.status == "fail" and c.reason]


SHORT_HEADER = {"finite-difference": "finite diff"}


class FittedTable:
    """eval's table of gradients and checks, laid out for the window it is printed in. A
    matrix row is never split across lines. Where the whole table is wider than the window,
    the checks column gets less room first (`pass 2e-11` for `pass 1.8e-11 (all 4
    entries)`); where it is still too wide, each array gradient is printed below the table,
    row under row, and the table names its shape. A line below still wider than the window
    (an array of 3 or more dimensions is one line) is broken at spaces, never cut off."""

    def __init__(self, result: Result, precision: int):
        self.result = result
        self.precision = precision

    def __rich_console__(self, console, options):
        result, p = self.result, self.precision
        methods = check_columns(result)
        shaped = has_arrays(result)
        jacobian = result.jacobian is not None
        width = options.max_width
        rows = result.rows
        grads = [] if jacobian else [numbers.grid(r.gradient, p) for r in rows]
        by = [{c.method: c for c in r.checks} for r in rows]

        def span(texts: list[str], head: str) -> int:
            return max([len(head), *(len(line) for t in texts for line in t.split("\n"))])

        def total(widths: list[int]) -> int:
            return sum(widths) + 3 * len(widths) + 1

        fixed = [span([r.name for r in rows], "name")]
        if shaped:
            fixed.append(span([variable_shape(result, r) for r in rows], "shape"))
        full = [span([numbers.check(b.get(m)) for b in by], m) for m in methods]
        short = [span([numbers.check_short(b.get(m)) for b in by], SHORT_HEADER.get(m, m))
                 for m in methods]
        grad_w = [span(grads, "gradient")] if grads else []
        below = False
        if total(fixed + grad_w + full) <= width:
            compact = False
        elif total(fixed + grad_w + short) <= width or not shaped:
            compact = True
        else:
            compact, below = True, True
        table = Table(title=None, show_edge=True, header_style="bold")
        table.add_column("name", style="bold", no_wrap=True)
        if shaped:
            table.add_column("shape", no_wrap=True)
        if not jacobian:
            table.add_column("gradient", justify="right", style=numbers.GRAD_STYLE,
                             no_wrap=True)
        for m in methods:
            table.add_column(SHORT_HEADER.get(m, m) if compact else m, no_wrap=not below)
        moved = []
        for r, b, g in zip(rows, by, grads or [None] * len(rows)):
            if below and numbers.is_array(r.gradient):
                moved.append((r, g))
                g = "below"
            cells = [Text(r.name), *([Text(variable_shape(result, r))] if shaped else []),
                     *([] if jacobian else [Text(g)])]
            for m in methods:
                c = b.get(m)
                text = numbers.check_short(c) if compact else numbers.check(c)
                cells.append(Text(text, style=numbers.STATUS_STYLE.get(c.status, ""))
                             if c is not None else Text("-", style="dim"))
            table.add_row(*cells)
        yield table
        for r, g in moved:
            yield Text.assemble((f"d{r.name}", "bold"), f" ({numbers.shape(r.gradient)}):")
            for line in g.split("\n"):
                # wider than the window (an array of 3 or more dimensions is one line): broken
                # at spaces, indented, never cut off at the window's edge
                yield Hanging(Text("  " + line, style=numbers.GRAD_STYLE))


def trace_view(rows: list[TraceRow], precision: int, backward: bool = False) -> Group:
    """The trace for a terminal: a block of lines per node, so that at any width from 60
    columns every number and every gate's role is printed whole (a table would cut them).

    A block is the node's id, name and source text; its gate (constants folded in, as the
    picture draws it) and role; its value and upstream gradient; then a line per input with the
    local gradient and what that input receives; then the fan-out sum where there is one.
    """
    parts: list = [Text.assemble("node by node: ", ("values", numbers.VALUE_STYLE),
                                 " forward, ", ("gradients", numbers.GRAD_STYLE), " backward",
                                 style="bold")]
    for r in (reversed(rows) if backward else rows):
        if r.hidden:
            continue
        parts.append(Text(""))
        parts.extend(Hanging(t) for t in _block(r, rows, precision))
    return Group(*parts)


def _block(r: TraceRow, rows: list[TraceRow], precision: int) -> list[Text]:
    head = Text.assemble((f"{r.ref} ", "dim"))
    if r.name:  # the title starts with the name: 'q = x + y', 'q += z', 'x'
        head.append(r.name, style="bold")
        head.append(node_title(r.name, r.text)[len(r.name):])
    else:
        head.append(r.text, style="bold")
    out = [head]
    leaf = r.op in ("var", "const")
    if leaf:
        head.append(f"   {r.role}", style="dim")
    else:
        out.append(Text.assemble("  gate ", (r.gate, "bold"), (f"   {r.role}", "dim")))
    shape = f" ({numbers.shape(r.value)})" if r.shape else ""
    out.extend(_fields("  ", [(f"value{shape}", r.value, numbers.VALUE_STYLE),
                              ("upstream", r.grad, numbers.GRAD_STYLE)], precision))
    for k in r.shown_inputs:
        j = r.inputs[k]
        src = rows[j]
        who = f"{src.ref} {src.name}" if src.name else src.ref
        out.extend(_fields(f"  ← {who}   ", [("local", r.local[k], ""),
                                            ("downstream", r.downstream[k], numbers.GRAD_STYLE)],
                           precision, vjp=r.grad is not None))
    if r.fans_out:
        out.append(Text("  " + fan_out_line(r, precision, rows), style="yellow"))
    return out


def _fields(lead: str, fields: list, precision: int, vjp: bool = True) -> list[Text]:
    """`lead` then `label number` pairs on one line; a grid (a small matrix) goes under its
    label instead, one row per line, and the fields after it start a new line."""
    base = " " * (len(lead) - len(lead.lstrip()))
    out: list[Text] = []
    line, started = Text(lead), False
    for label, x, style in fields:
        shown = JACOBIAN if x is None and label == "local" and vjp else numbers.grid(x, precision)
        if started:
            line.append("   ")
        line.append(label)
        if "\n" not in shown:
            line.append(" ")
            line.append(shown, style=style or None)
            started = True
            continue
        out.append(line)
        out.extend(Text(base + "  " + row, style=style or None) for row in shown.split("\n"))
        line, started = Text(base), False
    if started:
        out.append(line)
    return out


def _matrix_view(m: matrices.Matrix):
    """A labelled matrix: the column labels as the header, the row labels in bold."""
    title = Hanging(Text(m.title, style="bold"))
    if m.cells is None:
        return Group(title, Hanging(Text(f"  ({m.summary})", style="dim")))
    note = [Hanging(Text(m.note, style="dim"))] if m.note else []
    return Group(title, _MatrixTables(m), *note)


class _MatrixTables:
    """The matrix as one table, or, when it is wider than the terminal, as several tables of
    consecutive columns (as numpy prints a wide array): a number is never cut short."""

    def __init__(self, m: matrices.Matrix):
        self.m = m

    def __rich_console__(self, console, options):
        m = self.m
        label_width = max((len(r) for r in m.rows), default=0) + 3
        widths = [max([len(m.columns[k]), *(len(row[k]) for row in m.cells)]) + 3
                  for k in range(len(m.columns))]
        chunk: list[int] = []
        used = label_width + 1
        for k, w in enumerate(widths):
            if chunk and used + w > options.max_width:
                yield self._table(chunk)
                chunk, used = [], label_width + 1
            chunk.append(k)
            used += w
        if chunk or not widths:
            yield self._table(chunk)

    def _table(self, ks: list[int]) -> Table:
        m = self.m
        table = Table(header_style="bold", show_edge=True)
        table.add_column("", style="bold", no_wrap=True)
        for k in ks:
            table.add_column(Text(m.columns[k]), justify="right", no_wrap=True)
        for label, row in zip(m.rows, m.cells):
            table.add_row(Text(label), *[Text(row[k]) for k in ks])
        return table

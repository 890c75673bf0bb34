"""Results -> rich renderables for a terminal. User text is passed as Text, never as markup."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..engine.trace import TraceRow
from ..evaluate import Result
from . import numbers
from .plain import check_columns, has_arrays, verdict


def _check_cell(c) -> Text:
    if c is None:
        return Text("-", style="dim")
    return Text(numbers.check(c), style=numbers.STATUS_STYLE.get(c.status, ""))


def eval_view(result: Result, program: str, precision: int) -> Group:
    head = Text.assemble(("f", "bold"), " = ", (program, "cyan"), "   value ",
                         (numbers.number(result.value, precision), "bold green"))
    parts = [head]
    for c in result.value_checks:
        parts.append(Text.assemble("expected value: ", _check_cell(c)))
    methods = check_columns(result)
    table = Table(title=None, show_edge=True, header_style="bold")
    shaped = has_arrays(result)
    table.add_column("name", style="bold")
    if shaped:
        table.add_column("shape")
    table.add_column("gradient", justify="right", style="red")  # the word the plain table uses
    for m in methods:
        table.add_column(m)
    for r in result.rows:
        by = {c.method: c for c in r.checks}
        table.add_row(Text(r.name), *([Text(numbers.shape(r.gradient))] if shaped else []),
                      Text(numbers.number(r.gradient, precision)),
                      *[_check_cell(by.get(m)) for m in methods])
    parts.append(table)
    for r in result.rows:
        if r.formula:
            parts.append(Text.assemble(f"d/d{r.name} = ", (r.formula, "magenta")))
    style = {"fail": "bold red", "unchecked": "yellow"}.get(result.status, "green")
    parts.append(Text(verdict(result), style=style))
    return Group(*parts)


def trace_view(rows: list[TraceRow], precision: int) -> Table:
    table = Table(header_style="bold", title="forward (green) and backward (red), node by node")
    shaped = any(r.shape for r in rows)
    # Numbers never wrap; the text columns give way first (the plain and JSON views carry
    # the whole text).
    num = {"justify": "right", "no_wrap": True}
    for name, kw in (("id", {"no_wrap": True}), ("node", {"style": "bold", "max_width": 24}),
                     ("op", {"no_wrap": True}), ("inputs", {"no_wrap": True}),
                     *([("shape", {})] if shaped else []),
                     ("value", {"style": "green", **num}),
                     ("upstream", {"style": "red", **num}),
                     ("local", num), ("downstream", num),
                     ("gate", {"style": "dim", "max_width": 20})):
        table.add_column(name, **kw)
    for r in rows:
        node = Text(r.name or r.text)
        if r.fans_out:
            node.append(f"  (sum of {len(r.contributions)})", style="yellow")
        table.add_row(
            f"#{r.id}", node, Text(r.label), ", ".join(f"#{j}" for j in r.inputs) or "-",
            *([Text(numbers.shape(r.value))] if shaped else []),
            # Text, not str: an array prints with brackets, which rich would read as markup.
            Text(numbers.number(r.value, precision)), Text(numbers.number(r.grad, precision)),
            Text(", ".join("vjp" if x is None else numbers.number(x, precision)
                           for x in r.local) or "-"),
            Text(", ".join(numbers.number(x, precision) for x in r.downstream) or "-"),
            Text(r.role.split(":")[0]))
    return table

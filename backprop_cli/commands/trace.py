"""The `trace` command: the backward pass node by node."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import click

from .. import exits
from .common import (
    CONTEXT,
    ProgramCommand,
    console,
    emit_json,
    output_options,
    parse_expect,
    program_options,
    report_errors,
    use_rich,
)
from .eval import lecture_options, lecture_views, run_words, view_fields, view_lines

RICH_TRACE_ROWS = 2_000  # past this a boxed table costs more than it shows: plain lines stream


@click.command("trace", cls=ProgramCommand, context_settings=CONTEXT)
@program_options
@output_options
@click.option("--group", "groups", multiple=True, metavar="PATTERN",
              help="Collapse recognised subgraphs into one gate: sigmoid, tanh, softplus "
                   "or all, e.g. 1/(1+exp(-t)) -> sigmoid(t).")
@click.option("--jacobian", "jacobian_node", metavar="NODE",
              help="Print the explicit local Jacobian of one node (#id or name), for small "
                   "shapes, instead of the trace.")
@click.option("--backward", is_flag=True,
              help="List the nodes from the output back, the order the backward pass visits "
                   "them (the lecture reads the circuit right to left).")
@click.option("--explain", is_flag=True,
              help="Walk the backward pass from the output back, one node at a time: "
                   "upstream, local gradient (formula and number), what each input receives, "
                   "fan-out sums.")
@click.option("--step", is_flag=True,
              help="As --explain, one node per key press on a terminal (q stops); all at "
                   "once when not on a terminal.")
@click.option("--expect", "expects", multiple=True, metavar="NAME=VALUE",
              help="Grade a hand-derived number after the trace, as eval does: q=3 (a named "
                   "value), dq=-4 (its gradient), dx=-4, value=...; repeatable.")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "latex"]),
              default="table", show_default=True,
              help="markdown or latex: a homework write-up, the node table and the chain-rule "
                   "steps from the output back.")
@click.option("--forward-mode", metavar="NAME",
              help="The tangents d(node)/d(NAME) flowing forward node by node (all: every "
                   "input), against one backward pass.")
@lecture_options
@report_errors
def trace_cmd(words, program_file, as_json, plain, precision, groups, jacobian_node, backward,
              explain, step, expects, fmt, forward_mode=None, **lecture):
    """Print the backward pass node by node: value, upstream, local and downstream gradients.

    One node per row (on a terminal, per block of lines) in forward order. The upstream
    gradient is d(output)/d(node); each input receives upstream x local; where a node fans
    out, its gradient is the sum of what its consumers sent back. The gate column gives the
    lecture's role (add distributes, mul switches, max routes). Constants are part of their
    gate (+1, 1/x, **2), as the picture draws them.

    \b
    Examples:
      backprop trace "(x+y)*z" x=-2 y=5 z=-4
      backprop trace "q = x + y; f = q * z" x=-2 y=5 z=-4 --explain
      backprop trace "q = x + y; f = q * z" x=-2 y=5 z=-4 \\
          --expect q=3 --expect dq=-4
      backprop trace "a = x*y; f = a + a*z" x=2 y=3 z=4 --json
      backprop trace "q = W @ x; f = sum(q**2)" \\
          "W=[[0.1,0.5],[-0.3,0.8]]" "x=[0.2,0.4]"
      backprop trace "sum((W @ x)**2)" "W=[[1,2],[3,4]]" "x=[1,1]" \\
          --jacobian "W @ x"
      backprop trace "q = x + y; f = q * z" x=-2 y=5 z=-4 --format markdown
      backprop trace "q = x + y; f = q * z" x=-2 y=5 z=-4 --forward-mode x

    With arrays, a shape column appears; small arrays print in full and large ones as
    shape, min, max and mean.
    """
    from ..evaluate import Options

    if (explain or step) and fmt != "table":
        raise click.UsageError("--format writes the node table; --explain and --step walk the "
                               "backward pass: choose one")
    if (jacobian_node or forward_mode) and any(v not in (None, False) for v in lecture.values()):
        raise click.UsageError("--jacobian and --forward-mode print a view of their own; "
                               "--why-zero, --nudge, --lr, --frameworks and --float32 follow "
                               "the trace: choose one")
    _, result = run_words(words, program_file,
                          Options(check=False, expect=parse_expect(expects)), groups)
    if jacobian_node is not None:
        show_jacobian(result, jacobian_node, as_json, precision)
        sys.exit(exits.OK)
    shown = Shown(as_json, plain, precision, fmt, backward, explain or step, step)
    if forward_mode is not None and fmt != "table" and not as_json:
        # In a write-up forward mode is a view like the others: the trace, then its section.
        from .lecture import forward_mode_view

        show_trace(result, expects, [forward_mode_view(result, forward_mode, precision)], shown)
        sys.exit(exits.OK)
    if forward_mode is not None:
        from .lecture import show_forward_mode

        show_forward_mode(result, forward_mode, as_json, precision)
        sys.exit(exits.OK)
    show_trace(result, expects, lecture_views(result, lecture), shown)
    sys.exit(result.exit_code)


@dataclass(frozen=True)
class Shown:
    """How trace prints: what the options asked for."""

    as_json: bool
    plain: bool
    precision: int
    fmt: str  # table, markdown or latex
    backward: bool
    explain: bool
    step: bool


def show_trace(result, expects, views: list, shown: Shown) -> None:
    """The trace (table, write-up, JSON or the explained walk), then the graded expectations
    and the lecture's views asked for."""
    from ..engine.trace import trace_rows
    from ..render.json_out import expectations_json
    from ..render.plain import expectation_lines

    rows = trace_rows(result.graph, result.values, result.grads)
    graded = expectation_lines(result, expects) if expects else []
    fields = {**({"expected": expectations_json(result)} if expects else {}),
              **view_fields(views)}
    if shown.explain:
        show_explained(rows, result.graph.output, shown.precision, shown.as_json, shown.step,
                       graded, fields)
    elif shown.as_json:
        from ..render.json_out import trace_json

        emit_json({**trace_json(rows), **fields})
    elif shown.fmt != "table":
        show_writeup(result, rows, views, shown)
        show_graded(graded)
    else:
        show_table(rows, shown)
        show_graded(graded)
    if views and not shown.as_json and shown.fmt == "table":
        sys.stdout.write("\n".join(view_lines(views)) + "\n")


def show_writeup(result, rows, views: list, shown: Shown) -> None:
    """--format markdown or latex: the homework write-up, the views as its last sections."""
    from ..render import writeup

    write = writeup.markdown if shown.fmt == "markdown" else writeup.latex
    text = write(result.graph, rows, result.bindings, shown.precision)
    if views:
        text += writeup.views(views, shown.fmt)
    click.echo(text, nl=False)


def show_table(rows, shown: Shown) -> None:
    if use_rich(shown.plain) and len(rows) <= RICH_TRACE_ROWS:
        from ..render.tables import trace_view

        console().print(trace_view(rows, shown.precision, shown.backward))
        return
    from ..render.plain import trace_lines

    out = sys.stdout
    for line in trace_lines(rows, shown.precision, shown.backward):
        out.write(line + "\n")


def show_jacobian(result, node: str, as_json: bool, precision: int) -> None:
    """trace --jacobian NODE: that node's local Jacobian, written out for small shapes."""
    from ..engine.jacobian import find_node, local_jacobian
    from ..engine.trace import trace_rows
    from ..render.jacobian_out import jacobian_json, jacobian_text

    rows = trace_rows(result.graph, result.values, result.grads)
    digits = node.strip().lstrip("#")
    if digits.isdigit():  # #n as trace shows it: the rows on screen, numbered with no gap
        ids = [r.id for r in rows if r.number == int(digits)]
        if ids:
            node = f"#{ids[0]}"
    jac = local_jacobian(result.graph, result.values, find_node(result.graph, node))
    if as_json:
        emit_json(jacobian_json(jac))
    else:
        def ref(i: int) -> str:
            r = rows[i]
            return r.ref if r.number is not None else f"{r.text} (inside its gate)"

        from ..render.wrap import hang_text

        click.echo(hang_text(jacobian_text(jac, precision, ref)))


def show_explained(rows, output: int, precision: int, as_json: bool, step: bool,
                   graded: list[str], graded_json: dict) -> None:
    """trace --explain / --step: the backward pass in the lecture's arithmetic."""
    from ..render.explain import explain_blocks

    blocks = explain_blocks(rows, output, precision)
    if as_json:
        emit_json({"explain": ["\n".join(b) for b in blocks], **graded_json})
        return
    from ..render.wrap import hang_all, terminal_width

    width = terminal_width(sys.stdout)  # None when piped: one line per line
    blocks = [hang_all(b, width) for b in blocks]
    show_blocks(blocks, step and sys.stdin.isatty() and sys.stdout.isatty())
    show_graded(graded)


def show_graded(lines: list[str]) -> None:
    """The graded expectations; on a terminal a long diagnosis goes on indented."""
    if lines:
        from ..render.wrap import hang_all, terminal_width

        lines = hang_all(lines, terminal_width(sys.stdout))
        sys.stdout.write("\n" + "\n".join(lines) + "\n")


def show_blocks(blocks: list[list[str]], paced: bool) -> None:
    """Print the blocks; paced, wait for a key after each (q or Ctrl-C stops)."""
    out = sys.stdout
    keys = _keys() if paced else None
    try:
        for k, block in enumerate(blocks):
            if k:
                out.write("\n")
            out.write("\n".join(block) + "\n")
            if keys is not None and 0 < k < len(blocks) - 1:
                try:
                    out.write("-- a key for the next node, q to stop --")
                    out.flush()
                    key = next(keys)
                finally:  # Ctrl-C too, at any point: "interrupted" gets a line of its own
                    out.write("\r\033[K")
                    out.flush()
                if key in ("q", "Q", "\x03", "\x04", ""):
                    out.write("(stopped)\n")
                    return
    finally:
        if keys is not None:
            keys.close()
    out.flush()


def _keys():
    """Key presses from the terminal, one at a time, without waiting for Enter. The terminal
    stays in that mode for the whole walk, so a key pressed early is never dropped."""
    import os
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd, termios.TCSANOW)
    try:
        while True:
            yield os.read(fd, 1).decode(errors="replace")
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)

"""The `trace` command: the backward pass node by node."""

from __future__ import annotations

import sys

import click

from .. import exits
from .common import (
    CONTEXT,
    ProgramCommand,
    console,
    emit_json,
    output_options,
    parse_binding_words,
    program_options,
    read_program,
    report_errors,
    run_program,
    use_rich,
)

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
@report_errors
def trace_cmd(words, program_file, as_json, plain, precision, groups, jacobian_node):
    """Print the backward pass node by node: value, upstream, local and downstream gradients.

    One row per node in forward order. The upstream gradient is d(output)/d(node); each input
    receives upstream x local; where a node fans out, its gradient is the sum of what its
    consumers sent back. The gate column gives the lecture's role (add distributes, mul
    switches, max routes).

    \b
    Examples:
      backprop trace "(x+y)*z" x=-2 y=5 z=-4
      backprop trace "a = x*y; f = a + a*z" x=2 y=3 z=4 --json
      backprop trace "q = W @ x; f = sum(q**2)" "W=[[0.1,0.5],[-0.3,0.8]]" "x=[0.2,0.4]"
      backprop trace "sum((W @ x)**2)" "W=[[1,2],[3,4]]" "x=[1,1]" --jacobian "W @ x"

    With arrays, a shape column appears; small arrays print in full and large ones as
    shape, min, max and mean.
    """
    from ..engine.trace import trace_rows
    from ..evaluate import Options

    source, origin, bind_words = read_program(words, program_file)
    bindings = parse_binding_words(bind_words)
    result, _ = run_program(source, origin, bindings, Options(check=False), groups)
    if jacobian_node is not None:
        from ..engine.jacobian import find_node, local_jacobian
        from ..render.jacobian_out import jacobian_json, jacobian_text

        graph = result.graph
        jac = local_jacobian(graph, result.values, find_node(graph, jacobian_node))
        if as_json:
            emit_json(jacobian_json(jac))
        else:
            click.echo(jacobian_text(jac, precision))
        sys.exit(exits.OK)
    rows = trace_rows(result.graph, result.values, result.grads)
    if as_json:
        from ..render.json_out import trace_json

        emit_json(trace_json(rows))
    elif use_rich(plain) and len(rows) <= RICH_TRACE_ROWS:
        from ..render.tables import trace_view

        console().print(trace_view(rows, precision))
    else:
        from ..render.plain import trace_lines

        out = sys.stdout
        for line in trace_lines(rows, precision):
            out.write(line + "\n")
    sys.exit(exits.OK)

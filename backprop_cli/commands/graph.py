"""The `backprop graph` command: draw the evaluated computational graph as the lecture does."""

from __future__ import annotations

import os
import sys

import click

from .. import exits
from ..errors import PATH_SHOWN, BackpropError, shown
from .common import (
    CONTEXT,
    ProgramCommand,
    parse_binding_words,
    program_options,
    read_program,
    report_errors,
    run_program,
    use_rich,
)

FORMATS = ("text", "svg", "png", "dot", "mermaid", "html")
EXTENSIONS = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid",
              ".mermaid": "mermaid", ".html": "html", ".htm": "html", ".txt": "text"}


def pick_format(fmt: str | None, output: str | None) -> str:
    """--format wins; else the -o extension; else svg for a file and text for the terminal."""
    if fmt:
        return fmt
    if output and output != "-":
        ext = os.path.splitext(output)[1].lower()
        if ext and ext not in EXTENSIONS:
            # out.pdf holding SVG would open as a broken PDF: say so rather than write it.
            raise BackpropError(f"-o {shown(output, PATH_SHOWN)}: backprop does not write "
                                f"{shown(ext, 20)} files",
                                hint="the formats are " + " ".join(sorted(EXTENSIONS)) +
                                "; for a PDF write .svg and convert it, e.g. rsvg-convert "
                                "-f pdf; or give --format to write this name anyway")
        return EXTENSIONS.get(ext, "svg")
    return "text"


def group_option(fn):
    return click.option(
        "--group", "groups", multiple=True, metavar="PATTERN",
        help="Collapse recognised subgraphs into one gate: sigmoid, tanh, softplus or all "
             "(repeatable or comma-separated), e.g. 1/(1+exp(-t)) -> sigmoid(t).")(fn)


@click.command("graph", cls=ProgramCommand, context_settings=CONTEXT)
@program_options
@click.option("-o", "--output", metavar="FILE",
              help="Write to FILE; the format follows its extension (.svg .png .dot .mmd "
                   ".html .txt), svg if it has none of those.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="text (terminal, the default without -o), svg, png, dot, mermaid, html.")
@group_option
@click.option("--roles", is_flag=True,
              help="Write each gate's role under it (add distributes, mul switches, max routes).")
@click.option("--engine", type=click.Choice(("auto", "pure", "system")), default="auto",
              show_default=True,
              help="Layout for svg/png/html: pure = graphviz-pure from PyPI, system = "
                   "Graphviz's dot; auto tries them in that order.")
@click.option("--precision", type=click.IntRange(1, 17), default=3, show_default=True,
              help="Significant digits on the edges.")
@click.option("--plain", is_flag=True, help="No colour in the text view.")
@report_errors
def graph_cmd(words, program_file, output, fmt, groups, roles, engine, precision, plain):
    """Draw PROGRAM's computational graph with forward values and gradients on every edge.

    Inputs on the left, the output on the right; each gate shows its op (and its name, if
    the program named it); each edge carries its forward value above and the gradient
    flowing back along it below: green and red in a picture, as the lecture draws them,
    cyan and magenta in the terminal's text view.

    \b
    Examples:
      backprop graph "(x+y)*z" x=-2 y=5 z=-4
      backprop graph "(x+y)*z" x=-2 y=5 z=-4 -o graph.svg
      backprop graph "1/(1+exp(-(w0*x0 + w1*x1 + w2)))" \\
          w0=2 x0=-1 w1=-3 x1=-2 w2=-3 --group sigmoid -o neuron.png
      backprop graph "max(x, y) + x*y" x=3 y=-1 --roles -o gates.html
      backprop graph "(x+y)*z" x=-2 y=5 z=-4 --format mermaid > graph.mmd
    """
    from ..evaluate import Options
    from ..language.arrays_io import file_paths
    from ..outputs import Named, refuse_clashes, write_file
    from ..render import drawing

    fmt = pick_format(fmt, output)
    if fmt == "png" and not output and sys.stdout.isatty():
        raise BackpropError("PNG is binary and stdout is a terminal",
                            hint="give -o FILE.png, or pick --format text")
    to_file = bool(output) and output != "-"
    # Before anything is opened for writing: the drawing never replaces what it is drawn from.
    refuse_clashes([*([Named("the program file", program_file)] if program_file else []),
                    *(Named("the array file", p) for p in file_paths(words))],
                   [Named("-o", output)] if to_file else [], stdout=True)
    source, origin, bind_words = read_program(words, program_file)
    bindings = parse_binding_words(bind_words)
    result, gates = run_program(source, origin, bindings, Options(check=False), groups)
    from ..engine.trace import trace_rows

    rows = trace_rows(result.graph, result.values, result.grads)
    pic = drawing.picture(result.graph, rows, precision=precision,
                          roles=roles, gates=gates)
    data = _draw(pic, fmt, engine, source.strip(), plain, output)
    if data is None:
        sys.exit(exits.OK)
    if to_file:
        write_file(output, data)
        click.echo(f"wrote {shown(output, PATH_SHOWN)} ({fmt}, {len(result.graph):,} nodes)",
                   err=True)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    sys.exit(exits.OK)


def _draw(pic, fmt: str, engine: str, program: str, plain: bool, output: str | None):
    """The bytes to write; None when the text view was printed to the terminal already."""
    from ..render import drawing

    if fmt == "text":
        from ..render import graph_text

        if not output and use_rich(plain):
            from rich.console import Console

            Console(highlight=False).print(graph_text.rich(pic))
            return None
        return (graph_text.plain(pic) + "\n").encode("utf-8")
    if fmt == "mermaid":
        return drawing.to_mermaid(pic).encode("utf-8")
    dot = drawing.to_dot(pic)
    if fmt == "dot":
        return dot.encode("utf-8")
    from ..render.layout import find_engine, render

    drawing.check_layout_size(pic)
    chosen = find_engine(engine)
    if fmt == "png":
        return render(dot, "png", chosen)
    svg = render(dot, "svg", chosen)
    if fmt == "svg":
        return svg
    from ..render.graph_html import to_html

    return to_html(pic, svg.decode("utf-8"), program).encode("utf-8")

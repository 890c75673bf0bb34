"""The `backward` command: a program's backward pass, written out (the answer key)."""

from __future__ import annotations

import click

from ..errors import BackpropError
from .common import CONTEXT, ProgramCommand, on_stderr, report_errors


@click.command("backward", cls=ProgramCommand, context_settings=CONTEXT)
@click.argument("words", nargs=-1, type=click.UNPROCESSED, metavar="FORWARD [NAME=VALUE]...")
@click.option("--to", "to", type=click.Choice(["program", "numpy", "torch"]), default="program",
              show_default=True,
              help="A backward file for grade, numpy code with a finite-difference self-test, "
                   "or PyTorch code that compares itself with autograd.")
@report_errors
def backward_cmd(words, to):
    """Write the backward pass of FORWARD, a program file, at the bindings' shapes.

    One line per gradient step from the output back, each the chain rule for its op (upstream
    x local, or for an array op its vector-Jacobian product), `+=` where a value fans out and
    a sum where the forward broadcast. As a backward file (--to program, the default) it is
    the answer key `backprop grade` passes; --to numpy writes a module whose self-test checks
    it against central differences; --to torch one that compares it with autograd.

    \b
    Examples:
      backprop backward staged.bp x=-2 y=5 z=-4
      backprop backward staged.bp x=-2 y=5 z=-4 > key.bp
      backprop backward layer.bp x=@x.npy w=@w.npy --to numpy > layer_backward.py
    """
    from ..grade.code import write
    from .common import parse_binding_words
    from .grade import no_options, origin, read_file

    if not words:
        raise BackpropError("backward needs a FORWARD program file",
                            hint="usage: backprop backward FORWARD [NAME=VALUE ...]")
    path, *bind_words = words
    no_options(bind_words, "backward")
    source = read_file(path, "FORWARD")
    bindings = parse_binding_words(bind_words)
    name = origin(path)
    try:
        text = write(source, bindings, to, name)
    except BackpropError as err:
        on_stderr(err.render(name if err.source == source else None))
        raise SystemExit(2) from None
    from ..render.wrap import comment_lines

    click.echo(comment_lines(text), nl=False)

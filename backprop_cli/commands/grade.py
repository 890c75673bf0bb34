"""The `grade` command: a backward pass written by hand, graded line by line."""

from __future__ import annotations

import sys

import click

from .. import exits
from ..errors import BackpropError
from .common import CONTEXT, ProgramCommand, emit_json, on_stderr, report_errors

USAGE = "backprop grade FORWARD BACKWARD [NAME=VALUE ...]"


def read_file(path: str, what: str) -> str:
    """A program or backward file ('-': standard input), read as eval reads -f FILE."""
    from .common import _read_text

    try:
        return _read_text(path)
    except BackpropError as err:
        err.message = f"{what}: {err.message}"
        raise


@click.command("grade", cls=ProgramCommand, context_settings=CONTEXT)
@click.argument("words", nargs=-1, type=click.UNPROCESSED,
                metavar="FORWARD BACKWARD [NAME=VALUE]...")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text",
              show_default=True, help="The report as a plain table, or Markdown for homework.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option("--precision", type=click.IntRange(1, 17), default=3, show_default=True,
              help="Significant digits of the differences shown.")
@report_errors
def grade_cmd(words, fmt, as_json, precision):
    """Grade BACKWARD, a backward pass written by hand, line by line against FORWARD.

    FORWARD is a program file (statements, as eval -f reads them) and BACKWARD a file of
    lines `dNAME = EXPR` and `dNAME += EXPR` (`#` comments, blank lines), NAME a forward name
    or a bound variable; EXPR may read forward names, bound values and gradients already
    written. Each line is graded as written and again with the true gradients in place of
    the ones it reads, so a line whose own rule is wrong is told apart from one that only
    follows from an earlier wrong line. A gradient is graded once its last line has run;
    `+=` adds a share where a value fans out.

    Statuses: exact (bit for bit), approx (within numpy's allclose tolerances, rtol 1e-5,
    atol 1e-8), wrong (the largest difference), shape, error. The first wrong line gets a
    diagnosis when a usual mistake fits: a flipped sign, a missing sum over a broadcast
    axis, `=` where `+=` is needed, transposed, the upstream missing, a constant factor, the
    wrong axis. Exit code 0: every line exact or approx; 1: a line is not; 2: bad input.

    \b
    Examples:
      backprop grade staged.bp backward.bp x=-2 y=5 z=-4
      backprop grade affine.bp affine_back.bp x=@x.npy w=@w.npy b=@b.npy --json
      backprop backward staged.bp x=-2 y=5 z=-4 > key.bp
    """
    from ..grade.grading import Located, grade
    from .common import parse_binding_words

    if len(words) < 2:
        raise BackpropError("grade needs a FORWARD program file and a BACKWARD file",
                            hint=f"usage: {USAGE}")
    forward_path, backward_path, *bind_words = words
    if forward_path == "-" and backward_path == "-":
        raise BackpropError("only one of FORWARD and BACKWARD can be standard input ('-')")
    no_options(bind_words, "grade")
    forward_source = read_file(forward_path, "FORWARD")
    backward_source = read_file(backward_path, "BACKWARD")
    bindings = parse_binding_words(bind_words)
    try:
        report = grade(forward_source, backward_source, bindings, origin(forward_path),
                       origin(backward_path))
    except Located as loc:
        on_stderr(loc.error.render(loc.origin))
        sys.exit(exits.BAD_INPUT)
    _show(report, fmt, as_json, precision)
    sys.exit(report.exit_code)


def no_options(bind_words: list[str], command: str) -> None:
    """An option among the bindings (they are read as words, after the files) is refused."""
    unknown = [w for w in bind_words if w.startswith("--")]
    if unknown:
        raise BackpropError(f"unknown option {unknown[0].partition('=')[0]}",
                            hint=f"see backprop {command} --help")


def origin(path: str) -> str:
    return "<stdin>" if path == "-" else path


def _show(report, fmt: str, as_json: bool, precision: int) -> None:
    if as_json:
        from ..render.grade_out import grade_json

        emit_json(grade_json(report))
    elif fmt == "markdown":
        from ..render.grade_out import grade_markdown

        click.echo(grade_markdown(report, precision))
    else:
        from ..render.grade_out import WIDTH, grade_text
        from ..render.wrap import hang_text, terminal_width

        # The prose is filled to a window narrower than 80 columns, not broken a second time.
        width = min(WIDTH, terminal_width(sys.stdout) or WIDTH)
        click.echo(hang_text(grade_text(report, precision, width)))

"""The `quiz` command: backpropagate a seeded circuit by hand, graded answer by answer."""

from __future__ import annotations

import os
import sys

import click

from .. import exits
from ..errors import PATH_SHOWN, BackpropError, LimitError, shown
from ..exercises.grading import MAX_SEED
from .common import CONTEXT, console, on_stderr, report_errors, use_rich

HTML_EXTENSIONS = (".html", ".htm")
MAX_SHEET_BYTES = 1 << 20  # a filled-in worksheet is a few kilobytes; more is not one
STOP = ("q", "quit")  # answers that stop the quiz (no node's gradient is a name)


@click.command("quiz", context_settings=CONTEXT)
@click.option("--seed", type=int, metavar="N", callback=lambda _c, _p, v: _seed(v),
              help="Which circuit: the same seed, ops and nodes always give the same one "
                   "(default: a new one, its seed printed).")
@click.option("--ops", metavar="LIST", help="Gates to draw from, comma-separated "
              "(default add,mul,max), e.g. --ops add,mul,max,sigmoid.")
@click.option("--nodes", type=int, default=4, show_default=True, metavar="N",
              help="How many gates (1 to 12).")
@click.option("--worksheet", metavar="FILE",
              help="Write the exercise without answers instead of asking: Markdown, or HTML "
                   "with the graph picture if FILE ends in .html.")
@click.option("--key", metavar="FILE", help="Write the answer key (Markdown or .html).")
@click.option("--grade", "grade_file", metavar="FILE",
              help="Grade a filled-in worksheet: exit 0 all right, 1 some wrong, 2 a bad sheet.")
@click.option("--precision", type=click.IntRange(1, 17), default=6, show_default=True,
              help="Significant digits shown.")
@report_errors
def quiz_cmd(seed, ops, nodes, worksheet, key, grade_file, precision):
    """Practise the backward pass on a circuit like the lecture's.

    The circuit is shown with its forward values; then each node's gradient df/dnode is asked
    for, from the output back. Each answer is graded at once; a wrong one gets a hint in
    upstream x local terms (which upstream, which local factor), and the score comes at the
    end. Answers are numbers (graded to the digits written, as eval's --expect) or arithmetic
    such as 2*3.

    \b
    Examples:
      backprop quiz --seed 7
      backprop quiz --seed 7 --ops add,mul,max,sigmoid --nodes 5
      backprop quiz --seed 7 --worksheet sheet.md --key key.md
      backprop quiz --seed 7 --worksheet sheet.html
      backprop quiz --grade sheet.md
    """
    from ..exercises.circuits import make, resolve_ops
    from ..outputs import Named, refuse_clashes

    if grade_file:
        if worksheet or key:
            raise click.UsageError("--grade reads a sheet and --worksheet/--key write one: "
                                   "give one or the other")
        refuse_clashes([Named("the sheet", grade_file)], [], stdout=True)
        sys.exit(_grade(grade_file, precision))
    # Before anything is written: the sheet handed out never becomes the answer key.
    refuse_clashes([], [Named(option, path) for option, path in
                        (("--worksheet", worksheet), ("--key", key)) if path])
    if seed is None:
        import random

        seed = random.SystemRandom().randrange(10_000)
    ex = make(seed, resolve_ops(ops), nodes)
    if worksheet or key:
        for path, answers in ((worksheet, False), (key, True)):
            if path:
                _write(path, ex, answers, precision)
        sys.exit(exits.OK)
    sys.exit(_ask(ex, precision))


def _seed(value: int | None) -> int | None:
    if value is not None and abs(value) > MAX_SEED:
        raise click.BadParameter("a seed has at most 18 digits", param_hint="'--seed'")
    return value


def _write(path: str, ex, answers: bool, precision: int) -> None:
    from ..render import worksheet

    if path.lower().endswith(HTML_EXTENSIONS):
        text = worksheet.to_html(ex, _svg(ex, answers), answers, precision)
    else:
        text = worksheet.markdown(ex, answers, precision)
    from ..outputs import write_file

    write_file(path, text)
    what = "answer key" if answers else "worksheet"
    click.echo(f"wrote {shown(path, PATH_SHOWN)} ({what}, {len(ex.questions)} questions)",
               err=True)


def _svg(ex, answers: bool) -> str | None:
    """The drawing as svg, or None (the sheet shows the text tree) without a layout engine."""
    from ..render import drawing, worksheet
    from ..render.layout import LayoutUnavailable, find_engine, render

    try:
        return render(drawing.to_dot(worksheet.picture(ex, answers)), "svg",
                      find_engine("auto")).decode("utf-8")
    except LayoutUnavailable:
        return None


def _grade(path: str, precision: int) -> int:
    from ..exercises.circuits import make
    from ..exercises.grading import grade_sheet, read_sheet
    from ..render.worksheet import mark_line, score

    text = _read_sheet_text(path)
    name = shown(path, PATH_SHOWN)
    try:
        if path.lower().endswith((".html", ".htm")) and "<html" in text[:200].lower():
            raise BackpropError(f"{name}: an HTML worksheet is a printout and cannot be graded",
                                hint="make the Markdown sheet with the same command and "
                                     "--worksheet sheet.md, fill in its table, and grade that")
        sheet = read_sheet(text, name)
        ex = make(sheet.seed, sheet.ops, sheet.nodes)
        marks = grade_sheet(ex, sheet, text, precision)
    except BackpropError as err:
        on_stderr(err.render(name if err.span is not None else None))
        return exits.BAD_INPUT
    from ..render.wrap import hang_text

    for m in marks:  # a long verdict goes on indented on a terminal
        click.echo(hang_text(mark_line(m, precision)))
    click.echo(score(marks))
    return exits.OK if all(m.right for m in marks) else exits.CHECK_FAILED


def _read_sheet_text(path: str) -> str:
    """A worksheet's text, read as any input is: a regular file (or a pipe), at most
    MAX_SHEET_BYTES, UTF-8."""
    from ..batch.stream import StreamError, read_head

    try:
        data = read_head(path, MAX_SHEET_BYTES)
    except StreamError as err:  # a device: its message, without the case file's hint
        raise BackpropError(err.message.replace("read as lines", "read as a worksheet")) \
            from None
    name = shown(path, PATH_SHOWN)
    if len(data) > MAX_SHEET_BYTES:
        raise LimitError(f"{name} holds more than {MAX_SHEET_BYTES:,} bytes: not a worksheet")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BackpropError(f"{name}: not UTF-8 text (line {line})") from None


def _ask(ex, precision: int) -> int:
    """Ask every question in turn on the terminal (or read answers from a pipe)."""
    import shutil

    from ..exercises.grading import mark
    from ..render.worksheet import score

    out = sys.stdout
    fancy = use_rich(False)
    width = max(40, shutil.get_terminal_size((80, 24)).columns - 1) if out.isatty() else 10**6
    _show_exercise(ex, fancy, width)
    marks = []
    for q in ex.questions:
        while True:
            answer = _read_answer(q, out)
            if not answer:  # end of input: grade what was answered
                click.echo("")
                return _finish(marks, score)
            if not sys.stdin.isatty():  # a terminal echoes the answer; a pipe does not
                out.write(answer if answer.endswith("\n") else answer + "\n")
            if answer.strip().lower() in STOP:
                return _finish(marks, score)
            if not answer.strip():  # Enter alone is no answer: ask again
                continue
            try:
                m = mark(q, answer, precision)
            except BackpropError as err:
                on_stderr(err.render())
                continue
            break
        marks.append(m)
        click.echo(_said(m, precision, width, fancy))
    return _finish(marks, score)


def _show_exercise(ex, fancy: bool, width: int) -> None:
    """The quiz's opening: what is asked, the circuit with its forward values, how to answer."""
    import textwrap

    from ..render.worksheet import intro, tree_rich, tree_text

    def fill(line: str) -> str:  # a narrow terminal: continued lines indented, not at column 0
        return textwrap.fill(line, width, subsequent_indent="  ", break_on_hyphens=False,
                             break_long_words=False)

    first, *rest = intro(ex)
    if len(first) > width:  # the command is the line's point: kept copyable, as --help does
        from ..render.wrap import shell_lines

        first = "\n".join(["Circuit, made by:", *shell_lines("  " + ex.command, width)])
    click.echo(first)
    for line in rest:
        click.echo(fill(line))
    click.echo("")
    if fancy:  # coloured as `backprop graph` draws it (rich honours NO_COLOR)
        console().print(tree_rich(ex))
    else:
        click.echo(tree_text(ex))
    click.echo("")
    click.echo(fill("Answer each ∂f/∂node, from the output back (∂f/∂f = 1). q or Ctrl-D "
                    "stops."))


def _read_answer(q, out) -> str:
    """One answer line as typed, after the question's prompt ('' at the end of input)."""
    try:
        out.write(f"∂f/∂{q.name} = ")
        out.flush()
        return sys.stdin.readline()
    except KeyboardInterrupt:  # Ctrl-C: end the answer line, so what follows is clean
        out.write("\n")
        out.flush()
        raise


def _said(m, precision: int, width: int, fancy: bool) -> str:
    """An answer's verdict (right, or wrong with its hint), as printed under the question."""
    import textwrap

    from ..render.worksheet import verdict

    # Hints are long: wrapped to the terminal, indented under the question.
    said = textwrap.fill(verdict(m, precision), width, initial_indent="  ",
                         subsequent_indent="    ", break_on_hyphens=False)
    if fancy and not os.environ.get("NO_COLOR"):
        said = click.style(said, fg="green" if m.right else "red")
    return said


def _finish(marks, score) -> int:
    click.echo(score(marks))
    return exits.OK if marks and all(m.right for m in marks) else exits.CHECK_FAILED

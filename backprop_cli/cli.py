"""The click commands: the only place that reads arguments, prints and exits.

Results go to stdout, warnings and errors to stderr. Exit codes: 0 fine, 1 a check disagreed,
2 bad input, 130 interrupted, 141 the reader of stdout went away (`| head`).
"""

from __future__ import annotations

import functools
import gc
import os
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from . import __version__, exits
from .errors import BackpropError, BindingError, file_error

EXIT_INTERNAL = exits.INTERNAL
EXIT_BROKEN_PIPE = exits.BROKEN_PIPE

_OPTION_LIKE = re.compile(r"--[A-Za-z][A-Za-z0-9-]*(=|\Z)")
RICH_TRACE_ROWS = 2_000  # past this a boxed table costs more than it shows: plain lines stream

CONTEXT = {"help_option_names": ["--help"], "ignore_unknown_options": True,
           "max_content_width": 100}


def main() -> None:
    # A short-lived process building a big object graph: the cyclic collector would only
    # re-walk it again and again (micrograd's super-linear slowdown); nothing here makes cycles.
    gc.disable()
    try:
        cli.main(prog_name="backprop", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - click turns it into Abort usually
        click.echo("interrupted", err=True)
        sys.exit(exits.INTERRUPTED)


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="backprop")
def cli() -> None:
    """backprop: gradients by the chain rule, node by node, checked two independent ways.

    \b
    Examples:
      backprop eval "(x+y)*z" x=-2 y=5 z=-4
      backprop trace "q = x + y; f = q * z" x=-2 y=5 z=-4
      backprop eval "1/(1+exp(-(w0*x0 + w1*x1 + w2)))" w0=2 x0=-1 w1=-3 x1=-2 w2=-3
      backprop eval -f program.txt x=1 --json
    """


# --- shared plumbing ----------------------------------------------------------------------


def report_errors(fn: Callable) -> Callable:
    """Turn the project's errors into one clear message on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
            sys.stdout.flush()  # a reader that left shows here, not in the interpreter's exit
            return result
        except BrokenPipeError:
            broken_pipe()
        except BackpropError as err:
            click.echo(err.render(), err=True)
            sys.exit(exits.BAD_INPUT)
        except RecursionError:  # pragma: no cover - nothing recurses on user input
            click.echo("error: the input is nested too deeply", err=True)
            sys.exit(exits.BAD_INPUT)
        except MemoryError:
            click.echo("error: out of memory: the input is too large", err=True)
            sys.exit(exits.BAD_INPUT)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(exits.INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            try:
                sys.stdout.flush()
            except BrokenPipeError:
                broken_pipe()
            raise
        except Exception as exc:  # never a traceback: one line, and a distinct exit code
            click.echo(f"internal error: {type(exc).__name__}: {exc} (please report this)",
                       err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper


def broken_pipe() -> NoReturn:
    """The reader went away (`| head -1`): stop quietly with the shell's code for SIGPIPE.

    Standard output is pointed at /dev/null first, so the interpreter's last flush of what is
    still buffered cannot fail again and print "Exception ignored" on stderr."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor behind stdout (a test runner's buffer)
        pass
    sys.exit(EXIT_BROKEN_PIPE)


def program_options(fn: Callable) -> Callable:
    """PROGRAM [NAME=VALUE ...] with -f FILE, shared by every command that runs a program."""
    fn = click.option("-f", "--file", "program_file", type=click.Path(dir_okay=False,
                      allow_dash=True), help="Read the program from FILE ('-' for stdin).")(fn)
    fn = click.argument("words", nargs=-1, type=click.UNPROCESSED,
                        metavar="PROGRAM [NAME=VALUE]...")(fn)
    return fn


def output_options(fn: Callable) -> Callable:
    fn = click.option("--precision", type=click.IntRange(1, 17), default=6, show_default=True,
                      help="Significant digits in tables (JSON is always full precision).")(fn)
    fn = click.option("--plain", is_flag=True,
                      help="Plain text even on a terminal (the default when piped).")(fn)
    fn = click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")(fn)
    return fn


def read_program(words: tuple[str, ...], program_file: str | None) -> tuple[str, str, list[str]]:
    """(program text, where it came from, binding words)."""
    words = list(words)
    # Unknown options reach us as words, since a program may start with '-'. A binding never
    # starts with '--'; a program spelled like `--name` is taken for a mistyped option.
    skip = int(program_file is None and bool(words) and not _OPTION_LIKE.match(words[0]))
    unknown = [w for w in words[skip:] if w.startswith("--")]
    if unknown:
        hint = "see --help"
        if program_file is None and unknown[0] is words[0]:
            hint += "; a program that starts with two minus signs needs a space: - -x"
        raise BackpropError(f"unknown option {unknown[0].partition('=')[0]}", hint=hint)
    if program_file is not None:
        return _read_text(program_file), program_file, words
    if not words:
        raise BackpropError("no program given",
                            hint='e.g. backprop eval "(x+y)*z" x=-2 y=5 z=-4')
    first, rest = words[0], words[1:]
    if first == "-":
        return _read_text("-"), "<stdin>", rest
    return first, "", rest


def _read_text(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except UnicodeDecodeError:
        raise BackpropError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise file_error(path, exc) from None


def parse_binding_words(words: list[str]):
    from .bindings import is_binding, parse_bindings

    for k, w in enumerate(words):
        if is_binding(w):
            continue
        # `x = 3` arrives as three words (`x =3`, `x= 3` as two): show them and how to join.
        prev = words[k - 1] if k else ""
        nxt = words[k + 1] if k + 1 < len(words) else ""
        spaced = None
        if prev.endswith("=") and is_binding(prev):
            spaced = f"{prev} {w}"
        elif nxt.startswith("="):
            spaced = " ".join(words[k:k + 3]) if nxt == "=" else f"{w} {nxt}"
        if spaced is not None:
            raise BindingError(f"{spaced!r} has spaces around '='",
                               hint=f"write {spaced.replace(' ', '')} as one word")
        if "=" in w[1:]:
            parse_bindings([w])  # NAME=VALUE in shape: it says what is wrong with the name
        hint = "write NAME=VALUE with no spaces, e.g. x=-2"
        if k == 0 and w.startswith("="):
            hint = 'quote a program that has spaces: "q = x + y; q * z"'
        raise BindingError(f"{w!r} is not a NAME=VALUE binding", hint=hint)
    return parse_bindings(words)


def run_program(source: str, origin: str, bindings, options, groups: tuple[str, ...] = ()):
    """Group (if asked) and evaluate; bad input prints its error, prefixed by where the program
    came from, and exits 2. Returns (result, the grouped gates' ids) after printing warnings."""
    from .evaluate import evaluate

    gates: frozenset[int] = frozenset()
    program = source
    try:
        if groups:
            from .graph_command import grouped_program

            program, note, gates = grouped_program(source, bindings, groups)
            click.echo(f"note: {note}", err=True)
        result = evaluate(program, bindings, options)
    except BackpropError as err:
        click.echo(err.render(origin or None), err=True)
        sys.exit(exits.BAD_INPUT)
    warn(result.warnings)
    return result, gates


def use_rich(plain: bool) -> bool:
    return not plain and sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


def console():
    from rich.console import Console

    return Console(highlight=False)


def warn(lines) -> None:
    for line in lines:
        click.echo(f"warning: {line}", err=True)


def emit_json(data: dict) -> None:
    import json

    click.echo(json.dumps(data, indent=2, allow_nan=False))


def parse_expect(items: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """--expect NAME=NUMBER words -> (NAME, number text) pairs, in order and all kept:
    `evaluate` judges them by the rules a case file's expectations follow (expectations.py)."""
    from .expectations import EVAL, split

    return tuple(split(item, EVAL) for item in items)


# --- commands -----------------------------------------------------------------------------


@cli.command("eval", context_settings=CONTEXT)
@program_options
@output_options
@click.option("--no-check", is_flag=True, help="Skip both cross-checks (fastest).")
@click.option("--no-sympy", is_flag=True, help="Skip the symbolic check.")
@click.option("--no-numeric", is_flag=True, help="Skip the finite-difference check.")
@click.option("--wrt", metavar="NAMES", help="Only these gradients, comma-separated: --wrt x,y")
@click.option("--expect", "expects", multiple=True, metavar="NAME=VALUE",
              help="Grade a hand-derived gradient (or 'value'); repeatable.")
@click.option("--symbolic", is_flag=True, help="Also print sympy's derivative formula.")
@click.option("--seed", metavar="VALUE",
              help="Upstream gradient for a non-scalar output (a number or a list).")
@report_errors
def eval_cmd(words, program_file, as_json, plain, precision, no_check, no_sympy, no_numeric,
             wrt, expects, symbolic, seed):
    """Evaluate PROGRAM and print d(output)/d(name) for every bound name, cross-checked.

    Each gradient is checked against sympy's symbolic derivative and against central finite
    differences. Exit code 0: all checks pass; 1: a check disagreed; 2: bad input.

    \b
    Examples:
      backprop eval "(x+y)*z" x=-2 y=5 z=-4
      backprop eval "-x*y" x=2 y=3 --expect x=-3
      backprop eval "q = x + y; f = q * z" x=-2 y=5 z=-4 --json
      backprop eval "sum((W @ x)**2)" "W=[[0.1,0.5],[-0.3,0.8]]" "x=[0.2,0.4]"
      backprop eval - x=1 < program.txt
    """
    from .evaluate import Options

    source, origin, bind_words = read_program(words, program_file)
    bindings = parse_binding_words(bind_words)
    seed_value = None
    if seed is not None:
        from .bindings import parse_value

        seed_value = parse_value("--seed", seed)
    options = Options(
        check=not no_check, sympy=not no_sympy, numeric=not no_numeric,
        wrt=tuple(n.strip() for n in wrt.split(",") if n.strip()) if wrt else None,
        expect=parse_expect(expects), symbolic=symbolic, seed=seed_value)
    result, _ = run_program(source, origin, bindings, options)
    program = source.strip()
    if as_json:
        from .render.json_out import eval_json

        emit_json(eval_json(result, program))
    elif use_rich(plain):
        from .render.tables import eval_view

        console().print(eval_view(result, program, precision))
    else:
        from .render.plain import eval_text

        click.echo(eval_text(result, precision))
    sys.exit(result.exit_code)


@cli.command("trace", context_settings=CONTEXT)
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
    from .evaluate import Options
    from .trace import trace_rows

    source, origin, bind_words = read_program(words, program_file)
    bindings = parse_binding_words(bind_words)
    result, _ = run_program(source, origin, bindings, Options(check=False), groups)
    if jacobian_node is not None:
        from .jacobian import find_node, local_jacobian
        from .render.jacobian_out import jacobian_json, jacobian_text

        graph = result.graph
        jac = local_jacobian(graph, result.values, find_node(graph, jacobian_node))
        if as_json:
            emit_json(jacobian_json(jac))
        else:
            click.echo(jacobian_text(jac, precision))
        sys.exit(exits.OK)
    rows = trace_rows(result.graph, result.values, result.grads)
    if as_json:
        from .render.json_out import trace_json

        emit_json(trace_json(rows))
    elif use_rich(plain) and len(rows) <= RICH_TRACE_ROWS:
        from .render.tables import trace_view

        console().print(trace_view(rows, precision))
    else:
        from .render.plain import trace_lines

        out = sys.stdout
        for line in trace_lines(rows, precision):
            out.write(line + "\n")
    sys.exit(exits.OK)


# Commands in their own modules register themselves on `cli` when imported (after it exists).
from . import (  # noqa: E402
    check_command,  # noqa: E402,F401  (registers `backprop check`)
    graph_command,  # noqa: E402,F401  (registers `backprop graph`)
)

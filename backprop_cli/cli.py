"""The command line: the `backprop` group and its commands (each in commands/).

Results go to stdout, warnings and errors to stderr. Exit codes: 0 fine, 1 a check disagreed,
2 bad input, 130 interrupted, 141 the reader of stdout went away (`| head`).
"""

from __future__ import annotations

import gc
import sys

import click

from . import __version__, exits
from .commands.backward import backward_cmd
from .commands.check import check_cmd
from .commands.common import (
    CONTEXT,
    WRITE_FAILURES,
    broken_pipe,
    flush_stdout,
    internal,
    output_failed,
)
from .commands.eval import eval_cmd
from .commands.grade import grade_cmd
from .commands.graph import graph_cmd
from .commands.quiz import quiz_cmd
from .commands.trace import trace_cmd
from .errors import HEADLINE_LIMIT, shown


def main() -> None:
    # A short-lived process building a big object graph: the cyclic collector would only
    # re-walk it again and again (micrograd's super-linear slowdown); nothing here makes cycles.
    gc.disable()
    try:
        code = _run()
        flush_stdout()  # --help or --version into a full disk shows here, not at exit
    except BrokenPipeError:
        broken_pipe()
    except OSError as exc:  # a write outside a command's own reporting: --help, an error line
        if exc.errno not in WRITE_FAILURES:
            internal(exc)
        output_failed(exc)
    sys.exit(code)


def _run() -> int:
    try:
        code = cli.main(prog_name="backprop", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        # `backprop` alone: the help, as --help shows it (our own text, its lines kept), on
        # stderr with exit 2 as click does for a group invoked without a command.
        click.echo(exc.format_message(), err=True)
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(usage_error(exc), err=True)
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return exits.INTERRUPTED
    return code if isinstance(code, int) else 0


def usage_error(exc: click.ClickException) -> str:
    """click's own message in the project's style: one line `error: ...`, the usage and where
    the help is as its hint. click's messages quote the user's words (`No such command
    'evl'.`): the message is shown as every echo of user text is, escaped and bounded."""
    message = exc.format_message().rstrip(".")
    if message[:2].istitle():  # "Missing argument", not "JSON ..."
        message = message[0].lower() + message[1:]
    ctx = getattr(exc, "ctx", None)
    hint = ""
    if ctx is not None:
        hint = f" ({ctx.get_usage().replace('Usage: ', 'usage: ', 1)}; see " \
               f"{ctx.command_path} --help)"
    return f"error: {shown(message, HEADLINE_LIMIT)}{hint}"


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
      backprop quiz --seed 7
    """


for _command in (eval_cmd, trace_cmd, check_cmd, graph_cmd, quiz_cmd, grade_cmd, backward_cmd):
    cli.add_command(_command)

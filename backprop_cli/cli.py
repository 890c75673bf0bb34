"""The command line: the `backprop` group and its commands (each in commands/).

Results go to stdout, warnings and errors to stderr. Exit codes: 0 fine, 1 a check disagreed,
2 bad input, 130 interrupted, 141 the reader of stdout went away (`| head`).
"""

from __future__ import annotations

import gc
import sys

import click

from . import __version__, exits
from .commands.common import (
    CONTEXT,
    WRITE_FAILURES,
    broken_pipe,
    flush_stdout,
    internal,
    output_failed,
)
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


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is asked for (it runs,
    or `--help` lists it), so `backprop eval ...` never loads what `check` or `quiz` need.

    `lazy` maps a command's name to "module:attribute" under backprop_cli.commands."""

    def __init__(self, *args, lazy: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context | None) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context | None, name: str) -> click.Command | None:
        if name not in self.commands and name in self.lazy:
            from importlib import import_module

            module, _, attribute = self.lazy[name].partition(":")
            self.add_command(getattr(import_module(f".commands.{module}", __package__),
                                     attribute), name)
        return self.commands.get(name)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:  # "Did you mean": among every command
            raise click.exceptions.NoSuchCommand(
                exc.command_name, possibilities=self.list_commands(ctx), ctx=ctx) from None


# Each command, imported when it runs: registering one is one line here.
COMMANDS = {
    "eval": "eval:eval_cmd",
    "trace": "trace:trace_cmd",
    "check": "check:check_cmd",
    "graph": "graph:graph_cmd",
    "quiz": "quiz:quiz_cmd",
    "grade": "grade:grade_cmd",
    "backward": "backward:backward_cmd",
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings=CONTEXT)
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

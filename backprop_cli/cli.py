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


class _Help(click.HelpFormatter):
    """click's help, with an example wider than the window broken into shell continuation
    lines (render/wrap.py) instead of wrapping back to column 0 inside a word."""

    def write_text(self, text: str) -> None:
        from .render.wrap import help_examples

        super().write_text(help_examples(text, self.width - self.current_indent))


click.Context.formatter_class = _Help  # every command's context: one help layout


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
        from .render.wrap import hang_text

        click.echo(hang_text(usage_error(exc), sys.stderr), err=True)
        if "--json" in sys.argv[2:]:  # a script asked for JSON: it gets the error as JSON
            from .commands.common import emit_json, error_object

            emit_json(error_object(usage_error(exc).removeprefix("error: "), "usage error"))
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

    `lazy` maps a command's name to ("module:attribute" under backprop_cli.commands, its line
    in the command list)."""

    def __init__(self, *args, lazy: dict[str, tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context | None) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context | None, name: str) -> click.Command | None:
        if name not in self.commands and name in self.lazy:
            from importlib import import_module

            target, short_help = self.lazy[name]
            module, _, attribute = target.partition(":")
            command = getattr(import_module(f".commands.{module}", __package__), attribute)
            command.short_help = command.short_help or short_help
            self.add_command(command, name)
        return self.commands.get(name)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:  # "Did you mean": among every command
            raise click.exceptions.NoSuchCommand(
                exc.command_name, possibilities=self.list_commands(ctx), ctx=ctx) from None


# Each command, imported when it runs, and its line in `backprop --help` (whole at 80 columns:
# click would cut the first sentence of each docstring at about 45 characters, mid-phrase).
# Registering a command is one line here.
COMMANDS = {
    "eval": ("eval:eval_cmd", "Value and gradients, checked by sympy and finite differences."),
    "trace": ("trace:trace_cmd", "The backward pass node by node: upstream, local, downstream."),
    "check": ("check:check_cmd",
              "Check every case of a case file; pass, fail or error for each."),
    "graph": ("graph:graph_cmd",
              "Draw the graph with forward values and gradients on its edges."),
    "quiz": ("quiz:quiz_cmd", "Practise the backward pass on a circuit; worksheets and keys."),
    "grade": ("grade:grade_cmd", "Grade a backward pass written by hand, line by line."),
    "backward": ("backward:backward_cmd",
                 "Write the backward pass of a program file, one line per step."),
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="backprop")
def cli() -> None:
    """backprop: gradients by the chain rule, node by node, checked two independent ways.

    \b
    Examples:
      backprop eval "(x+y)*z" x=-2 y=5 z=-4
      backprop trace "q = x + y; f = q * z" x=-2 y=5 z=-4
      backprop eval "1/(1+exp(-(w0*x0 + w1*x1 + w2)))" \\
          w0=2 x0=-1 w1=-3 x1=-2 w2=-3
      backprop eval -f program.txt x=1 --json
      backprop quiz --seed 7
    """

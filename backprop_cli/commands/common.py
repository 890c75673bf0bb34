"""What every command shares: program and output options, reading a program, error reporting."""

from __future__ import annotations

import errno
import functools
import os
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from .. import exits
from ..errors import PATH_SHOWN, BackpropError, BindingError, InternalError, shown

EXIT_INTERNAL = exits.INTERNAL
EXIT_BROKEN_PIPE = exits.BROKEN_PIPE

_OPTION_LIKE = re.compile(r"--[A-Za-z][A-Za-z0-9-]*(=|\Z)")

CONTEXT = {"help_option_names": ["--help"], "ignore_unknown_options": True,
           "max_content_width": 80}


class ProgramCommand(click.Command):
    """A command whose arguments are a program and NAME=VALUE bindings.

    A program may start with '-' and contain any letters (`-softplus(x)`, `-x*f`), so click's
    own parsing, which reads `-softplus(x)` as the short options -s -o -f with the value
    "tplus(x)", never sees the words: only a known option spelled in full as its own word
    (`-f`, `--file`, `--json`, `--precision=3`) is an option, and the word after one that takes
    a value is that value. Every other word is the program or a binding, in order.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, split_words(self.get_params(ctx), args))


def split_words(params, args: list[str]) -> list[str]:
    """args reordered as [options..., "--", words...]: see ProgramCommand."""
    takes_value: dict[str, bool] = {}
    for p in params:
        if isinstance(p, click.Option):
            for name in (*p.opts, *p.secondary_opts):
                takes_value[name] = not (p.is_flag or p.count)
    options: list[str] = []
    words: list[str] = []
    k = 0
    while k < len(args):
        w = args[k]
        k += 1
        if w == "--":
            words.extend(args[k:])
            break
        if w in takes_value:
            options.append(w)
            if takes_value[w]:
                if k == len(args):
                    raise click.BadOptionUsage(w, f"Option '{w}' requires an argument.")
                options.append(args[k])
                k += 1
        elif w.startswith("--") and takes_value.get(w.partition("=")[0]):
            options.append(w)
        else:
            words.append(w)
    return [*options, "--", *words]


def report_errors(fn: Callable) -> Callable:
    """Turn the project's errors into one clear message on stderr and exit code 2; a write
    that fails (a full disk) is one such line too, and a reader that left is quiet."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
            flush_stdout()  # a reader that left shows here, not in the interpreter's exit
            return result
        except BrokenPipeError:
            broken_pipe()
        except BackpropError as err:
            on_stderr(err.render())
            json_error(err)
            sys.exit(exits.BAD_INPUT)
        except OSError as exc:
            if exc.errno not in WRITE_FAILURES:
                internal(exc)
            output_failed(exc)
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
            flush_stdout()
            raise
        except InternalError as exc:
            click.echo(f"internal error: {shown(str(exc), 200)} (please report this)", err=True)
            sys.exit(EXIT_INTERNAL)
        except Exception as exc:  # never a traceback: one line, and a distinct exit code
            internal(exc)

    return wrapper


# What a failed write of standard output looks like: a full disk or quota, a file too large
# for its system, a device error. (A read that fails is reported where the file is read.)
WRITE_FAILURES = frozenset(getattr(errno, name) for name in
                           ("ENOSPC", "EDQUOT", "EFBIG", "EIO", "EROFS")
                           if hasattr(errno, name))


def internal(exc: BaseException) -> NoReturn:
    """A fault of ours: one line naming it, exit 3."""
    click.echo(f"internal error: {type(exc).__name__}: {shown(str(exc), 200)} "
               "(please report this)", err=True)
    sys.exit(EXIT_INTERNAL)


def flush_stdout() -> None:
    """Flush standard output now, so a failed write is reported here as one line."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        broken_pipe()
    except OSError as exc:
        output_failed(exc)


def output_failed(exc: OSError) -> NoReturn:
    """Standard output cannot be written (`> /dev/full`): one line on stderr, exit 2. What is
    still buffered is dropped (stdout pointed at /dev/null), so the interpreter's last flush
    cannot fail again and print "Exception ignored" at exit."""
    from ..errors import output_error

    _drop_stdout()
    try:
        click.echo(output_error("standard output", exc).render(), err=True)
    except OSError:  # standard error is full too (`2>&1`): the exit code is all that is left
        _drop(sys.stderr)
    sys.exit(exits.BAD_INPUT)


def _drop_stdout() -> None:
    _drop(sys.stdout)


def _drop(stream) -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError):  # no file descriptor behind stdout (a test runner's buffer)
        pass


def broken_pipe() -> NoReturn:
    """The reader went away (`| head -1`): stop quietly with the shell's code for SIGPIPE.

    Standard output is pointed at /dev/null first, so the interpreter's last flush of what is
    still buffered cannot fail again and print "Exception ignored" on stderr."""
    _drop_stdout()
    sys.exit(EXIT_BROKEN_PIPE)


def program_options(fn: Callable) -> Callable:
    """PROGRAM [NAME=VALUE ...] with -f FILE, shared by every command that runs a program."""
    fn = click.option("--max-file-bytes", type=click.IntRange(1), default=None,
                      metavar="BYTES", expose_value=False, callback=_keep_file_limit,
                      help="Largest NAME=@file read (an array file), 64\u00a0MiB by default.")(fn)
    fn = click.option("-f", "--file", "program_file", type=click.Path(dir_okay=False,
                      allow_dash=True), help="Read the program from FILE ('-' for stdin).")(fn)
    fn = click.argument("words", nargs=-1, type=click.UNPROCESSED,
                        metavar="PROGRAM [NAME=VALUE]...")(fn)
    return fn


def _keep_file_limit(ctx: click.Context, _param, value: int | None) -> int | None:
    """--max-file-bytes is kept on the context, where `parse_binding_words` reads it."""
    if value is not None:
        ctx.meta[_FILE_LIMIT] = value
    return value


_FILE_LIMIT = "backprop.max_file_bytes"


def output_options(fn: Callable) -> Callable:
    fn = click.option("--precision", type=click.IntRange(1, 17), default=6, show_default=True,
                      help="Significant digits in tables (JSON is always full precision).")(fn)
    fn = click.option("--plain", is_flag=True,
                      help="Plain text even on a terminal (the default when piped).")(fn)
    fn = click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")(fn)
    return fn


def _command_with(option: str) -> str | None:
    """The other command that has `option` (imported only now: this runs on a mistake)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None or ctx.parent is None or not isinstance(ctx.parent.command, click.Group):
        return None
    group = ctx.parent.command
    for name in group.list_commands(ctx.parent):
        command = group.get_command(ctx.parent, name)
        if name != ctx.info_name and command is not None and any(
                option in p.opts for p in command.params):
            return name
    return None


def read_program(words: tuple[str, ...], program_file: str | None) -> tuple[str, str, list[str]]:
    """(program text, where it came from, binding words)."""
    words = list(words)
    # Unknown options reach us as words, since a program may start with '-'. A binding never
    # starts with '--'; a program spelled like `--name` is taken for a mistyped option.
    skip = int(program_file is None and bool(words) and not _OPTION_LIKE.match(words[0]))
    unknown = [w for w in words[skip:] if w.startswith("--")]
    if unknown:
        word = unknown[0].partition("=")[0]
        hint = "see --help"
        close = _close_options(word)
        other = _command_with(word)
        if other:  # `eval --explain`: the option is real, of another command
            hint = f"{word} is an option of backprop {other}; " + hint
        elif close:
            hint = f"did you mean {' or '.join(close)}? " + hint
        if program_file is None and unknown[0] is words[0]:
            hint += "; a program that starts with two minus signs needs a space: - -x"
        raise BackpropError(f"unknown option {word}", hint=hint)
    _refuse_stdout_onto_inputs(program_file, words)
    if program_file is not None:
        return _read_text(program_file), program_file, words
    if not words:
        raise BackpropError("no program given",
                            hint='e.g. backprop eval "(x+y)*z" x=-2 y=5 z=-4')
    first, rest = words[0], words[1:]
    if first == "-":
        return _read_text("-"), "<stdin>", rest
    return first, "", rest


def _close_options(word: str) -> list[str]:
    """The running command's options spelled most like `word` (--precison: --precision)."""
    import difflib

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return []
    names = [o for p in ctx.command.params if isinstance(p, click.Option)
             for o in (*p.opts, *p.secondary_opts) if o.startswith("--")]
    return difflib.get_close_matches(word, names, n=2, cutoff=0.7)


def _refuse_stdout_onto_inputs(program_file: str | None, words: list[str]) -> None:
    """`eval -f p.txt > p.txt`: standard output is never a file the command reads."""
    if program_file is None and not any("=@" in w for w in words):
        return  # no file is read (the usual case, which imports nothing for it)
    from ..language.arrays_io import file_paths
    from ..outputs import Named, refuse_clashes

    inputs = [Named("the array file", p) for p in file_paths(words)]
    if program_file is not None:
        inputs.append(Named("the program file", program_file))
    if inputs:
        refuse_clashes(inputs, [], stdout=True)


def _read_text(path: str) -> str:
    """A program file ('-': stdin), read in bounded pieces: a device that never ends
    (/dev/zero) is refused, and more than the parser's limit is not read."""
    from ..batch.stream import read_head
    from ..language.parser import MAX_SOURCE_BYTES

    data = read_head(path, MAX_SOURCE_BYTES)
    if len(data) > MAX_SOURCE_BYTES:
        from ..errors import LimitError

        name = "standard input" if path == "-" else shown(path, PATH_SHOWN)
        raise LimitError(f"{name} holds more than {MAX_SOURCE_BYTES:,} bytes, the longest "
                         "program read")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BackpropError(f"{shown(path, PATH_SHOWN)}: not UTF-8 text") from None
    # As a text-mode read would: \r\n and a lone \r end a line (a statement) like \n.
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def parse_binding_words(words: list[str]):
    from ..engine.bindings import is_binding, parse_bindings

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
    ctx = click.get_current_context(silent=True)
    limit = ctx.meta.get(_FILE_LIMIT) if ctx is not None else None
    if limit is None:
        return parse_bindings(words)
    from ..language.reads import ReadScope

    return parse_bindings(words, ReadScope(limit=limit))


def run_program(source: str, origin: str, bindings, options, groups: tuple[str, ...] = ()):
    """Group (if asked) and evaluate; bad input prints its error, prefixed by where the program
    came from, and exits 2. Returns (result, the grouped gates' ids) after printing warnings."""
    from ..evaluate import evaluate

    gates: frozenset[int] = frozenset()
    program = source
    try:
        if groups:
            program, note, gates = grouped_program(source, bindings, groups)
            on_stderr(f"note: {note}")
        result = evaluate(program, bindings, options)
        result = with_mistakes(result)
    except BackpropError as err:
        on_stderr(err.render(origin or None))
        json_error(err, origin)
        sys.exit(exits.BAD_INPUT)
    warn(result.warnings)
    return result, gates


def wants_json() -> bool:
    """Whether the running command was asked for --json (its stdout is then always JSON)."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.params.get("as_json"))


def error_object(message: str, kind: str, span=None, hint=None, line=None, column=None,
                 origin: str | None = None) -> dict:
    """What a script reads on stdout when --json was asked for and the input was bad (the
    one-line message still goes to stderr): see docs/json.md."""
    return {"error": {"message": message, "kind": kind,
                      "span": list(span) if span is not None else None, "hint": hint,
                      "line": line, "column": column, "origin": origin or None}}


def json_error(err: BackpropError, origin: str | None = None) -> None:
    """With --json, the error as a JSON object on stdout too."""
    if not wants_json():
        return
    loc = err.location()
    emit_json(error_object(err.message, err.kind, err.span, err.hint,
                           loc[0] if loc else None, loc[1] if loc else None, origin))


def with_mistakes(result):
    """The result with warnings for quiet mistakes added (engine/mistakes.py): printed on
    stderr like every warning, and in --json's `warnings`."""
    from ..engine.mistakes import with_mistakes as added

    return added(result)


def use_rich(plain: bool) -> bool:
    return not plain and sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


def console():
    from rich.console import Console

    return Console(highlight=False)


def warn(lines) -> None:
    for line in lines:
        on_stderr(f"warning: {line}")


def on_stderr(text: str) -> None:
    """A message on stderr; on a terminal its long lines go on indented and a caret stays under
    its column (render/wrap.py), piped it is the text as it is."""
    if sys.stderr.isatty():
        from ..render.wrap import hang_text

        text = hang_text(text, sys.stderr)
    click.echo(text, err=True)


def emit_json(data: dict) -> None:
    import json

    click.echo(json.dumps(data, indent=2, allow_nan=False))


def parse_expect(items: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """--expect NAME=NUMBER words -> (NAME, number text) pairs, in order and all kept:
    `evaluate` judges them by the rules a case file's expectations follow (expectations.py)."""
    if not items:
        return ()
    from ..checks.expectations import EVAL, split

    return tuple(split(item, EVAL) for item in items)


def grouped_program(source: str, bindings, groups: tuple[str, ...]):
    """(graph with the requested gates grouped, a note for stderr, the gates' node ids).

    Both granularities are run, so the note can say the grouped gates give the same gradients
    as the graph as written.
    """
    from ..engine.grouping import agreement, group, resolve_patterns
    from ..evaluate import Options, evaluate
    from ..language.parser import parse

    patterns = resolve_patterns(groups)
    written = parse(source)
    grouped = group(written, patterns)
    if not grouped.gates:
        return written, grouped.summary(), frozenset()
    plain = evaluate(written, bindings, Options(check=False))
    gated = evaluate(grouped.graph, bindings, Options(check=False))
    same, worst = agreement(plain.gradients, gated.gradients)
    verdict = (f"gradients equal the ungrouped graph's (largest relative difference "
               f"{worst:.1e})" if same else
               f"warning: gradients differ from the ungrouped graph's (relative {worst:.1e})")
    return (grouped.graph, f"{grouped.summary()}; {verdict}",
            frozenset(g.id for g in grouped.gates))

"""Every ```console block in README.md and docs/*.md shows what the command really prints.

In a block, a line `$ backprop ...` is run (piped, so plain text, with NO_COLOR) and the lines
below it, up to the next `$` line, must equal its output (stdout and stderr, as a terminal shows
them). Commands run in this process, through the same `main` the `backprop` script calls, with
the standard streams captured (a new Python per command was 40 % of the suite); a command in
FRESH_PROCESS would run as a new process. A line of exactly `...` stands for any number of
lines. `$ cat FILE` followed by lines documents a file: the lines are written to FILE, so the
commands after it can read it. Each document runs in a fresh folder of its own.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)


def sessions(text: str) -> list[tuple[str, list[str]]]:
    """(command, expected lines) for every `$` line of every console block, in order."""
    found = []
    for block in BLOCK.findall(text):
        lines = block.splitlines()
        k = 0
        while k < len(lines):
            if not lines[k].startswith("$ "):
                raise AssertionError(f"a console block line is not under a command: {lines[k]}")
            command = lines[k][2:]
            while command.endswith("\\"):
                k += 1
                command = command[:-1] + lines[k].strip()
            k += 1
            shown = []
            while k < len(lines) and not lines[k].startswith("$ "):
                shown.append(lines[k])
                k += 1
            found.append((command, shown))
    return found


def matches(shown: list[str], got: list[str]) -> bool:
    """Line by line, `...` matching any run of lines (a small backtracking match)."""
    if not shown:
        return not got
    if shown[0] == "...":
        return any(matches(shown[1:], got[k:]) for k in range(len(got) + 1))
    return bool(got) and shown[0] == got[0] and matches(shown[1:], got[1:])


ENV = {"NO_COLOR": "1", "COLUMNS": "100"}
# Commands whose output depends on being a process of their own.
FRESH_PROCESS: tuple[str, ...] = ()


def run(command: str, folder: Path) -> list[str]:
    words = shlex.split(command)
    stdin = None
    if "<" in words:
        at = words.index("<")
        stdin = (folder / words[at + 1]).read_bytes()
        words = words[:at] + words[at + 2:]
    assert words[0] == "backprop", f"only backprop commands run here: {command}"
    if any(command.startswith(f"backprop {c}") for c in FRESH_PROCESS):
        out = run_process(words[1:], stdin, folder)
    else:
        out = run_here(words[1:], stdin, folder)
    return [line.rstrip() for line in out.decode().splitlines()]


def run_process(args: list[str], stdin: bytes | None, folder: Path) -> bytes:
    done = subprocess.run([sys.executable, "-m", "backprop_cli", *args], input=stdin,
                          cwd=folder, env={**os.environ, **ENV}, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=120, check=False)
    return done.stdout


def run_here(args: list[str], stdin: bytes | None, folder: Path) -> bytes:
    """`backprop ARGS` through cli.main in this process: stdout and stderr into one stream, as
    a pipe shared by both shows them."""
    import gc

    from click import formatting
    from click.testing import CliRunner

    from backprop_cli import cli

    before = os.getcwd()
    argv = sys.argv
    os.chdir(folder)
    try:
        with CliRunner().isolation(input=stdin or b"", env=ENV) as (_, _, output):
            formatting.FORCED_WIDTH = None  # the help's width from COLUMNS, as in a terminal
            sys.argv = ["backprop", *args]
            try:
                cli.main()
            except SystemExit:
                pass
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
            return output.getvalue()
    finally:
        sys.argv = argv
        os.chdir(before)
        gc.enable()  # main turns the collector off for its short-lived process


@pytest.mark.parametrize("document", [d for d in DOCUMENTS if BLOCK.search(d.read_text())],
                         ids=lambda d: d.name)
def test_every_shown_output_is_what_the_command_prints(document, tmp_path):
    wrong = []
    for command, shown in sessions(document.read_text(encoding="utf-8")):
        if command.startswith("cat "):
            (tmp_path / command.split()[1]).write_text("\n".join(shown) + "\n")
            continue
        got = run(command, tmp_path)
        if not matches([line.rstrip() for line in shown], got):
            wrong.append(f"$ {command}\n--- shown:\n" + "\n".join(shown) +
                         "\n--- printed:\n" + "\n".join(got))
    assert not wrong, "\n\n".join(wrong)


def test_the_wildcard_matches_any_lines_and_nothing_else():
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "b"], ["a", "b"])
    assert not matches(["a", "...", "d"], ["a", "b", "c"])
    assert not matches(["a"], ["a", "b"])

"""Every command has help that can be copied: no line over 80 columns, the examples in
no-rewrap blocks (each example whole on its line, or continued with a backslash), and a
complete one-line summary in `backprop --help`."""

import shlex

import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli

COMMANDS = cli.list_commands(None)


def help_text(*words: str, columns: int = 80) -> str:
    out = CliRunner().invoke(cli, [*words, "--help"], env={"COLUMNS": str(columns)})
    assert out.exit_code == 0, out.output
    return out.stdout


@pytest.mark.parametrize("command", ["", *COMMANDS])
@pytest.mark.parametrize("columns", [80, 200])
def test_no_help_line_is_over_80_columns(command, columns):
    text = help_text(*([command] if command else []), columns=columns)
    long = [line for line in text.splitlines() if len(line) > 80]
    assert not long, long


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_every_example_is_whole_and_reads_as_a_shell_command(command):
    text = help_text(*([command] if command else []))
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines) if line.strip() == "Examples:")
    examples, k = [], start + 1
    while k < len(lines) and lines[k].startswith("    "):
        line = lines[k].strip()
        while line.endswith("\\"):  # a continued example: the shell joins the lines
            k += 1
            line = line[:-1] + " " + lines[k].strip()
        examples.append(line)
        k += 1
    assert examples
    for example in examples:
        words = shlex.split(example.split(" | ")[0].split(" < ")[0].split(" > ")[0])
        assert words[0] == "backprop", example
        assert words[1] in COMMANDS, example


def test_every_command_and_option_has_help():
    top = help_text()
    for name in COMMANDS:
        command = cli.get_command(None, name)
        assert command.help and command.help.strip(), name
        summary = next(line for line in top.splitlines() if line.strip().startswith(name + " "))
        assert not summary.rstrip().endswith("..."), summary  # whole, not cut by click
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{name} {param.opts}"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_help_names_only_its_own_options_or_says_whose(command):
    # trace's --lr once said "(or --wrt)", an option only eval has: a learner typing it got
    # "unknown option". Another command's option is named with its command ("eval's --wrt").
    import re

    cmd = cli.get_command(None, command)
    own = {o for p in cmd.params for o in [*p.opts, *p.secondary_opts]} | {"--help"}
    others = "|".join(COMMANDS)
    text = help_text(command)
    text = re.sub(rf"\bbackprop ({others})\b.*", "", text)  # an example of a command
    text = re.sub(rf"\b({others})(?:'s)? --[a-z][a-z0-9-]*", "", text)  # eval's --wrt
    foreign = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text)) - own
    assert not foreign, foreign


def test_a_default_is_shown_one_way_in_every_command():
    # check showed --max-file-bytes' default as 67108864, eval/trace/graph as 64 MiB; and a
    # default written into the text sat apart from click's own bracket ("...].  [x>=1]").
    flat = {c: " ".join(help_text(c).split()) for c in ("eval", "trace", "graph", "check")}
    for command, text in flat.items():
        assert "(an array file), 64 MiB by default. [x>=1]" in text.replace(
            "(an array file a case binds),", "(an array file),"), command
        assert "]. " not in text and "67108864" not in text, command
    assert "Longest line read, 1 MiB by default;" in flat["check"]
    assert "Time limit per case in seconds, 300 by default (0: no limit);" in flat["check"]
    # A size is never cut between its number and its unit (a no-break space holds them).
    for command in flat:
        assert all(not line.rstrip().endswith(" 64") for line in help_text(command).splitlines())


@pytest.mark.parametrize("command", COMMANDS)
def test_a_help_speaks_the_lectures_words_not_the_codes(command):
    # backward's help said "spelled from its op's registry row": a name from inside the code.
    assert "registry" not in help_text(command)


def test_batch_mds_option_table_gives_the_defaults_check_uses():
    # docs/batch.md said --timeout's default was 60 (it is 300) and that sympy's limit shrank
    # with it (sympy's budget is eval's own, whatever the wall-clock guard).
    from pathlib import Path

    from backprop_cli.batch.run import DEFAULT_TIMEOUT
    from backprop_cli.checks.scalar import SYMPY_SECONDS

    text = (Path(__file__).parent.parent / "docs" / "batch.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `--timeout SECONDS`"))
    assert f"default {DEFAULT_TIMEOUT:g};" in row, row
    assert f"{SYMPY_SECONDS:g} s of CPU time" in row and "smaller" not in row, row

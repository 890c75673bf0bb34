"""A program is never an option: after the command, only a known option spelled in full, as its
own word, is an option; every other word is the program or a binding.

Before this, click read `-softplus(x)` as the short options -s -o and -f with the value
"tplus(x)", and `-x*f` as -x with -f "x=2". The tables below try every function whose row
takes numbers, negated, and variables named with an f, for each command that runs a program.
"""

import json

import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli
from backprop_cli.evaluate import evaluate
from backprop_cli.ops.registry import FUNCTIONS

COMMANDS = ["eval", "trace", "graph"]

# Every callable op that takes numbers: -name(x), -name(x, y), ..., at a smooth point.
NEGATED_CALLS = sorted(
    (f"-{name}({', '.join('xyz'[:len(op.samples[0])])})",
     {v: op.samples[0][k] for k, v in enumerate("xyz"[:len(op.samples[0])])})
    for name, op in FUNCTIONS.items() if op.samples)

# Variables that start with or contain f, read first in a program that starts with '-'.
F_VARIABLES = [
    ("-x*f", {"x": 2.0, "f": 3.0}),
    ("-f*x", {"f": 3.0, "x": 2.0}),
    ("-f + 1", {"f": 3.0}),  # the word "-f" alone is the option: see the test below
    ("-fx + x", {"fx": 1.5, "x": 2.0}),
    ("-x*xf", {"x": 2.0, "xf": 0.5}),
    ("-off - ef", {"off": 1.0, "ef": 2.0}),
    ("-file*x", {"file": 2.0, "x": 1.0}),
    ("-softplus(f)", {"f": 2.0}),
]


def invoke(*argv: str):
    return CliRunner().invoke(cli, list(argv))


def test_the_table_covers_the_functions_spelled_with_f():
    names = " ".join(p for p, _ in NEGATED_CALLS)
    assert "-softplus(x)" in names and "-leaky_relu(x)" in names and len(NEGATED_CALLS) >= 15


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("program, at", NEGATED_CALLS + F_VARIABLES)
def test_a_program_that_starts_with_minus_is_the_program(command, program, at):
    words = [f"{k}={v}" for k, v in at.items()]
    result = invoke(command, program, *words)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    if command == "eval":
        want = evaluate(program, at)
        first = result.stdout.splitlines()[0]
        assert first.split()[0] == "value"
        assert float(first.split()[1]) == pytest.approx(want.value, rel=1e-5)


@pytest.mark.parametrize("command", COMMANDS)
def test_options_are_found_before_between_and_after_the_words(command):
    json_flag = ["--json"] if command != "graph" else ["--format", "dot"]
    for argv in ([*json_flag, "-x*f", "x=2", "f=3"], ["-x*f", *json_flag, "x=2", "f=3"],
                 ["-x*f", "x=2", "f=3", *json_flag]):
        result = invoke(command, *argv)
        assert result.exit_code == 0, (argv, result.stdout, result.stderr)
        if command == "eval":
            assert json.loads(result.stdout)["gradients"] == {"x": -3.0, "f": -2.0}


def test_f_is_an_option_only_as_its_own_word(tmp_path):
    (tmp_path / "prog.txt").write_text("-x*f")
    path = str(tmp_path / "prog.txt")
    for argv in (["-f", path], ["--file", path], [f"--file={path}"]):
        result = invoke("eval", "--json", *argv, "x=2", "f=3")
        assert result.exit_code == 0, (argv, result.stderr)
        assert json.loads(result.stdout)["value"] == -6.0
    # Glued to other text it is program text, and the program is parsed (and here refused).
    result = invoke("eval", f"-f{path}", "x=2")
    assert result.exit_code == 2
    assert "no such file" not in result.stderr


def test_a_value_taking_option_needs_its_value():
    result = invoke("eval", "x*y", "x=1", "y=2", "--wrt")
    assert result.exit_code == 2
    assert "'--wrt' requires an argument" in result.stderr


def test_an_unknown_long_option_is_still_refused():
    result = invoke("eval", "x", "x=1", "--jsn")
    assert result.exit_code == 2
    assert result.stderr == "error: unknown option --jsn (did you mean --json? see --help)\n"


def test_the_value_of_an_option_may_start_with_minus():
    result = invoke("eval", "--seed", "-2", "--json", "x*3", "x=1")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["gradients"] == {"x": -6.0}

"""Start-up kept lean: a scalar `eval --no-check` imports only the modules it uses.

Each command's module is imported when that command runs (cli.LazyGroup) and each feature's
module where the feature is used, so a feature added later cannot quietly slow every run. A
module that a plain eval now needs goes into ALLOWED below, on purpose and in review.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from backprop_cli.cli import COMMANDS, cli

# What `backprop eval "(x+y)*z" x=-2 y=5 z=-4 --no-check` may import, and why.
ALLOWED = {
    "backprop_cli", "backprop_cli.cli", "backprop_cli.exits", "backprop_cli.errors",
    "backprop_cli.commands", "backprop_cli.commands.common", "backprop_cli.commands.eval",
    # text -> graph: the registry's scalar rows, and the static table of the names the other
    # row modules define (ops/lazy.py): those load when a program names one of their rows
    "backprop_cli.language", "backprop_cli.language.lexer", "backprop_cli.language.parser",
    "backprop_cli.engine.bindings",
    "backprop_cli.ops", "backprop_cli.ops.registry", "backprop_cli.ops.lazy",
    "backprop_cli.ops.shapes",
    "backprop_cli.graph", "backprop_cli.values",
    # graph -> values -> gradients -> the result and its verdict
    "backprop_cli.engine", "backprop_cli.engine.forward", "backprop_cli.engine.backward",
    "backprop_cli.evaluate", "backprop_cli.checks", "backprop_cli.checks.verdict",
    # the quiet-mistakes warnings (probabilities given to cross_entropy): one loop over the
    # ops, importing only graph.py
    "backprop_cli.engine.mistakes",
    # the kink scan (every run warns at a kink) and Options' Limits live in checks/scalar.py,
    # with the sympy leaves' small module (sympy, numpy and mpmath only inside its functions);
    # the finite differences, their deadline (ctypes) and the answer grader load when a check
    # first runs
    "backprop_cli.checks.scalar", "backprop_cli.checks.sympy_chain",
    # the plain text written to a pipe
    "backprop_cli.render", "backprop_cli.render.plain", "backprop_cli.render.numbers",
}

# Never on this path: heavy libraries, and feature modules a plain scalar run does not use.
HEAVY = ("sympy", "numpy", "rich", "mpmath")
# The array vocabulary's row modules and the parser's numpy call forms: loaded on first use.
ROW_MODULES = tuple(f"backprop_cli.ops.{m}" for m in (
    "arrays", "extremes", "indexing", "reductions", "reshaping", "comparisons", "keywords")) + (
    "backprop_cli.language.calls",)

PROBE = """
import json, sys
sys.argv = ["backprop", *json.loads(sys.argv[1])]
from backprop_cli.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
sys.stderr.write("\\nMODULES " + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def imported(*argv: str) -> tuple[int, set[str], str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)],
                          capture_output=True, text=True, timeout=120)
    head, _, tail = proc.stderr.rpartition("\nMODULES ")
    data = json.loads(tail)
    return data["code"], set(data["modules"]), proc.stdout


def test_plain_eval_imports_only_what_it_uses():
    code, modules, out = imported("eval", "(x+y)*z", "x=-2", "y=5", "z=-4", "--no-check")
    assert code == 0 and out.startswith("value  -12")
    ours = {m for m in modules if m == "backprop_cli" or m.startswith("backprop_cli.")}
    assert ours - ALLOWED == set(), "new imports on the start-up path: " \
        "import them inside the function that needs them"
    assert [m for m in HEAVY if m in modules] == []


@pytest.mark.parametrize("program", ["(x+y)*z", "sin(x)*exp(y) + z**2 - log(sigmoid(z))",
                                     "var = x*y; std = sqrt(var); var + std"])
def test_a_scalar_program_loads_no_row_module_it_does_not_use(program):
    code, modules, _ = imported("eval", program, "x=2", "y=5", "z=4", "--no-check")
    assert code == 0 and [m for m in ROW_MODULES if m in modules] == []


@pytest.mark.parametrize(("program", "loads"), [
    ("where(x > y, x, y)", {"comparisons"}),
    ("max(x, y)", {"extremes", "arrays", "reductions", "keywords"}),
])
def test_a_row_module_loads_when_a_program_names_its_row(program, loads):
    code, modules, _ = imported("eval", program, "x=2", "y=5", "--no-check")
    assert code == 0
    assert {m.rpartition(".")[2] for m in ROW_MODULES if m in modules} == loads


def test_plain_eval_loads_no_other_command():
    _, modules, _ = imported("eval", "x*y", "x=2", "y=3", "--no-check")
    loaded = {m.rpartition(".")[2] for m in modules if m.startswith("backprop_cli.commands.")}
    assert loaded == {"common", "eval"}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_lazy_command_loads_under_its_name(name):
    command = cli.get_command(None, name)
    assert command is not None and command.name == name


def test_group_help_lists_every_command_with_its_short_help():
    from click.testing import CliRunner

    out = CliRunner().invoke(cli, ["--help"]).output
    for name in COMMANDS:
        short = cli.get_command(None, name).get_short_help_str(40)[:20]
        assert any(line.split()[:1] == [name] and short in line for line in out.splitlines())

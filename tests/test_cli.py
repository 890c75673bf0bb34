"""The command line, through click's CliRunner: stdout, stderr and exit codes asserted apart."""

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import backprop_cli
from backprop_cli.cli import cli
from backprop_cli.commands import eval as eval_module
from backprop_cli.commands import trace as trace_module

LECTURE = ["(x+y)*z", "x=-2", "y=5", "z=-4"]
SIGMOID = ["1/(1+exp(-(w0*x0 + w1*x1 + w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]
BACKPROP = [str(Path(sys.executable).with_name("backprop"))]
if not Path(BACKPROP[0]).exists():
    BACKPROP = [sys.executable, "-m", "backprop_cli"]


def run(*argv: str, stdin: str | None = None, code: int = 0):
    result = CliRunner().invoke(cli, list(argv), input=stdin)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def rows(stdout: str) -> dict[str, list[str]]:
    """The plain table's rows by name: {'x': ['-4', 'pass', '0.0e+00', ...]}."""
    lines = stdout.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("name "))
    out = {}
    for line in lines[start + 1:]:
        if not line:
            break
        name, *cells = line.split()
        out[name] = cells
    return out


# --- eval ---------------------------------------------------------------------------------


def test_eval_plain_lecture_example():
    result = run("eval", *LECTURE)
    lines = result.stdout.splitlines()
    assert lines[0] == "value  -12"
    assert lines[2].split() == ["name", "gradient", "sympy", "finite-difference"]
    table = rows(result.stdout)
    assert [table[n][0] for n in "xyz"] == ["-4", "-4", "3"]
    assert all(row[1] == "pass" and row[3] == "pass" for n, row in table.items() if n in "xyz")
    assert lines[-1] == "all 3 gradients agree with sympy and finite differences"
    assert result.stderr == ""


def test_eval_plain_has_no_markup_or_colour_when_piped():
    out = run("eval", *SIGMOID).stdout
    assert "\x1b[" not in out and "┃" not in out and "│" not in out


def test_eval_json_fields():
    result = run("eval", "--json", *LECTURE)
    data = json.loads(result.stdout)
    assert data["program"] == "(x+y)*z"
    assert data["value"] == -12.0
    assert data["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert data["status"] == "pass"
    assert data["exit_code"] == 0
    assert data["warnings"] == []
    for name in "xyz":
        methods = [c["method"] for c in data["checks"][name]]
        assert methods == ["sympy", "finite-difference"]
        for c in data["checks"][name]:
            assert set(c) == {"method", "status", "reference", "rel_error", "reason",
                              "abs_error", "decided_by", "error_bound"}
            assert c["status"] == "pass"
    assert result.stderr == ""


def test_eval_json_sigmoid_neuron():
    data = json.loads(run("eval", "--json", *SIGMOID).stdout)
    assert data["value"] == pytest.approx(0.7310585786300049)
    assert {k: round(v, 2) for k, v in data["gradients"].items()} == {
        "w0": -0.20, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.20}


def test_eval_rich_table(monkeypatch):
    for module in (eval_module, trace_module):
        monkeypatch.setattr(module, "use_rich", lambda plain: not plain)
    out = run("eval", *LECTURE).stdout
    # the gradient column has the plain table's word
    assert "┃ name ┃ gradient ┃ sympy        ┃ finite-difference ┃" in out.splitlines()
    assert "f = (x+y)*z   value -12" in out
    assert "all 3 gradients agree with sympy and finite differences" in out
    # --plain wins over a terminal
    assert "┃" not in run("eval", "--plain", *LECTURE).stdout


def test_brackets_in_a_program_never_become_rich_markup(monkeypatch):
    for module in (eval_module, trace_module):
        monkeypatch.setattr(module, "use_rich", lambda plain: not plain)
    program = "x*y  # [bold red]not markup[/bold red] [link=x]"
    out = run("eval", program, "x=1", "y=2").stdout
    assert "f = x*y   value 2" in out and "markup" not in out  # the header drops comments
    out = run("eval", "v[1]*y", "v=[1,2]", "y=2").stdout
    assert "f = v[1]*y   value 4" in out
    out = run("trace", "q = x*y  # [b]q[/b]\nq + 1", "x=1", "y=2").stdout
    assert "q + 1" in out


def test_no_check_skips_both_checks():
    result = run("eval", "--no-check", *LECTURE)
    assert result.stdout.splitlines()[2:] == ["name  gradient", "x     -4", "y     -4",
                                              "z     3", "", "not checked (--no-check)"]
    data = json.loads(run("eval", "--no-check", "--json", *LECTURE).stdout)
    assert data["checks"] == {"x": [], "y": [], "z": []}
    assert data["status"] == "unchecked"


def test_no_check_imports_neither_sympy_nor_numpy():
    code = ("import sys\n"
            "from backprop_cli.cli import main\n"
            "sys.argv = ['backprop', 'eval', '--no-check', '(x+y)*z', 'x=-2', 'y=5', 'z=-4']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('sympy', 'numpy', 'rich') if m in sys.modules),"
            " file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                          text=True, timeout=60)
    assert proc.stdout.startswith("value  -12\n")
    assert proc.stderr.strip() == "[]"


def test_wrt_picks_and_orders_gradients():
    result = run("eval", "--wrt", "z,x", *LECTURE)
    assert list(rows(result.stdout)) == ["z", "x"]
    data = json.loads(run("eval", "--json", "--wrt", "y", *LECTURE).stdout)
    assert data["gradients"] == {"y": -4.0}


@pytest.mark.parametrize("precision, shown", [("1", "0.7"), ("3", "0.731"),
                                              ("10", "0.7310585786")])
def test_precision(precision, shown):
    out = run("eval", "--precision", precision, *SIGMOID).stdout
    assert out.splitlines()[0] == f"value  {shown}"


def test_json_is_full_precision_whatever_the_precision():
    data = json.loads(run("eval", "--json", "--precision", "2", *SIGMOID).stdout)
    assert data["value"] == 0.7310585786300049


def test_expect_pass():
    result = run("eval", "-x*y", "x=2", "y=3", "--expect", "x=-3", "--expect", "value=-6")
    assert result.stdout.splitlines()[1] == "expected value: pass 0.0e+00"
    assert rows(result.stdout)["x"][-2:] == ["pass", "0.0e+00"]
    assert result.stdout.splitlines()[-1] == (
        "all 2 gradients agree with sympy and finite differences and the expected values")


# The last line says what the checks found, in the singular for one gradient.
VERDICTS = [
    (["x*y", "x=2", "y=3", "--wrt", "x"], 0,
     "the gradient agrees with sympy and finite differences"),
    (["x*y", "x=2", "y=3", "--no-check", "--expect", "value=6"], 0,
     "the value is the expected one; not checked (--no-check)"),
    (["x*y", "x=2", "y=3", "--no-sympy", "--no-numeric"], 0,
     "not checked (no check was asked for)"),
    (["x*y", "x=2", "y=3", "--no-check", "--expect", "x=3"], 0,
     "1 of 2 gradients confirmed by the expected values; y: unchecked (no check ran)"),
    # relu at its kink: sympy ran (and found the point non-differentiable), finite
    # differences ran (and straddled the kink): neither is "no check could run"
    (["relu(x)", "x=0"], 0,
     "x: unchecked (sympy: non-differentiable point: compared with a subgradient; "
     "finite differences: the finite-difference step straddles a kink)"),
    (["relu(x)*y", "x=0", "y=2"], 0,
     "1 of 2 gradients confirmed by sympy and finite differences; x: unchecked (sympy: "
     "non-differentiable point: compared with a subgradient; finite differences: the "
     "finite-difference step straddles a kink)"),
    (["x*y", "x=2", "y=3", "--wrt", "x", "--expect", "x=4"], 1,
     "FAILED: not the expected gradient: x"),
]


@pytest.mark.parametrize("argv, code, last", VERDICTS)
def test_the_verdict_says_what_the_checks_found(argv, code, last):
    assert run("eval", *argv, code=code).stdout.splitlines()[-1] == last


def test_expect_rounded_hand_derivation_passes():
    # The lecture's -0.20 for w0 is what -0.1966 rounds to at two decimals.
    run("eval", *SIGMOID, "--expect", "w0=-0.20", "--expect", "x1=-0.59")


def test_expect_fail_exits_1():
    result = run("eval", "-x*y", "x=2", "y=3", "--expect", "x=-4", code=1)
    # The learner's -4 is theirs, not a reference: the cell says so, with backprop's number.
    assert result.stdout.splitlines()[3].endswith("FAIL: you wrote -4, backprop gets -3")
    assert result.stdout.splitlines()[-1].startswith("FAILED: ")
    data = json.loads(run("eval", "--json", "-x*y", "x=2", "y=3", "--expect", "x=-4",
                          code=1).stdout)
    assert data["status"] == "fail" and data["exit_code"] == 1
    assert data["checks"]["x"][-1] == {"method": "expected", "status": "fail",
                                       "reference": -4.0, "rel_error": 0.25,
                                       "reason": "you wrote -4, backprop gets -3",
                                       "abs_error": 1.0,
                                       "decided_by": "relative", "error_bound": None}


def test_expect_value_fail_exits_1():
    result = run("eval", "x*y", "x=2", "y=3", "--expect", "value=7", code=1)
    assert result.stdout.splitlines()[1].startswith("expected value: FAIL")


def test_symbolic_prints_formulas():
    result = run("eval", "--symbolic", "x**2*y", "x=3", "y=2")
    assert "d/dx = 2*x*y" in result.stdout.splitlines()
    assert "d/dy = x**2" in result.stdout.splitlines()
    data = json.loads(run("eval", "--json", "--symbolic", "x**2*y", "x=3", "y=2").stdout)
    assert data["formulas"] == {"x": "2*x*y", "y": "x**2"}


@pytest.mark.parametrize("program, value, gradients", [
    ("-x*y", "-6", {"x": "-3", "y": "-2"}),
    ("-x**2 + y", "-1", {"x": "-4", "y": "1"}),
    ("-(x+y)", "-5", {"x": "-1", "y": "-1"}),
])
def test_program_starting_with_minus(program, value, gradients):
    result = run("eval", program, "x=2", "y=3")
    assert result.stdout.splitlines()[0] == f"value  {value}"
    assert {k: v[0] for k, v in rows(result.stdout).items()} == gradients


def test_program_from_a_file(tmp_path):
    program = tmp_path / "neuron.txt"
    program.write_text("# the lecture's neuron\n"
                       "s = w0*x0 + w1*x1 + w2\n"
                       "f = 1/(1 + exp(-s))\n")
    result = run("eval", "-f", str(program), *SIGMOID[1:])
    assert result.stdout.splitlines()[0] == "value  0.731059"
    assert rows(result.stdout)["w0"][0] == "-0.196612"
    assert run("eval", "--file", str(program), "--json", *SIGMOID[1:]).stdout.startswith("{")


def test_program_from_stdin():
    result = run("eval", "-", "x=-2", "y=5", "z=-4", stdin="q = x + y\nf = q * z\n")
    assert result.stdout.splitlines()[0] == "value  -12"
    result = run("eval", "-f", "-", "x=-2", "y=5", "z=-4", stdin="(x+y)*z")
    assert result.stdout.splitlines()[0] == "value  -12"


def test_warning_for_a_binding_the_program_never_reads():
    result = run("eval", "x*y", "x=1", "y=2", "w=3")
    assert result.stderr == "warning: w is bound but the program never reads it\n"
    assert rows(result.stdout)["w"][0] == "0"


# --- trace --------------------------------------------------------------------------------


def test_trace_plain():
    result = run("trace", *LECTURE)
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "node", "op", "inputs", "value", "upstream", "local",
                                "downstream", "gate"]
    assert lines[3].split() == ["#2", "x+y", "+", "#0,", "#1", "3", "-4", "1,", "1", "-4,",
                                "-4", "distributor"]
    assert lines[5].split() == ["#4", "(x+y)*z", "*", "#2,", "#3", "-12", "1", "-4,", "3",
                                "-4,", "3", "switcher"]
    assert result.stderr == ""


def test_trace_plain_shows_fan_out():
    out = run("trace", "a = x*y; f = a + a*z", "x=2", "y=3", "z=4").stdout
    assert out.splitlines()[-1] == (
        "fan-out: #2 a feeds 2 nodes; its gradient 5 = 4 (from #4) + 1 (from #5)")


def test_trace_json():
    data = json.loads(run("trace", "--json", "a = x*y; f = a + a*z", "x=2", "y=3",
                          "z=4").stdout)
    nodes = data["nodes"]
    assert [n["id"] for n in nodes] == list(range(len(nodes)))
    for n in nodes:
        assert {"id", "op", "inputs", "value", "grad", "local"} <= set(n)
    by_name = {n["name"]: n for n in nodes if "name" in n}
    assert by_name["x"] == {**by_name["x"], "op": "var", "inputs": [], "value": 2.0,
                            "grad": 15.0, "local": []}
    a = by_name["a"]
    assert (a["op"], a["value"], a["grad"], a["local"]) == ("mul", 6.0, 5.0, [3.0, 2.0])
    assert a["fan_out"] == [{"consumer": 4, "grad": 4.0}, {"consumer": 5, "grad": 1.0}]
    # the output is last, and its upstream gradient is d(output)/d(output) = 1
    assert nodes[-1]["name"] == "f" and nodes[-1]["grad"] == 1.0 and nodes[-1]["value"] == 30.0


def test_trace_bad_input_exits_2():
    result = run("trace", "(x+1", "x=1", code=2)
    assert result.stdout == ""
    assert result.stderr.startswith("parse error at column 1: '(' is never closed")


# --- help, version, terminals -------------------------------------------------------------


def commands():
    return cli.list_commands(None)


@pytest.mark.parametrize("command", commands())
def test_every_command_has_help_with_examples(command):
    out = run(command, "--help").stdout
    assert out.startswith((f"Usage: cli {command} ", f"Usage: backprop {command} "))
    assert "Examples:" in out
    assert f"backprop {command} " in out


def test_group_help_lists_the_commands():
    out = run("--help").stdout
    for command in ("eval", "trace"):
        assert re.search(rf"^\s+{command}\s+\S", out, re.MULTILINE)
    assert "Examples:" in out


def test_version():
    assert run("--version").stdout == f"backprop, version {backprop_cli.__version__}\n"


def _run_on_a_terminal(argv: list[str], env: dict) -> str:
    """Run the installed command with stdout on a pseudo-terminal; give what it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode()


COLOUR = re.compile(r"\x1b\[[0-9;]*(3[0-7]|9[0-7]|38;[0-9;]+)m")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_a_terminal_gets_colour_and_no_color_removes_it():
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(TERM="xterm-256color", COLUMNS="100")
    argv = [*BACKPROP, "eval", "--no-sympy", "v[1]*y", "v=[1,2]", "y=2"]
    coloured = _run_on_a_terminal(argv, env)
    assert COLOUR.search(coloured)
    assert "┃" in coloured and "v[1]*y" in coloured
    plain = _run_on_a_terminal(argv, {**env, "NO_COLOR": "1"})
    assert not COLOUR.search(plain)
    assert "┃" in plain and "v[1]*y" in plain


def test_piped_output_is_plain_text():
    proc = subprocess.run([*BACKPROP, "eval", "--no-sympy", *LECTURE], check=False,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TERM": "xterm-256color"})
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[0] == "value  -12"
    assert "\x1b[" not in proc.stdout


def test_bad_input_through_the_installed_command_is_one_line_and_exit_2():
    proc = subprocess.run([*BACKPROP, "eval", "2x", "x=1"], check=False, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines()[0].startswith("parse error at column 2:")
    assert "Traceback" not in proc.stderr


def test_trace_json_writes_null_where_a_derivative_does_not_exist():
    # d(x**2)/d(2) = x**2 * log(x) has no real value at x = -1: JSON has no nan, so null.
    data = json.loads(run("trace", "--json", "x**2", "x=-1").stdout)
    square = data["nodes"][-1]
    assert (square["value"], square["local"], square["downstream"]) == (1.0, [-2.0, None],
                                                                        [-2.0, None])
    (two,) = [n for n in data["nodes"] if n["op"] == "const"]
    assert two["grad"] is None
    assert data["nodes"][0]["grad"] == -2.0


@pytest.mark.parametrize("argv, stderr", [
    (["--precison", "3", "x", "x=1"], ("error: unknown option --precison (did you mean "
                                      "--precision? see --help; a program that starts with two "
                                      "minus signs needs a space: - -x)\n")),
    (["x", "x=1", "--josn"], "error: unknown option --josn (did you mean --json? see --help)\n"),
    (["x", "x=1", "--zzz"], "error: unknown option --zzz (see --help)\n"),
])
def test_a_mistyped_option_is_named(argv, stderr):
    result = run("eval", *argv, code=2)
    assert (result.stdout, result.stderr) == ("", stderr)


def test_a_program_may_start_with_two_minus_signs_and_an_operator(tmp_path):
    result = run("eval", "--x*2", "x=3")
    assert result.stdout.splitlines()[0] == "value  6"
    program = tmp_path / "p.txt"
    program.write_text("x*2")
    result = run("eval", "-f", str(program), "x=3", "--bogus", code=2)
    assert result.stderr == "error: unknown option --bogus (see --help)\n"


# `| head -1`: the reader leaves after one line; the command stops quietly with the shell's
# SIGPIPE code, and nothing (no "internal error", no "Exception ignored") reaches stderr.
@pytest.mark.parametrize("argv", [
    ["trace", "-f", "{program}", "x=1"],
    ["check", "{cases}", "--json", "--no-check", "--jobs", "1"],
    ["check", "{cases}", "--no-check", "--jobs", "2"],
])
def test_a_reader_that_leaves_early_is_not_an_error(tmp_path, argv):
    program = tmp_path / "big.txt"
    program.write_text("+".join(f"x*{k}" for k in range(3000)))  # ~1.5 MB of trace
    cases = tmp_path / "many.txt"
    cases.write_text('"x*y" x=1 y=2 expect: x=5\n' * 2000)  # 2,000 failures to report
    argv = [a.format(program=program, cases=cases) for a in argv]
    proc = subprocess.Popen([*BACKPROP, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does after its line
    err = proc.stderr.read()
    assert (proc.wait(timeout=60), err) == (141, b"")
    assert first.strip()  # the reader did get its line


def test_head_through_a_shell_pipe_prints_one_line_and_no_error(tmp_path):
    program = tmp_path / "big.txt"
    program.write_text("+".join(f"x*{k}" for k in range(3000)))
    command = " ".join([*BACKPROP, "trace", "-f", str(program), "x=1"]) + " | head -1"
    proc = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["id", "node", "op", "inputs", "value", "upstream", "local",
                                   "downstream", "gate"]
    assert proc.stderr == ""


def test_json_writes_a_negative_zero_as_zero():
    # relu(-sin(1)) is off: sin(x) receives 0 * -1 from its consumer, a negative zero.
    nodes = json.loads(run("trace", "relu(-sin(x))", "x=1", "--json").stdout)["nodes"]
    assert all(json.dumps(n["grad"]) != "-0.0" for n in nodes)
    assert [n["grad"] for n in nodes] == [0.0, 0.0, 0.0, 1.0]


@pytest.mark.parametrize("columns", [60, 80])
def test_a_3d_gradient_below_the_table_is_never_cut_at_the_window(monkeypatch, columns):
    # dx3[i, j, k] = 8j + 4i + k: every entry 0..23 must be on the screen, within its width
    monkeypatch.setattr(eval_module, "use_rich", lambda plain: not plain)
    monkeypatch.setenv("COLUMNS", str(columns))
    program = "sum(transpose(x3, (1, 0, 2)) * arange(24).reshape(3, 2, 4))"
    out = run("eval", program, "x3=" + json.dumps([[[0.5] * 4] * 3] * 2)).stdout
    below = out[out.index("dx3 (2x3x4):"):].splitlines()[1:]
    assert all(len(line) <= columns for line in below)
    numbers = re.findall(r"\d+", " ".join(line for line in below if line.startswith("  ")))
    assert sorted(map(int, numbers)) == list(range(24))


def test_a_long_verdict_line_goes_on_indented_never_at_column_0(monkeypatch):
    monkeypatch.setattr(eval_module, "use_rich", lambda plain: not plain)
    monkeypatch.setenv("COLUMNS", "60")
    out = run("eval", "h = relu(W @ x); f = sum(h) + max(x)", "W=[[1,-1],[0.5,1],[-1,-1]]",
              "x=[1,1]").stdout.splitlines()
    start = next(k for k, line in enumerate(out) if line.startswith("2 of 2 gradients unchecked"))
    rest = out[start + 1:]
    assert rest and all(line.startswith("  ") and len(line) <= 60 for line in rest if line)


def test_a_program_with_assignments_is_not_shown_as_a_chained_assignment(monkeypatch):
    monkeypatch.setattr(eval_module, "use_rich", lambda plain: not plain)
    out = run("eval", "h = x * y; h + 1", "x=2", "y=3").stdout
    assert "h = x * y; h + 1   value 7" in out and "f = h" not in out
    assert "f = (x+y)*z   value -12" in run("eval", *LECTURE).stdout

"""trace on a real terminal: every number and every gate's role whole at 80 and 120 columns (the
window size set as a terminal sets it), the fan-out sums shown, and --step paced by key presses.

Each program runs through a pseudo-terminal, as a learner would run it; what it must show is
read from `trace --json` of the same program, so no number is written out twice here.
"""

import fcntl
import functools
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli

BACKPROP = [str(Path(sys.executable).with_name("backprop"))]
if not Path(BACKPROP[0]).exists():
    BACKPROP = [sys.executable, "-m", "backprop_cli"]

NEURON = ["1/(1+exp(-(w0*x0 + w1*x1 + w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]
README = ["q = x + y; f = q * z", "x=-2", "y=5", "z=-4"]
FAN_OUT = ["a = x*y; f = a + a*z", "x=2", "y=3", "z=4"]
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")


class Terminal:
    """A command running with stdin and stdout on a pseudo-terminal `columns` wide."""

    def __init__(self, argv: list[str], columns: int):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
        env.update(TERM="xterm-256color")
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                                     env=env)
        os.close(slave)
        self.seen = b""

    def read_until(self, text: str, timeout: float = 30) -> str:
        """What the command wrote until `text` appears (or it ends)."""
        end = time.monotonic() + timeout
        while text.encode() not in self.seen and time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready:
                if self.proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                break
            if not data:
                break
            self.seen += data
        return self.text()

    def press(self, key: str) -> None:
        os.write(self.master, key.encode())

    def finish(self) -> str:
        self.read_until("\0")  # everything, to the end
        self.proc.wait(timeout=30)
        os.close(self.master)
        return self.text()

    def text(self) -> str:
        return ESCAPE.sub("", self.seen.decode()).replace("\r\n", "\n")


def on_terminal(args: list[str], columns: int) -> str:
    return _on_terminal(tuple(args), columns)


@functools.cache
def _on_terminal(args: tuple[str, ...], columns: int) -> str:
    """Each (program, width) runs once per session: starting the command is the slow part."""
    return Terminal([*BACKPROP, "trace", *args], columns).finish()


def expected(args: list[str]) -> list[dict]:
    """The nodes a trace shows: every node but the constants folded into their gates."""
    out = CliRunner().invoke(cli, ["trace", "--json", *args]).stdout
    return [n for n in json.loads(out)["nodes"] if not n.get("in_gate")]


def number(x: float) -> str:
    return "0" if x == 0 else f"{x:.6g}"


def words(lines: list[str]) -> set[str]:
    return {w.strip(",") for line in lines for w in line.split()}


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("args", [NEURON, README], ids=["neuron", "readme"])
def test_every_number_and_role_is_whole_on_a_terminal(args, columns):
    shown = on_terminal(args, columns)
    lines = shown.splitlines()
    assert "…" not in shown
    assert max(len(line) for line in lines) <= columns
    tokens = words(lines)
    for node in expected(args):
        for x in (node["value"], node["grad"], *node["local"], *node["downstream"]):
            if x is not None:
                assert number(x) in tokens, (node["text"], number(x))
        # The role, word for word on one line, and the gate as the picture draws it.
        assert any(node["role"] in line for line in lines), node["role"]
        assert node["gate"] in tokens or node["op"] in ("var", "const")


def test_the_neuron_on_a_terminal_folds_its_constants_into_gates():
    shown = on_terminal(NEURON, 80)
    assert "gate +1" in shown and "gate 1/x" in shown
    # Each constant 1 is inside its gate: no row, no gradient, no fan-out, and no gap in the
    # ids on screen, which count the rows shown (#0 .. #12, as the lecture numbers its nodes).
    assert "fan-out" not in shown
    ids = [int(line.split()[0][1:]) for line in shown.splitlines() if line.startswith("#")]
    assert ids == list(range(13))
    assert "-0.589836" in shown  # x1's gradient, whole


@pytest.mark.parametrize("columns", [80, 120])
def test_the_fan_out_sum_is_shown_on_a_terminal(columns):
    shown = on_terminal(FAN_OUT, columns)
    assert "fan-out: #2 a feeds 2 nodes; its gradient 5 = 4 (from #4) + 1 (from #5)" in shown


def test_a_terminal_60_columns_wide_still_shows_every_number_whole():
    shown = on_terminal(NEURON, 60)
    tokens = words(shown.splitlines())
    assert "…" not in shown
    for node in expected(NEURON):
        assert number(node["grad"]) in tokens
    # A line too long for 60 columns goes on indented, never back at column 0.
    lines = shown.splitlines()
    assert max(len(line) for line in lines) <= 60
    assert all(line.startswith(("#", " ", "node by node")) for line in lines if line)
    role = next(k for k, line in enumerate(lines) if "gate +   distributor" in line)
    assert lines[role + 1].startswith("      ") and "every input" in lines[role + 1]


def test_values_and_gradients_are_not_coloured_as_pass_and_fail():
    term = Terminal([*BACKPROP, "trace", *README], 80)
    term.finish()
    raw = term.seen.decode()
    red, green = "\x1b[31m", "\x1b[32m"
    assert red not in raw and green not in raw and "\x1b[1;31m" not in raw
    assert "\x1b[35m" in raw and "\x1b[36m" in raw  # gradients magenta, values cyan


def test_step_shows_one_node_per_key_press():
    term = Terminal([*BACKPROP, "trace", "--step", *README], 80)
    first = term.read_until("a key for the next node")
    assert "dq = df/dq = z = -4" in first
    assert "dx = dq * dq/dx" not in first  # q's node waits for a key
    term.press(" ")
    term.read_until("#3 z")
    term.press(" ")
    second = term.read_until("dx = dq * dq/dx = (-4) * 1 = -4")
    assert "dx = dq * dq/dx = (-4) * 1 = -4" in second
    term.press("q")
    rest = term.finish()
    assert "(stopped)" in rest and "#0 x" not in rest
    assert term.proc.returncode == 0


def test_ctrl_c_while_stepping_clears_the_prompt_before_it_says_interrupted():
    # The prompt has no newline: "interrupted" (stderr) was written onto its end.
    import signal

    term = Terminal([*BACKPROP, "trace", "--step", *README], 80)
    term.read_until("a key for the next node")
    term.proc.send_signal(signal.SIGINT)
    term.finish()
    assert term.proc.returncode == 130
    assert term.proc.stderr.read() == b"interrupted\n"
    after = term.seen.decode().rpartition("q to stop --")[2]
    assert after == "\r\x1b[K", after


def test_step_not_on_a_terminal_prints_it_all_at_once():
    stepped = CliRunner().invoke(cli, ["trace", "--step", *README])
    assert stepped.exit_code == 0
    assert stepped.stdout == CliRunner().invoke(cli, ["trace", "--explain", *README]).stdout
    assert "a key" not in stepped.stdout


LAYER = ["q = W @ x; f = sum(q**2)", "W=[[0.1,0.5],[-0.3,0.8]]", "x=[0.2,0.4]"]


@pytest.mark.parametrize("columns", [80, 120])
def test_small_matrices_print_as_aligned_grids(columns):
    # W's gradient 2 q x^T, row under row with the columns aligned, in the trace and in eval.
    grid = ["[0.088  0.176]", "[0.104  0.208]"]
    traced = on_terminal(LAYER, columns).splitlines()
    shown_by = [traced]
    if columns == 80:
        shown_by.append(Terminal([*BACKPROP, "eval", "--no-check", *LAYER], columns).finish()
                        .splitlines())
    for shown in shown_by:
        rows = [line for line in shown if any(g in line for g in grid)]
        assert len(rows) >= 2
        first, second = rows[0], rows[1]
        assert grid[0] in first and grid[1] in second
        assert first.index(grid[0]) == second.index(grid[1])  # aligned
    assert "[ 0.1  0.5]" in "\n".join(traced) and "[-0.3  0.8]" in "\n".join(traced)


def test_forward_mode_fits_a_terminal_60_columns_wide():
    shown = on_terminal([*FAN_OUT, "--forward-mode", "all"], 60)
    lines = shown.splitlines()
    assert max(len(line) for line in lines) <= 60
    # the long lines go on indented, never back at column 0
    passes = next(k for k, line in enumerate(lines) if line.startswith("passes for all 3"))
    assert lines[passes + 1].startswith("    ") and "reverse mode 1" in lines[passes + 1]

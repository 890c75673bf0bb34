"""check on a real terminal at 60, 80 and 120 columns: one live progress line at the bottom
that counts cases, FAIL and ERROR blocks printed whole above it, and no line of it left behind.

stdout and stderr share one pseudo-terminal, as in a shell; what the person sees is rebuilt by
a small screen model (carriage return, erase line, line wrap at the window's width).
"""

import fcntl
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

BACKPROP = [str(Path(sys.executable).with_name("backprop"))]
if not Path(BACKPROP[0]).exists():
    BACKPROP = [sys.executable, "-m", "backprop_cli"]

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")

CASES = """# a comment line: not a case
"(x+y)*z" x=-2 y=5 z=-4 expect: value=-12 x=-4 y=-4 z=3
"x*y" x=2 y=3 expect: x=4
"x +" x=1

"x**3" x=2 expect: x=12
"""
CONTROL = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")


def run_on_terminal(argv: list[str], columns: int, cwd: Path) -> bytes:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
    env.update(TERM="xterm-256color")
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd)
    os.close(slave)
    seen = b""
    end = time.monotonic() + 120
    while time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 0.2)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        seen += data
    proc.wait(timeout=30)
    os.close(master)
    return seen


def screen(raw: bytes, columns: int) -> list[str]:
    """The lines a terminal shows after `raw`: \\r returns to column 0, ESC[K and ESC[2K erase,
    a line longer than the window wraps, every other escape (colour) changes nothing."""
    lines: list[list[str]] = [[]]
    col = 0
    text = raw.decode(errors="replace").replace("\r\n", "\n")
    k = 0
    while k < len(text):
        m = CONTROL.match(text, k)
        if m:
            if m.group(2) == "K":
                line = lines[-1]
                del line[0 if m.group(1) == "2" else col:]
            k = m.end()
            continue
        ch = text[k]
        k += 1
        if ch == "\n":
            lines.append([])
            col = 0
        elif ch == "\r":
            col = 0
        else:
            if col >= columns:
                lines.append([])
                col = 0
            line = lines[-1]
            line.extend(" " * (col - len(line)))
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
    return ["".join(line).rstrip() for line in lines]


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_progress_is_one_line_that_leaves_nothing_behind(tmp_path, columns):
    (tmp_path / "cases.txt").write_text(CASES)
    raw = run_on_terminal([*BACKPROP, "check", "cases.txt", "--jobs", "1"], columns, tmp_path)
    shown = screen(raw, columns)
    assert b"4/4 cases" in raw  # counted in cases: the comment and the blank line are not
    assert b"lines" not in raw
    assert not any("checking" in line or "━" in line for line in shown)
    starts = [line for line in shown if line.startswith(("FAIL ", "ERROR "))]
    assert [s.split()[0] for s in starts] == ["FAIL", "ERROR"]
    assert starts[0] == "FAIL cases.txt:3: x*y"
    assert any(line.startswith("cases.txt: 1 of 4 cases could not run") for line in shown)


@pytest.mark.parametrize("columns", [60, 80])
def test_a_long_error_line_goes_on_indented_never_at_column_0(tmp_path, columns):
    (tmp_path / "cases.txt").write_text('"(x+y" x=1 y=2\n')
    raw = run_on_terminal([*BACKPROP, "check", "cases.txt", "--jobs", "1"], columns, tmp_path)
    shown = screen(raw, columns)
    start = next(k for k, line in enumerate(shown) if line.startswith("ERROR "))
    assert "'(' is never closed" in shown[start]
    assert shown[start + 1].startswith("    ") and "the statement)" in shown[start + 1]


def test_grade_fits_a_terminal_60_columns_wide(tmp_path):
    # the sum over the broadcast axis forgotten: its diagnosis and the legend are long prose
    (tmp_path / "f.bp").write_text("h = x @ w + b\nloss = sum(h * h)\n")
    (tmp_path / "back.bp").write_text("dh = 2 * h\ndw = x.T @ dh\ndb = dh\ndx = dh @ w.T\n")
    argv = [*BACKPROP, "grade", "f.bp", "back.bp", "x=[[1, 2], [3, 4], [5, 6]]",
            "w=[[0.5, -1], [1, 0.25]]", "b=[0.1, -0.2]"]
    raw = run_on_terminal(argv, 60, tmp_path)
    written = CONTROL.sub("", raw.decode()).replace("\r\n", "\n").splitlines()
    assert max(len(line) for line in written) <= 60  # no line the terminal has to wrap
    shown = screen(raw, 60)
    assert any("a sum over the broadcast axis is missing" in line for line in shown)
    legend = next(k for k, line in enumerate(shown) if line.startswith("exact: bit for bit"))
    assert shown[legend + 1].startswith("    ") and "|gradient|" in shown[legend + 1]


@pytest.mark.parametrize("width", [40, 60, 80])
def test_the_progress_line_shortens_by_whole_parts_never_mid_word(width):
    # At 60 columns it read "... 3003 passed, 1 unchecked, 2 faile": cut inside a word, and
    # the failures were what was cut.
    from backprop_cli.commands.progress import ProgressLine

    line = ProgressLine(None, 6010)
    line.done, line.counts = 3010, "3003 passed, 1 unchecked, 2 failed, 4 errors"
    text = line.text(width)
    assert len(text) < width
    assert text.startswith("checking 3010/6010 cases")
    shown = [p for p in text.removeprefix("checking 3010/6010 cases").split("  ") if p]
    full = ["3003 passed", "1 unchecked", "2 failed", "4 errors"]
    for part in shown:
        if "━" in part or "─" in part or ":" in part:
            continue  # the bar, the clock
        items = [i for i in part.removeprefix("…").removeprefix(", ").split(", ") if i]
        assert items == full[len(full) - len(items):], text  # what went wrong is kept
    if width == 60:
        assert text.endswith("2 failed, 4 errors"), text

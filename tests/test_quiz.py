"""backprop quiz: seeded circuits like the lecture's, graded answer by answer with hints in
upstream x local terms; worksheets, keys and grading of filled-in sheets; and the interactive
quiz driven through a real pseudo-terminal."""

from __future__ import annotations

import contextlib
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

import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli
from backprop_cli.evaluate import Options, evaluate
from backprop_cli.exercises.circuits import make, resolve_ops
from backprop_cli.exercises.grading import mark
from backprop_cli.language.parser import parse


def run(*args: str, code: int = 0):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


def test_the_same_seed_gives_the_same_circuit_and_another_seed_another():
    first, again = make(7), make(7)
    assert (first.statements, first.bindings) == (again.statements, again.bindings)
    others = {make(s).statements for s in range(8)}
    assert len(others) > 4


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ops, nodes", [("add,mul,max", 4), ("add,mul,max,sigmoid,exp", 6),
                                        ("sub,div,min,tanh,neg", 5), ("sigmoid", 3)])
def test_answers_are_backprops_gradients_checked_by_sympy(seed, ops, nodes):
    ex = make(seed, resolve_ops(ops), nodes)
    graph = parse(ex.program)
    used = {op.name for op in graph.ops if not op.is_leaf}
    assert used <= set(ops.split(","))
    result = evaluate(ex.program, ex.bindings, Options(check=True, numeric=False))
    assert all(c.status == "pass" for r in result.rows for c in r.checks)
    gradients = result.gradients
    for q in ex.questions:
        if q.name in gradients:
            assert q.answer == gradients[q.name]
        # each node's gradient is the sum of upstream x local over the gates it feeds
        assert sum(p.upstream * p.local for p in q.parts) == pytest.approx(q.answer)


def test_seed_7_draws_no_saturated_sigmoid_and_every_gate_is_worked_by_hand():
    # Before values were redrawn for hand-sized numbers, this drew f = sigmoid(-18), value
    # 1.52e-08: its local gradient cannot be worked by hand.
    ex = make(7, resolve_ops("add,mul,max,sigmoid"), 5)
    assert ex.values["f"] == pytest.approx(0.8807970779778823)  # sigmoid(2)
    for seed in range(12):
        ex = make(seed, resolve_ops("add,mul,sigmoid,exp,tanh"), 6)
        locals_ = [g for r in ex.rows for g in (r.local or ()) if g is not None]
        assert all(g == 0 or 0.01 <= abs(g) <= 1000 for g in locals_)
        assert all(v == 0 or 0.01 <= abs(v) <= 10_000 for v in ex.values.values())
        assert make(seed, resolve_ops("add,mul,sigmoid,exp,tanh"), 6).bindings == ex.bindings


def test_a_wrong_answer_names_the_upstream_and_the_local_factor():
    ex = make(1)  # a = z + x; b = y*a; c = b*y; f = c + x at x = 3, y = 3, z = -4
    b = next(q for q in ex.questions if q.name == "b")
    assert mark(b, "3").right and mark(b, "1*3").right
    upstream_only = mark(b, "1")
    assert not upstream_only.right
    assert upstream_only.hint.startswith("That is the upstream gradient ∂f/∂c alone")
    assert "∂f/∂b = ∂f/∂c × ∂c/∂b = 1 × 3 = 3" in upstream_only.hint
    y = next(q for q in ex.questions if q.name == "y")
    assert mark(y, "-3").hint.startswith("That is only what b sends back; y fans out")
    assert mark(y, "6").hint.startswith("The sign is wrong")


def test_answers_are_graded_to_the_digits_written():
    ex = make(2, resolve_ops("add,mul,sigmoid"), 3)
    q = ex.questions[0]
    assert mark(q, f"{q.answer:.3g}").right
    assert not mark(q, f"{q.answer * 1.2:.3g}").right


def test_worksheet_key_and_grading(tmp_path):
    sheet, key = tmp_path / "sheet.md", tmp_path / "key.md"
    run("quiz", "--seed", "1", "--worksheet", str(sheet), "--key", str(key))
    text = sheet.read_text()
    assert "<!-- backprop quiz --seed 1 --ops add,mul,max --nodes 4 -->" in text
    assert "| ∂f/∂b |  |" in text and "upstream from" not in text  # no answers
    assert "| ∂f/∂b | 3 | ∂f/∂b = ∂f/∂c × ∂c/∂b = 1 × 3 = 3" in key.read_text()
    # the same seed writes the same sheet
    again = tmp_path / "again.md"
    run("quiz", "--seed", "1", "--worksheet", str(again))
    assert again.read_text() == text

    answers = dict(re.findall(r"\| ∂f/∂(\w+) \| (\S+) \|", key.read_text()))
    filled = text
    for name, value in answers.items():
        filled = filled.replace(f"| ∂f/∂{name} |  |", f"| ∂f/∂{name} | {value} |")
    sheet.write_text(filled)
    result = run("quiz", "--grade", str(sheet))
    assert result.stdout.splitlines()[-1] == "score 6/6"

    sheet.write_text(filled.replace("| ∂f/∂b | 3 |", "| ∂f/∂b | 1 |"))
    result = run("quiz", "--grade", str(sheet), code=1)
    assert "∂f/∂b = 1: wrong, it is 3. That is the upstream gradient" in result.stdout
    assert result.stdout.splitlines()[-1] == "score 5/6"

    sheet.write_text(filled.replace("| ∂f/∂b | 3 |", "| ∂f/∂b | 3 + |"))
    result = run("quiz", "--grade", str(sheet), code=2)
    line = next(n for n, s in enumerate(filled.splitlines(), 1) if s.startswith("| ∂f/∂b"))
    assert result.stderr.splitlines() == [
        f"{sheet}:{line}:14: parse error: unexpected end of input: expected a number, a name "
        "or '('", "  | ∂f/∂b | 3 + |", "               ^"]


def test_html_worksheet_has_the_picture_and_the_same_content(tmp_path):
    page = tmp_path / "sheet.html"
    run("quiz", "--seed", "1", "--worksheet", str(page))
    text = page.read_text()
    assert "<!-- backprop quiz --seed 1 --ops add,mul,max --nodes 4 -->" in text
    assert "<svg" in text or "<pre>f = +" in text
    assert text.count("<td>∂f/∂") == 6


def test_bad_options_exit_2():
    assert "not an op a circuit can use" in run("quiz", "--ops", "add,foo", code=2).stderr
    assert "a circuit has 1 to 12 gates" in run("quiz", "--nodes", "0", code=2).stderr


# --- the interactive quiz, through a real pseudo-terminal ---------------------------------


ANSI = re.compile(r"\x1b\[[0-9;]*m")


@contextlib.contextmanager
def _quiz(columns: int, *args: str, color: bool = False):
    """`backprop quiz ARGS` on a real pseudo-terminal COLUMNS wide: (process, master fd);
    closed and reaped on the way out, whatever the test did."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update({"COLUMNS": str(columns), "TERM": "xterm-256color"})
    if not color:
        env["NO_COLOR"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "backprop_cli", "quiz", *args],
                            stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    try:
        yield proc, master
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _read_until(master: int, marker: str, seen: list[str], timeout: float = 20.0,
                times: int = 1) -> str:
    deadline = time.monotonic() + timeout
    while "".join(seen).count(marker) < times:
        ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no {marker!r} in {''.join(seen)!r}")
        try:
            chunk = os.read(master, 4096).decode("utf-8", "replace")
        except OSError:
            break
        seen.append(chunk)
    return "".join(seen)


@pytest.mark.parametrize("columns", [80, 120])
def test_the_interactive_quiz_in_a_terminal(columns):
    ex = make(1)
    answers = {q.name: q.answer for q in ex.questions}
    answers["b"] = 1.0  # the upstream alone: a hint
    seen: list[str] = []
    with _quiz(columns, "--seed", "1") as (proc, master):
        shown = 0
        for q in ex.questions:
            text = _read_until(master, f"∂f/∂{q.name} = ", seen)
            shown = len(text)
            os.write(master, f"{answers[q.name]:g}\n".encode())
        text = _read_until(master, "score", seen)
        _read_until(master, "\n", [text[text.index("score"):]])
        proc.wait(timeout=20)
    assert shown
    out = ANSI.sub("", "".join(seen)).replace("\r\n", "\n")  # NO_COLOR keeps bold, not colour
    assert "Circuit (backprop quiz --seed 1 --ops add,mul,max --nodes 4):" in out
    assert "├── b = [*]   value -3" in out
    assert "score 5/6" in out
    assert proc.returncode == 1
    hint = out[out.index("wrong, it is 3."):out.index("∂f/∂y = ")]
    assert "upstream gradient ∂f/∂c" in hint
    assert all(len(line) <= columns for line in hint.splitlines())
    assert len(hint.splitlines()) > 1  # wrapped to the terminal's width


def test_colour_on_a_terminal_and_none_with_no_color():
    for color in (True, False):
        seen: list[str] = []
        with _quiz(80, "--seed", "1", color=color) as (_, master):
            _read_until(master, "∂f/∂c = ", seen)
            os.write(master, b"1\n")
            _read_until(master, "∂f/∂b = ", seen)
        out = "".join(seen)
        assert ("\x1b[32m" in out) == color  # "right" in green
        assert "value -6" in ANSI.sub("", out)


def test_enter_alone_asks_again_and_q_stops():
    ex = make(1)  # the first question is df/dc = 1
    seen: list[str] = []
    with _quiz(80, "--seed", "1") as (proc, master):
        _read_until(master, "∂f/∂c = ", seen)
        os.write(master, b"\n")
        _read_until(master, "∂f/∂c = ", seen, times=2)  # asked again
        os.write(master, b"1\n")
        _read_until(master, "∂f/∂b = ", seen)
        os.write(master, b"q\n")
        _read_until(master, "score", seen)
        proc.wait(timeout=20)
    out = ANSI.sub("", "".join(seen)).replace("\r\n", "\n")
    assert "unanswered" not in out and "wrong" not in out
    assert "∂f/∂c = \n∂f/∂c = 1\n  right" in out
    assert out.rstrip().endswith("score 1/1")
    assert ex.questions[0].name == "c" and proc.returncode == 0


def test_a_hint_names_no_letter_the_circuit_does_not_define():
    # The sigmoid row's role once read "(1 - σ(a)) σ(a)" in circuits with their own node a.
    ex = make(7, resolve_ops("add,mul,max,sigmoid"), 5)  # ...; d = c + x; f = sigmoid(d)
    (part,) = ex.questions[0].parts
    assert part.statement == "f = sigmoid(d)"
    assert part.role == "sigmoid gate: local gradient (1 - σ) σ, σ being its output"
    sin = make(2, resolve_ops("sin,add"), 3)  # a = sin(x); b = sin(z); c = sin(b); ...
    roles = {p.statement: p.role for q in sin.questions for p in q.parts if "sin" in p.statement}
    assert roles == {"a = sin(x)": "local gradient cos(x)", "b = sin(z)": "local gradient cos(z)",
                     "c = sin(b)": "local gradient cos(b)"}


def test_ctrl_c_leaves_the_answer_line_clean():
    import signal

    seen: list[str] = []
    with _quiz(80, "--seed", "1") as (proc, master):
        _read_until(master, "∂f/∂c = ", seen)
        proc.send_signal(signal.SIGINT)
        _read_until(master, "interrupted", seen)
        proc.wait(timeout=20)
    out = ANSI.sub("", "".join(seen)).replace("\r\n", "\n")
    assert "∂f/∂c = \ninterrupted" in out  # on a line of its own, not glued to the prompt
    assert proc.returncode == 130


def test_a_local_factor_is_written_as_local_never_as_the_gradient_asked_for():
    # The output's gate reads its inputs too: its local factor is ∂(expression)/∂node, so no
    # hint defines ∂f/∂a by itself (∂f/∂f × ∂f/∂a).
    from backprop_cli.exercises.grading import explain

    for seed in range(1, 30):
        ex = make(seed)
        for q in ex.questions:
            text = explain(q)
            assert f"∂f/∂f × ∂f/∂{q.name}" not in text, text
            for p in q.parts:
                if p.consumer == "f":
                    assert f"∂f/∂f × ∂({p.statement.partition(' = ')[2]})/∂{q.name}" in text


def test_the_worksheets_say_what_they_draw_and_how_to_be_graded(tmp_path):
    sheet = tmp_path / "sheet.md"
    page = tmp_path / "sheet.html"
    run("quiz", "--seed", "1", "--worksheet", str(sheet))
    run("quiz", "--seed", "1", "--worksheet", str(page))
    text = sheet.read_text(encoding="utf-8")
    assert "on the edges" not in text  # a text tree has no edges
    assert "each gate's inputs indented under it" in text
    html = page.read_text(encoding="utf-8")
    assert "This page is a printout" in html and "--worksheet sheet.md" in html
    assert "max-width:100%" in html  # the drawing scales to the page
    graded = run("quiz", "--grade", str(page), code=2)
    assert "an HTML worksheet is a printout and cannot be graded" in graded.stderr


def test_the_keys_tree_says_its_grads_are_what_each_edge_carries(tmp_path):
    # Seed 7: a feeds b and f, so the tree shows "a ... grad 1" twice while its answer is 2.
    # The key says what a tree line's grad is, so the two do not read as a contradiction.
    key = tmp_path / "key.md"
    run("quiz", "--seed", "7", "--key", str(key))
    text = key.read_text()
    assert "a = [*]   value 3   grad 1" in text and "| ∂f/∂a | 2 |" in text
    intro = next(line for line in text.splitlines() if line.startswith("At x = "))
    assert "the gradient flowing back along that edge" in intro
    assert "the sum" in intro
    sheet = tmp_path / "sheet.md"
    run("quiz", "--seed", "7", "--worksheet", str(sheet))
    assert "after grad" not in sheet.read_text()  # the exercise shows no gradients


def test_an_op_the_quiz_cannot_use_is_one_whole_line_with_a_suggestion():
    # The list of usable ops is longer than an error line may be: it was cut in the middle
    # of a word ("cbr…og2"). Now whole names, a count of the rest, and the likely spelling.
    err = run("quiz", "--ops", "add,mul,sigmod", code=2).stderr
    assert err.startswith("binding error: --ops sigmod: not an op a circuit can use (did you "
                          "mean sigmoid? choose from: add, mul, max, ")
    assert "…" not in err and err.count("\n") == 1
    assert "more" in err and "sigmoid" in err.split("choose from:")[1]


def test_a_blank_answer_is_called_unanswered_not_wrong(tmp_path):
    # It read "(blank): wrong, it is 1. unanswered; ∂f/∂c = ...": two words for one thing,
    # the second starting a sentence in lower case.
    sheet = tmp_path / "sheet.md"
    run("quiz", "--seed", "7", "--worksheet", str(sheet))
    lines = run("quiz", "--grade", str(sheet), code=1).stdout.splitlines()
    assert lines[0].startswith("∂f/∂c = (blank): unanswered, it is 1. ∂f/∂c = ∂f/∂f × ")
    assert lines[-1] == "score 0/6" and not any("wrong" in line for line in lines)


def test_the_command_that_makes_the_circuit_again_stays_copyable_when_narrow():
    # At 60 columns "Circuit (backprop quiz ... sigmoid" went on as "  --nodes 5):": copied,
    # the command lost its end. Too wide, it is its own shell lines.
    seen: list[str] = []
    with _quiz(60, "--seed", "3", "--ops", "add,mul,max,sigmoid", "--nodes", "5") as (_, master):
        out = ANSI.sub("", _read_until(master, "∂f/∂", seen)).replace("\r\n", "\n")
    lines = out.splitlines()
    k = lines.index("Circuit, made by:")
    assert lines[k + 1:k + 3] == ["  backprop quiz --seed 3 --ops add,mul,max,sigmoid \\",
                                  "      --nodes 5"]

"""eval's header on a real terminal (`f = <program>   value ...`): the program is echoed as every
user text is, without its comments (so a U+202E in one never reaches the screen), and a long
program is cut to its two ends instead of filling the screen."""

import os

import pytest
from test_trace_terminal import BACKPROP, Terminal

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")


def header(text: str) -> list[str]:
    """The screen lines before the table's top border."""
    lines = text.split("\n")
    return lines[:next(k for k, line in enumerate(lines) if line.startswith("┏"))]


@pytest.mark.parametrize("columns", [80, 120])
def test_a_bidi_override_in_a_comment_is_shown_not_obeyed(columns):
    out = Terminal([*BACKPROP, "eval", "x+y # \u202e abc", "x=1", "y=2"], columns).finish()
    assert "\u202e" not in out
    assert header(out) == ["f = x+y   value 3"]  # a comment is not part of the header


@pytest.mark.parametrize("columns", [80, 120])
def test_a_long_program_keeps_its_two_ends_in_at_most_two_lines(tmp_path, columns):
    program = tmp_path / "big.txt"
    program.write_text("+".join(f"x*{k}" for k in range(3000)))
    out = Terminal([*BACKPROP, "eval", "--no-check", "-f", str(program), "x=1"], columns).finish()
    head = header(out)
    assert len(head) <= 2 and all(len(line) <= columns for line in head)
    assert head[0].startswith("f = x*0+x*1+") and "x*2999   value" in " ".join(head)


def test_a_program_of_several_lines_shows_where_they_break():
    out = Terminal([*BACKPROP, "eval", "q = x + y  # sum\n\nf = q * z", "x=1", "y=2", "z=3"],
                   80).finish()
    # Assignments are not chained under an `f = `, and the comment is left out.
    assert header(out) == ["q = x + y \u21b5 f = q * z   value 9"]


NET = ["h = tanh(W1 @ x); f = sum((W2 @ h)**2)",
       "W1=[[0.13,-0.21,0.7],[0.33,0.41,-0.9],[0.2,0.1,0.3]]", "x=[1.1,2.3,-0.7]",
       "W2=[[1.3,-2.1,0.3],[0.57,0.71,0.2]]"]


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_a_matrix_row_is_never_split_and_the_table_fits(columns):
    out = Terminal([*BACKPROP, "eval", *NET], columns).finish()
    lines = out.split("\n")
    assert max(len(line) for line in lines) <= columns
    assert "…" not in out  # no header or check cut short
    # Every row of dW1 whole on one line, in the table or below it.
    for row in ("[-4.11429  -8.60261    2.61819]", "[ 1.08658   2.27194  -0.691461]"):
        assert any(row in line for line in lines), row
    for line in lines:  # no cell holds half a bracketed row
        cells = line.split("│")
        assert all(c.count("[") == c.count("]") for c in cells), line
    if columns == 120:
        assert "(all 9 entries)" in out  # wide enough for the checks in full
    if columns == 60:
        assert "dW1 (3x3):" in out  # the matrices below the table

"""eval's header on a real terminal (`f = <program>   value ...`): the program is echoed as every
user text is, so a U+202E in a comment is shown as U+202E, not obeyed, and a long program is cut
to its two ends instead of filling the screen."""

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
    assert header(out) == ["f = x+y # U+202E abc   value 3"]


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
    assert header(out) == ["f = q = x + y  # sum \u21b5 f = q * z   value 9"]

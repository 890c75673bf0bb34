"""Every screen at 60, 80 and 120 columns, read as a person reads it: a line wider than the
window goes on indented (never back at column 0), no bracketed list (a vector, a matrix row) is
cut, and a caret stays under its column. stdout and stderr share one pseudo-terminal, as in a
shell; the screen is rebuilt by test_check_terminal's model (wrap at the window's width)."""


import re

import pytest
from click.testing import CliRunner
from test_check_terminal import BACKPROP, run_on_terminal, screen

from backprop_cli.cli import cli
from backprop_cli.render.wrap import fit_caret, hang

NEURON = ["1/(1+exp(-(w0*x0 + w1*x1 + w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]
NET = ["h = relu(W1 @ x + b1); f = sum(W2 @ h)", "W1=[[0.1,-0.2,0.3],[0.4,0.5,-0.6]]",
       "x=[1,2,3]", "b1=[0.1,0.2]", "W2=[[1,-1],[0.5,2],[0.3,0.3]]"]
CASES = """"x*y" x=2 y=3 expect: x=4
"sin(x**2)*y + exp(-x)/(1+exp(-x)) + tanh(x*y*z)" x=0.5 y=2 z=1 expect: x=1 y=2 z=3
"cross_entropy(softmax(s), 2)" s=[1,2,3]
"sin(x) + cos(y) * tanh(z) + exp(w) + log(v) + sqrt(u) + relu(t) + y ** 3 $ 2 + x*y" x=1
"""
WIDE = 400  # columns: nothing wraps, each line is whole
TABLE = "┏┃┡│└┌"  # a rich table's rows: laid out by rich, never wrapped
BELOW = re.compile(r"d\S+ \([\dx]+\):$")  # `dW1 (2x3):`: a narrow table's matrix, below it


def shown_at(args: list[str], columns: int, cwd) -> list[str]:
    return screen(run_on_terminal([*BACKPROP, *args], columns, cwd), columns)


def no_line_back_at_column_0(args: list[str], columns: int, cwd) -> list[str]:
    """The screen at `columns`, checked against the same command on a window too wide to wrap:
    a line there that begins at column 0 begins a line of the wide screen too (a piece of a
    wrapped line begins with spaces). Returns the narrow screen."""
    narrow = shown_at(args, columns, cwd)
    wide = shown_at(args, WIDE, cwd)
    for line in narrow:
        if line[:1] in ("", " ", *TABLE) or BELOW.match(line) or line.startswith("#   "):
            continue
        if not any(w.startswith(line[:25]) for w in wide):
            raise AssertionError(f"a line back at column 0: {line!r}\n" + "\n".join(narrow))
    return narrow


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_check_blocks_go_on_indented_and_the_warning_reaches_a_case(tmp_path, columns):
    (tmp_path / "cases.txt").write_text(CASES)
    lines = no_line_back_at_column_0(["check", "cases.txt", "--jobs", "1"], columns, tmp_path)
    assert "WARNING cases.txt:3: cross_entropy(softmax(s), 2)" in lines
    # The caret is under the $ at every width, whatever the source line was cut to.
    k = next(i for i, line in enumerate(lines) if line.startswith("ERROR cases.txt:4"))
    source = next(j for j in range(k + 1, len(lines)) if "$" in lines[j])
    assert lines[source + 1].rstrip().endswith("^")
    assert lines[source][len(lines[source + 1].rstrip()) - 1] == "$"


@pytest.mark.parametrize("columns", [40, 60, 80])
def test_explain_continuations_are_indented_and_no_vector_is_cut(tmp_path, columns):
    for program in (NEURON, NET):
        lines = no_line_back_at_column_0(["trace", "--explain", *program], columns, tmp_path)
        assert max(map(len, lines)) <= columns
        for line in lines:  # every [ closes on its own line: a vector or a row is whole
            assert line.count("[") == line.count("]"), line


@pytest.mark.parametrize("columns", [60, 80])
def test_eval_sentences_warnings_and_lecture_views_are_indented(tmp_path, columns):
    (tmp_path / "staged.bp").write_text("q = x + y\nf = q * z\n")
    (tmp_path / "back.bp").write_text("df = 1\ndq = z\ndz = -q\ndx = dq\ndy = dq * 2\n")
    for args in (["eval", "x**2*y + sin(x*y)", "x=1", "y=2", "--hessian"],
                 ["eval", "x*y + y*z", "x=1", "y=2", "z=3", "--claim", "dx=3"],
                 ["eval", "cross_entropy(softmax(s), 2)", "s=[1,2,3]"],
                 ["eval", "relu(x) + abs(y) + max(x, y)", "x=0", "y=0", "--frameworks"],
                 ["eval", "relu(x*y)", "x=-1", "y=2", "--why-zero"],
                 ["trace", "a = x*y; f = a + a*z", "x=2", "y=3", "z=4", "--forward-mode", "x"],
                 ["trace", "sum(tanh(v))", "v=[0.5,1,2]", "--jacobian", "tanh(v)"],
                 ["grade", "staged.bp", "back.bp", "x=-2", "y=5", "z=-4"],
                 ["backward", "staged.bp", "x=-2", "y=5", "z=-4"],
                 ["graph", *NET],
                 ["eval", "tanh(W @ x)", "W=[[1,2,3],[3,4,5]]", "x=[0.1,-0.1,0.2]"]):
        lines = no_line_back_at_column_0(args, columns, tmp_path)
        assert max(map(len, lines)) <= columns, args


@pytest.mark.parametrize("columns", [60, 80])
def test_an_error_keeps_its_caret_under_the_column(tmp_path, columns):
    program = "sin(x) + cos(y) * tanh(z) + exp(w) + log(v) + sqrt(u) + relu(t) + y ** 3 $ 2"
    lines = shown_at(["eval", program, "x=1"], columns, tmp_path)
    assert max(map(len, lines)) <= columns
    caret = next(i for i, line in enumerate(lines) if line.strip() == "^")
    assert lines[caret - 1][len(lines[caret]) - 1] == "$"
    assert all(line.startswith(" ") for line in lines[1:caret - 1])


def test_piped_output_is_one_line_per_line():
    # Not a terminal: nothing is wrapped, whatever COLUMNS says.
    result = CliRunner().invoke(cli, ["trace", "--explain", *NET], env={"COLUMNS": "40"})
    assert any(len(line) > 40 for line in result.stdout.splitlines())
    assert "\x1b[" not in result.stdout


def test_hang_and_fit_caret_rules():
    assert hang("  dx = [1.8, 0] * 1 = [1.8, 0]", None) == ["  dx = [1.8, 0] * 1 = [1.8, 0]"]
    lines = hang("  d = a times the local Jacobian = [[1.8, 3.6, 5.4], [0, 0, 0]]", 40)
    assert lines == ["  d = a times the local Jacobian =", "      [[1.8, 3.6, 5.4], [0, 0, 0]]"]
    assert hang(" " * 100, 60) == [""]
    assert all(len(part) <= 60 for part in hang("x" * 130, 60))  # cut only when nothing fits
    line, marks = fit_caret("  " + "a + " * 40 + "$ 2", "  " + " " * 160 + "^", 60)
    assert len(line) <= 60 and line[marks.index("^")] == "$"


@pytest.mark.parametrize("command", ["", "eval", "trace", "check", "graph", "quiz", "grade",
                                     "backward"])
def test_help_fits_60_columns_and_its_examples_stay_copyable(tmp_path, command):
    lines = shown_at([*command.split(), "--help"], 60, tmp_path)
    assert max(map(len, lines)) <= 60
    for k, line in enumerate(lines):  # a broken example goes on as a shell continuation
        if line.rstrip().endswith(" \\"):
            assert lines[k + 1].startswith(" " * 8), lines[k + 1]


@pytest.mark.parametrize("columns", [60, 80])
def test_quiz_grades_go_on_indented(tmp_path, columns):
    sheet = tmp_path / "sheet.md"
    CliRunner().invoke(cli, ["quiz", "--seed", "7", "--worksheet", str(sheet)])
    filled = re.sub(r"^(\| ∂f/∂\w+ \|)  \|$", r"\1 7 |", sheet.read_text(), flags=re.M)
    (tmp_path / "filled.md").write_text(filled)
    lines = no_line_back_at_column_0(["quiz", "--grade", "filled.md"], columns, tmp_path)
    assert max(map(len, lines)) <= columns
    assert [line for line in lines if line][-1].startswith("score ")


def test_an_option_of_another_command_says_which():
    result = CliRunner().invoke(cli, ["eval", "x*y", "x=1", "y=2", "--explain"])
    assert result.exit_code == 2
    assert result.stderr == ("error: unknown option --explain (--explain is an option of "
                             "backprop trace; see --help)\n")


@pytest.mark.parametrize("columns", [60, 80])
def test_a_caret_past_the_end_of_a_long_line_stays_on_screen(tmp_path, columns):
    # `... + j*` ends too early: the caret sits one column past the last character. Cut to
    # the window, the line must still end where the caret says, not leave an empty caret line.
    pairs = zip("abcdefghijklmn", "opqrstuvwxyzAB")
    program = " + ".join(f"{a}*{b}" for a, b in pairs) + " + j*"
    lines = shown_at(["eval", program, "a=1"], columns, tmp_path)
    assert max(map(len, lines)) <= columns
    caret = next(i for i, line in enumerate(lines) if line.strip() == "^")
    assert len(lines[caret]) == len(lines[caret - 1].rstrip()) + 1
    assert lines[caret - 1].rstrip().endswith("j*")
    line, marks = fit_caret("  " + "a + " * 40 + "j*", "  " + " " * 162 + "^", 60)
    assert len(line) <= 60 and marks.index("^") == len(line)


@pytest.mark.parametrize("columns", [60, 80])
def test_a_note_on_stderr_goes_on_indented(tmp_path, columns):
    # --group's note (how many gates were collapsed) is a sentence wider than 80 columns.
    lines = no_line_back_at_column_0(["graph", *NEURON, "--group", "sigmoid"], columns,
                                     tmp_path)
    assert lines[0].startswith("note: grouped 1 sigmoid gate")
    assert max(map(len, lines)) <= columns


@pytest.mark.parametrize("columns", [60, 80])
def test_the_case_file_lines_in_check_help_are_file_lines_not_shell_commands(tmp_path, columns):
    # A case file's line is not a shell command: a ` \` continuation copied into a file makes
    # two broken cases. At 80 columns each line is whole and reads as a case; narrower, a line
    # too long goes on indented, with nothing added to it.
    from backprop_cli.batch.cases import read_cases

    lines = shown_at(["check", "--help"], columns, tmp_path)
    start = lines.index("  A case file:") + 1
    block = lines[start:lines.index("", start)]
    assert block and not [line for line in block if line.rstrip().endswith("\\")], block
    assert all(line.startswith("    ") for line in block)
    if columns == 80:
        assert len(block) == 2
        cases = list(read_cases([line.strip() for line in block]))
        assert [c.problem for c in cases] == [None, None]


def test_grades_diagnosis_is_filled_to_a_narrow_window(tmp_path):
    # Wrapped at 80 and then broken again at 60, the diagnosis read in ragged pieces
    # ("(f, q), and this line is" / "only the share ..."): it is filled to the window.
    (tmp_path / "fo.bp").write_text("q = x*y\nf = q + x\n")
    (tmp_path / "back.bp").write_text("dq = 1\ndx = dq*y\ndy = dq*x\n")
    lines = shown_at(["grade", "fo.bp", "back.bp", "x=2", "y=3"], 60, tmp_path)
    start = next(k for k, line in enumerate(lines) if line.startswith("first wrong:")) + 1
    end = next(k for k in range(start, len(lines)) if lines[k].startswith("exact:"))
    why = lines[start:end]
    assert max(map(len, why)) <= 60
    assert all(len(line) > 45 for line in why[:-1]), why


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_trace_expectations_go_on_indented(tmp_path, columns):
    # The graded lines under a trace were written raw: the fan-out diagnosis went on at
    # column 0 even at 120 columns.
    args = ["trace", "a = x*y; f = a + a*z", "x=2", "y=3", "z=4", "--expect", "da=4"]
    for more in ([], ["--explain"]):
        lines = no_line_back_at_column_0([*args, *more], columns, tmp_path)
        assert max(map(len, lines)) <= columns
        assert any(line.startswith("expected da: FAIL: you wrote 4") for line in lines)


def test_a_hand_broken_example_too_wide_is_broken_again_as_one_command(tmp_path):
    # An example written over two lines whose first line is wider than the window was broken
    # twice: a lone `"x=[1,1]" \` line, and a second continuation indented 12.
    trace = shown_at(["trace", "--help"], 60, tmp_path)
    assert '        "x=[1,1]" --jacobian "W @ x"' in trace
    graph = shown_at(["graph", "--help"], 60, tmp_path)
    assert not [line for line in graph if line.startswith(" " * 12 + "neuron")]
    for lines in (trace, graph):  # every piece of an example sits under its first line
        for k, line in enumerate(lines[1:], 1):
            if lines[k - 1].endswith(" \\"):
                assert line.startswith(" " * 8) and not line.startswith(" " * 9), line

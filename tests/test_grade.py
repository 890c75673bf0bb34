"""`backprop grade`: the lecture's staged sigmoid, its backward pass written by hand, right and
with each kind of mistake a learner makes; then the same for a vectorized affine layer."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli
from backprop_cli.errors import BackpropError
from backprop_cli.grade.grading import compare, read_and_grade

# CS231n's staged computation of f(x, y) = (x + σ(y)) / (σ(x) + (x + y)²), at x = 3, y = -4.
STAGED = """\
sigy = 1 / (1 + exp(-y))
num = x + sigy
sigx = 1 / (1 + exp(-x))
xpy = x + y
xpysqr = xpy**2
den = sigx + xpysqr
invden = 1 / den
f = num * invden
"""
POINT = {"x": 3.0, "y": -4.0}

# Its backward pass as the notes write it: one line per node, `+=` where x and y fan out.
RIGHT = """\
# backprop f = num * invden
dnum = invden
dinvden = num
dden = (-1 / den**2) * dinvden
dsigx = dden
dxpysqr = dden
dxpy = (2 * xpy) * dxpysqr
dx = dxpy
dy = dxpy
dx += ((1 - sigx) * sigx) * dsigx
dx += dnum
dsigy = dnum
dy += ((1 - sigy) * sigy) * dsigy
"""


def grade(backward: str, forward: str = STAGED, point=None):
    return read_and_grade(forward, backward, POINT if point is None else point)


def by_line(report):
    return {g.line: g for g in report.lines}


def test_the_notes_backward_pass_is_right():
    report = grade(RIGHT)
    assert report.status == "pass" and report.exit_code == 0
    assert [g.status for g in report.lines].count("exact") >= 11
    assert all(g.status in ("exact", "approx") for g in report.lines)
    assert report.first_wrong is None and report.missing == ()


def mistake(old: str, new: str) -> str:
    assert old in RIGHT
    return RIGHT.replace(old, new, 1)


# (what the learner did, the backward file, first wrong line, its status, words of its why)
MISTAKES = [
    ("sign flipped", mistake("(-1 / den**2)", "(1 / den**2)"), 4, "wrong",
     "the sign is flipped"),
    ("upstream missing", mistake("dxpy = (2 * xpy) * dxpysqr", "dxpy = 2 * xpy"), 7, "wrong",
     "the upstream is missing"),
    ("off by a factor", mistake("dxpy = (2 * xpy) * dxpysqr", "dxpy = xpy * dxpysqr"), 7,
     "wrong", "off by a constant factor: the line is 0.5 times the gradient (1/2)"),
    ("= where += is needed", mistake("dx += dnum", "dx = dnum"), 11, "wrong",
     "`=` where x fans out and needs `+=`: line 11 assigns dx afresh, discarding the shares "
     "lines 8 and 10 added"),
    ("a share missing", mistake("dx += dnum\n", ""), 10, "wrong",
     "the lines add up all but the share through num"),
    ("sigmoid's local gradient wrong",
     mistake("((1 - sigy) * sigy) * dsigy", "(1 - sigy) * dsigy"), 13, "wrong",
     "largest difference"),
]


@pytest.mark.parametrize("what, backward, line, status, why", MISTAKES,
                         ids=[m[0] for m in MISTAKES])
def test_each_mistake_is_the_first_wrong_line_with_its_diagnosis(what, backward, line, status,
                                                                 why):
    report = grade(backward)
    assert report.status == "fail" and report.exit_code == 1
    first = report.first_wrong
    assert first.line == line and first.status == status
    assert why in first.why
    assert report.diagnosis == first.why


def test_lines_after_a_wrong_one_follow_from_it():
    # dden's sign is wrong: everything that reads it is right given a right upstream.
    report = by_line(grade(mistake("(-1 / den**2)", "(1 / den**2)")))
    assert report[4].own == "wrong" and report[4].follows_from is None
    for line in (5, 6, 7):
        assert report[line].status == "wrong"
        assert report[line].own in ("exact", "approx")
        assert report[line].follows_from == 4
        assert report[line].why == "right, given a right upstream; wrong because line 4 is"
    assert report[2].status == "exact" and report[3].status == "exact"


def test_a_gradient_read_before_it_is_written_is_an_error_but_its_rule_is_right():
    moved = RIGHT.replace("dsigy = dnum\n", "").replace("dnum = invden\n",
                                                         "dnum = invden\ndsigy = dnum\n")
    report = grade(moved)
    assert report.status == "pass"  # order among independent lines does not matter
    early = RIGHT.replace("dsigy = dnum\n", "").replace("# backprop f = num * invden\n",
                                                        "dsigy = dnum\n")
    g = by_line(grade(early))[1]
    assert g.status == "error" and g.own == "exact"
    assert "reads dnum before any line assigns it (line 2 assigns it later)" in g.why


def test_a_line_that_does_not_evaluate_is_an_error_with_a_caret():
    report = grade(mistake("dden = (-1 / den**2) * dinvden", "dden = log(-den) * dinvden"))
    g = by_line(report)[4]
    assert g.status == "error" and g.own == "error"
    assert "domain error" in g.why
    line, caret = g.caret
    assert line == "dden = log(-den) * dinvden" and caret.strip().startswith("^")
    assert report.first_wrong.line == 4
    assert by_line(report)[5].follows_from == 4


def test_missing_gradients_are_information_not_failure():
    report = grade("dnum = invden\ndinvden = num\n")
    assert report.status == "pass"
    assert report.missing == ("dy", "dsigy", "dx", "dsigx", "dxpy", "dxpysqr", "dden")


@pytest.mark.parametrize("backward, message", [
    ("dz = 1", "dz: z is neither a forward name nor a bound variable"),
    ("dnum = zz", "zz is neither a forward name, a bound variable nor a gradient (dNAME)"),
    ("dnum = invden +", "unexpected end of input"),
    ("num = invden", "num is not a gradient's name"),
    ("dnum -= invden", "'-=' is not a gradient step"),
    ("dnum = invden; dx = 1", "one gradient step per line"),
    ("# nothing\n", "the backward file has no gradient lines"),
])
def test_bad_backward_files_are_bad_input(backward, message):
    with pytest.raises(BackpropError) as info:
        grade(backward)
    assert message in info.value.message


@pytest.mark.parametrize("a, b, status", [
    (1.0, 1.0, "exact"), (1.0, 1.0 + 1e-9, "approx"), (1.0, 1.1, "wrong"),
    (np.ones((2, 3)), np.ones((3, 2)), "shape"), (np.ones(3), np.ones(3) * (1 + 1e-7), "approx"),
])
def test_statuses(a, b, status):
    assert compare(a, b).status == status


# --- arrays: CS231n's affine layer with a softmax loss ----------------------------------------

AFFINE = "scores = x @ w + b\nloss = cross_entropy(scores, y)\n"
AFFINE_BACK = """\
dscores = (softmax(scores) - y) / 4
dx = dscores @ w.T
dw = x.T @ dscores
db = sum(dscores, 0)
"""


@pytest.fixture
def affine_point():
    rng = np.random.default_rng(0)
    return {"x": rng.normal(size=(4, 5)), "w": rng.normal(size=(5, 3)) * 0.5,
            "b": rng.normal(size=(3,)) * 0.1, "y": np.eye(3)[[0, 2, 1, 2]]}


def test_the_affine_backward_is_exact(affine_point):
    report = read_and_grade(AFFINE, AFFINE_BACK, affine_point)
    assert [g.status for g in report.lines] == ["exact"] * 4
    assert report.missing == ("dy",)


@pytest.mark.parametrize("old, new, line, status, why", [
    ("dw = x.T @ dscores", "dw = dscores.T @ x", 3, "shape", "transposed"),
    ("db = sum(dscores, 0)", "db = dscores", 4, "shape",
     "a sum over the broadcast axis is missing: the forward broadcast b's (3,) to (4, 3)"),
    ("db = sum(dscores, 0)", "db = sum(dscores, 1)", 4, "shape",
     "summed over the wrong axis: the forward broadcast b along axis 0, so its gradient is "
     "sum(..., 0)"),
    ("dscores = (softmax(scores) - y) / 4", "dscores = (softmax(scores) - y) / 3", 1, "wrong",
     "off by a constant factor"),
])
def test_affine_mistakes(affine_point, old, new, line, status, why):
    report = read_and_grade(AFFINE, AFFINE_BACK.replace(old, new), affine_point)
    first = report.first_wrong
    assert (first.line, first.status) == (line, status)
    assert why in first.why


# CS231n's L2 penalty, 0.5 * reg * sum(w * w): one gate reads w twice, and the learner's one
# line for it, dw += reg * w, is that gate's whole share.
AFFINE_L2 = AFFINE.replace("loss = cross_entropy(scores, y)",
                           "loss = cross_entropy(scores, y) + 0.5 * 0.1 * sum(w * w)")


def test_the_l2_penalty_share_of_a_gate_reading_w_twice_is_one_line(affine_point):
    right = AFFINE_BACK + "dw += 0.1 * w\n"
    report = read_and_grade(AFFINE_L2, right, affine_point)
    assert all(g.status in ("exact", "approx") for g in report.lines)
    report = read_and_grade(AFFINE_L2, AFFINE_BACK + "dw = 0.1 * w\n", affine_point)
    first = report.first_wrong
    assert (first.line, first.status) == (5, "wrong")
    assert first.why.startswith("`=` where w fans out and needs `+=`: line 5 assigns dw "
                                "afresh, discarding the share line 3 added")


def test_a_broadcast_row_needs_its_sum_kept(affine_point):
    affine_point["b"] = affine_point["b"][None, :]  # (1, 3), as batch norm's gamma
    report = read_and_grade(AFFINE, AFFINE_BACK.replace("sum(dscores, 0)", "dscores"),
                            affine_point)
    assert "the forward broadcast b's (1, 3) to (4, 3)" in report.first_wrong.why
    assert "keepdims=True" in report.first_wrong.why


# --- the command --------------------------------------------------------------------------


def run(*argv, code=0):
    result = CliRunner().invoke(cli, list(argv))
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "staged.bp").write_text(STAGED)
    (tmp_path / "right.bp").write_text(RIGHT)
    (tmp_path / "wrong.bp").write_text(MISTAKES[0][1])
    return tmp_path


def test_cli_pass_and_fail_exit_codes_and_80_columns(files):
    out = run("grade", "staged.bp", "right.bp", "x=3", "y=-4").stdout
    assert out.splitlines()[0].split() == ["line", "gradient", "status", "max", "diff", "note"]
    assert out.rstrip().endswith("\nall 12 lines right (11 exact, 1 approx)")
    out = run("grade", "staged.bp", "wrong.bp", "x=3", "y=-4", code=1).stdout
    assert "first wrong: line 4: dden = (1 / den**2) * dinvden" in out
    assert ("lines 5-11, 13:\n"
            "  right, given a right upstream; wrong because line 4 is") in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_the_verdict_line_uses_the_words_of_eval_trace_and_check(files):
    # One slip, four commands: each ends on a line that starts FAILED: (eval's, trace's and
    # check's summary word), and a pass is a sentence without a status word in front.
    (files / "q.bp").write_text("q = x + y\nf = q * z\n")
    (files / "dq.bp").write_text("dq = -z\ndz = q\ndx = dq\ndy = dq\n")
    (files / "cases.txt").write_text('"q = x + y; f = q * z" x=-2 y=5 z=-4 expect: dq=4\n')
    point = ["x=-2", "y=5", "z=-4"]
    last = [run(*argv, code=1).stdout.splitlines()[-1] for argv in (
        ["grade", "q.bp", "dq.bp", *point],
        ["eval", "q = x + y; f = q * z", *point, "--expect", "dq=4"],
        ["trace", "q = x + y; f = q * z", *point, "--expect", "dq=4"],
        ["check", "cases.txt", "--jobs", "1"])]
    assert [line.split(":")[0] for line in last] == ["FAILED"] * 4, last
    assert run("grade", "staged.bp", "right.bp", "x=3", "y=-4").stdout.splitlines()[-1] == \
        "all 12 lines right (11 exact, 1 approx)"


def test_cli_json(files):
    data = json.loads(run("grade", "staged.bp", "wrong.bp", "x=3", "y=-4", "--json",
                          code=1).stdout)
    assert data["status"] == "fail"
    assert data["first_wrong"] == {"line": 4, "name": "dden",
                                   "why": "the sign is flipped: the line is the gradient negated"}
    assert set(data["lines"][0]) >= {"line", "name", "status", "max_diff", "why", "follows_from"}
    assert data["lines"][3]["follows_from"] == 4
    assert data["missing"] == []


def test_cli_markdown(files):
    out = run("grade", "staged.bp", "wrong.bp", "x=3", "y=-4", "--format", "markdown",
              code=1).stdout
    assert out.startswith("| line | gradient | status | max difference | note |")
    assert "**First wrong line** 4: `dden = (1 / den**2) * dinvden`" in out


@pytest.mark.parametrize("argv, message", [
    (["staged.bp", "nowhere.bp", "x=3", "y=-4"], "BACKWARD: nowhere.bp: no such file"),
    (["staged.bp", "right.bp", "x=3"], "staged.bp:1:"),  # y has no value
    (["staged.bp"], "grade needs a FORWARD program file and a BACKWARD file"),
    (["staged.bp", "bad.bp", "x=3", "y=-4"], "bad.bp:2:9: name error: q is neither"),
])
def test_cli_bad_input_is_one_message_and_exit_2(files, argv, message):
    (files / "bad.bp").write_text("dnum = invden\ndsigy = q\n")
    result = run("grade", *argv, code=2)
    assert message in result.stderr
    assert result.stdout == ""


# --- nn-zero-to-hero's "becoming a backprop ninja", in today's language ---------------------

NINJA = Path(__file__).resolve().parent.parent / "benchmarks" / "grade"


def ninja_point(n=32, d=30, hidden=64, vocab=27):
    r = np.random.default_rng(42)
    return {"embcat": r.normal(size=(n, d)),
            "W1": r.normal(size=(d, hidden)) * (5 / 3) / d**0.5,
            "b1": r.normal(size=hidden) * 0.1, "bngain": 1 + 0.1 * r.normal(size=hidden),
            "bnbias": 0.1 * r.normal(size=hidden), "W2": r.normal(size=(hidden, vocab)) * 0.1,
            "b2": r.normal(size=vocab) * 0.1, "Yb": np.eye(vocab)[r.integers(0, vocab, size=n)]}


def ninja(backward=None):
    forward = (NINJA / "ninja_forward.bp").read_text()
    right = (NINJA / "ninja_backward.bp").read_text()
    return read_and_grade(forward, right if backward is None else backward(right),
                          ninja_point())


def test_the_ninja_backward_pass_is_right():
    report = ninja()
    assert report.status == "pass" and len(report.lines) == 25
    assert report.missing == ("dYb",)


@pytest.mark.parametrize("old, new, line, why", [
    ("dbndiff2 = (0 * bndiff2 + dbnvar) / 31", "dbndiff2 = (0 * bndiff2 + dbnvar) / 32", 18,
     "(n-1)/n, n = 32: 1/n where the forward has 1/(n-1)?"),
    ("dcounts += ", "dcounts = ", 6, "`=` where counts fans out and needs `+=`"),
    ("dbnmeani = -sum(dbndiff, 0)", "dbnmeani = -dbndiff", 21,
     "the forward broadcast bnmeani's (64,) to (32, 64)"),
    ("dhpreact = (1 - h**2) * dh", "dhpreact = 1 - h**2", 11, "the upstream is missing"),
])
def test_ninja_mistakes(old, new, line, why):
    report = ninja(lambda text: text.replace(old, new, 1))
    assert report.first_wrong.line == line
    assert why in report.first_wrong.why
    assert all(g.follows_from == line for g in report.lines[line:] if g.status == "wrong")


def test_cli_hostile_input_is_one_message(files):
    (files / "dir.bp").mkdir()
    assert "is a directory" in run("grade", "staged.bp", "dir.bp", "x=3", "y=-4",
                                   code=2).stderr
    assert "only one of FORWARD and BACKWARD" in run("grade", "-", "-", code=2).stderr
    (files / "bidi.bp").write_text("dnum = invden \u202e+ 1\n")
    err = run("grade", "staged.bp", "bidi.bp", "x=3", "y=-4", code=2).stderr
    assert "U+202E" in err and "\u202e" not in err


def test_the_table_stays_whole_at_80_columns_with_long_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = "a_rather_long_intermediate_name_for_a_table"
    (tmp_path / "f.bp").write_text(f"{name} = x * y\nf = {name} * x\n")
    (tmp_path / "b.bp").write_text(f"d{name} = x\ndx = y * d{name}\ndx += {name}\n"
                                   f"dy = x * d{name} * 2\n")
    out = run("grade", "f.bp", "b.bp", "x=3", "y=-4", code=1).stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "off by a constant factor: the line is 2 times the gradient" in out


def test_a_name_given_to_another_name_is_a_forward_name():
    report = read_and_grade("a = x * y\nb = a\nf = b * x\n",
                            "db = x\nda = db\ndx = y * da\ndx += b\ndy = x * da\n",
                            {"x": 3.0, "y": -4.0})
    assert report.status == "pass"


def _notebook_forward():
    """The notebook's own forward pass (docs/examples/ninja, issue 21), when the language
    reads it."""
    folder = Path(__file__).resolve().parent.parent / "docs" / "examples" / "ninja"
    try:
        source = (folder / "forward.bp").read_text()
        from backprop_cli.language.parser import parse

        parse(source)
        data = np.load(folder / "batch.npz")
    except (OSError, BackpropError):
        return None
    return source, {k: data[k] for k in data.files}


@pytest.mark.skipif(_notebook_forward() is None,
                    reason="the notebook's forward pass needs issue 21's vocabulary")
def test_the_exercise_itself_thirty_lines_all_exact():
    source, point = _notebook_forward()
    backward = (NINJA / "ninja_full_backward.bp").read_text()
    report = read_and_grade(source, backward, point)
    assert len(report.lines) == 30
    assert all(g.status in ("exact", "approx") for g in report.lines)
    assert report.missing == ()
    wrong = read_and_grade(source, backward.replace("dlogits += ", "dlogits = "), point)
    assert wrong.first_wrong.line == 11
    assert "`=` where logits fans out and needs `+=`" in wrong.first_wrong.why
    kept = read_and_grade(source, backward.replace(
        "dbnmeani = (-dbndiff).sum(0, keepdims=True)", "dbnmeani = -dbndiff"), point)
    assert "sum(..., axis=0, keepdims=True)" in kept.first_wrong.why

"""The one grader of a learner's answer (checks/answers.py): --expect, expect: in case files
(text and JSON Lines), the quiz, and a claim's agreement all mark an answer the same way.

An answer is right when the true value lies within the rounding of the numbers as written,
carried through the arithmetic; an answer of 0 is right within the rounding the computation
itself may carry (checks/rounding.py)."""

import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from backprop_cli.checks import answers
from backprop_cli.checks.expectations import answer
from backprop_cli.cli import cli
from backprop_cli.evaluate import Options, evaluate
from backprop_cli.exercises.circuits import make
from backprop_cli.exercises.grading import mark

DF_DA = 0.0069421263  # quiz --seed 3 --ops add,mul,max,sigmoid --nodes 5: df/da = df/db * db/da


@pytest.mark.parametrize("written, truth, verdict", [
    # the lecture's arithmetic: upstream x local, each factor rounded as written
    ("0.0353*0.1966", DF_DA, "right"),
    ("0.035309*0.196612", DF_DA, "right"),  # the key's own six-digit factors
    ("0.0353 * 0.1966", DF_DA, "right"),
    ("0.007", DF_DA, "right"),  # a number: to the digits written
    ("0.00694", DF_DA, "right"),
    ("0.0353*0.19", DF_DA, "wrong"),  # 0.19 allows [0.185, 0.195]: at most 0.00689
    ("0.0069", DF_DA, "right"),
    ("0.0068", DF_DA, "wrong"),
    ("-0.0353*0.1966", DF_DA, "wrong"),
    ("0.0353 + 0.1966", DF_DA, "wrong"),
    # a fan-out: the sum of upstream x local over the consumers
    ("1*0.03531 + 0.5*2", 1.03531, "right"),
    ("1*0.03531 + 0.5*2", 1.2, "wrong"),  # inside the interval, but 16 % off
    ("0.1*3", 0.30000000000000004, "right"),  # exact arithmetic: to 1e-9
    ("-4*3", -12.0, "right"),
    ("(-4)*3 - 1/4", -12.25, "right"),
    ("2**-1", 0.5, "right"),  # an integer exponent is a count, exact
    ("0.7**2", 0.49, "right"),
    ("0.7**2", 0.5, "right"),  # 0.7 is [0.65, 0.75], so its square [0.4225, 0.5625]
    ("0.7**2", 0.53, "wrong"),  # ... but never more than 5 % off
    ("0.50*0.5", 0.26, "right"),  # one constant written two ways: each keeps its digits
    ("0.5*0.50", 0.26, "right"),
    ("0.50*0.50", 0.26, "wrong"),
    ("exp(0.5)", 1.6487, "right"),  # a monotone function maps the ends to the ends
    ("sigmoid(1)*(1-sigmoid(1))", 0.19661193, "right"),
    ("sin(0.5)", 0.479425538604203, "right"),  # no interval rule: its value alone
    ("sin(0.5)", 0.4794, "wrong"),
    # plain numbers, as --expect always graded them
    ("-0.2", -0.1966, "right"),
    ("0.39", 0.3932, "right"),
    ("-4", -3.6, "wrong"),  # rounding may not hide more than 5 %
    ("1e-3", 0.00104, "right"),
    # an answer of 0: right only as exact, or within the floor (below, with one)
    ("0", 0.0, "right"),
    ("0", 4.4e-16, "wrong"),
    ("0*0.5", 0.0, "right"),
])
def test_an_answer_is_right_within_the_rounding_of_its_numbers(written, truth, verdict):
    right, _, _ = answers.judge(truth, answer(written))
    assert ("right" if right else "wrong") == verdict


@pytest.mark.parametrize("truth, floor, verdict", [
    (4.4e-16, 1e-15, "right"),
    (-4.4e-16, 1e-15, "right"),
    (4.4e-16, 1e-16, "wrong"),
    (1e-3, 1e-15, "wrong"),
])
def test_an_answer_of_0_is_right_within_the_floor(truth, floor, verdict):
    right, _, by_floor = answers.judge(truth, answer("0"), floor)
    assert ("right" if right else "wrong") == verdict
    assert by_floor == right


@pytest.mark.parametrize("written", ["x*2", "[1, 2]", "2 +", "1/0", "log(-1)", "1e999",
                                     "1e308*10"])
def test_what_is_not_an_answer_is_refused(written):
    from backprop_cli.checks.expectations import is_answer

    assert not is_answer(written)


def test_the_grader_reads_answers_with_the_project_parser_never_eval():
    source = Path("backprop_cli/checks/answers.py").read_text()
    for word in ("eval(", "exec(", "sympify", "parse_expr"):
        assert word not in source


# --- the quiz, --expect and expect: mark the issue's example alike --------------------------


QUIZ = ("--seed", "3", "--ops", "add,mul,max,sigmoid", "--nodes", "5")


@pytest.mark.parametrize("written, right, hint", [
    ("0.0353*0.1966", True, ""),
    ("0.035309*0.196612", True, ""),
    ("0.007", True, ""),
    ("-0.0353*0.1966", False, "The sign is wrong"),
    ("-0.00694", False, "The sign is wrong"),
    ("0.0353", False, "That is the upstream gradient ∂f/∂b alone"),
    ("0.1966", False, "That is the local gradient ∂b/∂a alone"),
    ("0.2", False, "That is the local gradient ∂b/∂a alone"),
])
def test_the_quiz_marks_arithmetic_like_numbers(written, right, hint):
    ex = make(3, ("add", "mul", "max", "sigmoid"), 5)
    q = next(q for q in ex.questions if q.name == "a")
    m = mark(q, written)
    assert m.right is right
    assert hint in m.hint


@pytest.mark.parametrize("written", ["1e999", "1e308*10", "x"])
def test_the_quiz_refuses_what_is_not_a_finite_answer(written):
    from backprop_cli.errors import BackpropError

    ex = make(3, ("add", "mul", "max", "sigmoid"), 5)
    with pytest.raises(BackpropError):
        mark(ex.questions[0], written)


def test_the_quiz_on_the_terminal_takes_the_issues_answers():
    answers_in = "0.0353\n0\n0.0353\n0.0353\n0.0353\n0.0353*0.1966\n0.035309*0.196612\n0.007\n"
    got = CliRunner().invoke(cli, ["quiz", *QUIZ], input=answers_in)
    assert got.exit_code == 0, got.output
    assert "score 8/8" in got.output


EXPECT_CASES = [
    # (expectation, status): the same in --expect, expect: and JSON Lines
    ("y=0.0353*0.1966", "fail"),
    ("y=2.5*0.8", "pass"),
    ("y=2", "pass"),
    ("x=3", "pass"),
    ("x=3*1.0", "pass"),
    ("x=-3", "fail"),
]


def _eval(program, bindings, expectation):
    return CliRunner().invoke(cli, ["eval", program, *bindings, "--expect", expectation,
                                    "--no-check", "--json"])


@pytest.mark.parametrize("expectation, status", EXPECT_CASES)
def test_expect_and_expect_in_both_case_file_formats_agree(tmp_path, expectation, status):
    program, at = "x*y", {"x": "2", "y": "3"}
    got = _eval(program, [f"{k}={v}" for k, v in at.items()], expectation)
    assert got.exit_code == (0 if status == "pass" else 1), got.output
    name, _, text = expectation.partition("=")
    text_line = f'"{program}" x=2 y=3 expect: "{expectation}"\n'
    value = float(text) if answers._NUMBER.fullmatch(text.lstrip("-")) else text
    record = {"expr": program, "at": {"x": 2, "y": 3}, "expect": {"gradients": {name: value}}}
    if isinstance(value, float):  # a number as written, so its digits are kept
        line = json.dumps(record).replace(json.dumps(value), text)
    else:
        line = json.dumps(record)
    for form, content in (("txt", text_line), ("jsonl", line + "\n")):
        path = tmp_path / f"cases.{form}"
        path.write_text(content)
        run = CliRunner().invoke(cli, ["check", str(path), "--no-check"])
        assert run.exit_code == (0 if status == "pass" else 1), (form, run.output)


@pytest.mark.parametrize("expect", [[2, 4], [2.0, 4.00], [2, 4.5]])
def test_an_array_expectation_is_accepted_in_every_format(tmp_path, expect):
    status = 1 if expect[1] == 4.5 else 0
    text = json.dumps(expect).replace(" ", "")
    got = _eval("sum(x*x)", ["x=[1.0,2.0]"], f"x={text}")
    assert got.exit_code == status, got.output
    (tmp_path / "c.txt").write_text(f'"sum(x*x)" x=[1.0,2.0] expect: x={text}\n')
    (tmp_path / "c.jsonl").write_text(json.dumps(
        {"expr": "sum(x*x)", "at": {"x": [1.0, 2.0]}, "expect": {"gradients": {"x": expect}}})
        + "\n")
    for path in (tmp_path / "c.txt", tmp_path / "c.jsonl"):
        run = CliRunner().invoke(cli, ["check", str(path), "--no-check"])
        assert run.exit_code == status, (path.name, run.output)


@pytest.mark.parametrize("bad, message", [
    ("x=[[1,2],[3]]", "not a list of finite numbers, each row as long as the others"),
    ("x=[1,[2]]", "not a list of finite numbers, each row as long as the others"),
])
def test_a_ragged_list_is_bad_input_not_a_crash(bad, message):
    got = CliRunner().invoke(cli, ["eval", "sum(x*x)", "x=[1.0,2.0]", "--expect", bad])
    assert got.exit_code == 2 and message in got.output


# --- a number broadcast over an array, wrongly expected (was: internal error, exit 3) --------


BROADCAST = ["sum(x + a)", "sum(x - a)", "mean(x - a)", "sum(exp(x - a))"]


@pytest.mark.parametrize("program", BROADCAST)
@pytest.mark.parametrize("command", ["eval", "trace"])
def test_a_wrong_expectation_of_a_broadcast_number_is_a_fail(program, command):
    quick = ["--no-check"] if command == "eval" else []  # trace runs no checks
    got = CliRunner().invoke(cli, [command, program, "x=[1.0,2.0]", "a=0.5", "--expect",
                                   "a=1", *quick])
    assert got.exit_code == 1, got.output
    assert "internal error" not in got.output and "you wrote 1" in got.output


@pytest.mark.parametrize("program", BROADCAST)
def test_check_grades_the_same_lines(tmp_path, program):
    path = tmp_path / "cases.txt"
    path.write_text(f'"{program}" x=[1.0,2.0] a=0.5 expect: a=1\n')
    got = CliRunner().invoke(cli, ["check", str(path), "--no-check"])
    assert got.exit_code == 1, got.output
    assert "internal error" not in got.output


def test_one_entrys_part_of_a_broadcast_is_named():
    result = evaluate("sum(x + a)", {"x": np.array([1.0, 2.0]), "a": 0.5},
                      Options(check=False, expect=(("a", "1"),)))
    (check,) = [c for r in result.rows if r.name == "a" for c in r.checks]
    assert check.status == "fail"
    assert "most likely a broadcast not summed" in check.reason


# --- an expected 0 against rounding noise --------------------------------------------------


@pytest.mark.parametrize("program, at, name", [
    ("x*((a+b)-a-b) + y", {"x": 1.0, "a": 0.1, "b": 0.2, "y": 1.0}, "x"),
    # (sigmoid(a) - (1 - sigmoid(-a))) no longer serves: sigmoid's local gradient is the
    # symmetric σ(a)σ(-a), so both terms are the same float and cancel exactly
    ("(log(exp(a)) - a)*v + y", {"a": 11.8, "v": 44.6, "y": 1.0}, "a"),
    ("tanh(a)*v - (2*sigmoid(2*a) - 1)*v", {"a": 5.78, "v": 0.667}, "a"),
])
def test_an_expected_0_passes_a_gradient_that_is_0_up_to_rounding(program, at, name):
    result = evaluate(program, at, Options(check=False, expect=((name, "0"),)))
    row = next(r for r in result.rows if r.name == name)
    assert row.gradient != 0.0  # rounding noise
    assert row.checks[-1].status == "pass" and row.checks[-1].floor


@pytest.mark.parametrize("name, expected", [("c", "0"), ("x", "[0, 0]")])
def test_an_expected_0_in_an_array_program_passes_rounding_noise(name, expected):
    at = {"x": np.array([1.0, 2.0]), "c": 0.5, "a": 0.1, "b": 0.2}
    result = evaluate("sum(x*c) * ((a+b)-a-b)", at,
                      Options(check=False, expect=((name, expected),)))
    row = next(r for r in result.rows if r.name == name)
    assert np.all(row.gradient != 0.0)  # rounding noise
    assert row.checks[-1].status == "pass" and row.checks[-1].floor


def test_an_expected_0_still_fails_a_small_true_gradient():
    # d/dx = 1e-9 * (a+b) is small but far above what rounding leaves
    result = evaluate("x*((a+b)*(1+1e-9) - a - b)", {"x": 1.0, "a": 0.1, "b": 0.2},
                      Options(check=False, expect=(("x", "0"),)))
    assert result.rows[0].checks[-1].status == "fail"


def test_the_sweep_counts_no_false_fail():
    # the control (wrong expectations of 0, by sympy) runs in the benchmark itself
    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    try:
        import sweep_expect_zero as sweep
    finally:
        sys.path.pop(0)
    right = sweep.sweep(1000, seed=3, drift=False)
    assert right["noise"] > 100  # the sweep does meet rounding noise
    assert right["old_fail"] == right["noise"]  # ... which the old rule called FAIL
    assert right["new_fail"] == 0


def test_the_floor_is_derived_from_what_the_engine_computed():
    from backprop_cli.checks.rounding import ROUNDING_FACTOR, floors
    from backprop_cli.engine.backward import backpropagate
    from backprop_cli.engine.forward import forward
    from backprop_cli.language.parser import parse

    u = 2.0 ** -53
    graph = parse("x*y")
    values = forward(graph, {"x": 2.0, "y": -3.0})
    grads = backpropagate(graph, values)
    value_floor, grad_floor = floors(graph, values, grads)
    x, y = graph.variables["x"], graph.variables["y"]
    # forward: m[x*y] = |xy| + |y| m[x] + |x| m[y] = 6 + 6 + 6
    assert value_floor[graph.output] == ROUNDING_FACTOR * u * 18
    # backward at x: |local| M[out] + (|g| + u M[out]) lambda + |local g|, with
    # lambda = |d local / d y| m[y] = 3: 3 + (1 + u) 3 + 3
    assert grad_floor[x] == pytest.approx(ROUNDING_FACTOR * u * (3 + 3 + 3), rel=1e-12)
    assert grad_floor[y] == pytest.approx(ROUNDING_FACTOR * u * (2 + 2 + 2), rel=1e-12)


def test_a_claim_agrees_by_the_same_rule():
    from backprop_cli.checks.claims import CLAIM_ATOL, _disagreement

    assert _disagreement(2.0, 2.0 * (1 + 1e-7)) is None
    assert _disagreement(2.0, 2.0 * (1 + 1e-5)) is not None
    assert _disagreement(0.0, CLAIM_ATOL / 2) is None
    assert _disagreement(np.array([0.0, 1.0]), np.array([CLAIM_ATOL / 2, 1.0])) is None


def test_random_arithmetic_of_rounded_factors_is_right():
    # upstream x local and fan-out sums written with each factor rounded to 2..6 digits
    rng = random.Random(5)
    for _ in range(2000):
        terms = [(rng.uniform(-2, 2), rng.uniform(-2, 2)) for _ in range(rng.randint(1, 3))]
        truth = sum(u * v for u, v in terms)
        digits = rng.randint(2, 6)
        written = " + ".join(f"{u:.{digits}g}*{v:.{digits}g}" for u, v in terms)
        got = answer(written)
        assert got.lo <= truth <= got.hi, written


def test_a_worksheet_graded_with_arithmetic_answers(tmp_path):
    sheet = tmp_path / "sheet.md"
    CliRunner().invoke(cli, ["quiz", *QUIZ, "--worksheet", str(sheet)])
    filled = sheet.read_text()
    answers_by_name = {"f": "1", "d": "0.0353", "x": "0", "c": "0.0353", "z": "0.0353",
                       "b": "0.0353", "a": "0.0353*0.1966", "w": "0.035309*0.196612",
                       "y": "0.007"}
    for name, value in answers_by_name.items():
        filled = filled.replace(f"| ∂f/∂{name} |  |", f"| ∂f/∂{name} | {value} |")
    sheet.write_text(filled)
    got = CliRunner().invoke(cli, ["quiz", "--grade", str(sheet)])
    assert got.exit_code == 0, got.output
    assert got.output.splitlines()[-1] == "score 8/8"


CIRCUIT = "a = y*w; b = sigmoid(a); c = b + z; d = max(x, c); f = sigmoid(d)"  # quiz seed 3


@pytest.mark.parametrize("expectation, status, words", [
    ("da=0.0353*0.1966", "pass", ""),
    ("da=0.035309*0.196612", "pass", ""),
    ("da=0.007", "pass", ""),
    ("da=-0.0353*0.1966", "fail", "most likely a sign flip"),
    ("da=0.1966", "fail", "most likely upstream and local mixed up: 0.196612 is the local "
                          "gradient db/da alone"),
    ("da=0.0353", "fail", "0.0353088 is the upstream db alone"),
    ("da=0", "fail", "you wrote 0, backprop gets 0.00694213"),
])
def test_the_quiz_circuit_in_eval_and_check_grades_as_the_quiz(tmp_path, expectation, status,
                                                                words):
    at = ["x=-4", "y=1", "z=-4", "w=1"]
    got = CliRunner().invoke(cli, ["eval", CIRCUIT, *at, "--expect", expectation,
                                   "--no-check"])
    assert got.exit_code == (0 if status == "pass" else 1), got.output
    line = next(s for s in got.output.splitlines() if s.startswith("expected da"))
    assert line.startswith(f"expected da: {status.upper() if status == 'fail' else status}")
    assert words in line
    path = tmp_path / "cases.txt"
    path.write_text(f'"{CIRCUIT}" {" ".join(at)} expect: {expectation}\n')
    run = CliRunner().invoke(cli, ["check", str(path), "--no-check"])
    assert run.exit_code == (0 if status == "pass" else 1), run.output


def test_a_plain_number_is_graded_as_it_always_was():
    # the rule before the one grader, for a number (no floor, no arithmetic)
    def before(ours: float, text: str) -> bool:
        err = answers.rel_error(ours, float(text))
        half = 0.5 * 10.0 ** answers.last_digit_exponent(text)
        return err <= 1e-9 or (abs(ours - float(text)) <= half * (1 + 1e-9) and err <= 0.05)

    rng = random.Random(1)
    for _ in range(5000):
        truth = rng.choice([-1, 1]) * 10 ** rng.uniform(-6, 6)
        off = rng.choice([0, 1e-3, -1e-3, 1e-2, 0.03, 0.06, -0.2])
        text = f"{truth * (1 + off):.{rng.randint(1, 8)}g}"
        assert answers.judge(truth, answer(text))[0] == before(truth, text), (text, truth)


README = "q = x + y; f = q * z"


@pytest.mark.parametrize("text_words, json_expect, status", [
    ("q=3 dq=-4", {"values": {"q": 3}, "gradients": {"q": -4}}, 0),
    ("q=3 dq=-4", {"values": {"q": 3}, "gradients": {"dq": -4}}, 0),
    ("q=2", {"values": {"q": 2}}, 1),
    ("dq=4 x=-4", {"gradients": {"q": 4, "x": -4}}, 1),
    ('"dq=-2*2"', {"gradients": {"q": "-2*2"}}, 0),
])
def test_a_named_intermediate_is_expected_in_both_formats(tmp_path, text_words, json_expect,
                                                          status):
    (tmp_path / "c.txt").write_text(f'"{README}" x=-2 y=5 z=-4 expect: {text_words}\n')
    (tmp_path / "c.jsonl").write_text(json.dumps(
        {"expr": README, "at": {"x": -2, "y": 5, "z": -4}, "expect": json_expect}) + "\n")
    for name in ("c.txt", "c.jsonl"):
        got = CliRunner().invoke(cli, ["check", str(tmp_path / name), "--no-check"])
        assert got.exit_code == status, (name, got.output)


def test_expect_values_names_only_named_intermediates(tmp_path):
    (tmp_path / "c.jsonl").write_text(json.dumps(
        {"expr": README, "at": {"x": -2, "y": 5, "z": -4}, "expect": {"values": {"x": 2}}})
        + "\n")
    got = CliRunner().invoke(cli, ["check", str(tmp_path / "c.jsonl"), "--no-check"])
    assert got.exit_code == 2
    assert ("binding error: expect.values.x: x is not a named intermediate of the program "
            '(e.g. "values": {"q": 3} for q = x + y; gradients go in expect.gradients)'
            ) in got.output

"""`backprop check FILE`: reading case files, grading each case, reports, exit codes."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_cli.batch import cases as batch_cases
from backprop_cli.batch import pool as batch_pool
from backprop_cli.batch import report as batch_report
from backprop_cli.batch import run as batch_run
from backprop_cli.cli import cli

LECTURE = '"(x+y)*z" x=-2 y=5 z=-4 expect: value=-12 x=-4 y=-4 z=3'
NEURON = ('"1/(1+exp(-(w0*x0 + w1*x1 + w2)))" w0=2 x0=-1 w1=-3 x1=-2 w2=-3 '
          "expect: w0=-0.20 x0=0.39 w1=-0.39 x1=-0.59 w2=0.20")
WRONG = '"(x+y)*z" x=-2 y=5 z=-4 expect: dx=-5'
UNCLOSED = '"(x+y*z" x=1 y=2 z=3'
JSON_Q1 = ('{"id": "q1", "expr": "(x+y)*z", "at": {"x": -2, "y": 5, "z": -4}, '
           '"expect": {"value": -12, "gradients": {"x": -4}}}')
JSON_LOG = '{"id": "q2", "expr": "log(x)", "at": {"x": -1}}'

# Seconds of CPU on any machine: the finite differences of 1,001 variables through 6,000 nodes
# (12 million node evaluations, within their budget): a case for the wall-clock guard.
SLOW = " + ".join(f"sin(x{k})*cos(x{k + 1})" for k in range(1000))
SLOW_LINE = f'"{SLOW}" ' + " ".join(f"x{k}=0.{k % 9 + 1}" for k in range(1001))


def cases(*lines, fmt="auto"):
    return list(batch_cases.read_cases([line + "\n" for line in lines], fmt))


def results(*lines, **settings):
    settings = batch_run.Settings(origin="cases.txt", **settings)
    return list(batch_pool.run_serial(cases(*lines), settings))


def run_cli(tmp_path, text, *args, name="cases.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    res = CliRunner().invoke(cli, ["check", str(path), *args], catch_exceptions=False)
    return res, str(path)


# --- reading ------------------------------------------------------------------------------


@pytest.mark.parametrize("line, program, bindings, expect", [
    ('"(x+y)*z" x=-2 y=5 z=-4', "(x+y)*z", {"x": -2, "y": 5, "z": -4}, {}),
    (LECTURE, "(x+y)*z", {"x": -2, "y": 5, "z": -4},
     {"value": "-12", "x": "-4", "y": "-4", "z": "3"}),
    (WRONG, "(x+y)*z", {"x": -2, "y": 5, "z": -4}, {"x": "-5"}),  # dx reads as d/dx
    ("'q = x + y; f = q * z' x=1 y=2 z=3  # a comment", "q = x + y; f = q * z",
     {"x": 1, "y": 2, "z": 3}, {}),
    ('"x*y" x=2 y=3 expect:value=6', "x*y", {"x": 2, "y": 3}, {"value": "6"}),
    (JSON_Q1, "(x+y)*z", {"x": -2, "y": 5, "z": -4}, {"value": "-12", "x": "-4"}),
    ('{"expr": "x*dx", "at": {"x": 2, "dx": 3}, "expect": {"gradients": {"dx": 2}}}',
     "x*dx", {"x": 2, "dx": 3}, {"dx": "2"}),  # a variable named dx stays itself
])
def test_a_line_reads_as_program_bindings_and_expectations(line, program, bindings, expect):
    (case,) = cases(line)
    assert case.problem is None
    assert case.program == program
    assert dict(case.bindings) == bindings
    assert dict(case.expect) == expect


def test_comments_and_blank_lines_are_skipped_and_lines_keep_their_numbers():
    read = cases("# lecture 4", "", "   ", LECTURE, "  # indented comment", JSON_Q1)
    assert [(c.index, c.line, c.id) for c in read] == [(0, 4, "line 4"), (1, 6, "q1")]


def test_json_numbers_keep_the_digits_they_were_written_with():
    (case,) = cases('{"expr": "x*y", "at": {"x": 2, "y": 3}, "expect": {"value": 6.0}}')
    assert dict(case.expect) == {"value": "6.0"}


def test_json_arrays_become_numpy_arrays():
    (case,) = cases('{"expr": "sum(x*x)", "at": {"x": [1, 2, 3]}}')
    assert dict(case.bindings)["x"].tolist() == [1.0, 2.0, 3.0]


def test_the_format_can_be_forced():
    (case,) = cases(JSON_Q1, fmt="text")
    assert case.problem is not None  # read as text, a JSON object is not a program


@pytest.mark.parametrize("line, message", [
    ('"x*y" x=1 q', ("7: binding error: 'q' is not a NAME=VALUE binding (write NAME=VALUE "
                    "with no spaces, e.g. x=-2; expectations follow 'expect:')")),
    ('"x*y x=1', ("7: parse error: the line cannot be split into words: no closing "
                 "quotation (quote the program: \"(x+y)*z\" x=-2)")),
    ('"x*y" x=1 y=2 expect: z=3', ("7: binding error: expect: z=3: z is not a bound "
                                  "variable (expect 'value' or one of: x, y, dx, dy)")),
    ('"x*y" x=1 y=2 expect: x=abc', ("7: binding error: expect: x=abc: not a finite number "
                                    "(e.g. expect: value=-12 x=-4)")),
    ('"x*y" x=1 x=2', "7: binding error: x is bound twice (in 'x=2')"),
    ('{"expr": "x", "at": {"x": -1}', ("7:30: parse error: not a JSON object: Expecting ',' "
                                      "delimiter")),
    ('{"expr": 3}', ('7: binding error: "expr" must be a string holding the program '
                    '(e.g. "expr": "(x+y)*z")')),
    ('{"expr": "x", "wat": 1}', ("7: binding error: unknown field 'wat' "
                                "(fields: id, expr, at, expect, claims)")),
    ('{"expr": "x", "at": {"x": true}}', ("7: binding error: at.x must be a number or a "
                                         "list of numbers, not true")),
    # JSON's decoder takes NaN, Infinity and 400-digit integers; the case format does not
    ('{"expr": "x", "at": {"x": NaN}}', ("7: binding error: at.x must be a number or a "
                                        "list of numbers, not NaN")),
    ('{"expr": "x", "at": {"x": -Infinity}}', ("7: binding error: at.x must be a number or "
                                              "a list of numbers, not -Infinity")),
    ('{"expr": "x", "at": {"x": 1' + "0" * 400 + '}}',
     "7: binding error: at.x is not a finite number"),
    ('{"expr": "x", "at": {"x": [1, Infinity]}}',
     "7: binding error: at.x has entries that are not finite numbers"),
    ('{"expr": "x", "at": {"x": 1}, "expect": {"value": NaN}}',
     "7: binding error: expect.value must be a finite number, not NaN"),
    ('{"expr": "x", "at": {"x": 1}, "expect": {"gradients": {"x": "one"}}}',
     ("7: binding error: expect.gradients.x must be a number, not a string (a string holds "
      'arithmetic on numbers, e.g. "0.0353*0.1966")')),
    # a string is refused in "expect" as in "at", even when it reads as a number
    ('{"expr": "x", "at": {"x": 1}, "expect": {"gradients": {"x": "-4"}}}',
     ("7: binding error: expect.gradients.x must be a number, not a string "
      "(write -4 without quotes)")),
    ('{"expr": "x", "at": {"x": 1}, "expect": {"value": true}}',
     "7: binding error: expect.value must be a finite number, not true"),
    ('{"expr": "x", "at": {"x": 1}, "expect": {"value": 1e999}}',
     "7: binding error: expect.value is not a finite number"),
    # one number grammar: ASCII digits, no underscores, in bindings and expectations alike
    ('"x*y" x=1_000 y=2', ("7: binding error: x=1_000 is not a number: numbers have no "
                          "underscores (write 1000)")),
    ('"x*y" x=1 y=2 expect: x=2_0', ("7: binding error: expect: x=2_0: not a finite number "
                                    "(e.g. expect: value=-12 x=-4)")),
    # the rules of eval --expect, from the same validator
    ('"x*y" x=1 y=2 expect: x=nan', ("7: binding error: expect: x=nan: not a finite number "
                                    "(e.g. expect: value=-12 x=-4)")),
    ('"x*y" x=1 y=2 expect: dx=2 x=2', ("7: binding error: expect: x=2: x is given twice "
                                       "(already expect: dx=2)")),
    ('"x*y" x=1 y=2 expect: x', ("7: binding error: expect: x: not NAME=NUMBER "
                                "(e.g. expect: value=-12 x=-4)")),
    # list bindings hold numbers only, nested at most 32 deep, in either format
    ('{"expr": "sum(x)", "at": {"x": [true, 2]}}',
     ("7: binding error: at.x has an entry that is not a number: true "
      "(entries must be numbers, e.g. [1, 2.5])")),
    ('{"expr": "sum(x)", "at": {"x": [1, null]}}',
     ("7: binding error: at.x has an entry that is not a number: null "
      "(entries must be numbers, e.g. [1, 2.5])")),
    ('"sum(x)" \'x=["1",2]\'', ("7: binding error: x has an entry that is not a number: "
                                '"1" (entries must be numbers, e.g. [1, 2.5])')),
    ('"sum(x)" x=' + "[" * 40 + "1" + "]" * 40,
     "7: binding error: x is nested too deeply (numpy allows at most 32 dimensions)"),
    ('{"expr": "sum(x)", "at": {"x": ' + "[" * 40 + "1" + "]" * 40 + "}}",
     "7: binding error: at.x is nested too deeply (numpy allows at most 32 dimensions)"),
])
def test_a_bad_line_is_a_case_with_a_clear_problem(line, message):
    (case,) = list(batch_cases.read_cases(["# c\n"] * 6 + [line + "\n"]))
    assert case.line == 7
    assert case.problem[1] == message


def test_a_line_that_is_not_utf8_is_a_bad_line_not_the_end_of_the_run():
    read = list(batch_cases.read_cases([b'"x" x=1\n', b'"x" x=\xff\n', b'"x*2" x=1\n']))
    assert [c.problem is None for c in read] == [True, False, True]
    assert read[1].problem[1] == "2: error: the line is not UTF-8 text (byte 7)"


def test_reading_is_lazy():
    def endless():
        n = 0
        while True:
            n += 1
            yield f'"x*{n}" x=1\n'

    first = next(batch_cases.read_cases(endless()))
    assert first.program == "x*1"


# --- grading one case ---------------------------------------------------------------------


def test_the_lecture_examples_pass_three_ways():
    lecture, neuron = results(LECTURE, NEURON)
    assert lecture.status == "pass"
    assert lecture.value == -12
    assert dict(lecture.gradients) == {"x": -4, "y": -4, "z": 3}
    assert dict(lecture.checks)["x"] == (("sympy", "pass"), ("finite-difference", "pass"),
                                         ("expected", "pass"))
    assert dict(lecture.checks)["value"] == (("expected", "pass"),)
    assert neuron.status == "pass"


def test_a_wrong_expectation_fails_naming_the_variable_both_numbers_and_the_error():
    (r,) = results(WRONG)
    assert r.status == "fail"
    (m,) = r.mismatches
    assert (m.name, m.method, m.ours, m.reference) == ("x", "expected", -4.0, -5.0)
    assert m.rel_error == pytest.approx(0.2)


@pytest.mark.parametrize("line, message, detail", [
    (UNCLOSED, ("cases.txt:1:2: parse error: '(' is never closed (add ')' before the end of "
               "the statement)"), ("  (x+y*z", "  ^")),
    (JSON_LOG, ("cases.txt:1:23: domain error: log(x) is undefined: log(-1) is outside the "
               "function's domain (log needs a positive argument)"), ("  log(x)", "  ^^^^^^")),
    # inside a case file, an unbound name is bound on the case's line (or in "at")
    ('"x*y" x=1', ("cases.txt:1:4: name error: y has no value (bind it on the case's line: "
                  "y=VALUE)"), ("  x*y", "    ^")),
    ('{"expr": "x*y", "at": {"x": 1}}', ("cases.txt:1:13: name error: y has no value (give it "
                                        'a value in "at": "y": VALUE)'), ("  x*y", "    ^")),
    ('"a\\"b" a=1', ("cases.txt:1: parse error: unexpected character '\"' (column 2 of the "
                    "expression)"), ('  a"b', "   ^")),
])
def test_an_error_names_file_line_and_column_as_eval_would(line, message, detail):
    (r,) = results(line)
    assert r.status == "error"
    assert r.message == message
    assert r.detail == detail


def test_a_case_over_the_time_limit_is_a_timeout_and_the_run_goes_on():
    # The case needs seconds of CPU even on a quiet, fast machine; the guard is set well below.
    slow, fast = results(SLOW_LINE, LECTURE, timeout=0.5)
    assert slow.status == "timeout"
    assert slow.message == "cases.txt:1: timeout: the case took longer than 0.5 s"
    assert slow.seconds > 0.45  # no upper bound: a busy machine may take longer to stop it
    assert fast.status == "pass"


@pytest.mark.parametrize("limit", ["0.05", "0.1", "0.15"])
def test_a_time_limit_never_lands_in_what_numpy_and_sympy_build_on_first_use(tmp_path, limit):
    """The first sympy check of a process builds things lazily (numpy's matrix module); a
    limit that landed in the middle left them half built, and every later case's sympy check
    was skipped (AttributeError). The run builds them before any case's clock starts."""
    path = tmp_path / "cases.txt"
    path.write_text("".join(f'"tanh(x*y) + x**2" x={k}.5 y=0.25\n' for k in range(4)))
    done = subprocess.run([sys.executable, "-m", "backprop_cli", "check", str(path), "--jobs",
                           "1", "--timeout", limit, "--jsonl"], capture_output=True,
                          text=True, timeout=300, check=False)
    cases = [json.loads(x) for x in done.stdout.splitlines()][:-1]
    assert len(cases) == 4
    for case in cases:  # a case may time out on a busy machine; none is checked half
        assert case["status"] == "timeout" or {
            name: methods["sympy"] for name, methods in case["check_statuses"].items()
            if name != "value"} == {"x": "pass", "y": "pass"}, case


# --- the report and exit codes ------------------------------------------------------------


@pytest.mark.parametrize("lines, code", [
    ([LECTURE, NEURON], 0),
    ([LECTURE, WRONG], 1),
    ([LECTURE, WRONG, UNCLOSED], 2),
    ([], 0),
])
def test_exit_code_0_all_passed_1_any_failure_2_any_error(tmp_path, lines, code):
    res, _ = run_cli(tmp_path, "\n".join(lines) + "\n", "--jobs", "1")
    assert res.exit_code == code


def test_a_mixed_file_prints_failures_in_detail_then_the_summary(tmp_path):
    text = f'# mixed\n{LECTURE}\n{WRONG}\n{UNCLOSED}\n{JSON_Q1}\n{JSON_LOG}' + "\n"
    res, path = run_cli(tmp_path, text, "--jobs", "1")
    assert res.exit_code == 2
    out = res.stdout.splitlines()
    assert out[:8] == [
        f"FAIL {path}:3: (x+y)*z",
        "  x: backprop -4, expected -5 (relative error 2.0e-01)",
        (f"ERROR {path}:4:2: parse error: '(' is never closed (add ')' before the end of the "
        "statement)"),
        "  (x+y*z",
        "  ^",
        (f"ERROR {path}:6:23 (q2): domain error: log(x) is undefined: log(-1) is outside the "
        "function's domain (log needs a positive argument)"),
        "  log(x)",
        "  ^^^^^^",
    ]
    summary = dict(line.split(None, 1) for line in out[9:12])
    assert summary == {"passed": "2", "failed": "1", "errors": "2"}
    assert out[-1] == "FAILED: 3 of 5 cases did not pass"
    # no progress bar when not on a terminal; one line that says why the status is not 0
    assert res.stderr == f"{path}: 2 of 5 cases could not run, 1 failed\n"


@pytest.mark.parametrize("text, code, last, said", [
    (LECTURE + "\n", 0, "the case passed", ""),
    (WRONG + "\n", 1, "FAILED: the case did not pass", "1 of 1 case failed"),
    (f"{LECTURE}\n{LECTURE}\n", 0, "all 2 cases passed", ""),
    (f"{LECTURE}\n{WRONG}\n", 1, "FAILED: 1 of 2 cases did not pass", "1 of 2 cases failed"),
    # An unchecked case did not pass either: the counts add up to the total.
    (f'{LECTURE}\n{WRONG}\n"relu(x)" x=0\n', 1,
     "FAILED: 1 of 3 cases did not pass; 1 more unchecked", "1 of 3 cases failed"),
])
def test_the_summary_counts_in_the_singular_for_one_case(tmp_path, text, code, last, said):
    res, path = run_cli(tmp_path, text, "--jobs", "1")
    stderr = f"{path}: {said}\n" if said else ""
    assert (res.exit_code, res.stdout.splitlines()[-1], res.stderr) == (code, last, stderr)


def test_a_list_too_deep_for_numpy_is_a_bad_line_through_the_command(tmp_path):
    deep = "[" * 40 + "1" + "]" * 40
    text = f'"sum(x)" x={deep}\n{{"expr": "sum(x)", "at": {{"x": {deep}}}}}\n'
    res, path = run_cli(tmp_path, text, "--jobs", "1")
    assert res.exit_code == 2
    assert res.stdout.splitlines()[:2] == [
        f"ERROR {path}:{k}: binding error: {name} is nested too deeply (numpy allows at most "
        "32 dimensions)" for k, name in ((1, "x"), (2, "at.x"))]


def test_json_lists_every_case_in_order_then_the_summary(tmp_path):
    text = f'{LECTURE}\n{WRONG}\n{UNCLOSED}' + "\n"
    res, path = run_cli(tmp_path, text, "--json", "--jobs", "1")
    data = json.loads(res.stdout)
    assert [(c["line"], c["status"]) for c in data["cases"]] == [
        (1, "pass"), (2, "fail"), (3, "error")]
    assert data["cases"][1]["mismatches"] == [
        {"name": "x", "method": "expected", "ours": -4.0, "reference": -5.0, "rel_error": 0.2,
         "reason": "you wrote -5, backprop gets -4"}]
    assert data["cases"][2]["error"]["kind"] == "parse error"
    assert data["cases"][0]["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    s = data["summary"]
    assert (s["total"], s["passed"], s["failed"], s["errors"], s["exit_code"]) == (3, 1, 1, 1, 2)
    assert s["file"] == path and s["interrupted"] is False


def test_junit_parses_and_its_counts_match(tmp_path):
    text = f'{LECTURE}\n{WRONG}\n{UNCLOSED}\n{JSON_Q1}\n"x" x=\x01' + "\n"
    junit = tmp_path / "out" / "results.xml"
    junit.parent.mkdir()
    res, _path = run_cli(tmp_path, text, "--junit", str(junit), "--jobs", "1")
    assert res.exit_code == 2
    suite = ET.parse(junit).getroot().find("testsuite")
    assert {k: suite.get(k) for k in ("tests", "failures", "errors")} == {
        "tests": "5", "failures": "1", "errors": "2"}
    cases_ = suite.findall("testcase")
    assert [c.get("name") for c in cases_[:4]] == [
        "line 1: (x+y)*z", "line 2: (x+y)*z", "line 3: (x+y*z", "q1: (x+y)*z"]
    assert cases_[1].find("failure").get("message") == \
        "x: backprop -4, expected -5 (relative error 2.0e-01)"
    assert cases_[2].find("error").get("type") == "parse error"
    assert len(suite.findall("testcase/failure")) == 1
    assert len(suite.findall("testcase/error")) == 2
    assert sorted(p.name for p in junit.parent.iterdir()) == ["results.xml"]  # no temp files


def test_report_is_json_lines_ending_with_the_summary(tmp_path):
    report = tmp_path / "report.jsonl"
    _res, _ = run_cli(tmp_path, f"{LECTURE}\n{WRONG}\n", "--report", str(report), "--jobs", "1")
    lines = [json.loads(x) for x in report.read_text().splitlines()]
    assert [x["status"] for x in lines[:2]] == ["pass", "fail"]
    assert lines[2]["summary"]["total"] == 2


def test_standard_input(tmp_path):
    res = CliRunner().invoke(cli, ["check", "-", "--json", "--jobs", "1"],
                             input=f"{LECTURE}\n{JSON_Q1}\n")
    data = json.loads(res.stdout)
    assert data["summary"]["file"] == "<stdin>"
    assert data["summary"]["passed"] == 2
    assert res.exit_code == 0


def test_a_missing_file_is_one_line_and_exit_2(tmp_path):
    res = CliRunner().invoke(cli, ["check", str(tmp_path / "nope.txt")])
    assert res.exit_code == 2
    assert res.stderr == f"error: {tmp_path / 'nope.txt'}: no such file\n"


def test_check_has_help():
    res = CliRunner().invoke(cli, ["check", "--help"])
    assert res.exit_code == 0
    assert "--jobs" in res.stdout and "--junit" in res.stdout and "--dask" in res.stdout


def test_the_report_owns_the_exit_code():
    assert batch_report.BatchReport(3, 0, 0, 0, 1.0).exit_code == 0
    assert batch_report.BatchReport(3, 1, 0, 0, 1.0).exit_code == 1
    assert batch_report.BatchReport(3, 1, 1, 0, 1.0).exit_code == 2
    assert batch_report.BatchReport(3, 0, 0, 1, 1.0).exit_code == 2
    assert batch_report.BatchReport(3, 1, 1, 0, 1.0, interrupted=True).exit_code == 130
    assert batch_report.BatchReport(30, 0, 0, 0, 2.0).cases_per_second == 15


def test_an_array_mismatch_names_the_entry_that_disagreed_most():
    import numpy as np

    from backprop_cli.checks.reference import ArrayCheck

    check = ArrayCheck("sympy", "fail", 7.5, 0.2, entries=4, total=4, worst=(1, 0))
    from backprop_cli.record import _mismatch

    m = _mismatch("W", np.array([[1.0, 2.0], [6.0, 4.0]]), check)
    assert (m["name"], m["method"], m["ours"], m["reference"], m["rel_error"]) == (
        "W[1,0]", "sympy", 6.0, 7.5, 0.2)


@pytest.mark.parametrize("line", [
    '"(x+y)*z" x=-2 y=5 z=-4', '  "(x+y)*z"\tx=-2  # comment', "x*y x=1 y=2#c", '"a#b" x=1',
    '"x"y x=1', '"" x=1', "'x*y' x=1", '"a\\"b" c=1', '"x" x=1 "y=2"', "# only a comment",
    '"x"#c x=1', "x\x0by=1",
])
def test_fast_word_splitting_agrees_with_shlex(line):
    import shlex

    assert batch_cases.split_words(line) == shlex.split(line, comments=True)


@settings(max_examples=300)
@given(st.text(alphabet=' \t"xy=1#\'\\\x0b', max_size=20))
def test_fast_word_splitting_agrees_with_shlex_everywhere(line):
    import shlex

    try:
        expected = shlex.split(line, comments=True)
    except ValueError:
        with pytest.raises(ValueError):
            batch_cases.split_words(line)
        return
    assert batch_cases.split_words(line) == expected

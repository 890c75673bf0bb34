"""One record per case: `check --jsonl` writes for a case what `eval --json` prints for the same
program and point, plus where the case stands in its file (record.py, docs/json.md)."""

import json
import shlex

import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli

# Fields only a case file has: where the case stands, how long it took, why it did not run.
CASE_ONLY = {"index", "line", "id", "seconds", "error"}

# (eval's words, the same case as a case-file line)
CASES = [
    ('"(x+y)*z" x=-2 y=5 z=-4', "expect: value=-12 x=-4 y=-4 z=3"),
    ('"relu(x)*y" x=0 y=2', ""),  # on a kink: unchecked in both, never "pass"
    ('"sum(relu(W @ x))" "W=[[1,-1],[2,0.5]]" "x=[1,1]"', ""),  # an entry of W @ x is 0
    ('"x*y" x=2 y=3', "expect: x=-3"),  # a wrong answer, diagnosed as a sign flip
    ('"x*y" x=2 y=3', "expect: value=5"),
    ('"q = x + y; f = q * z" x=-2 y=5 z=-4', "expect: q=3 dq=-4"),
    ('"sin(x**2)" x=1.5', "claim:dx=2*x*cos(x**2)"),
    ('"x*y" x=1 y=1', "claim: dy=2*x"),
    ('"sum((W @ x)**2)" "W=[[0.1,0.5],[-0.3,0.8]]" "x=[0.2,0.4]"', ""),
    ('"log(x)" x=1e-300', ""),
]


def _eval_words(case: str, extra: str) -> list[str]:
    words = shlex.split(case)
    tail = shlex.split(extra)
    if tail and tail[0] == "expect:":
        words += [f"--expect={w}" for w in tail[1:]]
    elif tail and tail[0].startswith("claim:"):
        words += ["--claim", tail[0][len("claim:"):] or tail[1]]
    return words


@pytest.mark.parametrize(("case", "extra"), CASES)
def test_check_writes_the_record_eval_prints(tmp_path, case, extra):
    runner = CliRunner()
    ran = runner.invoke(cli, ["eval", *_eval_words(case, extra), "--json"])
    assert ran.exit_code in (0, 1), ran.output
    evaluated = json.loads(ran.stdout)
    (tmp_path / "cases.txt").write_text(f"{case} {extra}\n")
    checked = runner.invoke(cli, ["check", str(tmp_path / "cases.txt"), "--jsonl"])
    record, summary = [json.loads(line) for line in checked.stdout.splitlines()]
    assert {k: v for k, v in record.items() if k not in CASE_ONLY} == evaluated
    assert (record["id"], record["line"]) == ("line 1", 1)
    assert checked.exit_code == ran.exit_code == evaluated["exit_code"]
    counted = {s: summary["summary"][w] for s, w in (("pass", "passed"), ("fail", "failed"),
                                                     ("unchecked", "unchecked"))}
    assert counted[evaluated["status"]] == 1


@pytest.mark.parametrize("case", ['"relu(x)*y" x=0 y=2',
                                  '"sum(relu(W @ x))" "W=[[1,-1],[2,0.5]]" "x=[1,1]"'])
def test_a_case_no_check_confirmed_is_unchecked_not_passed(tmp_path, case):
    (tmp_path / "cases.txt").write_text(case + "\n")
    junit = tmp_path / "junit.xml"
    res = CliRunner().invoke(cli, ["check", str(tmp_path / "cases.txt"), "--junit", str(junit)])
    assert res.exit_code == 0
    assert res.stdout.startswith(f"UNCHECKED {tmp_path / 'cases.txt'}:1: ")
    assert "unchecked         1" in res.stdout
    assert "the case is unchecked" in res.stdout
    xml = junit.read_text()
    assert 'skipped="1"' in xml and "<skipped message=" in xml


def test_the_short_map_scripts_read_is_check_statuses_beside_the_full_checks(tmp_path):
    # docs/json.md: check's old `checks` map is `check_statuses` (a rename: `checks` holds
    # eval's full check objects); both fields keep these shapes.
    (tmp_path / "cases.txt").write_text('"(x+y)*z" x=-2 y=5 z=-4 expect: value=-12 x=-4\n')
    checked = CliRunner().invoke(cli, ["check", str(tmp_path / "cases.txt"), "--jsonl"])
    record = json.loads(checked.stdout.splitlines()[0])
    assert record["check_statuses"] == {
        "x": {"sympy": "pass", "finite-difference": "pass", "expected": "pass"},
        "y": {"sympy": "pass", "finite-difference": "pass"},
        "z": {"sympy": "pass", "finite-difference": "pass"},
        "value": {"expected": "pass"}}
    assert [c["method"] for c in record["checks"]["x"]] == ["sympy", "finite-difference",
                                                            "expected"]

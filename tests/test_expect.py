"""--expect grades the whole trace: named intermediates (value and gradient), arrays entry by
entry, and a wrong answer is told what it most likely is, in the lecture's words, with the
right number."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli
from backprop_cli.errors import BindingError
from backprop_cli.evaluate import Options, evaluate

README = "q = x + y; f = q * z"
AT = {"x": -2.0, "y": 5.0, "z": -4.0}
FAN_OUT = "a = x*y; f = a + a*z"
FAN_AT = {"x": 2.0, "y": 3.0, "z": 4.0}


def graded(program, at, **expect):
    result = evaluate(program, at, Options(check=False, expect=tuple(expect.items())))
    named = dict(result.named_checks)
    by_row = {r.name: r.checks[-1] for r in result.rows if r.checks}
    return result, {**{f"row {k}": v for k, v in by_row.items()}, **named}


def test_an_intermediate_is_graded_by_name_value_and_gradient():
    result, checks = graded(README, AT, q="3", dq="-4")
    assert [checks["q"].status, checks["dq"].status] == ["pass", "pass"]
    assert not result.failed
    result, checks = graded(README, AT, q="2", dq="-4")
    assert checks["q"].status == "fail" and result.failed


@pytest.mark.parametrize("program, at, key, wrote, words", [
    (README, AT, "dq", "4", "you wrote 4, backprop gets -4: most likely a sign flip"),
    # a = x*y feeds two nodes: its gradient 5 is 4 (from a*z) + 1 (from the add)
    (FAN_OUT, FAN_AT, "da", "4", "you wrote 4, backprop gets 5: most likely a missing fan-out "
                                 "term: a is read 2 times and its gradient is the sum 4 + 1 = 5"),
    (FAN_OUT, FAN_AT, "da", "1", "most likely a missing fan-out term"),
    # dy = da * da/dy = 5 * 2: 2 is the local gradient alone, 5 the upstream alone
    (FAN_OUT, FAN_AT, "row y", "2", "you wrote 2, backprop gets 10: most likely upstream and "
                                    "local mixed up: 2 is the local gradient da/dy alone; the "
                                    "chain rule multiplies it by the upstream da = 5"),
    (FAN_OUT, FAN_AT, "row y", "5", "5 is the upstream da alone"),
    # the mul gate switches: dx of x*y is y = 3, not x's own 2
    ("x*y", {"x": 2.0, "y": 3.0}, "row x", "2", "a mul gate's inputs swapped: the local "
                                                "gradient df/dx is the other input's value"),
    # no likely slip: the right number, and no guess
    (README, AT, "dq", "7", "you wrote 7, backprop gets -4"),
])
def test_a_wrong_answer_says_what_it_most_likely_is(program, at, key, wrote, words):
    name = key.removeprefix("row ")
    _, checks = graded(program, at, **{name: wrote})
    check = checks[key]
    assert check.status == "fail" and words in check.reason
    if wrote == "7":
        assert "most likely" not in check.reason


def test_arrays_are_graded_entry_by_entry_to_the_digits_written():
    at = {"x": np.array([0.2, 0.4]), "W": np.array([[0.1, 0.5], [-0.3, 0.8]])}
    program = "norm(W @ x)**2"
    _, checks = graded(program, at, W="[[0.088, 0.176], [0.104, 0.208]]")
    assert checks["row W"].status == "pass"
    _, checks = graded(program, at, x="[-0.112, 0.63]")
    assert checks["row x"].status == "fail"
    assert checks["row x"].reason == ("1 of 2 entries wrong; at [1] you wrote 0.63, backprop "
                                      "gets 0.636")
    with pytest.raises(BindingError, match="that has shape"):
        graded(program, at, x="[1, 2, 3]")


def test_the_eval_table_never_calls_the_learners_number_ref():
    out = CliRunner().invoke(cli, ["eval", README, "x=-2", "y=5", "z=-4", "--expect", "x=4",
                                   "--expect", "dq=4"])
    assert out.exit_code == 1
    assert "ref" not in out.stdout
    assert "expected dq: FAIL: you wrote 4, backprop gets -4: most likely a sign flip" \
        in out.stdout
    assert out.stdout.splitlines()[-1] == ("FAILED: not the expected gradient: x; not the "
                                           "expected number: dq")
    data = json.loads(CliRunner().invoke(cli, ["eval", "--json", README, "x=-2", "y=5", "z=-4",
                                               "--expect", "q=3"]).stdout)
    assert data["named_checks"]["q"]["status"] == "pass"


def test_an_unknown_name_lists_the_named_values_too():
    with pytest.raises(BindingError) as err:
        graded(README, AT, w="1")
    assert err.value.hint == "expect 'value' or one of: x, y, z, dx, dy, dz, q, f, dq, df"


def test_a_case_file_expects_intermediates_and_arrays_by_the_same_rules():
    from backprop_cli.batch.cases import read_cases
    from backprop_cli.batch.pool import run_serial
    from backprop_cli.batch.run import Settings

    lines = ['"q = x + y; f = q * z" x=-2 y=5 z=-4 expect: q=3 dq=4\n',
             '"norm(W @ x)**2" "x=[0.2,0.4]" "W=[[0.1,0.5],[-0.3,0.8]]" '
             'expect: W=[[0.088,0.176],[0.104,0.3]]\n',
             '"q = x + y; f = q * z" x=-2 y=5 z=-4 expect: w=3\n']
    out = list(run_serial(read_cases(lines), Settings(origin="cases.txt")))
    assert [r.status for r in out] == ["fail", "fail", "error"]
    assert [(m.name, m.ours, m.reference) for m in out[0].mismatches] == [("dq", -4.0, 4.0)]
    assert dict(out[0].checks)["q"] == (("expected", "pass"),)
    assert [(m.name, m.reference) for m in out[1].mismatches] == [("W[1,1]", 0.3)]
    assert "w is not a bound variable or a named value" in out[2].message


def test_trace_grades_in_the_order_given_and_ends_with_what_was_wrong():
    args = ["trace", "q = x + y; f = q * z", "x=-2", "y=5", "z=-4", "--expect", "q=3",
            "--expect", "dq=4", "--expect", "dz=3", "--expect", "x=-4"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    graded = result.stdout.split("\n\n")[-2:]
    assert [line.split(":")[0] for line in graded[0].splitlines()] == \
        ["expected q", "expected dq", "expected dz", "expected dx"]
    assert graded[1] == "FAILED: 1 of 4 expected numbers are wrong (dq)\n"

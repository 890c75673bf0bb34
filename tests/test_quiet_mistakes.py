"""Quiet mistakes get a word: probabilities given to a loss that takes scores, a picture file
the tool cannot write, a mistyped option; and a script asking for --json gets JSON even when
the input is bad."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("program, binding", [
    ("cross_entropy(softmax(s), 2)", "s=[1,2,3]"),  # softmax twice
    ("cross_entropy(p, 2)", "p=[0.2,0.3,0.5]"),  # a row of probabilities
    ("log_softmax(softmax(s))[0]", "s=[1,2,3]"),
])
def test_probabilities_given_to_a_loss_that_takes_scores_are_warned(program, binding):
    out = run("eval", program, binding, "--no-check", "--plain")
    assert out.exit_code == 0
    assert "looks like probabilities" in out.stderr and "softmax is taken twice" in out.stderr
    data = json.loads(run("eval", program, binding, "--no-check", "--json").stdout)
    assert any("softmax is taken twice" in w for w in data["warnings"])


def test_scores_are_not_warned():
    out = run("eval", "cross_entropy(s, 2)", "s=[1,2,3]", "--no-check", "--plain")
    assert out.exit_code == 0 and "probabilities" not in out.stderr


def test_a_picture_format_the_tool_does_not_write_is_refused(tmp_path):
    target = tmp_path / "out.pdf"
    out = run("graph", "x*y", "x=1", "y=2", "-o", str(target))
    assert out.exit_code == 2 and not target.exists()
    assert "does not write .pdf files" in out.stderr and "rsvg-convert" in out.stderr


def test_a_mistyped_option_gets_a_suggestion():
    out = run("eval", "x*y", "x=1", "y=2", "--precison", "3")
    assert out.exit_code == 2
    assert "unknown option --precison (did you mean --precision? see --help)" in out.stderr
    out = run("trace", "x", "x=1", "--zzz")
    assert "did you mean" not in out.stderr


def test_the_bullet_operator_is_a_product():
    out = run("eval", "x\u2219y", "x=2", "y=3", "--no-check", "--json")
    assert json.loads(out.stdout)["gradients"] == {"x": 3.0, "y": 2.0}


@pytest.mark.parametrize("args, kind", [
    (["eval", "x*y +", "x=1"], "parse error"),
    (["eval", "x*y", "x=1"], "name error"),
    (["trace", "x*y", "x=1", "y"], "binding error"),
    (["eval", "x", "x=1", "--precision", "99"], "usage error"),
    (["trace", "x", "x=1", "--zzz"], "error"),
])
def test_bad_input_with_json_gets_a_json_error_object(args, kind):
    # A real process: click's own usage errors are reported by backprop's main, not the runner.
    out = subprocess.run([sys.executable, "-m", "backprop_cli", *args, "--json"], check=False,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    error = json.loads(out.stdout)["error"]
    assert error["kind"] == kind and error["message"]
    assert set(error) >= {"message", "kind", "span"}
    assert out.stderr.strip()  # the line on stderr as always
    if kind in ("parse error", "name error"):
        start, end = error["span"]
        assert 0 <= start < end <= len(args[1]) + 1  # one past the end: the end of input

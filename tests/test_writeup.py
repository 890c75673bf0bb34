"""trace --format markdown|latex: the lecture's worked examples as homework write-ups."""

from __future__ import annotations

import re
import time

import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli

LECTURE = ["q = x + y; f = q * z", "x=-2", "y=5", "z=-4"]
SIGMOID = ["1/(1+exp(-(w0*x0 + w1*x1 + w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_lectures_first_circuit_in_markdown():
    assert run("trace", *LECTURE, "--format", "markdown") == """\
## Backpropagation through `q = x + y; f = q*z`

At x = -2, y = 5, z = -4; upstream is ∂f/∂node, and each input receives upstream × local.

| node | expression | op | value | upstream | local | downstream | gate |
| --- | --- | --- | --- | --- | --- | --- | --- |
| #0 | `x` | var | -2 | -4 |  |  | input |
| #1 | `y` | var | 5 | -4 |  |  | input |
| #2 | `q = x + y` | `+` | 3 | -4 | 1, 1 | -4, -4 | distributor |
| #3 | `z` | var | -4 | 3 |  |  | input |
| #4 | `f = q*z` | `*` | -12 | 1 | -4, 3 | -4, 3 | switcher |

### Chain rule, from the output back

1. ∂f/∂f = 1 at the output `f = q*z`.
2. `f = q*z` (switcher): `q` receives 1 × (-4) = -4; `z` receives 1 × 3 = 3.
3. `q = x + y` (distributor): `x` receives (-4) × 1 = -4; `y` receives (-4) × 1 = -4.

### Gradients

- ∂f/∂x = -4
- ∂f/∂y = -4
- ∂f/∂z = 3
"""


def test_fan_out_is_written_as_the_sum_of_what_the_consumers_sent():
    text = run("trace", "a = x*y; f = a + a*z", "x=2", "y=3", "z=4", "--format", "markdown")
    assert "- `a` feeds 2 nodes: ∂f/∂a = 4 + 1 = 5" in text.splitlines()


def test_the_sigmoid_neuron_in_latex_has_the_lectures_numbers_and_balanced_braces():
    text = run("trace", *SIGMOID, "--format", "latex", "--precision", "3")
    assert r"\frac{\partial f}{\partial w_{0}} &= -0.197 \\" in text
    assert r"\frac{\partial f}{\partial x_{0}} &= 0.393 \\" in text
    assert r"1 / (1 + \exp\left(-(w_{0} \cdot x_{0} + w_{1} \cdot x_{1} + w_{2})\right))" in text
    body = re.sub(r"\\[{}]", "", text)
    assert body.count("{") == body.count("}")
    assert text.count(r"\begin{") == text.count(r"\end{")


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_a_long_chain_writes_up_in_linear_time(fmt):
    program = "(" * 3000 + "x" + "+1)" * 3000
    start = time.process_time()  # CPU time: the same on a busy machine
    text = run("trace", program, "x=1", "--format", fmt)
    assert time.process_time() - start < 10
    assert (" ... " if fmt == "markdown" else r"\text{node \#") in text  # long ones are cut
    assert max(len(line) for line in text.splitlines()) < 400


def test_constants_sit_inside_their_gates_as_trace_draws_them():
    # The neuron's two 1s are part of the gates `+1` and `1/x`: no row, no gradient, and the
    # rows are numbered #0 .. #12 with no gap.
    for fmt in ("markdown", "latex"):
        out = run("trace", *SIGMOID, "--format", fmt)
        assert re.search(r"\\?#12\b", out) and not re.search(r"\\?#13\b", out)
    table = run("trace", *SIGMOID, "--format", "markdown")
    assert "| `+1` | 1.36788 | -0.534447 | 1 | -0.534447 |" in table
    assert "| `1/x` | 0.731059 | 1 | -0.534447 | -0.534447 |" in table


def test_latex_adds_up_a_fan_out_as_markdown_does():
    args = ["trace", "a = x*y; f = a + a*z", "x=2", "y=3", "z=4", "--format"]
    assert r"\frac{\partial f}{\partial a} &= 4 + 1 = 5" in run(*args, "latex")
    assert "∂f/∂a = 4 + 1 = 5" in run(*args, "markdown")


def test_a_write_up_and_the_explained_walk_do_not_mix():
    result = CliRunner().invoke(cli, ["trace", *LECTURE, "--explain", "--format", "latex"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "--explain and --step walk the backward pass: choose one" in result.stderr

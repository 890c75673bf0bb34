"""The trace as the lecture tells it: constants inside their gates, fan-out counted by
consumers and uses, the nodes from the output back, and --explain's arithmetic, whose every
number is the one the backward pass computed."""

import json
import re

import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli
from backprop_cli.engine.trace import trace_rows
from backprop_cli.evaluate import Options, evaluate
from backprop_cli.render import numbers
from backprop_cli.render.explain import explain_blocks

NEURON = "1/(1+exp(-(w0*x0 + w1*x1 + w2)))"
NEURON_AT = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}


def trace(*argv):
    result = CliRunner().invoke(cli, ["trace", *argv])
    assert result.exit_code == 0, result.output
    return result.stdout


def rows_of(program, at):
    result = evaluate(program, at, Options(check=False))
    return result, trace_rows(result.graph, result.values, result.grads)


def test_fan_out_counts_distinct_consumers_and_uses():
    out = trace("x*x + x", "x=3").splitlines()
    assert out[-1] == "fan-out: #0 x feeds 2 nodes (3 uses); its gradient 7 = 3 + 3 (from #1) " \
                      "+ 1 (from #2)"
    node = json.loads(trace("x*x + x", "x=3", "--json"))["nodes"][0]
    assert (node["consumers"], node["uses"]) == (2, 3)


def test_a_wide_fan_out_names_its_first_and_last_consumers_and_counts_the_rest():
    # a = x*1.5 read by 100 products: the sum is 100 terms, shown as 6 + a count + 2.
    program = "a = x*1.5; " + " + ".join(f"a*{k}" for k in range(2, 102))
    line = trace(program, "x=2").splitlines()[-1]
    # The ids are the screen's: the constants 1.5, 2, 3 ... are inside their gates, unnumbered.
    assert line.startswith("fan-out: #1 a feeds 100 nodes; its gradient 5150 = 2 (from #2) + ")
    assert line.count("(from #") == 8 and "+ ... (92 more) +" in line
    assert line.endswith(" + 100 (from #197) + 101 (from #199)")


def test_the_neurons_constants_are_inside_their_gates():
    lines = trace(NEURON, *[f"{k}={v:g}" for k, v in NEURON_AT.items()]).splitlines()
    columns = [re.split(r"\s{2,}", line) for line in lines]
    assert columns[-2][2] == "+1" and columns[-1][2] == "1/x"
    ids = [line.split()[0] for line in lines[1:]]
    assert ids == [f"#{k}" for k in range(13)]  # each 1 is inside its gate: no row, no gap
    assert not any(line.startswith("fan-out") for line in lines)
    nodes = json.loads(trace(NEURON, *[f"{k}={v:g}" for k, v in NEURON_AT.items()],
                             "--json"))["nodes"]
    for one in nodes[:2]:  # the 1 of 1/x and the 1 of 1+x: two constants, as typed
        assert one["op"] == "const" and one["grad"] is None and one["in_gate"] is True
        assert "fan_out" not in one
    assert nodes[13]["folded"] == [True, False] and nodes[13]["downstream"][0] is None


def test_an_exponent_gets_no_gradient():
    lines = trace("q**2", "q=3").splitlines()
    assert lines[2].split()[:4] == ["#1", "q**2", "**2", "#0"]
    assert lines[2].split()[6:8] == ["6", "6"]  # one local, one downstream: q's


def test_backward_lists_the_nodes_from_the_output_back():
    ids = [line.split()[0] for line in trace("q = x + y; f = q * z", "x=-2", "y=5", "z=-4",
                                            "--backward").splitlines()[1:]]
    assert ids == ["#4", "#3", "#2", "#1", "#0"]


@pytest.mark.parametrize("program, at", [
    (NEURON, NEURON_AT),
    ("a = x*y; f = a + a*z", {"x": 2.0, "y": 3.0, "z": 4.0}),
    ("x*x + x", {"x": 3.0}),
    ("q = x + y; f = q * z", {"x": -2.0, "y": 5.0, "z": -4.0}),
])
def test_explain_shows_the_numbers_the_backward_pass_computed(program, at):
    result, rows = rows_of(program, at)
    text = "\n".join("\n".join(b) for b in explain_blocks(rows, result.graph.output, 17))
    for r in rows:
        for k in r.shown_inputs:
            src = rows[r.inputs[k]]
            sent = numbers.number(r.downstream[k], 17)
            # `dx = dq * dq/dx = (-4) * 1 = -4`, or at the output `dq = df/dq = z = -4`
            pattern = rf"^  {re.escape(src.grad_name)} \+?= .* = {re.escape(sent)}$"
            assert re.search(pattern, text, re.MULTILINE), (r.text, src.grad_name, sent)
        if r.fans_out:
            parts = " + ".join(numbers.number(g, 17) for _, g in r.contributions)
            assert f"{r.grad_name} = {parts} = {numbers.number(r.grad, 17)}" in text


def test_explain_reads_like_the_lecture():
    out = trace("q = x + y; f = q * z", "x=-2", "y=5", "z=-4", "--explain")
    assert "  dq = df/dq = z = -4\n" in out
    assert "  dx = dq * dq/dx = (-4) * 1 = -4\n" in out
    assert out.index("#4 f = q * z") < out.index("#2 q = x + y") < out.index("#0 x")
    fan = trace("a = x*y; f = a + a*z", "x=2", "y=3", "z=4", "--explain")
    assert "  da += d(a*z) * d(a*z)/da = 1 * 4 = 4\n" in fan
    assert "  da = 4 + 1 = 5: a is read 2 times (by #4, #5), and the gradients add\n" in fan


def test_trace_grades_the_learners_numbers_node_by_node():
    result = CliRunner().invoke(cli, ["trace", "q = x + y; f = q * z", "x=-2", "y=5", "z=-4",
                                      "--expect", "q=3", "--expect", "dq=4"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-4:] == [
        "expected q: pass 0.0e+00",
        "expected dq: FAIL: you wrote 4, backprop gets -4: most likely a sign flip",
        "", "FAILED: 1 of 2 expected numbers are wrong (dq)"]
    data = json.loads(trace("q = x + y; f = q * z", "x=-2", "y=5", "z=-4", "--expect",
                            "dq=-4", "--json"))
    assert data["expected"]["dq"]["status"] == "pass" and len(data["nodes"]) == 5


def test_a_negative_part_of_a_fan_out_sum_is_subtracted():
    line = trace("a = x*y; f = a*2 - a*3 + exp(-a)", "x=0.5", "y=1").splitlines()[-1]
    assert line == ("fan-out: #2 a feeds 3 nodes; its gradient -1.60653 = 2 (from #3) - 3 "
                    "(from #4) - 0.606531 (from #6)")
    assert "+ -" not in line


def test_a_gate_names_its_input_as_the_program_does_and_has_its_own_role():
    row = trace("g = x*y; f = 1/g", "x=2", "y=3").splitlines()[-1].split()
    assert row[2] == "1/g" and " ".join(row[-3:]) == "local gradient -1/g²"
    row = trace("s = W @ x; f = cross_entropy(s, 1)", "W=[[1,2],[3,4]]", "x=[1,1]")
    assert "xent(s, 1)" in row and "xent(t" not in row
    assert "vjp" not in row and "Jacobian" in row


def test_an_augmented_assignment_is_titled_as_written():
    # `q += z` was titled "#4 q = q += z" in --explain and on the terminal.
    from backprop_cli.render.plain import node_title

    out = CliRunner().invoke(cli, ["trace", "q = x + y\nq += z\nf = q*q", "x=1", "y=2", "z=3",
                                   "--explain"]).stdout
    assert "\n#4 q += z\n" in out and "q = q +=" not in out
    assert node_title("q", "q += z") == "q += z"
    assert node_title("q", "x + y") == "q = x + y"
    assert node_title("q", "q + z") == "q = q + z"
    assert node_title("x", "x") == "x" and node_title(None, "a*z") == "a*z"

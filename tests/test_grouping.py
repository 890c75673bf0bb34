"""Gate grouping: the lecture's sigmoid gate (and friends) collapsed, with the same gradients."""

import math

import pytest
from click.testing import CliRunner
from hypothesis import assume, given
from hypothesis import strategies as st

from backprop_cli.cli import cli
from backprop_cli.engine.grouping import agreement, group, resolve_patterns
from backprop_cli.evaluate import Options, evaluate
from backprop_cli.language.parser import parse

NEURON = "1/(1+exp(-(w0*x0 + w1*x1 + w2)))"
NEURON_AT = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}


def gradients(graph, at):
    return evaluate(graph, at, Options(check=False)).gradients


# (program, --group, gate ops after grouping in node order, nodes collapsed)
GROUPED = [
    (NEURON, "sigmoid", ["sigmoid"], 4),
    ("1/(1+exp(-1*t))", "sigmoid", ["sigmoid"], 4),
    ("(1+exp(-t))**-1", "sigmoid", ["sigmoid"], 4),
    ("1/(exp(-t)+1)", "sigmoid", ["sigmoid"], 4),
    ("exp(t)/(1+exp(t))", "sigmoid", ["sigmoid"], 4),  # two exp gates as typed
    ("(exp(t)-exp(-t))/(exp(t)+exp(-t))", "tanh", ["tanh"], 9),
    ("log(1+exp(t))", "softplus", ["softplus"], 3),
    ("log(1+exp(t)) * tanh(t)", "all", ["softplus"], 3),
    ("log(1+exp(t)) + log(exp(2*t)+1)", "softplus", ["softplus", "softplus"], 6),
    ("s = 1/(1+exp(-t)); s * (1 - s)", "sigmoid", ["sigmoid"], 4),
    # exp(-t) typed twice is two gates: the sigmoid's own is free to collapse, the other stays
    ("1/(1+exp(-t)) + exp(-t)", "sigmoid", ["sigmoid"], 4),
]


@pytest.mark.parametrize("program,pattern,gates,collapsed", GROUPED)
def test_patterns_collapse_into_one_registry_gate(program, pattern, gates, collapsed):
    grouped = group(parse(program), resolve_patterns([pattern]))
    assert [g.op for g in grouped.gates] == gates
    assert sum(g.replaced for g in grouped.gates) == collapsed
    ops = [op.name for op in grouped.graph.ops]
    for g in grouped.gates:
        assert ops[g.id] == g.op
    at = NEURON_AT if program == NEURON else {"t": 0.7}
    same, worst = agreement(gradients(parse(program), at), gradients(grouped.graph, at))
    assert same and worst < 1e-12


# Left as written: an inner node is read outside the match, or nothing matches.
UNGROUPED = [
    ("u = exp(-t); 1/(1+u) * u", "sigmoid"),  # the named exp(-t) is needed outside too
    ("1/(2+exp(-t))", "sigmoid"),
    ("max(0, t)", "all"),  # at t = 0 max splits the tie, relu gives 0: not the same gate
    ("(x+y)*z", "all"),
]


@pytest.mark.parametrize("program,pattern", UNGROUPED)
def test_shared_or_different_subgraphs_stay_as_written(program, pattern):
    graph = parse(program)
    grouped = group(graph, resolve_patterns([pattern]))
    assert grouped.gates == ()
    assert [op.name for op in grouped.graph.ops] == [op.name for op in graph.ops]


def test_lecture_sigmoid_gate_gives_the_lectures_gradients():
    grouped = group(parse(NEURON), ["sigmoid"])
    result = evaluate(grouped.graph, NEURON_AT, Options(check=False))
    assert len(grouped.graph) == 10  # 14 nodes as written, minus 4 gates plus one sigmoid
    assert result.value == pytest.approx(0.7310585786, rel=1e-9)
    # The sigmoid gate's local gradient is (1 - σ) σ = 0.196612, as the notes work out.
    assert {k: round(v, 2) for k, v in result.gradients.items()} == {
        "w0": -0.20, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.20}


def test_grouping_does_not_change_the_graph_it_was_given():
    graph = parse(NEURON)
    before = [op.name for op in graph.ops]
    group(graph, ["sigmoid"])
    assert [op.name for op in graph.ops] == before


def test_unknown_pattern_is_bad_input():
    result = CliRunner().invoke(cli, ["trace", "x*y", "x=1", "y=2", "--group", "softmax"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "error: --group softmax: no such gate pattern "
        "(choose from: sigmoid, tanh, softplus, all)")


def test_trace_with_group_shows_one_sigmoid_gate_and_says_the_gradients_agree():
    args = ["trace", NEURON, *[f"{k}={v:g}" for k, v in NEURON_AT.items()], "--plain"]
    written = CliRunner().invoke(cli, args)
    gated = CliRunner().invoke(cli, [*args, "--group", "sigmoid"])
    assert written.exit_code == gated.exit_code == 0
    def rows(out):
        return [line for line in out.splitlines() if line.startswith("#")]

    assert len(rows(written.stdout)) == 13 and len(rows(gated.stdout)) == 10
    last = rows(gated.stdout)[-1].split()
    assert last[:2] == ["#9", "1/(1+exp(-(w0*x0"] and "σ" in last and "0.196612" in last
    assert "grouped 1 sigmoid gate (4 nodes collapsed into 1)" in gated.stderr
    assert "gradients equal the ungrouped graph's" in gated.stderr
    assert written.stderr == ""


def test_trace_json_with_group_gives_the_same_variable_gradients():
    import json

    args = ["trace", NEURON, *[f"{k}={v:g}" for k, v in NEURON_AT.items()], "--json"]
    written = json.loads(CliRunner().invoke(cli, args).stdout)["nodes"]
    gated = json.loads(CliRunner().invoke(cli, [*args, "--group", "all"]).stdout)["nodes"]
    by_name = {n["name"]: n["grad"] for n in written if n["op"] == "var"}
    assert {n["name"]: n["grad"] for n in gated if n["op"] == "var"} == pytest.approx(by_name)
    assert [n["op"] for n in gated].count("sigmoid") == 1


# --- random programs: grouping never changes a gradient -------------------------------------

WRAPS = [
    "1/(1+exp(-({})))", "(1+exp(-({})))**-1", "exp({0})/(1+exp({0}))",
    "(exp({0})-exp(-({0})))/(exp({0})+exp(-({0})))", "log(1+exp({}))", "max(0, {})",
    "max({}, 0)",
]
names = st.sampled_from(["x", "y", "z"])


@st.composite
def programs(draw):
    """Small random expressions over x, y, z in which the patterns appear at random places."""
    parts = [draw(names) for _ in range(draw(st.integers(2, 5)))]
    for _ in range(draw(st.integers(1, 6))):
        k = draw(st.integers(0, len(parts) - 1))
        if draw(st.booleans()):
            parts[k] = draw(st.sampled_from(WRAPS)).format(parts[k])
        elif len(parts) > 1:
            j = draw(st.sampled_from([n for n in range(len(parts)) if n != k]))
            op = draw(st.sampled_from(["+", "*", "-"]))
            left, right = parts[k], parts[j]
            parts[k] = f"({left} {op} {right})"
            del parts[j]
    return " + ".join(parts)


@given(programs(), st.tuples(*[st.floats(-3, 3, allow_nan=False)] * 3))
def test_grouped_and_written_graphs_give_identical_gradients(program, point):
    at = dict(zip("xyz", point))
    graph = parse(program)
    at = {k: v for k, v in at.items() if k in graph.variables}
    grouped = group(graph, resolve_patterns(["all"]))
    plain_run = evaluate(graph, at, Options(check=False))
    gated_run = evaluate(grouped.graph, at, Options(check=False))
    # Exactly on a kink (a max tie) the two can land on different sides by one rounding:
    # tanh(1e-69) is 1e-69 but the expanded formula gives exactly 0. Kinks are reported.
    assume(not any("non-differentiable" in w for w in plain_run.warnings + gated_run.warnings))
    plain, gated = plain_run.gradients, gated_run.gradients
    assert plain.keys() == gated.keys()
    for name in plain:
        assert math.isclose(gated[name], plain[name], rel_tol=1e-9, abs_tol=1e-12), program
    assert all(grouped.graph.ops[g.id].name == g.op for g in grouped.gates)

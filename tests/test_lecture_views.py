"""The lecture's extra views: why zero, nudge and one step, frameworks at a kink, forward mode,
float32. Golden reasons and numbers through the CLI, stdout and exit codes asserted apart."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli
from backprop_cli.engine.backward import backpropagate
from backprop_cli.engine.forward import forward
from backprop_cli.engine.why_zero import zero_gradients
from backprop_cli.language.parser import parse


def run(*argv: str, code: int = 0):
    result = CliRunner().invoke(cli, list(argv))
    assert result.exit_code == code, result.output
    return result


def reasons(source: str, **bindings: float) -> dict:
    graph = parse(source)
    values = forward(graph, bindings)
    grads = backpropagate(graph, values)
    names = {n: grads[graph.variables[n]] if n in graph.variables else 0.0 for n in bindings}
    return {r.name: r for r in zero_gradients(graph, values, names)}


@pytest.mark.parametrize(("source", "bindings", "name", "kind", "why"), [
    ("relu(x)*y", {"x": -2.0, "y": 3.0}, "x", "blocked", "relu at a negative input (-2)"),
    ("relu(x)*y", {"x": -2.0, "y": 3.0}, "y", "blocked",
     "a multiplication by a zero value (relu(x) = 0)"),
    ("max(x, y)*w", {"x": 1.0, "y": 2.0, "w": 1.0}, "x", "blocked",
     "the losing side of max (1 against 2)"),
    ("0*z + y", {"z": 1.0, "y": 1.0}, "z", "blocked", "a multiplication by the constant 0"),
    ("x*y", {"x": 1.0, "y": 2.0, "w": 3.0}, "w", "no path", None),
    ("a = x*y; f = a - a + z", {"x": 1.0, "y": 2.0, "z": 1.0}, "x", "cancelled", None),
    ("tanh(tanh(10*x)*5) + 1000*y", {"x": 1.0, "y": 1.0}, "x", "vanished",
     "tanh saturated at input 10: local gradient 8.24e-09"),
])
def test_why_a_gradient_is_zero(source, bindings, name, kind, why):
    r = reasons(source, **bindings)[name]
    assert r.kind == kind
    if kind == "blocked":
        assert why in [g.why for g in r.gates]
    if kind == "vanished":
        assert min(r.gates, key=lambda g: abs(g.local)).why == why


def test_non_zero_gradients_get_no_reason():
    assert reasons("x*y", x=2.0, y=3.0) == {}


def test_why_zero_terminal_and_json():
    out = run("eval", "relu(x)*y", "x=-2", "y=3", "--why-zero").stdout
    assert "    at #1 relu(x) = 0: relu at a negative input (-2)" in out
    data = json.loads(run("eval", "relu(x)*y", "x=-2", "y=3", "--why-zero", "--json").stdout)
    assert data["why_zero"][0] == {"name": "x", "gradient": 0.0, "reason": "blocked",
                                   "blocked_at": [{"node": 1, "shown_id": 1, "text": "relu(x)",
                                                   "why": "relu at a negative input (-2)"}]}


def test_nudge_and_one_step():
    data = json.loads(run("eval", "x**2*y", "x=1.5", "y=2", "--nudge", "0.01", "--lr", "0.1",
                          "--json").stdout)
    assert data["nudge"]["inputs"]["x"]["predicted"] == pytest.approx(0.06)
    assert data["nudge"]["inputs"]["x"]["actual"] == pytest.approx(0.0602)
    step = data["step"]
    assert step["after"] == pytest.approx({"x": 0.9, "y": 1.775})
    assert step["value_after"] == pytest.approx(0.9 ** 2 * 1.775)
    assert step["predicted"] == pytest.approx(-0.1 * (6.0 ** 2 + 2.25 ** 2))
    assert step["went_down"] is True


def test_one_step_only_on_wrt():
    data = json.loads(run("eval", "x*y", "x=1", "y=2", "--lr", "0.5", "--wrt", "x",
                          "--json").stdout)
    assert data["step"]["after"] == {"x": 0.0}


@pytest.mark.parametrize("argv", [
    ("eval", "x*y", "x=1", "y=2", "--lr", "0"),
    ("eval", "W @ x", "W=[[1,2],[3,4]]", "x=[1,1]", "--nudge", "0.1"),
    ("trace", "sum(x*y)", "x=[1,2]", "y=[3,4]", "--forward-mode", "x"),
])
def test_refused_in_one_line(argv):
    result = run(*argv, code=2)
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_plain_eval_imports_no_lecture_module():
    code = ("import sys; from backprop_cli.cli import main; sys.argv=['backprop','eval','x*y',"
            "'x=1','y=2','--no-check']\ntry: main()\nexcept SystemExit: pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[-1] in ('why_zero',"
            "'sensitivity','frameworks','tangents','float32')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_kink_rows_state_what_other_frameworks_return():
    from backprop_cli.ops.registry import OPS

    assert ("PyTorch", "torch.clamp_min(x, 0)", "1") in OPS["relu"].elsewhere
    assert ("JAX", "jnp.maximum", "0.5") in OPS["max"].elsewhere
    assert all(op.branch is not None for op in OPS.values() if op.elsewhere)


def test_frameworks_panel_at_a_kink():
    data = json.loads(run("eval", "relu(x)*3", "x=0", "--frameworks", "--json").stdout)
    panel = data["frameworks"][0]
    assert (panel["node"], panel["local"], panel["upstream"]) == (1, [0.0], 3.0)
    receives = {e["function"]: e["receives"] for e in panel["elsewhere"]}
    assert receives["torch.clamp_min(x, 0)"] == 3.0
    assert receives["jnp.maximum(x, 0)"] == 1.5
    out = run("eval", "max(x, y)", "x=1", "y=1", "--frameworks", "--no-check").stdout
    assert "  PyTorch    torch.maximum      0.5       0.5" in out
    out = run("eval", "relu(x)", "x=1", "--frameworks", "--no-check").stdout
    assert "no node is on a kink" in out


def test_forward_mode_tangents_match_the_backward_pass():
    data = json.loads(run("trace", "a = x*y; f = a + a*z", "x=2", "y=3", "z=4",
                          "--forward-mode", "all", "--json").stdout)
    got = {r["wrt"]: (r["gradient"], r["backward_gradient"]) for r in data["forward_mode"]}
    assert got == {"x": (15.0, 15.0), "y": (10.0, 10.0), "z": (6.0, 6.0)}
    assert data["forward_mode"][0]["forward_passes"] == 3
    assert data["forward_mode"][0]["backward_passes"] == 1
    out = run("trace", "q = x + y; f = q * z", "x=-2", "y=5", "z=-4",
              "--forward-mode", "x").stdout
    assert "#4 f = -12   tangent = -4*1 = -4" in out
    assert "reverse mode is cheaper here" in out


def test_forward_mode_of_an_unknown_input_is_refused():
    result = run("trace", "x*y", "x=1", "y=2", "--forward-mode", "w", code=2)
    assert "the program has no input w" in result.stderr


@pytest.mark.parametrize(("argv", "cause"), [
    (("1 - cos(x)", "x=1e-3"), "cancellation"),
    (("exp(x)*y", "x=80.3", "y=2"), "a large exponent"),
    (("exp(x)", "x=100"), "overflow"),
])
def test_float32_names_where_digits_are_lost(argv, cause):
    # No saturation case: tanh's and sigmoid's rules keep their digits now (sech², σ(a)σ(-a)),
    # so `tanh(10*x)` at x=1 loses none in float32 (the test below).
    data = json.loads(run("eval", *argv, "--float32", "--no-check", "--json").stdout)
    assert [x["cause"] for x in data["float32"]["losses"]] == [cause]


def test_float32_tolerance():
    data = json.loads(run("eval", "x*y", "x=0.1", "y=0.3", "--float32", "--json").stdout)
    f32 = data["float32"]
    assert f32["losses"] == []
    assert f32["tolerance"] == 0.001
    assert 0 < f32["gradients"]["x"]["rel_error"] < 1e-7
    out = run("eval", "exp(x)", "x=100", "--float32", "--no-check").stdout  # float32 overflows
    assert "no float32 gradient check can pass here" in out


def test_views_survive_a_node_with_no_finite_local():
    # 0*sqrt(x) at x=0: the backward pass never asks sqrt for its local, the views do.
    out = run("eval", "0*sqrt(x) + y", "x=0", "y=1", "--why-zero", "--float32").stdout
    assert "a multiplication by the constant 0" in out
    data = json.loads(run("eval", "log(x)", "x=1e-46", "--float32", "--no-check",
                          "--json").stdout)
    assert data["float32"]["losses"][0]["cause"] == "out of the domain"


def test_float32_a_saturated_gate_keeps_its_digits_with_the_digit_keeping_rules():
    data = json.loads(run("eval", "tanh(10*x) + y", "x=1", "y=1", "--float32", "--no-check",
                          "--json").stdout)
    assert data["float32"]["losses"] == []

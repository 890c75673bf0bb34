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
    # numpy's spelling of the elementwise max gets the same panel as max()
    out = run("eval", "maximum(x, y)", "x=1", "y=1", "--frameworks", "--no-check").stdout
    assert "  PyTorch    torch.maximum      0.5       0.5" in out
    out = run("eval", "sum(minimum(x, 0))", "x=[0, 1]", "--frameworks", "--no-check").stdout
    assert "  JAX        jnp.minimum        0.5       0.5" in out


def test_forward_mode_tangents_match_the_backward_pass():
    data = json.loads(run("trace", "a = x*y; f = a + a*z", "x=2", "y=3", "z=4",
                          "--forward-mode", "all", "--json").stdout)
    got = {r["wrt"]: (r["gradient"], r["backward_gradient"]) for r in data["forward_mode"]}
    assert got == {"x": (15.0, 15.0), "y": (10.0, 10.0), "z": (6.0, 6.0)}
    assert data["forward_mode"][0]["forward_passes"] == 3
    assert data["forward_mode"][0]["backward_passes"] == 1
    out = run("trace", "q = x + y; f = q * z", "x=-2", "y=5", "z=-4",
              "--forward-mode", "x").stdout
    assert "#4 f = -12   tangent = (-4)*1 = -4" in out
    # Two negative factors: '(-4)*(-3)', as explain and the quiz write them, not '-4*-3'.
    out = run("trace", "q = x*y; f = q*z", "x=2", "y=-3", "z=-4", "--forward-mode", "x").stdout
    assert "#4 f = 24   tangent = (-4)*(-3) = 12" in out
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


# --- array programs: the 2-layer relu net of the issue -------------------------------------

NET = ("h = relu(W @ x); f = sum(h)", "W=[[1,-2],[0.5,1],[-1,-1]]", "x=[1,0]")


def test_why_zero_on_arrays_names_the_gate_holding_each_zero_entry():
    data = json.loads(run("eval", *NET, "--why-zero", "--no-check", "--json").stdout)
    (w,) = data["why_zero"]  # x's gradient [1.5, -1] has no zero entry
    assert (w["name"], w["zero_entries"], w["entries"], w["unexplained"]) == ("W", 4, 6, 1)
    relu, matmul = w["blocked_at"]
    assert (relu["shown_id"], relu["freed"]) == (3, 1)
    assert relu["why"] == "relu at negative inputs: [2] (-1)"
    assert (matmul["shown_id"], matmul["freed"]) == (2, 2)
    assert matmul["why"] == "matmul multiplies by zero entries of x: [1] (0)"


def test_why_zero_on_arrays_names_relu_at_its_kink_apart_from_negative_inputs():
    # relu(W @ x) = relu([0, 1.5, -2]): entry 0 sits on the kink, entry 2 is negative
    data = json.loads(run("eval", "h = relu(W @ x); f = sum(h)", "W=[[1,-1],[0.5,1],[-1,-1]]",
                          "x=[1,1]", "--why-zero", "--no-check", "--json").stdout)
    (w,) = data["why_zero"]
    (relu,) = w["blocked_at"]
    assert relu["freed"] == 4
    assert relu["why"] == ("relu at negative inputs: [2] (-2); relu at 0, its kink (the "
                           "subgradient there is 0): [0] (0)")


def test_why_zero_on_arrays_no_path():
    data = json.loads(run("eval", "sum(x)", "x=[1,2]", "w=[3,4]", "--why-zero",
                          "--json").stdout)
    assert data["why_zero"] == [{"name": "w", "reason": "no path", "zero_entries": 2,
                                 "entries": 2}]


def test_nudge_on_arrays_moves_each_input_as_one_direction():
    data = json.loads(run("eval", "sum((W @ x)**2)", "W=[[1,2],[3,4]]", "x=[0.5,-1]",
                          "--nudge", "1e-4", "--no-check", "--json").stdout)
    for name, gradient in (("W", data["gradients"]["W"]), ("x", data["gradients"]["x"])):
        row = data["nudge"]["inputs"][name]
        total = sum(g for r in gradient for g in (r if isinstance(r, list) else [r]))
        assert row["gradient"] == pytest.approx(total)
        assert row["actual"] == pytest.approx(row["predicted"], rel=1e-3)
    assert data["nudge"]["inputs"]["W"]["entries"] == 4


def test_one_step_on_arrays():
    data = json.loads(run("eval", *NET, "--lr", "0.1", "--no-check", "--json").stdout)
    step = data["step"]
    assert step["after"]["x"] == pytest.approx([1 - 0.1 * 1.5, 0 + 0.1 * 1])
    assert step["after"]["W"][2] == [-1.0, -1.0]  # a zero gradient: the entry stays put
    assert step["went_down"] and step["predicted"] == pytest.approx(-0.1 * (2 + 1.5**2 + 1))


def test_frameworks_on_arrays_read_the_first_entry_on_a_kink():
    data = json.loads(run("eval", *NET[:1], "W=[[1,-1],[0.5,1],[-1,-1]]", "x=[1,1]",
                          "--frameworks", "--no-check", "--json").stdout)
    (panel,) = data["frameworks"]
    assert (panel["shown_id"], panel["on_kink"], panel["entries"], panel["at"]) == (3, 1, 3, [0])
    receives = {e["function"]: e["receives"] for e in panel["elsewhere"]}
    assert receives["torch.clamp_min(x, 0)"] == 1.0 and panel["receives"] == [0.0]
    out = run("eval", "max(x)", "x=[1,1]", "--frameworks", "--no-check").stdout
    assert "#1 max(x) is on a kink at 1 of 1 entries; backprop's convention" in out


def test_float32_on_arrays_names_the_cancelling_node():
    data = json.loads(run("eval", "f = sum(1 - cos(x))", "x=[1e-3, 2e-3]", "--float32",
                          "--no-check", "--json").stdout)
    f32 = data["float32"]
    assert [(x["shown_id"], x["cause"]) for x in f32["losses"]] == [(2, "cancellation")]
    x = next(n for n in f32["nodes"] if n["shown_id"] == 0)
    assert x["value"] == pytest.approx([1e-3, 2e-3])
    assert [n["shown_id"] for n in f32["nodes"]] == [None, 0, 1, 2, 3]  # 1 is inside its gate
    out = run("eval", *NET, "--float32", "--no-check").stdout
    assert "  node  text   shape   value err  grad err" in out


def test_forward_mode_on_arrays_follows_one_entry():
    data = json.loads(run("trace", *NET, "--forward-mode", "W[1, 0]", "--json").stdout)
    (fm,) = data["forward_mode"]
    assert (fm["wrt"], fm["gradient"], fm["backward_gradient"]) == ("W[1,0]", 1.0, 1.0)
    assert fm["forward_passes"] == 8 and fm["backward_passes"] == 1
    assert fm["nodes"][1]["tangent"] == [0.0, 1.0, 0.0]
    out = run("trace", *NET, "--forward-mode", "x[1]").stdout
    assert "d(output)/dx[1] = -1 (the backward pass gives -1)" in out
    for spec in ("W", "all", "x[2]"):
        result = run("trace", *NET, "--forward-mode", spec, code=2)
        assert len(result.stderr.strip().splitlines()) == 1


# --- the trace side, one option set, and the write-ups ---------------------------------------

def test_eval_and_trace_share_one_option_set():
    for command in ("eval", "trace"):
        out = run(command, "--help").stdout
        for option in ("--why-zero", "--nudge", "--lr", "--frameworks", "--float32"):
            assert option in out, (command, option)


def test_trace_views_name_nodes_as_the_trace_does():
    argv = ("trace", "q = relu(x) + 1; f = q * z", "x=-2", "z=3")
    rows = json.loads(run(*argv, "--json").stdout)["nodes"]
    shown = {r["id"]: r["shown_id"] for r in rows}
    data = json.loads(run(*argv, "--why-zero", "--float32", "--json").stdout)
    assert data["nodes"] == rows  # the trace is the same with the views asked for
    gate = data["why_zero"][0]["blocked_at"][0]
    assert gate["shown_id"] == shown[gate["node"]] == 1
    assert all(n["shown_id"] == shown[n["node"]] for n in data["float32"]["nodes"]
               if n["node"] in shown and shown[n["node"]] is not None)
    out = run(*argv, "--why-zero").stdout
    assert "    at #1 relu(x) = 0: relu at a negative input (-2)" in out


def test_float32_numbers_nodes_from_zero_as_trace_does():
    data = json.loads(run("eval", "1 - cos(x)", "x=1e-3", "--float32", "--json").stdout)
    assert data["float32"]["losses"][0]["shown_id"] == 2  # x #0, cos(x) #1, 1 - cos(x) #2


def test_views_in_the_write_ups():
    argv = ("trace", *NET, "--why-zero", "--float32")
    md = run(*argv, "--format", "markdown").stdout
    assert md.index("### Gradients") < md.index("### Why zero") < md.index("### Float32")
    assert "~~~text\nwhy zero:\n  d/dW: 4 of 6 entries are 0\n" in md
    tex = run(*argv, "--format", "latex").stdout
    assert "\\subsection*{Why zero}\n\\begin{verbatim}\nwhy zero:" in tex
    assert tex.rstrip().endswith("\\end{verbatim}")


def test_views_after_the_explained_walk():
    out = run("trace", "relu(x)*y", "x=-2", "y=3", "--explain", "--why-zero").stdout
    walk, views = out.split("\nwhy zero:\n")
    assert walk.startswith("backward pass, from the output back")
    assert "    at #1 relu(x) = 0: relu at a negative input (-2)" in views


def test_why_zero_on_arrays_costs_one_backward_pass_per_candidate_gate(monkeypatch):
    # Counts, not the clock: a checked eval of the same net runs 2 forward passes per input
    # entry for its finite differences (16 here); why zero runs one backward pass per gate
    # that could hold a zero (2 here: the relu and the matmul's zero entry of x).
    from backprop_cli.engine import backward

    calls = []
    real = backward.backpropagate

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(backward, "backpropagate", counted)
    run("eval", *NET, "--why-zero", "--no-check")
    assert len(calls) == 2  # one per candidate gate (the eval's own pass is not counted)


def test_why_zero_on_arrays_stops_within_one_checked_evals_passes():
    # 40 relu gates each holding one entry of a 1-entry input at 0 would need 40 passes; a
    # checked eval runs 2 per input entry, and so may why zero: the rest is said, not tried.
    layers = "; ".join(f"h{k} = relu(h{k - 1} - {k})" for k in range(1, 41))
    data = json.loads(run("eval", f"h0 = x*w; {layers}; f = sum(h40) + sum(w)", "x=[1]",
                          "w=[0.5]", "--why-zero", "--no-check", "--json").stdout)
    (x,) = [r for r in data["why_zero"] if r["name"] == "x"]
    assert x["stopped"] and len(x["blocked_at"]) <= 4


def test_views_beside_a_view_of_its_own_are_refused():
    result = run("trace", "x*y", "x=1", "y=2", "--forward-mode", "x", "--why-zero", code=2)
    assert "--why-zero, --nudge, --lr, --frameworks and --float32 follow the trace" in \
        result.stderr


def test_why_zero_names_an_array_router_and_nudge_says_where_f_is_undefined():
    argv = ("eval", "sum(x[i] * 2)", "x=[1,2,3]", "i=[0,2]", "--no-check")
    data = json.loads(run(*argv, "--why-zero", "--nudge", "0.1", "--json").stdout)
    x = data["why_zero"][0]
    assert (x["name"], x["blocked_at"], x["unexplained"]) == ("x", [], 1)
    assert [r["text"] for r in x["routers"]] == ["x[i]"]
    assert data["nudge"]["inputs"]["i"]["actual"] is None  # positions moved off whole numbers
    out = run(*argv, "--nudge", "0.1").stdout
    assert "  i: f is undefined at i + h: x[i] is undefined" in out


def test_forward_mode_in_the_write_ups():
    argv = ("trace", "q = x + y; f = q * z", "x=-2", "y=5", "z=-4", "--forward-mode", "x")
    md = run(*argv, "--format", "markdown").stdout
    assert md.startswith("## Backpropagation through")
    assert md.index("### Gradients") < md.index("### Forward mode (d/dx)")
    assert "~~~text\nforward mode for x:" in md
    assert "reverse mode 1 (one per output)" in md
    tex = run(*argv, "--format", "latex").stdout
    assert "\\subsection*{Forward mode (d/dx)}\n\\begin{verbatim}\nforward mode for x:" in tex
    plain = run(*argv).stdout  # the terminal view itself is unchanged
    assert plain.startswith("forward mode for x:")


@pytest.mark.parametrize(("answer", "slip"), [
    ("[[0.088,0.104],[0.176,0.208]]", "most likely transposed"),
    ("[[-0.088,-0.176],[-0.104,-0.208]]", "most likely the sign is flipped: every entry"),
    ("[[0.088,-0.176],[0.104,0.208]]", "most likely the sign is flipped at [0, 1]"),
])
def test_expect_on_arrays_names_the_slip(answer, slip):
    out = run("eval", "f = sum((W @ x)**2)", "W=[[0.1,0.5],[-0.3,0.8]]", "x=[0.2,0.4]",
              "--expect", f"W={answer}", code=1).stdout
    assert slip in out


def test_expect_of_the_broadcast_shape_names_the_missing_sum():
    result = run("eval", "f = sum(x + b)", "x=[[1,2],[3,4]]", "b=[1,2]", "--expect",
                 "b=[[1,1],[1,1]]", code=2)
    assert "a sum over the broadcast axis is missing: summed over axis 0" in result.stderr


def test_a_multiply_by_a_constant_is_a_scaler_in_trace_and_graph():
    trace = run("trace", "f = x*2 + y", "x=3", "y=1").stdout
    assert "#1  x*2   *2   #0      6      1         2      2           scaler" in trace
    graph = run("graph", "f = x*2 + y", "x=3", "y=1", "--roles").stdout
    assert "[*2] scaler" in graph and "switcher" not in graph


@pytest.mark.parametrize(("source", "bindings", "expect", "said"), [
    ("f = 2*(x*y + max(z, w))", ("x=3", "y=-4", "z=2", "w=-1"), "dw=2",
     "max routes the gradient to the larger input only: w = -1 is not it"),
    ("f = min(z, w)*3", ("z=2", "w=-1"), "dz=3",
     "min routes the gradient to the smaller input only: z = 2 is not it"),
])
def test_the_losing_side_of_a_router_is_named_as_routing(source, bindings, expect, said):
    out = run("eval", source, *bindings, "--expect", expect, code=1).stdout
    assert f"most likely {said}" in out and "mixed up" not in out


def test_frameworks_at_a_bound_of_clip():
    out = run("eval", "f = clip(x, 0, 1)*2", "x=1", "--frameworks", "--no-check").stdout
    for framework, function, local in (("PyTorch", "torch.clamp", "1"), ("JAX", "jnp.clip", "0.5"),
                                       ("sympy", "Min(Max(a, lo), hi): Heaviside(0)", "1/2")):
        assert any(line.split()[:2] == [framework, function.split()[0]] and f" {local} " in line
                   for line in out.splitlines()), (framework, out)


def test_nudge_at_a_kink_says_first_order_is_one_sided():
    out = run("eval", "f = sum(relu(x))", "x=[0,1]", "--nudge", "0.02", "--no-check").stdout
    assert "the point is on a kink: #1 relu(x) (in 1 of 2 entries), where backprop uses " \
           "relu'(0) = 0;" in out
    data = json.loads(run("eval", "f = relu(x)*3", "x=0", "--nudge", "0.02", "--no-check",
                          "--json").stdout)
    assert data["nudge"]["on_kink"] == ["#1 relu(x)"]
    assert "on a kink" not in run("eval", "x**2", "x=1", "--nudge", "0.1", "--no-check").stdout


def test_explain_writes_a_folded_gates_formula_as_the_gate_does():
    out = run("trace", "f = 1/(x+1)", "x=2", "--explain").stdout
    assert "  gate 1/t: local gradient -1/t²\n  d(x+1) = df/d(x+1) = -1/t² (t = x+1) = " in out
    named = run("trace", "g = x+1; f = 1/g", "x=2", "--explain").stdout
    assert "  dg = df/dg = -1/g² = -0.111111" in named


@pytest.mark.parametrize(("source", "gate"), [
    ("sum(transpose(x3,(1,0,2)))", "transpose(x3, (1, 0, 2))"),
    ("sum(x3.transpose(1,0,2))", "x3.transpose(1, 0, 2)"),
    ("sum(reshape(x3,(2,2)))", "reshape(x3, (2, 2))"),
])
def test_a_gate_with_a_tuple_of_axes_is_labelled_as_typed(source, gate):
    data = json.loads(run("trace", source, "x3=[[[1,2]],[[3,4]]]", "--json").stdout)
    (node,) = [n for n in data["nodes"] if n.get("shown_id") == 1]
    assert node["gate"] == gate


def test_on_a_terminal_of_80_columns_the_slip_and_the_kink_are_on_screen(tmp_path):
    from test_check_terminal import BACKPROP, run_on_terminal, screen

    def shown(*argv: str) -> str:
        return "\n".join(screen(run_on_terminal([*BACKPROP, *argv], 80, tmp_path), 80))

    slip = shown("eval", "f = sum((W @ x)**2)", "W=[[0.1,0.5],[-0.3,0.8]]", "x=[0.2,0.4]",
                 "--expect", "W=[[0.088,0.104],[0.176,0.208]]")
    assert "expected dW: 2 of 4 entries wrong" in slip and "most likely transposed" in slip
    kink = shown("eval", "f = sum(relu(x))", "x=[0,1]", "--nudge", "0.02", "--no-check")
    assert "  the point is on a kink: #1 relu(x) (in 1 of 2 entries), where backprop uses\n" \
           "      relu'(0) = 0;" in kink
    for line in (slip + "\n" + kink).splitlines():
        assert len(line) <= 80

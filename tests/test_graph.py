"""`backprop graph`: the lecture's examples drawn in every format, checked for their numbers."""

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli
from backprop_cli.render import layout
from backprop_cli.render.drawing import GREEN, RED

SVG = "{http://www.w3.org/2000/svg}"

XYZ = ["(x+y)*z", "x=-2", "y=5", "z=-4"]
NAMED = ["q = x + y; f = q * z", "x=-2", "y=5", "z=-4"]
NEURON = ["1/(1+exp(-(w0*x0 + w1*x1 + w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]
GATES = ["max(x, y) + x*y", "x=3", "y=-1"]

# Lecture example -> (edge values in green, edge gradients in red) that the picture must carry.
EDGES = {
    "xyz": (XYZ, {"-2", "5", "3", "-4", "-12"}, {"-4", "3", "1"}),
    "neuron": (NEURON, {"2", "-1", "-3", "-2", "6", "4", "1", "0.368", "1.37", "0.731"},
               {"-0.197", "0.393", "-0.393", "-0.59", "0.197", "-0.534", "1"}),
}


def run(*args):
    return CliRunner().invoke(cli, ["graph", *args])


def svg_texts(svg: bytes) -> list[tuple[str, str]]:
    """(text, fill colour) of every <text> in an SVG, which must parse as XML."""
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    return [((t.text or "").strip(), t.get("fill", "")) for t in root.iter(SVG + "text")]


@pytest.mark.parametrize("example", sorted(EDGES))
def test_svg_is_valid_xml_with_values_green_and_gradients_red(example, tmp_path):
    args, green, red = EDGES[example]
    out = tmp_path / "g.svg"
    result = run(*args, "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith(f"wrote {out} (svg, ")
    texts = svg_texts(out.read_bytes())
    assert green <= {t for t, fill in texts if fill == GREEN}
    assert red <= {t for t, fill in texts if fill == RED}


def test_svg_nodes_show_op_and_name_and_roles():
    result = run(*NAMED, "--format", "svg", "--roles")
    assert result.exit_code == 0, result.stderr
    texts = [t for t, _ in svg_texts(result.stdout_bytes)]
    for label in ("x", "y", "z", "+", "*", "q", "f", "distributor", "switcher"):
        assert label in texts
    root = ET.fromstring(result.stdout_bytes)
    ids = {g.get("id") for g in root.iter(SVG + "g") if "node" in (g.get("class") or "")}
    assert {"n0", "n1", "n2", "n3", "n4", "out"} <= ids


def test_inputs_on_the_left_and_the_output_on_the_right():
    root = ET.fromstring(run(*XYZ, "--format", "svg").stdout_bytes)
    xs = {}
    for g in root.iter(SVG + "g"):
        text = g.find(f"{SVG}a/{SVG}text") if g.find(f"{SVG}a") is not None else None
        text = text if text is not None else g.find(f"{SVG}g/{SVG}a/{SVG}text")
        if g.get("id") in ("n0", "n1", "n3", "n2", "n4", "out") and text is not None:
            xs[g.get("id")] = float(text.get("x"))
    assert max(xs["n0"], xs["n1"]) < xs["n2"] < xs["n4"] < xs["out"]


def test_png_is_a_png(tmp_path):
    out = tmp_path / "neuron.png"
    assert run(*NEURON, "--group", "sigmoid", "-o", str(out)).exit_code == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 2 * height > 200  # a left-to-right picture


def test_dot_text_carries_colours_ids_and_rankdir():
    result = run(*XYZ, "--format", "dot")
    assert result.exit_code == 0
    dot = result.stdout
    assert dot.startswith("digraph backprop {") and "rankdir=LR" in dot
    assert f'<font color="{GREEN}">-12</font>' in dot and f'<font color="{RED}">-4</font>' in dot
    assert len(re.findall(r"-> n\d+ \[tailclip=false\]", dot)) == 4  # four edges into gates


def test_mermaid_is_a_flowchart_with_every_edge_labelled():
    result = run(*NAMED, "-o", "-", "--format", "mermaid")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "flowchart LR"
    edges = [line.strip() for line in lines if "-->" in line]
    assert edges == [
        'n0 -- "value -2<br/>grad -4" --> n2',
        'n1 -- "value 5<br/>grad -4" --> n2',
        'n2 -- "value 3<br/>grad -4" --> n4',
        'n3 -- "value -4<br/>grad 3" --> n4',
        'n4 -- "value -12<br/>grad 1" --> out',
    ]
    assert 'n2(("+<br/><small>q</small>")):::gate' in result.stdout


def test_terminal_view_is_the_graph_from_the_output_back():
    result = run(*NAMED)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "f = [*]   value -12   grad 1",
        "├── q = [+]   value 3   grad -4",
        "│   ├── x   value -2   grad -4",
        "│   └── y   value 5   grad -4",
        "└── z   value -4   grad 3",
    ]


def test_terminal_view_shows_a_shared_value_once_and_each_edges_part():
    result = run("a = x*y; f = a + a*z", "x=2", "y=3", "z=4", "--roles")
    assert result.stdout.splitlines() == [
        "f = [+] distributor   value 30   grad 1",
        "├── a = [*] switcher   value 6   grad 1",
        "│   ├── x   value 2   grad 15",
        "│   └── y   value 3   grad 10",
        "└── [*] switcher   value 24   grad 1",
        "    ├── a = [*] switcher (drawn above)   value 6   grad 4",  # 1 + 4 = a's 5
        "    └── z   value 4   grad 6",
    ]


def test_constants_fold_into_their_gate_as_the_lecture_draws_them():
    result = run(*NEURON, "--format", "mermaid")
    assert '(("1/x"))' in result.stdout and '(("+1"))' in result.stdout
    assert "const" not in "".join(line for line in result.stdout.splitlines()
                                  if not line.lstrip().startswith("classDef"))


def test_group_sigmoid_draws_one_gate_with_the_same_edge_gradients():
    written = run(*NEURON, "--format", "mermaid")
    gated = run(*NEURON, "--format", "mermaid", "--group", "sigmoid")
    assert '(("σ")):::grouped' in gated.stdout
    assert "grouped 1 sigmoid gate" in gated.stderr
    grads = [set(re.findall(r'grad (-?[\d.]+)" --> n\d+\b', r.stdout)) for r in (written, gated)]
    assert grads[1] <= grads[0]  # every edge left after grouping carries the same gradient


def test_html_is_one_offline_file_with_the_drawing_and_the_gradients(tmp_path):
    out = tmp_path / "g.html"
    result = run(*GATES, "--roles", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched
    data = json.loads(re.search(r'id="backprop-data">(.*?)</script>', page, re.DOTALL).group(1))
    node = next(n for n in data["nodes"].values() if n["op"] == "max")
    assert node["upstream"] == "1"
    assert [(i["label"], i["local"], i["downstream"]) for i in node["inputs"]] == [
        ("x", "1", "1"), ("y", "0", "0")]
    assert data["nodes"]["n0"]["upstream"] == "0"  # x: 1 from max, -1 from x*y
    assert [c["grad"] for c in data["nodes"]["n0"]["consumers"]] == ["1", "-1"]


def test_user_text_cannot_break_out_of_the_html_or_the_svg(tmp_path):
    program = 'x*y  # </script><script>alert("x")</script> & <b>'
    out = tmp_path / "g.html"
    assert run(program, "x=1", "y=2", "-o", str(out)).exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert page.count("<script") == 2 and 'alert("x")' not in page
    svg = run(program, "x=1", "y=2", "--format", "svg").stdout_bytes
    svg_texts(svg)


@pytest.mark.parametrize("name,fmt", [("a.svg", "svg"), ("a.PNG", "png"), ("a.gv", "dot"),
                                      ("a.mmd", "mermaid"), ("a.htm", "html"),
                                      ("a.txt", "text"), ("drawing", "svg")])
def test_the_extension_picks_the_format(name, fmt, tmp_path):
    result = run(*XYZ, "-o", str(tmp_path / name))
    assert result.exit_code == 0, result.stderr
    assert f"({fmt}, 5 nodes)" in result.stderr


def test_no_engine_is_one_clear_line_not_a_traceback(monkeypatch):
    monkeypatch.setattr(layout, "_pure_path", lambda: None)
    monkeypatch.setattr(layout.shutil, "which", lambda name: None)
    result = run(*XYZ, "--format", "svg")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "cannot draw: no layout engine found (pip install graphviz-pure (or apt-get install "
        "graphviz); meanwhile --format dot, mermaid or text need no engine)\n")
    assert run(*XYZ, "--format", "mermaid").exit_code == 0  # the fallbacks still work


def test_a_graph_too_large_to_draw_says_so_and_suggests_trace():
    program = " + ".join(f"x*{k}" for k in range(1, 1100))
    result = run(program, "x=1")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "limit exceeded: the graph has 3,297 nodes; drawings stop at 2,000" in result.stderr
    assert "backprop trace" in result.stderr


def test_a_layout_that_would_take_minutes_is_refused_but_text_still_draws():
    program = " + ".join(f"x{k % 50}*y{k % 37}" for k in range(150))
    bindings = [f"x{k}=0.5" for k in range(50)] + [f"y{k}=1.5" for k in range(37)]
    result = run(program, *bindings, "--format", "svg")
    assert result.exit_code == 2 and result.stdout == ""
    assert re.match(r"limit exceeded: this graph's edges cross [\d,]+ ranks; svg, png and "
                    r"html stop at 6,000", result.stderr)
    assert run(program, *bindings, "--format", "mermaid").exit_code == 0


def test_bad_programs_are_reported_like_everywhere_else():
    result = run("(x+", "x=1")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("parse error at column")


DOCS = Path(__file__).resolve().parent.parent / "docs"
DOC_PICTURES = {
    "graph_xyz.svg": XYZ,
    "graph_neuron.svg": NEURON,
    "graph_neuron_sigmoid.svg": [*NEURON, "--group", "sigmoid"],
    "graph_gates.svg": ["2*(x*y + max(z, w))", "x=3", "y=-4", "z=2", "w=-1", "--roles"],
}


@pytest.mark.parametrize("picture", sorted(DOC_PICTURES))
def test_the_pictures_in_the_docs_are_what_the_tool_draws_today(picture):
    """graphviz-pure writes the same bytes everywhere, so docs/graphs.md cannot go stale."""
    result = run(*DOC_PICTURES[picture], "--format", "svg", "--engine", "pure")
    assert result.exit_code == 0
    assert f"images/{picture}" in (DOCS / "graphs.md").read_text(encoding="utf-8")
    assert result.stdout_bytes == (DOCS / "images" / picture).read_bytes(), (
        f"regenerate with: backprop graph ... -o docs/images/{picture} (see docs/graphs.md)")


@pytest.mark.skipif(shutil.which("dot") is None,
                    reason="Graphviz's dot is not installed (apt-get install graphviz)")
def test_both_engines_draw_the_same_picture():
    pure = run(*NEURON, "--format", "svg", "--engine", "pure")
    system = run(*NEURON, "--format", "svg", "--engine", "system")
    assert pure.exit_code == system.exit_code == 0
    assert b"graphviz-pure" in pure.stdout_bytes and b"graphviz-pure" not in system.stdout_bytes
    assert sorted(svg_texts(pure.stdout_bytes)) == sorted(svg_texts(system.stdout_bytes))


def test_a_gate_label_never_uses_a_variable_as_its_placeholder():
    # x is a variable here, so 2*(...) cannot be drawn as `2*x`; the lecture's `*2` it is.
    out = run("2*(x*y + max(z, w))", "x=3", "y=-4", "z=2", "w=-1").stdout
    assert out.splitlines()[0].startswith("f = [*2]")
    # 1 - x is drawn with the program's own name, `1-x`; 1 - x*y, whose input has no name,
    # with a placeholder that is not one of the program's names; x - 1 as the gate [-1].
    assert run("1 - x", "x=2").stdout.startswith("f = [1-x]")
    assert run("1 - x*y", "x=2", "y=1").stdout.startswith("f = [1-t]")
    assert run("x - 1", "x=2").stdout.startswith("f = [-1]   value 1")
    # The gate names its input as the program does (1/w); an unnamed input, where no value is
    # called x, gets the lecture's 1/x.
    assert '(("1/w"))' in run("1/w", "w=2", "--format", "mermaid").stdout
    assert '(("1/x"))' in run("1/(w+1)", "w=2", "--format", "mermaid").stdout


def test_the_html_panel_lists_no_gradient_for_a_folded_constant(tmp_path):
    out = tmp_path / "g.html"
    assert run(*NEURON, "-o", str(out)).exit_code == 0
    page = out.read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="backprop-data">(.*?)</script>', page, re.DOTALL).group(1))
    gate = next(n for n in data["nodes"].values() if n["op"] == "div")
    assert gate["label"] == "1/x"
    assert [i["downstream"] for i in gate["inputs"]] == ["-0.534447"]  # the 1 gets nothing

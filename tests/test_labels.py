"""What trace and --explain call each node (q, (x+y), exp(x), #7) is the one printer's text:
golden names as the lecture writes them, then the property that holds labels and printer
together: every name the trace gives a node reads back, after the program's statements, as
that same node."""

import re

import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from test_parser import sexpr
from test_printer import folded
from test_properties import expressions

from backprop_cli.engine.trace import trace_rows
from backprop_cli.errors import BackpropError
from backprop_cli.evaluate import Options, evaluate
from backprop_cli.language.labels import SHORT_TEXT, label_printer
from backprop_cli.language.parser import parse


def rows_of(program, **at):
    result = evaluate(program, at, Options(check=False))
    return result.graph, trace_rows(result.graph, result.values, result.grads)


def row_of(rows, text):
    """The row of the node the user wrote as `text`."""
    return next(r for r in rows if r.text == text)


@pytest.mark.parametrize("program, at, node, operand, grad_name", [
    # the lecture's circuit: an unnamed sum is called by its text, in parentheses
    ("(x+y)*z", dict(x=-2, y=5, z=-4), "x+y", "(x+y)", "d(x+y)"),
    # ... and a named one by its name
    ("q = x + y; f = q * z", dict(x=-2, y=5, z=-4), "x + y", "q", "dq"),
    # a call binds as tightly as a name; its gradient's name still brackets it
    ("exp(x)*y", dict(x=0, y=2), "exp(x)", "exp(x)", "d(exp(x))"),
    # a named constant is called by its name, as its gate is (*k)
    ("k = 2.5; exp(k*x)*x", dict(x=1), "k*x", "(k*x)", "d(k*x)"),
    # the printer's spelling, not the keyboard's: spaces, σ, x², |x|
    ("(x + y)*z", dict(x=1, y=2, z=3), "x + y", "(x+y)", "d(x+y)"),
    ("σ(x)*y", dict(x=0, y=2), "σ(x)", "sigmoid(x)", "d(sigmoid(x))"),
    ("x²*y", dict(x=1, y=2), "x²", "(x**2)", "d(x**2)"),
    ("-x*y", dict(x=1, y=2), "-x", "(-x)", "d(-x)"),
    # parentheses where the printer needs them, not where the user typed them
    ("((x)+(y))*z", dict(x=1, y=2, z=3), "(x)+(y)", "(x+y)", "d(x+y)"),
])
def test_nodes_are_called_as_the_lecture_writes_them(program, at, node, operand, grad_name):
    _, rows = rows_of(program, **at)
    row = row_of(rows, node)
    assert (row.operand, row.grad_name) == (operand, grad_name)
    assert row.text == node  # the node column keeps what the user typed


def test_a_long_unnamed_node_is_called_by_its_id():
    graph, rows = rows_of("1/(1+exp(-(w0*x0 + w1*x1 + w2)))",
                          w0=2, x0=-1, w1=-3, x1=-2, w2=-3)
    row = row_of(rows, "w0*x0 + w1*x1 + w2")
    # ... by the id the screen shows it under: shown rows numbered with no gap
    assert (row.operand, row.grad_name) == (f"#{row.number}", f"d#{row.number}")
    assert row.number == 8 and row.id == 10  # the neuron's two 1s have no row
    assert rows[graph.output].operand == "f"


def read_after(source: str, text: str) -> str:
    """`text` read after the program's statements (so its names mean what they meant), as an
    s-expression."""
    statements = [s for s in re.split(r"[;\n]", source) if s.strip()][:-1]
    return folded(sexpr(parse("; ".join([*statements, text]))))


def test_a_label_with_the_wrong_parentheses_does_not_read_back():
    source = "a - (b - c)"
    node = folded(sexpr(parse(source)))
    assert read_after(source, "a-(b-c)") == node
    assert read_after(source, "a-b-c") != node
    # a name must bind as tightly as one wherever a formula puts it: x+y**2 is not (x+y)**2
    assert read_after("x+y", "(x+y)**2") == "(pow (add x y) 2)"
    assert read_after("x+y", "x+y**2") != "(pow (add x y) 2)"


@st.composite
def bound_once(draw) -> str:
    """Statements that each bind a new name (sometimes a named constant), then an expression:
    every name means one node."""
    names = ["a", "b", "c"]
    lines = []
    if draw(st.booleans()):
        lines.append("k = 2.5")
        names.append("k")
    for t in range(draw(st.integers(0, 3))):
        lines.append(f"t{t} = {draw(expressions(tuple(names)))}")
        names.append(f"t{t}")
    lines.append(draw(expressions(tuple(names))))
    return "; ".join(lines)


@given(bound_once())
def test_every_name_the_trace_gives_a_node_reads_back_as_that_node(source):
    try:
        graph, rows = rows_of(source, a=0.3, b=-0.7, c=1.1)
    except BackpropError:  # outside a domain at this point: nothing to trace
        return
    for r in rows:
        note(f"#{r.id} {r.text!r}: {r.operand!r}, {r.grad_name!r}")
        if r.operand == r.ref:
            assert len(label_printer(graph).expression(r.id)) > SHORT_TEXT  # only a long one
            continue
        if r.operand == "f":  # the unnamed output
            assert r.id == graph.output
            continue
        node = folded(sexpr(graph, r.id))
        assert read_after(source, r.operand) == node
        # ... and it binds like a name: the local formulas put it anywhere, even under **
        assert read_after(source, f"{r.operand}**2") == f"(pow {node} 2)"
        name = r.grad_name.removeprefix("d")
        assert name in (r.operand, f"({r.operand})")
        assert read_after(source, name) == node

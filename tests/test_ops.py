"""Op tests parametrised over the registry: every row's local derivatives, at every sample point,
against sympy's derivative of the row's own sympy form and against central finite differences
of the row's own forward rule. Adding a row with samples adds its tests."""

import math
import re

import pytest

from backprop_cli.errors import BackpropError
from backprop_cli.evaluate import evaluate
from backprop_cli.ops.registry import OPS, ROWS, SCALAR, array_math, role_for

NON_LEAF = [op for op in ROWS if not op.is_leaf]
# Rows whose samples are numbers: the scalar rules (array rows are tested on arrays elsewhere).
SCALAR_ROWS = [op for op in NON_LEAF if op.local is not None and op.samples
               and all(isinstance(a, float) for args in op.samples for a in args)]
SCALAR_CASES = [(op.name, args) for op in SCALAR_ROWS for args in op.samples]


def array_samples() -> dict:
    try:
        from backprop_cli.ops.arrays import array_samples
    except ImportError:
        return {}
    return array_samples()


def case_id(value):
    return value if isinstance(value, str) else ",".join(f"{a:g}" for a in value)


def test_the_registry_has_the_lecture_ops():
    for name in ("add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sqrt", "sin", "cos",
                 "tan", "tanh", "sigmoid", "relu", "abs", "leaky_relu", "elu", "softplus",
                 "max", "min"):
        assert name in OPS
    assert {op.name for op in SCALAR_ROWS} >= {"add", "mul", "exp", "sigmoid", "max"}


@pytest.mark.parametrize("op", NON_LEAF, ids=lambda op: op.name)
def test_every_op_has_samples(op):
    samples = op.samples or array_samples().get(op.name)
    assert samples, f"{op.name} has no sample points: its rules would go untested"


@pytest.mark.parametrize("op", ROWS, ids=lambda op: op.name)
def test_every_op_has_a_label_a_role_or_doc_and_a_sympy_form(op):
    assert op.label
    assert op.role or op.doc
    if not op.is_leaf:
        assert op.sympy is not None, f"{op.name} cannot be cross-checked symbolically"
        assert op.local is not None or op.vjp is not None


@pytest.mark.parametrize("op", [op for op in SCALAR_ROWS if op.arity is not None],
                         ids=lambda op: op.name)
def test_samples_match_the_arity(op):
    assert all(len(args) == op.arity for args in op.samples)


@pytest.mark.parametrize("name, args", SCALAR_CASES, ids=case_id)
def test_local_gradients_match_sympy(name, args):
    import sympy as sp

    op = OPS[name]
    symbols = [sp.Symbol(f"a{k}", real=True) for k in range(len(args))]
    expr = op.sympy(sp, *symbols)
    point = {s: sp.Rational(a) for s, a in zip(symbols, args)}
    out = op.forward(SCALAR, *args)
    assert float(expr.evalf(30, subs=point)) == pytest.approx(out, rel=1e-12, abs=1e-15)
    local = op.local(SCALAR, *args, out)
    assert len(local) == len(args)
    for k, s in enumerate(symbols):
        exact = float(sp.diff(expr, s).evalf(30, subs=point))
        assert local[k] == pytest.approx(exact, rel=1e-9, abs=1e-12), (name, args, k)


@pytest.mark.parametrize("name, args", SCALAR_CASES, ids=case_id)
def test_local_gradients_match_finite_differences(name, args):
    op = OPS[name]
    out = op.forward(SCALAR, *args)
    local = op.local(SCALAR, *args, out)
    for k, a in enumerate(args):
        # Central differences: error ~h^2 from truncation, ~eps/h from rounding.
        h = 1e-6 * max(1.0, abs(a))
        plus = op.forward(SCALAR, *args[:k], a + h, *args[k + 1:])
        minus = op.forward(SCALAR, *args[:k], a - h, *args[k + 1:])
        numeric = (plus - minus) / (2 * h)
        assert local[k] == pytest.approx(numeric, rel=1e-6, abs=1e-8), (name, args, k)


@pytest.mark.parametrize("name, args", SCALAR_CASES, ids=case_id)
def test_samples_are_smooth_points(name, args):
    op = OPS[name]
    if op.branch is not None:
        assert op.branch(*args) is not None


@pytest.mark.parametrize("op", [op for op in SCALAR_ROWS if op.elementwise and op.arity],
                         ids=lambda op: op.name)
def test_scalar_and_numpy_rules_agree(op):
    # The same row drives floats (math) and arrays (numpy); the two namespaces must agree.
    import numpy as np

    m = array_math()
    columns = [np.array(col) for col in zip(*op.samples)]
    out = op.forward(m, *columns)
    local = op.local(m, *columns, out)
    for j, args in enumerate(op.samples):
        scalar_out = op.forward(SCALAR, *args)
        assert out[j] == pytest.approx(scalar_out, rel=1e-12, abs=1e-15)
        for k, lk in enumerate(op.local(SCALAR, *args, scalar_out)):
            assert np.broadcast_to(local[k], out.shape)[j] == pytest.approx(lk, rel=1e-12,
                                                                            abs=1e-15)


# The conventions on kinks, as the lecture states them: what backprop uses exactly there, and
# which inputs' finite-difference steps cross the kink (a bystander's step does not).
KINKS = [
    ("relu(x)", {"x": 0.0}, {"x": 0.0}, "relu'(0) = 0", "x"),
    ("abs(x)", {"x": 0.0}, {"x": 0.0}, "abs'(0) = 0", "x"),
    ("leaky_relu(x)", {"x": 0.0}, {"x": 0.01}, "leaky_relu'(0) = 0.01", "x"),
    ("max(x, y)", {"x": 2.0, "y": 2.0}, {"x": 0.5, "y": 0.5}, "ties split the gradient evenly",
     "xy"),
    ("min(x, y)", {"x": -1.0, "y": -1.0}, {"x": 0.5, "y": 0.5},
     "ties split the gradient evenly", "xy"),
    ("max(x, y, z)", {"x": 3.0, "y": 1.0, "z": 3.0}, {"x": 0.5, "y": 0.0, "z": 0.5},
     "ties split the gradient evenly", "xz"),
    ("max(x, y, z)", {"x": 1.0, "y": 1.0, "z": 1.0}, {"x": 1 / 3, "y": 1 / 3, "z": 1 / 3},
     "ties split the gradient evenly", "xyz"),
    ("relu(x - y)", {"x": 1.5, "y": 1.5}, {"x": 0.0, "y": 0.0}, "relu'(0) = 0", "xy"),
]


@pytest.mark.parametrize("program, at, gradients, convention, crossing", KINKS)
def test_kink_conventions_and_their_warning(program, at, gradients, convention, crossing):
    result = evaluate(program, at)
    assert result.gradients == pytest.approx(gradients, abs=1e-15)
    assert result.warnings == (
        (f"{program} is evaluated exactly at a non-differentiable point; backprop uses the "
        f"subgradient convention: {convention}"),)
    # On a kink the cross-checks may not confirm the number, but they never call it wrong.
    assert result.exit_code == 0
    assert all(c.status != "fail" for r in result.rows for c in r.checks)
    for row in result.rows:
        (fd,) = [c for c in row.checks if c.method == "finite-difference"]
        if row.name in crossing:
            assert (fd.status, fd.reason) == ("inconclusive",
                                              "the finite-difference step straddles a kink")
        else:
            assert fd.status == "pass"


@pytest.mark.parametrize("program, at, gradients", [
    ("relu(x)", {"x": 1e-3}, {"x": 1.0}),
    ("relu(x)", {"x": -1e-3}, {"x": 0.0}),
    ("abs(x)", {"x": -2.0}, {"x": -1.0}),
    ("leaky_relu(x)", {"x": -2.0}, {"x": 0.01}),
    ("max(x, y)", {"x": 2.0, "y": 2.5}, {"x": 0.0, "y": 1.0}),
    ("min(x, y)", {"x": 2.0, "y": 2.5}, {"x": 1.0, "y": 0.0}),
])
def test_near_a_kink_there_is_no_warning_and_the_checks_pass(program, at, gradients):
    result = evaluate(program, at)
    assert result.gradients == gradients
    assert result.warnings == ()
    assert all(c.status == "pass" for r in result.rows for c in r.checks)


def test_the_lecture_gate_roles():
    assert OPS["add"].role.startswith("distributor")
    assert OPS["mul"].role.startswith("switcher")
    assert OPS["max"].role.startswith("router")
    # add distributes, mul switches, max routes: the local gradients say the same thing
    assert OPS["add"].local(SCALAR, 3.0, -4.0, -1.0) == (1.0, 1.0)
    assert OPS["mul"].local(SCALAR, 3.0, -4.0, -12.0) == (-4.0, 3.0)
    assert OPS["max"].local(SCALAR, 3.0, -4.0, 3.0) == (1.0, 0.0)


# A letter standing alone in a role (not a word, not "a leak", not "input's"), e.g. the old
# "diag(s) - s s^T" or "1/b; the divisor gets -a/b^2".
_LETTER = re.compile(r"(?<![\w.'])[a-zσ](?!\w| [a-z]{2})")


@pytest.mark.parametrize("op", ROWS, ids=lambda op: op.name)
def test_every_letter_a_role_uses_is_defined_in_it(op):
    # Roles are shown beside the user's own names (a quiz circuit has a node a; softmax(s)):
    # a letter must be defined where it is used ("p = softmax(input)", "σ being its output").
    defined = set(re.findall(r"([a-zσ]) (?:=|being)", op.role or ""))
    assert set(_LETTER.findall(op.role or "")) <= defined, op.role


def test_the_letter_check_catches_the_old_roles():
    for old in ("scales by 1/b; the divisor gets -a/b^2", "local gradient cos(a)",
                "local Jacobian diag(s) - s s^T; downstream s * (upstream - sum(upstream * s))"):
        assert _LETTER.findall(old)
    assert not _LETTER.findall("router with a leak: slope 1 above 0, 0.01 below")


def test_a_role_reads_the_gates_own_input():
    assert role_for(OPS["sin"].role, "x") == "local gradient cos(x)"
    assert role_for(OPS["softmax"].role, "v").startswith(
        "softmax: local Jacobian diag(p) - p pᵀ for p = softmax(v); downstream p * (")


def test_sigmoid_local_gradient_is_one_minus_sigma_times_sigma():
    out = OPS["sigmoid"].forward(SCALAR, 1.0)
    assert out == pytest.approx(0.7310585786300049)
    assert OPS["sigmoid"].local(SCALAR, 1.0, out) == (pytest.approx((1 - out) * out),)


def test_sigmoid_and_softplus_do_not_overflow_far_out():
    for a in (-800.0, 800.0):
        assert math.isfinite(OPS["sigmoid"].forward(SCALAR, a))
        assert math.isfinite(OPS["softplus"].forward(SCALAR, a))


# --- the formulas shown to learners are the rules that run ----------------------------------
#
# A row's local_text (what trace --explain shows, and what the grader spells a backward line
# from: `da = dout * (LOCAL)`) is text in the language itself. Each is parsed by the language's
# parser with the inputs named a, b, c, evaluated at the row's samples by the forward pass, and
# compared with the row's local partials; a VJP row's vjp_text likewise, with `dout` for the
# upstream gradient. A formula that drifts from its rule fails here.

# Spellings the arrays helper is adding (issue 21): a text that needs one waits for it.
# A spelling in a text that the language cannot read yet -> what it awaits. Empty: every
# local_text and vjp_text is read by the parser and held to its rule.
AWAITING: dict[str, str] = {}


def _text_value(text: str, at: dict):
    from backprop_cli.engine.forward import forward
    from backprop_cli.language.parser import parse

    graph = parse(text)
    return forward(graph, {n: at[n] for n in graph.variables})[graph.output]


def _awaiting(text: str) -> str | None:
    return next((why for spelling, why in AWAITING.items() if spelling in text), None)


def local_text_disagreements(op) -> list[str]:
    """Where the row's local_text, read by the parser and run by the forward pass, differs from
    the row's local partials at its samples."""
    wrong = []
    for args in op.samples:
        if op.arity is None and len(args) != len(op.local_text):
            continue  # max(a, b, c): the texts speak of two inputs
        out = op.forward(SCALAR, *args)
        local = op.local(SCALAR, *args, out)
        at = dict(zip("abc", args))
        for k, text in enumerate(op.local_text):
            if _awaiting(text):
                continue
            try:
                got = _text_value(text, at)
            except BackpropError as err:
                wrong.append(f"{op.name} input {k + 1} at {args}: {text}: {err.message}")
                continue
            if got != pytest.approx(local[k], rel=1e-12, abs=1e-15):
                wrong.append(f"{op.name} input {k + 1} at {args}: {text} = {got}, the rule "
                             f"gives {local[k]}")
    return wrong


TEXT_ROWS = [op for op in SCALAR_ROWS if op.local_text]


def test_every_row_that_states_local_partials_shows_them():
    assert [op.name for op in SCALAR_ROWS if op.stated == "local" and
            len(op.local_text) != (op.arity or 2)] == []


@pytest.mark.parametrize("op", TEXT_ROWS, ids=lambda op: op.name)
def test_the_local_text_is_the_local_rule(op):
    assert local_text_disagreements(op) == []
    waiting = [t for t in op.local_text if _awaiting(t)]
    if waiting:
        pytest.xfail(f"{op.name}: {waiting[0]!r} awaits {_awaiting(waiting[0])}")


def test_a_drifted_local_text_fails():
    import dataclasses

    # The old 1 - tanh(a)**2 is right; a slip of sign is not, and neither is a dropped factor.
    for name, drifted in (("tanh", ("1 + tanh(a)**2",)), ("pow", ("a*b**(b-1)", "a**b*log(a)")),
                          ("sigmoid", ("σ(a)",)), ("log1p", ("1/a",)),
                          ("relu", ("where(a > 0, 0, 1)",)), ("elu", ("where(a > 0, 1, a)",)),
                          ("maximum", tuple(reversed(OPS["maximum"].local_text)))):
        row = dataclasses.replace(OPS[name], local_text=drifted)
        assert local_text_disagreements(row), name
    assert local_text_disagreements(dataclasses.replace(OPS["tanh"],
                                                        local_text=("1 - tanh(a)**2",))) == []


# Kinks, where a text must still say what the rule does (the tie rule, relu'(0) = 0, clip's
# bounds), since trace shows the text beside the number there too.
KINK_POINTS = {"relu": [(0.0,)], "leaky_relu": [(0.0,)], "elu": [(0.0,)], "abs": [(0.0,)],
               "clip": [(-1.0, -1.0, 1.0), (1.0, -1.0, 1.0), (0.5, 1.0, 1.0), (2.0, 1.0, -1.0)],
               "maximum": [(0.5, 0.5)], "minimum": [(0.5, 0.5)], "max": [(2.0, 2.0)],
               "min": [(-1.0, -1.0)], "where": [(0.0, 1.0, 2.0)], "gt": [(1.0, 1.0)]}


@pytest.mark.parametrize("name", sorted(KINK_POINTS))
def test_the_local_text_holds_at_the_kinks(name):
    import dataclasses

    row = dataclasses.replace(OPS[name], samples=tuple(KINK_POINTS[name]))
    assert local_text_disagreements(row) == []


# The plain case a vjp_text speaks of: vectors and no axis, matrices for @.
VJP_TEXT_SHAPES = {"matmul": ((3, 4), (4, 2)), "cross_entropy": ((4,), (4,))}


def vjp_text_disagreements(op) -> list[str]:
    import numpy as np

    rng = np.random.default_rng(11)
    shapes = VJP_TEXT_SHAPES.get(op.name, ((4,),) * len(op.vjp_text))
    args = [rng.uniform(0.2, 1.5, size=s) for s in shapes]
    m = array_math()
    out = op.forward(m, *args)
    dout = rng.normal(size=np.shape(out)) if np.ndim(out) else 0.7
    parts = op.vjp(m, dout, args, out)
    at = {**dict(zip("abc", args)), "dout": dout}
    wrong = []
    for k, text in enumerate(op.vjp_text):
        if _awaiting(text):
            continue
        got = _text_value(text, at)
        if not np.allclose(got, parts[k], rtol=1e-12, atol=1e-15):
            wrong.append(f"{op.name} input {k + 1}: {text} = {got}, the rule gives {parts[k]}")
    return wrong


def _plain_texts(op) -> bool:
    """Texts in a, b and dout alone; those that read the gate's value or the call's words
    (out, keep, idx, ...) are spelled and tested at every array sample in
    tests/test_grade_texts.py."""
    from backprop_cli.grade.reading import tokens
    from backprop_cli.grade.spelling import OUT, WORDS

    return not any(t.text in (OUT, *WORDS) for text in op.vjp_text for t in tokens(text))


@pytest.mark.parametrize("op", [op for op in ROWS if op.vjp_text and _plain_texts(op)],
                         ids=lambda op: op.name)
def test_the_vjp_text_is_the_vjp(op):
    assert op.stated == "vjp"
    assert vjp_text_disagreements(op) == []
    waiting = [t for t in op.vjp_text if _awaiting(t)]
    if waiting:
        pytest.xfail(f"{op.name}: {waiting[0]!r} awaits {_awaiting(waiting[0])}")


def test_a_drifted_vjp_text_fails():
    import dataclasses

    for name, drifted in (("matmul", ("dout @ b", "a.T @ dout")),
                          ("softmax", ("softmax(a)*dout",)),
                          ("matmul", ("dout @ b.T", "a @ dout.T"))):
        row = dataclasses.replace(OPS[name], vjp_text=drifted)
        try:
            wrong = vjp_text_disagreements(row)
        except Exception:  # noqa: BLE001  (a shape error is a drift caught too)
            wrong = ["does not even run"]
        assert wrong, (name, drifted)


# --- adding an elementwise op is one row plus its samples ------------------------------------


@pytest.fixture
def softsign(monkeypatch):
    """A row this codebase does not have, added the way every row is: one Op, its samples."""
    from backprop_cli.ops import registry

    row = registry.Op(
        "softsign", 1, lambda m, a: a / (1.0 + m.abs(a)),
        lambda m, a, out: (1.0 / ((1.0 + m.abs(a)) * (1.0 + m.abs(a))),),
        lambda sp, a: a / (1 + sp.Abs(a)), label="softsign",
        role="local gradient 1/(1 + |input|)^2", samples=((0.3,), (-1.1,), (2.4,)),
        doc="a / (1 + |a|)", local_text=("1/(1 + abs(a))**2",))
    monkeypatch.setattr(registry, "ROWS", [*registry.ROWS, row])
    monkeypatch.setitem(registry.OPS, "softsign", row)
    monkeypatch.setitem(registry.FUNCTIONS, "softsign", row)
    return row


def test_one_row_is_a_whole_op(softsign):
    from click.testing import CliRunner

    from backprop_cli.cli import cli
    from backprop_cli.evaluate import Options

    # its rule, its text and its digits, by the same checks as every row
    assert local_text_disagreements(softsign) == []
    # forward, backward, and both cross-checks, on numbers and on arrays
    result = evaluate("softsign(x) * y", {"x": 0.3, "y": 2.0})
    assert result.value == pytest.approx(2 * 0.3 / 1.3)
    assert result.gradients["x"] == pytest.approx(2 / 1.3 ** 2)
    assert {c.status for r in result.rows for c in r.checks} == {"pass"}
    import numpy as np

    result = evaluate("sum(softsign(v) * v)", {"v": np.array([0.3, -1.1, 2.4])})
    assert {c.status for r in result.rows for c in r.checks} == {"pass"}
    # second derivatives: the dual numbers differentiate the row's own rule
    result = evaluate("softsign(x) * y", {"x": 0.3, "y": 2.0}, Options(hessian=True))
    assert {c.status for c in result.hessian_checks} == {"pass"}
    # printing, and the backward pass told as the lecture tells it
    run = CliRunner().invoke(cli, ["trace", "softsign(x)*y", "x=0.3", "y=2", "--explain"])
    assert run.exit_code == 0, run.stderr
    assert "local d#1/dx = 1/(1 + abs(x))**2 = 0.591716" in run.stdout
    run = CliRunner().invoke(cli, ["graph", "softsign(x)*y", "x=0.3", "y=2"])
    assert run.exit_code == 0 and "softsign" in run.stdout


@pytest.mark.parametrize("op", [op for op in SCALAR_ROWS if op.stated == "local"],
                         ids=lambda op: op.name)
def test_every_elementwise_row_runs_on_dual_arrays(op):
    # The Hessian of an array program runs the row's forward and local rules on dual arrays:
    # a rule that calls a numpy function the dual numbers lack would be refused there.
    import numpy as np

    from backprop_cli.engine.forward import forward
    from backprop_cli.engine.hessian import hessian
    from backprop_cli.language.parser import parse

    names = [f"a{k}" for k in range(len(op.samples[0]))]
    at = {n: np.array([sample[k] for sample in op.samples]) for k, n in enumerate(names)}
    call = f"{op.name}({', '.join(names)})" if op.symbol is None or op.function else \
        (f"({names[0]} {op.symbol} {names[1]})" if op.arity == 2 else f"(-{names[0]})")
    graph = parse(f"sum({call} * {names[0]})")
    try:
        values = forward(graph, at)
    except BackpropError:
        pytest.skip("the samples, mixed entry by entry, leave the row's domain")
    hessian(graph, values, names)


# --- the row modules load on first use; the registry knows their names beforehand -----------

NAMES_PROBE = """
import json
from backprop_cli.ops import lazy, registry
found = {}
for module in lazy.MODULES:
    before = [set(dict.keys(t)) for t in (registry.OPS, registry.FUNCTIONS, registry.INFIX)]
    lazy.load(module)
    after = [set(dict.keys(t)) for t in (registry.OPS, registry.FUNCTIONS, registry.INFIX)]
    found[module] = [sorted(b - a) for a, b in zip(before, after)]
print(json.dumps(found))
"""


def test_the_static_name_table_is_what_each_module_registers():
    # Loaded in a fresh process, in the table's order: each module adds exactly its names.
    import json
    import subprocess
    import sys

    from backprop_cli.ops.lazy import NAMES

    out = subprocess.run([sys.executable, "-c", NAMES_PROBE], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert json.loads(out) == {module: [sorted(names.rows), sorted(names.functions),
                                        sorted(names.infix)]
                               for module, names in NAMES.items()}


def test_a_lazy_name_is_known_before_its_module_loads():
    from backprop_cli.ops import lazy, registry

    table = lazy.LazyTable({"softsign2": "no_such_module"})
    assert "softsign2" in table and list(table) == ["softsign2"]
    assert "var" in registry.FUNCTIONS and "lt" not in registry.FUNCTIONS and "<" in registry.INFIX
    assert registry.FUNCTIONS.get("no_such_name") is None
    with pytest.raises(KeyError):
        registry.OPS["no_such_name"]


def test_the_rows_are_listed_in_one_order_whatever_loaded_first():
    import json
    import subprocess
    import sys

    probe = ("import json, sys; from backprop_cli.ops import lazy, registry\n"
             "for m in sys.argv[1:]: lazy.load(m)\n"
             "print(json.dumps([[r.name for r in registry.ROWS], list(registry.FUNCTIONS),"
             " [k for k, _ in registry.OPS.items()]]))")
    runs = [subprocess.run([sys.executable, "-c", probe, *first], capture_output=True,
                           text=True, check=True, timeout=120).stdout
            for first in ((), ("extremes",), ("reshaping", "comparisons"))]
    assert runs[0] == runs[1] == runs[2]
    assert json.loads(runs[0])[0] == [r.name for r in ROWS if not r.name == "softsign"]


def test_threads_that_parse_at_once_load_each_module_once():
    # A batch's worker threads may name a lazy row at the same moment: one loads it, the
    # others wait, and every table reads whole.
    import subprocess
    import sys

    probe = """
import threading
from backprop_cli.language.parser import parse
from backprop_cli.ops import registry
programs = ["sum(x) + max(x, y)", "where(x > 0, x, 0)", "x[0] + mean(x)", "[x, y][0] @ y",
            "reshape(x, 2, -1)", "argmax(x) * y"] * 3
errors, names = [], []
def run(src):
    try:
        parse(src)
        names.append(len(list(registry.ROWS)))
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=run, args=(p,)) for p in programs]
for t in threads: t.start()
for t in threads: t.join()
assert not errors, errors
assert set(names) == {len(registry.ROWS)}, names
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == "ok", out.stderr

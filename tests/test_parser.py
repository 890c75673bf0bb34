"""Parser golden tables: (source, s-expression) pairs, Python's precedence, statements, fan-out."""

import math

import pytest

from backprop_cli.language.parser import parse
from backprop_cli.ops.registry import FUNCTIONS


def number(value: float) -> str:
    """How a constant prints: integers without '.0', everything else as Python's repr."""
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)


def sexpr(graph, i: int | None = None) -> str:
    """The node's s-expression, e.g. (mul (add x y) z).

    Built in one forward loop over the flat graph (inputs come first), so it never recurses;
    a shared node is spelled out again at every use.
    """
    out: list[str] = []
    for k in range(len(graph)):
        op = graph.ops[k]
        if op.name == "var":
            out.append(graph.names[k])
        elif op.name == "const":
            name = graph.names.get(k)
            out.append(name if name in ("pi", "e") else number(graph.consts[k]))
        else:
            out.append("(" + " ".join([op.name, *(out[j] for j in graph.args[k])]) + ")")
    return out[graph.output if i is None else i]


PRECEDENCE = [
    # the lecture's first example
    ("(x+y)*z", "(mul (add x y) z)"),
    ("x+y*z", "(add x (mul y z))"),
    ("x*y+z", "(add (mul x y) z)"),
    # unary minus binds looser than ** and tighter than *, as in Python
    ("-x**2", "(neg (pow x 2))"),
    ("-x*y", "(mul (neg x) y)"),
    ("x*-y", "(mul x (neg y))"),
    ("-x-y", "(sub (neg x) y)"),
    ("- -x", "(neg (neg x))"),
    ("--x", "(neg (neg x))"),
    ("x - -y", "(sub x (neg y))"),
    # ** is right-associative and takes a signed exponent
    ("2**3**2", "(pow 2 (pow 3 2))"),
    ("2**-x", "(pow 2 (neg x))"),
    ("x**-y**2", "(pow x (neg (pow y 2)))"),
    ("(2**3)**2", "(pow (pow 2 3) 2)"),
    ("-2**2", "(neg (pow 2 2))"),
    ("2**-1", "(pow 2 -1)"),
    # - and / are left-associative
    ("a-b-c", "(sub (sub a b) c)"),
    ("a/b/c", "(div (div a b) c)"),
    ("a-b+c", "(add (sub a b) c)"),
    ("a/b*c", "(mul (div a b) c)"),
    ("a-(b-c)", "(sub a (sub b c))"),
    ("a/(b/c)", "(div a (div b c))"),
    # ^ is ** (not xor): same precedence and associativity
    ("x^2", "(pow x 2)"),
    ("2^3^2", "(pow 2 (pow 3 2))"),
    ("-x^2", "(neg (pow x 2))"),
    # unary plus is the identity and makes no node
    ("+x", "x"),
    ("+x*+y", "(mul x y)"),
    ("+-x", "(neg x)"),
    ("x + +y", "(add x y)"),
    # redundant parentheses change nothing
    ("((x))", "x"),
    ("((x+y))*((z))", "(mul (add x y) z)"),
]

NUMBERS = [
    ("3", "3"),
    ("-2.5", "-2.5"),
    ("1e-3", "0.001"),
    ("1E3", "1000"),
    ("2.5e+2", "250"),
    (".5", "0.5"),
    ("5.", "5"),
    ("0.1", "0.1"),
    ("x*1e-3", "(mul x 0.001)"),
    ("pi", "pi"),
    ("e", "e"),
    ("2*pi*r", "(mul (mul 2 pi) r)"),
    ("e**x", "(pow e x)"),
    ("-pi", "(neg pi)"),  # a named constant stays named, so sympy sees pi, not a float
]

CALLS = [
    ("exp(x)", "(exp x)"),
    ("log(x)", "(log x)"),
    ("sqrt(x)", "(sqrt x)"),
    ("sin(x)", "(sin x)"),
    ("cos(x)", "(cos x)"),
    ("tan(x)", "(tan x)"),
    ("tanh(x)", "(tanh x)"),
    ("sigmoid(x)", "(sigmoid x)"),
    ("relu(x)", "(relu x)"),
    ("abs(x)", "(abs x)"),
    ("leaky_relu(x)", "(leaky_relu x)"),
    ("elu(x)", "(elu x)"),
    ("softplus(x)", "(softplus x)"),
    ("max(x, y)", "(max x y)"),
    ("max(x, y, z)", "(max x y z)"),
    ("min(a, b, c, d)", "(min a b c d)"),
    ("max(x, min(y, z))", "(max x (min y z))"),
    ("pow(a, b)", "(pow a b)"),
    ("pow(a, b) + a**b", "(add (pow a b) (pow a b))"),
    ("exp(-x)", "(exp (neg x))"),
    ("-exp(x)**2", "(neg (pow (exp x) 2))"),
    ("exp(x+y)*z", "(mul (exp (add x y)) z)"),
    ("sin(cos(tan(x)))", "(sin (cos (tan x)))"),
    ("max(x*y, (x+y), -z)", "(max (mul x y) (add x y) (neg z))"),
    ("1/(1+exp(-(w0*x0 + w1*x1 + w2)))",
     "(div 1 (add 1 (exp (neg (add (add (mul w0 x0) (mul w1 x1)) w2)))))"),
]

STATEMENTS = [
    ("q = x + y; f = q * z", "(mul (add x y) z)"),
    ("q = x + y\nf = q * z", "(mul (add x y) z)"),
    ("q = x + y\r\nf = q * z\r\n", "(mul (add x y) z)"),
    ("q = x + y;\n\n;; f = q * z;", "(mul (add x y) z)"),
    ("a = 2; a", "2"),
    ("x; y; x*y", "(mul x y)"),  # the output is the last statement
    ("c = x; c = c + c + 1", "(add (add x x) 1)"),  # reassignment reads the old c
    ("c = c + c + 1", "(add (add c c) 1)"),  # before its first assignment, c is a variable
    ("a = x; a += y", "(add x y)"),
    ("a = x; a -= y", "(sub x y)"),
    ("a = x; a *= y", "(mul x y)"),
    ("a = x; a /= y", "(div x y)"),
    ("a = x; a **= 2", "(pow x 2)"),
    ("a = x; a += y * z", "(add x (mul y z))"),
    ("a = x; a *= y + z", "(mul x (add y z))"),  # like Python: a = a * (y + z)
    ("x * y  # a comment", "(mul x y)"),
    ("# heading\nf = x * y  # the product\n# trailing", "(mul x y)"),
    ("a = x +\\\n y", "(add x y)"),  # a backslash continues the line
    ("  x\t*\ty  ", "(mul x y)"),
]


# The notation of slides and notes, pasted as it is: each is the obvious ASCII spelling.
PAGE = [
    ("x·y", "(mul x y)"),
    ("x × y", "(mul x y)"),
    ("x − y", "(sub x y)"),  # U+2212, the typeset minus
    ("−x", "(neg x)"),
    ("x ÷ y", "(div x y)"),
    ("x²", "(pow x 2)"),
    ("x² + y³", "(add (pow x 2) (pow y 3))"),
    ("-x²", "(neg (pow x 2))"),  # as -x**2: the power binds first
    ("(x+y)²", "(pow (add x y) 2)"),
    ("x⁻¹", "(pow x -1)"),
    ("x¹⁰", "(pow x 10)"),
    ("√x", "(sqrt x)"),
    ("√(x+y)", "(sqrt (add x y))"),
    ("2*√x", "(mul 2 (sqrt x))"),
    ("σ(w*x)", "(sigmoid (mul w x))"),
    ("ln(x)", "(log x)"),
    ("|x|", "(abs x)"),
    ("|x - y|", "(abs (sub x y))"),
    ("|x|*|y|", "(mul (abs x) (abs y))"),
    ("|-x|", "(abs (neg x))"),
    ("| |x| - 1 |", "(abs (sub (abs x) 1))"),
]


@pytest.mark.parametrize("source, expected", PRECEDENCE + NUMBERS + CALLS + STATEMENTS + PAGE)
def test_golden(source, expected):
    assert sexpr(parse(source)) == expected


def test_the_lecture_functions_are_in_the_golden_table():
    called = {src.split("(")[0] for src, _ in CALLS}
    assert called >= {"exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "abs",
                      "leaky_relu", "elu", "softplus", "max", "min", "pow"}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_parses_as_a_call(name):
    # Whatever rows the registry holds (array rows register themselves), each is callable.
    op = FUNCTIONS[name]
    args = [f"a{k}" for k in range(op.arity if op.arity is not None else op.min_arity)]
    graph = parse(f"{name}({', '.join(args)})")
    assert sexpr(graph) == "(" + " ".join([op.name, *args]) + ")"


# Where the spellings coincide the language is Python's arithmetic, so Python itself computes the
# expected value (the right column is Python code, evaluated when this module loads).
PYTHON_AGREES = [
    ("-2**2", -2**2),
    ("2**3**2", 2**3**2),
    ("2**-1", 2**-1),
    ("-3*4", -3*4),
    ("10-4-3", 10-4-3),
    ("64/4/2", 64/4/2),
    ("2*3**2", 2*3**2),
    ("-2**-2", -2**-2),
    ("+-+3", +-+3),
    ("2**0.5*3", 2**0.5*3),
    ("(1+2)*(3-4)/5", (1+2)*(3-4)/5),
    ("2**-2**-1", 2**-2**-1),
]


@pytest.mark.parametrize("source, python", PYTHON_AGREES)
def test_precedence_matches_python_on_numbers(source, python):
    from backprop_cli.engine.forward import forward

    graph = parse(source)
    assert forward(graph, {})[graph.output] == python


@pytest.mark.parametrize("source, nodes, fan_out", [
    # The graph as typed: (x+y) written twice is two add gates; only a name (or a variable)
    # makes one value feed several nodes.
    ("(x+y)*(x+y)", 5, {"x": 2, "y": 2}),
    ("a = x*y; f = a + a*z", 6, {"x*y": 2}),
    ("exp(x) + exp(x)", 4, {"x": 2}),
    ("x*x", 2, {"x": 2}),
    ("c = x; c = c + c + 1", 4, {"x": 2}),
    ("sin(x)*cos(x) + sin(x)", 6, {"x": 3}),
    ("x*y + x*y", 5, {"x": 2, "y": 2}),
    ("2*x + 2*y", 7, {}),  # each number written is its own leaf
    ("pi*x + pi*y", 6, {"pi": 2}),  # a named constant is one leaf, as a variable is
])
def test_one_node_per_operation_written(source, nodes, fan_out):
    graph = parse(source)
    assert len(graph) == nodes
    consumers = graph.consumers()
    shared = {graph.text(i): len(c) for i, c in enumerate(consumers) if len(c) > 1}
    assert shared == fan_out


def test_nodes_are_in_topological_order_and_the_output_is_last():
    graph = parse("q = x + y; f = q * z; g = f - q")
    assert graph.output == len(graph) - 1
    for i, args in enumerate(graph.args):
        assert all(j < i for j in args)
    assert sexpr(graph) == "(sub (mul (add x y) z) (add x y))"


def test_statements_the_output_does_not_need_are_dropped_but_variables_stay():
    graph = parse("unused = exp(w); f = x * y")
    assert sexpr(graph) == "(mul x y)"
    assert set(graph.variables) == {"w", "x", "y"}  # w is still reported (gradient 0)
    assert "exp" not in [op.name for op in graph.ops]


def test_names_label_assigned_values():
    graph = parse("q = x + y; f = q * z")
    assert graph.names[graph.output] == "f"
    named = {graph.names[i]: graph.text(i) for i in graph.names}
    assert named == {"x": "x", "y": "y", "z": "z", "q": "x + y", "f": "q * z"}


@pytest.mark.parametrize("source, text", [
    ("(x+y)*z", "(x+y)*z"),
    ("  exp( x )  ", "exp( x )"),
    ("a = x*y; b = a + 1", "a + 1"),
])
def test_output_spans_cover_the_source_text(source, text):
    graph = parse(source)
    assert graph.text(graph.output) == text


def test_named_constants_have_their_values():
    graph = parse("pi + e")
    by_name = {graph.names[i]: v for i, v in graph.consts.items()}
    assert by_name == {"pi": math.pi, "e": math.e}


def test_variable_order_is_order_of_first_read():
    assert list(parse("z*y + x*z").variables) == ["z", "y", "x"]


def test_every_operator_spelling_in_the_registry_lexes_as_one_token():
    from backprop_cli.language.lexer import AUGMENTED, scan
    from backprop_cli.ops.registry import INFIX, PREFIX

    for spelling in {*INFIX, *PREFIX, *AUGMENTED}:
        kinds, texts, _ = scan(f"a {spelling} b")
        assert (kinds, texts) == (["name", "op", "name", "end"], ["a", spelling, "b", ""]), spelling


def test_ten_thousand_nested_parentheses_need_no_recursion():
    # The quick run's guard on depth; the 10^5- and 10^6-node programs are in test_deep.py.
    from backprop_cli.engine.backward import backpropagate
    from backprop_cli.engine.forward import forward

    graph = parse("(" * 10_000 + "x" + "*1.0001)" * 10_000)
    values = forward(graph, {"x": 2.0})
    grads = backpropagate(graph, values)
    assert grads[graph.variables["x"]] == pytest.approx(1.0001 ** 10_000)


# --- what a numpy user types: keywords, methods, subscripts, lists, comparisons ---------------

NUMPY = [
    ("sum(x, axis=0)", "(sum x)"),
    ("x.sum(0, keepdims=True)", "(sum x)"),
    ("x.sum(0)", "(sum x 0)"),  # a positional axis stays an input, as sum(x, 0)
    ("max(x, axis=1) + min(x, 0, keepdims=True)", "(add (amax x) (amin x))"),
    ("x.max(1, keepdims=True) + x.mean()", "(add (amax x) (mean x))"),
    ("-x.T @ y", "(matmul (neg (transpose x)) y)"),  # as Python: unary minus binds tighter
    ("x.reshape(n, -1)", "(reshape x n -1)"),
    ("reshape(x, (2, -1))", "(reshape x 2 -1)"),
    ("[x, x + 2]", "(stack x (add x 2))"),
    ("concatenate([a, b])", "(concatenate a b)"),
    ("x[3, 0, 1]", "(subscript x)"),
    ("x[::-1]", "(subscript x)"),
    ("x[1:3]", "(slice x 1 3)"),
    ("C[Xb]", "(take C Xb)"),
    ("x[arange(n), y]", "(take x (arange n) y)"),
    ("x + 1 < y * 2", "(lt (add x 1) (mul y 2))"),
    ("x % 3 * 2", "(mul (mod x 3) 2)"),
    ("where(x > 0, x, 0)", "(where (gt x 0) x 0)"),
    ("var(x, ddof=1) + std(x, axis=(0, 1))", "(add (variance x) (std x))"),
]


@pytest.mark.parametrize("source, expected", NUMPY)
def test_numpy_spellings(source, expected):
    assert sexpr(parse(source)) == expected


def test_keyword_arguments_are_the_rows_parameters_and_print_back():
    from backprop_cli.language.printer import expression

    for source in ("sum(x, axis=(0, 1), keepdims=True)", "variance(x, axis=0, ddof=1)",
                   "x[::-1, 2] + C[idx] + [x, 2*x]", "stack(x, y, axis=1)"):
        graph = parse(source)
        assert expression(graph) == source
        assert sexpr(parse(expression(graph))) == sexpr(graph)
    a, b = parse("sum(x, axis=0)"), parse("sum(x)")
    assert a.ops[a.output] is not b.ops[b.output]  # the bound row is another operation


def test_a_keyword_is_never_an_assignment():
    graph = parse("s = sum(x, axis=0); s")
    assert "axis" not in graph.variables and graph.names[graph.output] == "s"


def test_names_numpy_brought_in_still_name_values():
    # CS231n's batch norm names its values var and std; var(x) is still the variance.
    graph = parse("xc = x - mean(x); var = sum(xc**2)/3; std = sqrt(var); std + var(x)")
    assert sexpr(graph).endswith("(variance x))")


def test_every_product_dot_a_page_uses_is_a_product():
    # U+00D7, U+00B7, U+22C5 and U+2219 (the bullet operator) all read as *
    for dot in "×·⋅∙":
        assert sexpr(parse(f"x{dot}y")) == sexpr(parse("x*y")), dot

"""Error tables: (bad input, the exact one-line message, where the caret goes), through the CLI.

Every bad input exits 2 with nothing on stdout and one clear headline on stderr; errors with a
place in the program add the source line and a `^^^` line under the span. Never a traceback.
"""

import time

import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli
from backprop_cli.errors import ArityError, NameResolutionError, ParseError
from backprop_cli.language.parser import parse


def fails(*argv: str, stdin: str | None = None) -> str:
    """Run `backprop eval ARGV...`; require exit 2, empty stdout, no traceback; give stderr."""
    result = CliRunner().invoke(cli, ["eval", *argv], input=stdin)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.stderr


def with_caret(source: str, headline: str, column: int, width: int, line: int = 1) -> str:
    """The expected stderr: the headline, the source line, and `width` carets at `column`."""
    text = source.split("\n")[line - 1]
    pad = "".join("\t" if ch == "\t" else " " for ch in text[:column - 1])
    return f"{headline}\n  {text}\n  {pad}{'^' * width}\n"


# (program, headline, caret column, caret width)
PARSE_ERRORS = [
    ("x $ y", "parse error at column 3: unexpected character '$'", 3, 1),
    ("x ! y", ("parse error at column 3: unexpected character '!' "
              "('not equal' is x != y; 'not' is 1 minus the test, e.g. 1 - (x > 0))"), 3, 1),
    ("[1, 2*x", ("parse error at column 1: '[' is never closed (add ']' before the end of the "
                "statement)"), 1, 1),
    ("x[1,,2]", "parse error at column 5: expected a position (e.g. x[0, 1] or x[:, 0])", 5, 1),
    ("x[1::2:]", "parse error at column 7: a slice has at most two ':' (start:stop:step)", 7, 1),
    ("sum(x, axis=0, 1)", ("parse error at column 16: a positional argument follows a keyword "
                          "argument (give the positional arguments first, e.g. "
                          "sum(x, 0, keepdims=True))"), 16, 1),
    # A keyword's value is written in the program: an operator after it would apply to the
    # argument before the keyword (this read sum(x + 1, axis=0) once).
    ("sum(x, axis=0 + 1)", ("parse error at column 15: expected ',' or ')' after the keyword "
                           "argument axis= but found '+' (a keyword's value is written in the "
                           "program, e.g. axis=0)"), 15, 1),
    ("sum(x, axis=0", ("parse error at column 1: sum( is never closed (add ')' before the "
                      "end of the statement)"), 1, 4),
    ("x.frobnicate()", ("name error at column 2: an array has no method 'frobnicate' (methods: "
                        ".abs(), .argmax(), .argmin(), .clip(), .dot(), .exp(), .log(), .max(), "
                        ".mean(), .min(), .norm(), .prod(), .relu(), .reshape(), .sigmoid(), "
                        ".sqrt(), .std(), .sum(), .tanh(), .transpose(), .var(); attribute: .T)"),
     2, 11),
    ("x[0.5]", "parse error at column 2: the position 0.5 is not a whole number", 2, 5),
    ("x[]", "parse error at column 2: '[]' needs a position (e.g. s[0] for the first entry)",
     2, 2),
    ("x ∗ y", "parse error at column 3: unexpected character '∗'", 3, 1),
    # The page's notation where it is ambiguous: the message names the spelling to use.
    ("||x||", ("parse error at column 1: '||' is ambiguous (write norm(x) for the norm ||x||, "
               "or abs(abs(x)))"), 1, 1),
    ("‖x‖", ("parse error at column 1: unexpected character '‖' (write norm(x) for the norm "
             "‖x‖)"), 1, 1),
    ("sin²(x)", ("parse error at column 4: sin² is ambiguous (write sin(x)**2 for the power of "
                 "sin(x))"), 4, 1),
    ("|x", ("parse error at column 1: '|' is never closed (add '|' before the end of the "
            "statement)"), 1, 1),
    ("(|x)|", "parse error at column 2: '|' is never closed (add '|' before ')')", 2, 1),
    ("x|", "parse error at column 2: expected an operator or the end of the statement but "
           "found '|'", 2, 1),
    ("x +* y", "parse error at column 4: expected a number, a name or '(' but found '*'", 4, 1),
    ("x+", "parse error at column 3: unexpected end of input: expected a number, a name or '('",
     3, 1),
    ("x * ", ("parse error at column 5: unexpected end of input: expected a number, a name or "
             "'('"), 5, 1),
    ("()", "parse error at column 2: expected a number, a name or '(' before ')'", 2, 1),
    ("max(x,)", "parse error at column 7: expected a number, a name or '(' before ')'", 7, 1),
    ("(x+1", ("parse error at column 1: '(' is never closed "
             "(add ')' before the end of the statement)"), 1, 1),
    ("((x+1)*2", ("parse error at column 1: '(' is never closed "
                 "(add ')' before the end of the statement)"), 1, 1),
    ("exp(x", ("parse error at column 1: exp( is never closed "
              "(add ')' before the end of the statement)"), 1, 4),
    ("x+1)", "parse error at column 4: unmatched ')'", 4, 1),
    ("(x))*2", "parse error at column 4: unmatched ')'", 4, 1),
    ("x+1 2", ("parse error at column 5: expected an operator or the end of the statement but "
              "found '2' (write '*' for a product, e.g. 2*x)"), 5, 1),
    ("2x", ("parse error at column 2: expected an operator or the end of the statement but "
           "found 'x' (write '*' for a product, e.g. 2*x)"), 2, 1),
    ("x y", ("parse error at column 3: expected an operator or the end of the statement but "
            "found 'y' (write '*' for a product, e.g. 2*x)"), 3, 1),
    ("(x)(y)", ("parse error at column 4: expected an operator or the end of the statement but "
               "found '(' (write '*' for a product, e.g. 2*x)"), 4, 1),
    ("x,y", "parse error at column 2: unexpected ',' (commas separate a function's arguments)",
     2, 1),
    ("x === y", ("parse error at column 5: unexpected '=' "  # x == y compares (issue 21)
                "(assign with `name = expression` at the start of a statement)"), 5, 1),
    ("3 = x", ("parse error at column 3: unexpected '=' "
              "(assign with `name = expression` at the start of a statement)"), 3, 1),
    ("x = = 3", ("parse error at column 5: unexpected '=' "
                "(assign with `name = expression` at the start of a statement)"), 5, 1),
    ("x += ", ("parse error at column 6: unexpected end of input: expected a number, a name or "
              "'('"), 6, 1),
    ("pi = 3", ("parse error at column 1: cannot assign to the constant pi (pi is 3.14159; give "
                "the value another name, e.g. pi_ or pi2)"), 1, 2),
    ("e = x; e*2", ("parse error at column 1: cannot assign to the constant e (e is 2.71828; "
                    "give the value another name, e.g. e_ or e2)"), 1, 1),
    ("exp = 3", "parse error at column 1: cannot assign to exp: it is a function", 1, 3),
    ("1e999", "limit exceeded at column 1: the number 1e999 is too large for float64", 1, 5),
    # a position written in the program too (it was an internal error, int() of infinity)
    ("x[1e999]", "limit exceeded at column 3: the number 1e999 is too large for float64", 3, 5),
    ("sum(x, axis=1e999)", ("limit exceeded at column 13: the number 1e999 is too large for "
                           "float64"), 13, 5),
    ("std(x, axis=(0, -1e999))", ("limit exceeded at column 18: the number 1e999 is too large "
                                 "for float64"), 18, 5),
    # unknown functions, with a did-you-mean when one is close
    ("sinn(x)", "name error at column 1: unknown function 'sinn' (did you mean sin?)", 1, 4),
    ("Exp(x)", "name error at column 1: unknown function 'Exp' (did you mean exp?)", 1, 3),
    ("sigmod(x)", "name error at column 1: unknown function 'sigmod' (did you mean sigmoid?)",
     1, 6),
    ("2*tanhh(x)", "name error at column 3: unknown function 'tanhh' (did you mean tanh?)",
     3, 5),
    ("a = x; a(2)", ("name error at column 8: a is not a function "
                    "(write a*(...) for a product)"), 8, 1),
    ("exp + 1", "name error at column 1: exp is a function (call it as exp(...))", 1, 3),
    # wrong number of arguments: the caret spans the whole call
    ("exp(x, y)", "arity error at column 1: exp() takes 1 argument, got 2", 1, 9),
    ("pow(x)", "arity error at column 1: pow() takes 2 arguments, got 1", 1, 6),
    ("pow(x, y, z)", "arity error at column 1: pow() takes 2 arguments, got 3", 1, 12),
    ("1 + sin()", "arity error at column 5: sin() takes 1 argument, got 0", 5, 5),
]


@pytest.mark.parametrize("source, headline, column, width", PARSE_ERRORS)
def test_parse_errors(source, headline, column, width):
    bindings = ["x=1", "y=2", "z=3"]
    bindings = [b for b in bindings if b[0] in source]
    assert fails(source, *bindings) == with_caret(source, headline, column, width)


# (program, bindings, headline, caret column, caret width): the values are bad, not the text
DOMAIN_ERRORS = [
    ("log(x)", ["x=0"], ("domain error at column 1: log(x) is undefined: log(0) is outside the "
                        "function's domain (log needs a positive argument)"), 1, 6),
    ("log(x)", ["x=-1"], ("domain error at column 1: log(x) is undefined: log(-1) is outside the "
                         "function's domain (log needs a positive argument)"), 1, 6),
    ("2 + log(x - y)", ["x=1", "y=3"],
     ("domain error at column 5: log(x - y) is undefined: log(-2) is outside the function's "
     "domain (log needs a positive argument)"), 5, 10),
    ("x/y", ["x=1", "y=0"], ("domain error at column 1: x/y is undefined: div(1, 0) divides by "
                            "zero (div needs a non-zero divisor)"), 1, 3),
    ("q = y - y; x/q", ["x=1", "y=3"],
     ("domain error at column 12: x/q is undefined: div(1, 0) divides by zero "
     "(div needs a non-zero divisor)"), 12, 3),
    ("sqrt(x)", ["x=-1"], ("domain error at column 1: sqrt(x) is undefined: sqrt(-1) is outside "
                          "the function's domain (sqrt needs a non-negative argument, and a "
                          "positive one for a gradient)"), 1, 7),
    ("sqrt(x)", ["x=0"], ("domain error at column 1: sqrt(x): the derivative of sqrt is infinite "
                         "or undefined at sqrt(0) (sqrt needs a non-negative argument, and a "
                         "positive one for a gradient)"), 1, 7),
    ("x**y", ["x=-1", "y=0.5"], ("domain error at column 1: x**y is undefined: pow(-1, 0.5) is "
                                "outside the function's domain (pow needs a positive base for a "
                                "fractional exponent, a non-zero base for a negative one)"), 1, 4),
    ("exp(1000)", [], ("domain error at column 1: exp(1000) is undefined: exp(1000) overflows "
                      "float64 (float64 holds numbers up to about 1.8e308)"), 1, 9),
    ("exp(x)", ["x=710"], ("domain error at column 1: exp(x) is undefined: exp(710) overflows "
                          "float64 (float64 holds numbers up to about 1.8e308)"), 1, 6),
    ("9**9**9**9", [], ("domain error at column 4: 9**9**9 is undefined: pow(9, 3.8742e+08) "
                       "overflows float64 (float64 holds numbers up to about 1.8e308)"), 4, 7),
    ("x*y", ["x=1e200", "y=1e200"], ("domain error at column 1: x*y is undefined: "
                                    "mul(1e+200, 1e+200) is not finite (overflow or nan) "
                                    "(float64 holds numbers up to about 1.8e308)"), 1, 3),
    ("x/y", ["x=1", "y=1e-320"], ("domain error at column 1: x/y is undefined: "
                                  "div(1, 9.99989e-321) is not finite (overflow or nan) "
                                  "(float64 holds numbers up to about 1.8e308)"), 1, 3),
    ("log(x)", ["x=1e-320"], ("domain error at column 1: the gradient with respect to x is not "
                             "finite; it first goes bad at log(x)"), 1, 6),
    # the search for the culprit never differentiates the constant sqrt(0)
    ("t = x/x; t + sqrt(0)", ["x=5e-324"], ("domain error at column 5: the gradient with "
                                           "respect to x is not finite; it first goes bad at "
                                           "x/x"), 5, 3),
    ("y", [], "name error at column 1: y has no value (bind it on the command line: y=VALUE)",
     1, 1),
    ("q = x + y; q * z", ["x=1", "y=2"], ("name error at column 16: z has no value "
                                         "(bind it on the command line: z=VALUE)"), 16, 1),
]


@pytest.mark.parametrize("source, bindings, headline, column, width", DOMAIN_ERRORS)
def test_domain_and_name_errors(source, bindings, headline, column, width):
    assert fails(source, *bindings) == with_caret(source, headline, column, width)


# (command-line words after `eval`, the whole of stderr): errors with no place in the program
COMMAND_LINE_ERRORS = [
    (["x", "x"], ("binding error: 'x' is not a NAME=VALUE binding "
                 "(write NAME=VALUE with no spaces, e.g. x=-2)")),
    (["x", "x="], "binding error: x has an empty value (write NAME=VALUE, e.g. x=-2)"),
    (["x", "x=abc"], ("binding error: x=abc is not a number: it uses the variable abc "
                     "(a value may be a constant expression (1/3, pi/2), never another "
                     "variable)")),
    (["x", "x=1,5"], ("binding error: x=1,5 is not a number (unexpected ',') "
                     "(use a number like -2, 0.5 or 1e-3, a constant expression like 1/3 or "
                     "pi/2, or a list like [1,2])")),
    (["x", "1x=2"], ("binding error: '1x' is not a valid name "
                    "(in '1x=2'; names are letters, digits and _, not starting with a digit)")),
    (["x", "x=inf"], "binding error: x=inf is not a finite number"),
    (["x", "x=-inf"], "binding error: x=-inf is not a finite number"),
    (["x", "x=nan"], "binding error: x=nan is not a finite number"),
    (["x", "x=1e999"], "binding error: x=1e999 is not a finite number"),
    (["pi*x", "pi=3", "x=1"], ("binding error: pi is a constant and cannot be bound "
                              "(in 'pi=3')")),
    (["x", "exp=1"], "binding error: exp is a function and cannot be bound (in 'exp=1')"),
    (["x", "x=1", "x=2"], "binding error: x is bound twice (in 'x=2')"),
    (["x", "x", "=", "3"], ("binding error: 'x = 3' has spaces around '=' "
                           "(write x=3 as one word)")),
    (["x*y", "y=1", "x", "=3"], ("binding error: 'x =3' has spaces around '=' "
                                "(write x=3 as one word)")),
    (["x", "x=", "3"], "binding error: 'x= 3' has spaces around '=' (write x=3 as one word)"),
    (["x", "=", "3"], ("binding error: '=' is not a NAME=VALUE binding "
                      "(quote a program that has spaces: \"q = x + y; q * z\")")),
    (["x", "x=[1,2"], ("binding error: x=[1,2 is not a valid list "
                      "(Expecting ',' delimiter at character 5)")),
    (["x", "x=1", "--bogus"], "error: unknown option --bogus (see --help)"),
    (["--bogus", "x", "x=1"], ("error: unknown option --bogus (see --help; a program that "
                              "starts with two minus signs needs a space: - -x)")),
    (["x*y", "x=1", "y=2", "--wrt", "q"], ("binding error: --wrt q: q is not a bound variable "
                                          "(bound: x, y)")),
    (["x*y", "x=1", "y=2", "--expect", "q=3"],
     ("binding error: --expect q=3: q is not a bound variable (expect 'value' or one of: x, y, "
      "dx, dy)")),
    (["x*y", "x=1", "y=2", "--expect", "x=abc"], ("binding error: --expect x=abc: not a finite "
                                                 "number (e.g. --expect x=-4 or "
                                                 "--expect value=-12)")),
    # --expect and a case file's expect: share one validator (expectations.py)
    (["x*y", "x=2", "y=3", "--expect", "x=nan"], ("binding error: --expect x=nan: not a finite "
                                                 "number (e.g. --expect x=-4 or "
                                                 "--expect value=-12)")),
    (["x*y", "x=2", "y=3", "--expect", "value=-inf"], ("binding error: --expect value=-inf: "
                                                      "not a finite number (e.g. --expect "
                                                      "x=-4 or --expect value=-12)")),
    (["x*y", "x=2", "y=3", "--expect", "=3"], ("binding error: --expect =3: not NAME=NUMBER "
                                              "(e.g. --expect x=-4 or --expect value=-12)")),
    (["x*y", "x=2", "y=3", "--expect", "dx=3", "--expect", "x=4"], (
        "binding error: --expect x=4: x is given twice (already --expect dx=3)")),
    (["x*y", "x=2", "y=3", "--wrt", "x", "--expect", "y=1"], (
        "binding error: --expect y=1: the gradient of y is not computed "
        "(--wrt asks only for x; add y to --wrt)")),
    # numpy's own errors never leak: too deep for numpy, too deep for json, not numbers
    (["sum(x)", "x=" + "[" * 40 + "1" + "]" * 40], ("binding error: x is nested too deeply "
                                                    "(numpy allows at most 32 dimensions)")),
    (["sum(x)", "x=" + "[" * 30000 + "1" + "]" * 30000], (
        "binding error: x is nested too deeply (numpy allows at most 32 dimensions)")),
    (["sum(x)", "x=[true,2]"], ("binding error: x has an entry that is not a number: true "
                                "(entries must be numbers, e.g. [1, 2.5])")),
    (["x", "x=1", "--seed", "[1,2]"], ("shape error: --seed has shape (2,) but the output is "
                                       "a scalar (give one number, e.g. --seed 2)")),
    ([], "error: no program given (e.g. backprop eval \"(x+y)*z\" x=-2 y=5 z=-4)"),
    (["-f", "/nonexistent/program.txt"], "error: /nonexistent/program.txt: no such file"),
]


@pytest.mark.parametrize("argv, message", COMMAND_LINE_ERRORS)
def test_command_line_errors(argv, message):
    assert fails(*argv) == message + "\n"


@pytest.mark.parametrize("source", ["", "   ", "\n\n", ";;", "# only a comment",
                                    "# one\n# two\n"])
def test_empty_program(source):
    where = "line 1, column 1" if "\n" in source else "column 1"
    assert fails(source).startswith(f'parse error at {where}: the program is empty '
                                    '(give an expression, e.g. "(x+y)*z")\n')


@pytest.mark.parametrize("source", ["max()", "min()"])
def test_max_and_min_need_arguments(source):
    # max(x) of one array is its largest entry, so only an empty call is an arity error.
    assert fails(source) == with_caret(
        source, f"arity error at column 1: {source[:3]}() takes at least 1 argument, got 0", 1, 5)


def test_multi_line_errors_say_the_line():
    source = "q = x + y\nf = q * $"
    assert fails(source, "x=1", "y=2") == with_caret(
        source, "parse error at line 2, column 9: unexpected character '$'", 9, 1, line=2)


def test_tabs_are_kept_so_the_caret_lines_up():
    source = "q = x\n\tf = q $ 2"
    stderr = fails(source, "x=1")
    assert stderr == "parse error at line 2, column 8: unexpected character '$'\n" \
                     "  \tf = q $ 2\n" \
                     "  \t      ^\n"


def test_errors_in_a_file_are_prefixed_with_file_line_column(tmp_path):
    program = tmp_path / "prog.txt"
    program.write_text("a = x\n  b = a +\n")
    assert fails("-f", str(program), "x=1") == (
        f"{program}:2:10: parse error: the statement ends too early: expected a number, "
        f"a name or '('\n    b = a +\n           ^\n")


def test_errors_from_stdin_say_stdin():
    assert fails("-", "x=1", stdin="x +* 2\n").startswith(
        "<stdin>:1:4: parse error: expected a number, a name or '(' but found '*'\n")


def test_the_core_raises_the_project_exceptions_with_a_place():
    cases = [("x $ 1", ParseError, (1, 3)), ("foo(x)", NameResolutionError, (1, 1)),
             ("a = 1\nexp(1, 2)", ArityError, (2, 1))]
    for source, cls, where in cases:
        with pytest.raises(cls) as info:
            parse(source)
        assert info.value.location() == where
        assert info.value.render().count("\n") == 2  # headline, source line, caret line


def test_an_unknown_function_with_no_close_match_lists_the_known_ones():
    stderr = fails("zzzz(x)", "x=1")
    headline = stderr.splitlines()[0]
    assert headline.startswith("name error at column 1: unknown function 'zzzz' "
                               "(known functions: abs, ")
    for name in ("abs", "add_at", "amax", "amin"):  # the list is long: its start is shown
        assert name in headline


# Inputs that must end quickly with an error, not run away or hang.
@pytest.mark.parametrize("source, start", [
    ("9**9**9**9", "domain error at column 4: 9**9**9 is undefined"),
    ("exp(exp(exp(10)))", "domain error at column 5: exp(exp(10)) is undefined"),
    ("10**400", "domain error at column 1: 10**400 is undefined"),
    ("x**1e10" + "*2" * 10, "domain error at column 1: x**1e10 is undefined"),
])
def test_overflow_ends_quickly_with_an_error(source, start):
    t0 = time.process_time()  # CPU time: the same on a busy machine
    stderr = fails(source, "x=3")
    assert time.process_time() - t0 < 2.0
    assert stderr.startswith(start)
    assert "overflows float64" in stderr.splitlines()[0]


@pytest.mark.slow
def test_megabytes_of_text_end_with_one_line_and_a_short_caret_window():
    source = "x+" * 300_000 + "x $ 1"  # 600 kB on one line
    stderr = fails(source, "x=1")
    headline, shown, caret = stderr.rstrip("\n").split("\n")
    assert headline == "parse error at column 600003: unexpected character '$'"
    # The caret line shows a window around the error, not the whole line.
    assert shown.startswith("  ...") and len(shown) < 200
    assert caret.index("^") == shown.index("$")


@pytest.mark.slow
def test_megabytes_of_garbage_end_at_the_first_bad_character():
    stderr = fails("\x00" * 2_000_000)
    assert stderr.splitlines()[0] == "parse error at column 1: unexpected character U+0000"


def test_a_program_over_the_size_limit_is_refused_before_parsing():
    from backprop_cli.language.parser import MAX_SOURCE_BYTES

    t0 = time.process_time()  # CPU time: the same on a busy machine
    stderr = fails("-", "x=1", stdin="x+" * (MAX_SOURCE_BYTES // 2 + 1))
    assert time.process_time() - t0 < 5.0
    assert stderr == (f"limit exceeded: standard input holds more than {MAX_SOURCE_BYTES:,} "
                      "bytes, the longest program read\n")


@pytest.mark.slow
def test_an_error_in_a_huge_expression_names_it_by_its_two_ends():
    source = "log(" + "x+" * 200_000 + "x - 200001*x)"
    stderr = fails(source, "x=1")
    headline = stderr.splitlines()[0]
    # The node's first and last 37 characters, not its 400 kB.
    shown = f"log({'x+' * 16}x ... {'x+' * 12}x - 200001*x)"
    assert headline == (f"domain error at column 1: {shown} is undefined: log(0) is outside "
                        "the function's domain (log needs a positive argument)")

"""NAME=VALUE words -> values: a data parser, never an evaluator."""

import pytest

from backprop_cli.engine.bindings import is_binding, parse_bindings
from backprop_cli.errors import BindingError


@pytest.mark.parametrize("word, name, value", [
    ("x=-2", "x", -2.0),
    ("y=5", "y", 5.0),
    ("w0=0.5", "w0", 0.5),
    ("_h=1e-3", "_h", 0.001),
    ("z=+4", "z", 4.0),
    ("z=.25", "z", 0.25),
    ("z=-0", "z", -0.0),
    ("z= 3", "z", 3.0),  # one quoted word with a space after '='
    ("long_name_2=2E2", "long_name_2", 200.0),
    # constant expressions, read by the language's own parser (issue 13)
    ("x=1/3", "x", 1 / 3),
    ("x=pi/2", "x", 1.5707963267948966),
    ("x=-2e-3", "x", -0.002),
    ("x=2*3", "x", 6.0),
    ("x=exp(0)", "x", 1.0),
])
def test_numbers(word, name, value):
    assert parse_bindings([word]) == {name: value}


def test_order_is_kept():
    assert list(parse_bindings(["z=1", "x=2", "y=3"])) == ["z", "x", "y"]


@pytest.mark.parametrize("word, message", [
    ("x=", "x has an empty value"),
    ("x=abc", "x=abc is not a number: it uses the variable abc"),
    ("x=2*y", "x=2*y is not a number: it uses the variable y"),  # constants only
    ("x=1_000", "x=1_000 is not a number: numbers have no underscores"),
    ("x=\u0661\u0662", "x=\u0661\u0662 is not a number: digits are the ASCII 0-9 only"),
    ("x=1\u0661", "x=1\u0661 is not a number: digits are the ASCII 0-9 only"),
    ("x=1;2", "x=1;2 is not a number"),
    ("x=y=2", "x=y=2 is not a number"),
    ("x=1/0", "x=1/0: 1/0 is undefined: div(1, 0) divides by zero"),
    ("x=exp(1000)", "x=exp(1000): exp(1000) is undefined: exp(1000) overflows float64"),
    ("x=__import__('os')", "x=__import__('os') is not a number (unknown function "
                           "'__import__')"),
    ("x=inf", "x=inf is not a finite number"),
    ("x=nan", "x=nan is not a finite number"),
    ("x=1e400", "x=1e400 is not a finite number"),
    ("1x=2", "'1x' is not a valid name"),
    ("pi=3", "pi is a constant and cannot be bound"),
    ("e=3", "e is a constant and cannot be bound"),
    ("exp=3", "exp is a function and cannot be bound"),
    ("x", "'x' is not a binding"),
    ("x=[1,2", "x=[1,2 is not a valid list"),
    # numpy would quietly read these as numbers (true -> 1, "1" -> 1, null -> nan)
    ("x=[true,2]", "x has an entry that is not a number: true"),
    ("x=[[1,2],[false,3]]", "x has an entry that is not a number: false"),
    ('x=["1",2]', 'x has an entry that is not a number: "1"'),
    ("x=[1,null]", "x has an entry that is not a number: null"),
    ('x=[1,{"a":2}]', "x has an entry that is not a number: an object"),
    ("x=[1," + "9" * 400 + "]", "x has entries that are not finite numbers"),
    ("x=[1,NaN]", "x has entries that are not finite numbers"),
    ("x=[[1,2],[3]]", "x is not a regular numeric array"),
    # numpy's reductions stop at 32 dimensions; json's decoder at the recursion limit
    ("x=" + "[" * 33 + "1" + "]" * 33, "x is nested too deeply"),
    ("x=" + "[" * 30000 + "1" + "]" * 30000, "x is nested too deeply"),
])
def test_bad_bindings(word, message):
    with pytest.raises(BindingError) as info:
        parse_bindings([word])
    assert info.value.message == message


def test_a_name_bound_twice():
    with pytest.raises(BindingError) as info:
        parse_bindings(["x=1", "y=2", "x=3"])
    assert (info.value.message, info.value.hint) == ("x is bound twice", "in 'x=3'")


def test_lists_become_arrays():
    import numpy as np

    values = parse_bindings(["x=[1,2]", "W=[[0.1,0.5],[-0.3,0.8]]"])
    assert values["x"].shape == (2,)
    assert np.array_equal(values["W"], np.array([[0.1, 0.5], [-0.3, 0.8]]))


@pytest.mark.parametrize("word, expected", [
    ("x=1", True),
    ("x = 1", True),
    ("x==y", True),  # shaped like a binding; parse_bindings then says what is wrong
    ("(x+y)*z", False),
    ("-x*y", False),
    ("=1", False),
])
def test_is_binding(word, expected):
    assert is_binding(word) is expected


def test_thirty_two_levels_is_the_deepest_list():
    (value,) = parse_bindings(["x=" + "[" * 32 + "1" + "]" * 32]).values()
    assert value.shape == (1,) * 32


def test_too_deep_says_numpy_s_limit():
    with pytest.raises(BindingError) as info:
        parse_bindings(["x=" + "[" * 40 + "1" + "]" * 40])
    assert info.value.hint == "numpy allows at most 32 dimensions"

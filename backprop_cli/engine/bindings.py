"""NAME=VALUE words -> values: numbers, constant expressions, nested lists (arrays), @files.

It sits at the engine's door: a constant expression (`x=pi/2`) is read by the language's parser
and valued by the forward pass, so this module comes after both stages (language/ never imports
engine/; tests/test_layout.py holds the order).

A number follows the language's own literal grammar (ASCII digits, no underscores, finite), so
`x=1_000` and `x=١٢` are refused as they are in a program. Anything else that is not a list or a
file is a constant expression read by the language's lexer and parser (`x=1/3`, `x=pi/2`) and
refused if it names a variable. Lists go through `json.loads`, a data parser. Nothing here is
ever handed to Python's `eval`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from ..errors import BackpropError, BindingError, shown
from ..language.lexer import AUGMENTED, NUMBER
from ..ops.registry import CONSTANTS, FUNCTIONS, SOFT_NAMES

_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*\Z")
_LITERAL = re.compile(r"[+-]?" + NUMBER + r"\Z")
_UNDERSCORED = re.compile(r"[+-]?[0-9][0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9_]+)?\Z")
VALUE_SHOWN = 40  # characters of a bad value echoed in a message (its two ends)
# ndarray allows 64 dimensions, but numpy's ufunc reductions and iterators stop at 32.


def is_binding(word: str) -> bool:
    """Whether a command-line word reads as NAME=VALUE: a name, then `=` (the value is judged
    later, by `parse_binding`, so `x=abc` is a bad binding rather than a program)."""
    name, eq, _ = word.partition("=")
    return bool(eq) and bool(_NAME.match(name.strip()))


def parse_bindings(words: Iterable[str], folder: str = "") -> dict[str, Any]:
    """Parse NAME=VALUE words in order; a repeated name is an error. Relative `@file` paths
    are read from `folder` (a case file's folder), else from the current directory."""
    out: dict[str, Any] = {}
    for word in words:
        name, value = parse_binding(word, folder)
        if name in out:
            raise BindingError(f"{name} is bound twice", hint=f"in {_quoted(word)}")
        out[name] = value
    return out


def parse_binding(word: str, folder: str = "") -> tuple[str, Any]:
    name, eq, text = word.partition("=")
    name = name.strip()
    text = text.strip()
    if not eq:
        raise BindingError(f"{_quoted(word)} is not a binding", hint="write NAME=VALUE, e.g. x=-2")
    if not _NAME.match(name):
        raise BindingError(f"{_quoted(name)} is not a valid name",
                           hint=f"in {_quoted(word)}; names are letters, digits and _, "
                                "not starting with a digit")
    if name in CONSTANTS:
        raise BindingError(f"{name} is a constant and cannot be bound",
                           hint=f"in {_quoted(word)}")
    if name in FUNCTIONS and name not in SOFT_NAMES:
        raise BindingError(f"{name} is a function and cannot be bound",
                           hint=f"in {_quoted(word)}")
    if not text:
        raise BindingError(f"{name} has an empty value", hint="write NAME=VALUE, e.g. x=-2")
    return name, parse_value(name, text, folder)


def _quoted(text: str) -> str:
    return repr(shown(text, VALUE_SHOWN))


def parse_value(name: str, text: str, folder: str = "") -> Any:
    if text.startswith("@"):
        # only array users pay for numpy and file formats
        from ..language.arrays_io import load_array

        return load_array(name, text[1:], folder)
    if text.startswith("["):
        import json  # lists only: a scalar program's start-up never loads the JSON parser

        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BindingError(f"{name}={text} is not a valid list",
                               hint=f"{exc.msg} at character {exc.pos + 1}") from None
        except RecursionError:  # json's decoder recurses once per '[': thousands of them
            from ..language.arrays_io import too_deep

            raise too_deep(name) from None
        from ..language.arrays_io import to_array

        return to_array(name, data)
    if _LITERAL.match(text) is not None:  # the common case, without building a message
        value = float(text)
        if math.isfinite(value):
            return value
    return number(f"{name}={shown(text, VALUE_SHOWN)}", text)


def is_literal(text: str) -> bool:
    """Whether text is a number as the language writes one: an optional sign, ASCII digits, an
    optional point and exponent; no underscores, no other scripts' digits, no spaces."""
    return _LITERAL.match(text) is not None


def number(where: str, text: str) -> float:
    """A finite number from a literal or a constant expression (`1/3`, `pi/2`, `-2e-3`);
    `where` names the value in messages (`x=...`, `at.x`)."""
    if is_literal(text):
        value = float(text)  # the grammar is checked: this only converts a valid literal
    else:
        value = _constant(where, text)
    if not math.isfinite(value):
        raise BindingError(f"{where} is not a finite number")
    return value


def _constant(where: str, text: str) -> float:
    """The value of a constant expression, parsed by the language's own parser."""
    from ..language.lexer import scan
    from ..language.parser import parse

    hint = "use a number like -2, 0.5 or 1e-3, a constant expression like 1/3 or pi/2, " \
           "or a list like [1,2]"
    bare = text.lstrip("+-").lower()
    if bare in ("nan", "inf", "infinity"):
        raise BindingError(f"{where} is not a finite number")
    if any(ch.isdigit() and not ch.isascii() for ch in text):
        raise BindingError(f"{where} is not a number: digits are the ASCII 0-9 only", hint=hint)
    if "_" in text and _UNDERSCORED.match(text):
        raise BindingError(f"{where} is not a number: numbers have no underscores",
                           hint=f"write {text.replace('_', '')[:VALUE_SHOWN]}")
    kinds, texts, _ = scan(text)
    if "sep" in kinds or any(t == "=" or t in AUGMENTED for t in texts):
        raise BindingError(f"{where} is not a number", hint="a value is one expression: " + hint)
    try:
        graph = parse(text)
    except BackpropError as err:
        raise BindingError(f"{where} is not a number ({err.message})", hint=hint) from None
    if graph.variables:
        names = ", ".join(graph.variables)
        raise BindingError(f"{where} is not a number: it uses the variable {names}",
                           hint="a value may be a constant expression (1/3, pi/2), "
                                "never another variable")
    from .forward import forward  # a constant program's one value: no bindings needed

    try:
        value = forward(graph, {})[graph.output]
    except BackpropError as err:
        raise BindingError(f"{where}: {err.message}", hint=err.hint) from None
    if not isinstance(value, float | int):
        raise BindingError(f"{where} is not a number")
    return float(value)

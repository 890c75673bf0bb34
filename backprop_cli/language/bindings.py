"""NAME=VALUE words -> values: numbers, nested lists (arrays), or @files holding arrays.

Numbers go through `float`, lists through `json.loads`: both are data parsers, never evaluators.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any

from ..errors import BindingError
from ..ops.registry import CONSTANTS, FUNCTIONS

_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*\Z")
# ndarray allows 64 dimensions, but numpy's ufunc reductions and iterators stop at 32.


def is_binding(word: str) -> bool:
    """Whether a command-line word reads as NAME=VALUE: a name, then `=` (the value is judged
    later, by `parse_binding`, so `x=abc` is a bad binding rather than a program)."""
    name, eq, _ = word.partition("=")
    return bool(eq) and bool(_NAME.match(name.strip()))


def parse_bindings(words: Iterable[str]) -> dict[str, Any]:
    """Parse NAME=VALUE words in order; a repeated name is an error."""
    out: dict[str, Any] = {}
    for word in words:
        name, value = parse_binding(word)
        if name in out:
            raise BindingError(f"{name} is bound twice", hint=f"in {word!r}")
        out[name] = value
    return out


def parse_binding(word: str) -> tuple[str, Any]:
    name, eq, text = word.partition("=")
    name = name.strip()
    text = text.strip()
    if not eq:
        raise BindingError(f"{word!r} is not a binding", hint="write NAME=VALUE, e.g. x=-2")
    if not _NAME.match(name):
        raise BindingError(f"{name!r} is not a valid name",
                           hint=f"in {word!r}; names are letters, digits and _, "
                                "not starting with a digit")
    if name in CONSTANTS:
        raise BindingError(f"{name} is a constant and cannot be bound", hint=f"in {word!r}")
    if name in FUNCTIONS:
        raise BindingError(f"{name} is a function and cannot be bound", hint=f"in {word!r}")
    if not text:
        raise BindingError(f"{name} has an empty value", hint="write NAME=VALUE, e.g. x=-2")
    return name, parse_value(name, text)


def parse_value(name: str, text: str) -> Any:
    if text.startswith("@"):
        from .arrays_io import load_array  # only array users pay for numpy and file formats

        return load_array(name, text[1:])
    if text.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BindingError(f"{name}={text} is not a valid list",
                               hint=f"{exc.msg} at character {exc.pos + 1}") from None
        except RecursionError:  # json's decoder recurses once per '[': thousands of them
            from .arrays_io import too_deep

            raise too_deep(name) from None
        from .arrays_io import to_array

        return to_array(name, data)
    try:
        value = float(text)
    except ValueError:
        raise BindingError(f"{name}={text} is not a number",
                           hint="use a number like -2, 0.5 or 1e-3, or a list like [1,2]") \
            from None
    if not math.isfinite(value):
        raise BindingError(f"{name}={text} is not a finite number")
    return value

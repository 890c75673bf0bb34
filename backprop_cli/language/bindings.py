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
MAX_DIMS = 32


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
            raise _too_deep(name) from None
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


def to_array(name: str, data: Any):
    """A nested list (or array) -> a float64 numpy array with a regular shape, finite entries."""
    import numpy as np

    if isinstance(data, list):
        _only_numbers(name, data)
    try:
        arr = np.array(data, dtype=float)
    except (ValueError, TypeError):
        raise BindingError(f"{name} is not a regular numeric array",
                           hint="every row needs the same length, and entries must be numbers") \
            from None
    except OverflowError:  # an integer past float's range, e.g. 10**400 written out
        raise BindingError(f"{name} has entries that are not finite numbers") from None
    if arr.ndim > MAX_DIMS:  # an array file can hold up to numpy's 64
        raise _too_deep(name)
    if arr.ndim == 0:
        return float(arr)
    if arr.size == 0:
        raise BindingError(f"{name} is an empty array")
    if not np.all(np.isfinite(arr)):
        raise BindingError(f"{name} has entries that are not finite numbers")
    return arr


_NUMBER_TYPES = frozenset({int, float})
_JSON_WORDS = {bool: lambda v: "true" if v else "false", type(None): lambda v: "null"}


def _only_numbers(name: str, data: list) -> None:
    """Refuse what numpy would quietly turn into a number (true -> 1, "2" -> 2, null -> nan)
    and nesting deeper than MAX_DIMS; a loop over a stack, since the depth is the user's."""
    stack = [(data, 1)]
    while stack:
        items, depth = stack.pop()
        if depth > MAX_DIMS:
            raise _too_deep(name)
        kinds = set(map(type, items))  # one pass in C per list: cheap for a large array
        if kinds <= _NUMBER_TYPES:
            continue
        for item in items:
            kind = type(item)
            if kind is list:
                stack.append((item, depth + 1))
            elif kind not in _NUMBER_TYPES:
                shown = _JSON_WORDS[kind](item) if kind in _JSON_WORDS else \
                    json.dumps(item)[:40] if kind is str else "an object"
                raise BindingError(f"{name} has an entry that is not a number: {shown}",
                                   hint="entries must be numbers, e.g. [1, 2.5]")


def _too_deep(name: str) -> BindingError:
    return BindingError(f"{name} is nested too deeply",
                        hint=f"numpy allows at most {MAX_DIMS} dimensions")

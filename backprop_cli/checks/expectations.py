"""Expected values (hand-derived numbers to grade): one set of rules for `eval --expect` and
for the expectations of a case file, so the two accept the same things with the same words.

An expectation is NAME=NUMBER. NAME is `value` (the program's output), a bound variable, or
`dNAME` for a bound NAME (as the lecture writes dx) when `dNAME` itself is not bound. NUMBER is
a finite number as written ("-0.2" is graded to the digits it gives, see check.expectation).
Each quantity may be expected once: `dx=3` and `x=4` name the same gradient.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import BindingError


@dataclass(frozen=True)
class Spelling:
    """How the caller's users write an expectation, for the messages."""

    lead: str  # what goes before NAME=NUMBER: "--expect" or "expect:"
    example: str  # a correct example, for hints


EVAL = Spelling("--expect", "e.g. --expect x=-4 or --expect value=-12")
CASE_FILE = Spelling("expect:", "e.g. expect: value=-12 x=-4")


def split(word: str, spelling: Spelling) -> tuple[str, str]:
    """'x=-4' -> ('x', '-4'); the number is judged by `resolve`."""
    name, eq, text = word.partition("=")
    if not eq or not name.strip():
        raise BindingError(f"{spelling.lead} {word}: not NAME=NUMBER", hint=spelling.example)
    return name.strip(), text.strip()


def is_finite_number(text: str) -> bool:
    """Whether text is a number float() reads and that is finite (not nan, inf or 1e999)."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def resolve(pairs: Iterable[tuple[str, str]], bound: Iterable[str],
            wrt: Iterable[str] | None = None,
            spelling: Spelling = EVAL) -> tuple[tuple[str, str], ...]:
    """Check (NAME, NUMBER text) pairs against the bound names; give (key, text) pairs whose
    key is "value" or a bound variable. `wrt`, when given, is the gradients being computed: an
    expectation for another bound variable is refused (it would have no row to be graded in).
    Raises BindingError naming the first bad pair."""
    bound = list(bound)
    computed = None if wrt is None else list(wrt)
    out: dict[str, str] = {}
    written: dict[str, str] = {}  # key -> the pair as the user wrote it, for "given twice"
    for name, text in pairs:
        shown = f"{spelling.lead} {name}={text}"
        if not is_finite_number(text):
            raise BindingError(f"{shown}: not a finite number", hint=spelling.example)
        key = name
        if key != "value" and key not in bound and key[:1] == "d" and key[1:] in bound:
            key = key[1:]
        if key != "value" and key not in bound:
            raise BindingError(f"{shown}: {name} is not a bound variable",
                               hint="expect 'value' or one of: " + (", ".join(bound) or
                                                                     "no variables are bound"))
        if key != "value" and computed is not None and key not in computed:
            raise BindingError(f"{shown}: the gradient of {key} is not computed",
                               hint=f"--wrt asks only for {', '.join(computed)}; "
                                    f"add {key} to --wrt")
        if key in out:
            raise BindingError(f"{shown}: {key} is given twice",
                               hint=f"already {spelling.lead} {written[key]}")
        out[key] = text
        written[key] = f"{name}={text}"
    return tuple(out.items())

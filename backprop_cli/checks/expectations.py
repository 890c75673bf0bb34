"""Expected values (hand-derived numbers to grade): one set of rules for `eval --expect` and
for the expectations of a case file, so the two accept the same things with the same words.

An expectation is NAME=NUMBER. NAME is `value` (the program's output), a bound variable (its
gradient), or `dNAME` for a bound NAME (as the lecture writes dx) when `dNAME` itself is not
bound; or a named intermediate of the program (`q = x + y`): `q` is its forward value and `dq`
its gradient. NUMBER is a finite number as written ("-0.2" is graded to the digits it gives,
see check.expectation), or for an array a nested list of such numbers (`[[0.1, 0.2]]`), each
entry graded to its own digits. Each quantity may be expected once: `dx=3` and `x=4` name the
same gradient.

A wrong answer is told what it most likely is, in the lecture's words (a sign flip, a missing
fan-out term, upstream and local mixed up, a mul gate's inputs swapped), with the right number.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from ..engine.bindings import is_literal
from ..errors import BindingError
from ..ops.registry import OPS
from .scalar import Check


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
    """Whether text is a number in the language's literal grammar (ASCII digits, no
    underscores, as bindings read them) and finite (not 1e999)."""
    return is_literal(text) and math.isfinite(float(text))


def is_array_text(text: str) -> bool:
    """Whether text is a nested list of finite numbers, e.g. [[0.1, 0.2], [0.3, 0.4]]."""
    return array_entries(text) is not None


def array_entries(text: str) -> tuple[Any, list[str]] | None:
    """(the nested list, the entries as written) for an array text, or None."""
    text = text.strip()
    if not text.startswith("["):
        return None
    try:
        nested = json.loads(text)
    except ValueError:
        return None
    written = _NUMBER.findall(text)
    flat = _flatten(nested)
    if flat is None or len(flat) != len(written) or not all(map(is_finite_number, written)):
        return None
    return nested, written


def _flatten(nested: Any) -> list | None:
    """The numbers of a nested list, in order; None if anything else is inside."""
    out, stack = [], [nested]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            out.append(item)
        else:
            return None
    return out


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def resolve(pairs: Iterable[tuple[str, str]], bound: Iterable[str],
            wrt: Iterable[str] | None = None,
            spelling: Spelling = EVAL,
            named: Iterable[str] | Callable[[], Iterable[str]] = ()
            ) -> tuple[tuple[str, str], ...]:
    """Check (NAME, NUMBER text) pairs against the bound names and the program's named
    intermediates (`named`); give (key, text) pairs whose key is "value", a bound variable
    (its gradient), a named intermediate (its value) or d + a named intermediate (its
    gradient). `named` may be a function giving them, called only when a name is neither
    `value` nor bound (a case file parses its program only then). `wrt`, when given, is the
    gradients being computed: an expectation for another bound variable is refused (it would
    have no row to be graded in). Raises BindingError naming the first bad pair."""
    bound = list(bound)
    pairs = list(pairs)
    if callable(named):
        plain = all(n == "value" or n in bound or (n[:1] == "d" and n[1:] in bound)
                    for n, _ in pairs)
        named = () if plain else named()
    named = [n for n in named if n not in bound]
    computed = None if wrt is None else list(wrt)
    out: dict[str, str] = {}
    written: dict[str, str] = {}  # key -> the pair as the user wrote it, for "given twice"
    for name, text in pairs:
        shown = f"{spelling.lead} {name}={text}"
        if not is_finite_number(text) and not is_array_text(text):
            what = "a list of finite numbers" if text.strip()[:1] == "[" else "a finite number"
            raise BindingError(f"{shown}: not {what}", hint=spelling.example)
        key = name
        if key != "value" and key not in bound and key[:1] == "d" and key[1:] in bound:
            key = key[1:]
        if key in named or (key[:1] == "d" and key[1:] in named):
            if key in out:
                raise BindingError(f"{shown}: {key} is given twice",
                                   hint=f"already {spelling.lead} {written[key]}")
            out[key] = text
            written[key] = f"{name}={text}"
            continue
        if key != "value" and key not in bound:
            known = ", ".join([*bound, *(f"d{n}" for n in bound), *named,
                               *(f"d{n}" for n in named)])
            what = "a bound variable or a named value" if named else "a bound variable"
            raise BindingError(f"{shown}: {name} is not {what}",
                               hint="expect 'value' or one of: " + (known or
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


def named_values(program: str) -> list[str]:
    """The names a program gives its intermediates (`q` in `q = x + y; f = q * z`); none for
    a program that does not parse (its parse error is reported when it runs)."""
    from ..errors import BackpropError
    from ..language.parser import parse

    try:
        graph = parse(program)
    except BackpropError:
        return []
    return [s for i, s in graph.names.items() if s not in graph.variables and i not in
            graph.consts]


# --- grading, and what a wrong answer most likely is ---------------------------------------


def grade(ours: Any, text: str, what: str) -> Check:
    """The learner's `text` against backprop's number (or array) `ours`: each number right to
    the digits written. `what` names the quantity in messages (dx, q, value)."""
    from ..engine.forward import is_array
    from .scalar import expectation

    entries = array_entries(text)
    if entries is None:
        if is_array(ours):
            raise BindingError(f"expected {what}={text}: {what} is an array of shape "
                               f"{tuple(ours.shape)}", hint="write it as a nested list, "
                               "e.g. [[1, 2], [3, 4]]")
        return expectation(float(ours), text)
    import numpy as np

    nested, written = entries
    theirs = np.asarray(nested, dtype=float)
    if not is_array(ours) or theirs.shape != ours.shape:
        have = tuple(ours.shape) if is_array(ours) else "a number"
        raise BindingError(f"expected {what}={text}: that has shape {theirs.shape}, but "
                           f"{what} is {have}")
    from .arrays import ArrayCheck

    checks = [expectation(float(a), t) for a, t in zip(ours.ravel(), written)]
    wrong = [k for k, c in enumerate(checks) if c.status == "fail"]
    # The entry shown: the first wrong one, else the one furthest off.
    k = wrong[0] if wrong else max(range(len(checks)), key=lambda j: checks[j].rel_error or 0)
    at = tuple(int(i) for i in np.unravel_index(k, ours.shape))
    reason = (f"{len(wrong)} of {len(checks)} entries wrong; at {list(at)} you wrote "
              f"{written[k]}, backprop gets {_n(ours.ravel()[k])}") if wrong else ""
    return ArrayCheck("expected", "fail" if wrong else "pass", checks[k].reference,
                      checks[k].rel_error, reason, abs_error=checks[k].abs_error,
                      entries=len(checks), total=len(checks), worst=at)


def diagnose(check: Check, ours: Any, text: str, mistakes: list[tuple[float, str]]) -> Check:
    """A failed scalar check told in the lecture's words: the right number, and which of the
    usual mistakes (`mistakes`: what each would have given) the learner's number matches."""
    from ..engine.forward import is_array
    from .scalar import expectation

    if check.status != "fail" or is_array(ours) or array_entries(text) is not None:
        return check
    said = f"you wrote {text}, backprop gets {_n(ours)}"
    for wrong, words in mistakes:
        if math.isfinite(wrong) and expectation(wrong, text).status == "pass":
            return replace(check, reason=f"{said}: most likely {words}")
    return replace(check, reason=said)


def mistakes(rows: list, node: int, gradient: bool) -> list[tuple[float, str]]:
    """What the usual slips give for node's value or gradient, from the trace of the backward
    pass (the parts it added, the locals and upstreams it multiplied)."""
    r = rows[node]
    right = r.grad if gradient else r.value
    if right is None or hasattr(right, "shape"):
        return []
    out = [(-right, "a sign flip")] if right else []
    if not gradient:
        return out
    if r.fans_out:
        parts = " + ".join(_n(g) for _, g in r.contributions)
        for c, g in r.contributions:
            out.append((right - g, f"a missing fan-out term: {r.operand} is read {r.uses} "
                                   f"times and its gradient is the sum {parts} = {_n(right)} "
                                   f"(the part from #{c} is missing)"))
            out.append((g, f"a missing fan-out term: {r.operand} is read {r.uses} times and "
                           f"its gradient is the sum {parts} = {_n(right)}, not only the part "
                           f"from #{c}"))
    for c, _ in r.contributions:
        consumer = rows[c]
        for k, j in enumerate(consumer.inputs):
            local = consumer.local[k] if j == node else None
            if local is None or hasattr(local, "shape") or consumer.grad is None:
                continue
            partial = f"{consumer.grad_name}/{r.grad_name}"
            out.append((local, f"upstream and local mixed up: {_n(local)} is the local "
                               f"gradient {partial} alone; the chain rule multiplies it by the "
                               f"upstream {consumer.grad_name} = {_n(consumer.grad)}"))
            out.append((consumer.grad, f"upstream and local mixed up: {_n(consumer.grad)} is "
                                       f"the upstream {consumer.grad_name} alone; the chain "
                                       f"rule multiplies it by the local gradient {partial} = "
                                       f"{_n(local)}"))
            if OPS[consumer.op].kind == "switcher" and not hasattr(r.value, "shape"):
                out.append((consumer.grad * r.value,
                            f"a mul gate's inputs swapped: the local gradient {partial} is the "
                            f"other input's value, not {r.operand}'s own"))
    return out


def _n(x: Any) -> str:
    x = float(x)
    return "0" if x == 0 else f"{x:.6g}"

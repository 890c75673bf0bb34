"""Expected values (hand-derived numbers to grade): one set of rules for `eval --expect` and
for the expectations of a case file, so the two accept the same things with the same words.

An expectation is NAME=NUMBER. NAME is `value` (the program's output), a bound variable (its
gradient), or `dNAME` for a bound NAME (as the lecture writes dx) when `dNAME` itself is not
bound; or a named intermediate of the program (`q = x + y`): `q` is its forward value and `dq`
its gradient. NUMBER is a finite number as written ("-0.2" is graded to the digits it gives),
arithmetic on numbers (`0.0353*0.1966`, each number graded to its digits: checks/answers.py),
or for an array a nested list of numbers (`[[0.1, 0.2]]`), each entry graded to its own
digits; an answer of 0 is right within the rounding of the computation (checks/rounding.py).
Each quantity may be expected once: `dx=3` and `x=4` name the same gradient.

A wrong answer is told what it most likely is, in the lecture's words (a sign flip, a missing
fan-out term, upstream and local mixed up, a mul gate's inputs swapped, a broadcast not
summed), with the right number.
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
from . import answers
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
    if not _rectangular(nested):
        return None
    return nested, written


def _rectangular(nested: Any) -> bool:
    """Whether a nested list is an array's: every list at one depth has the same length, and
    numbers only at the deepest (a loop over a stack: the depth is the user's)."""
    shape: dict[int, int] = {}
    leaves: set[int] = set()
    stack = [(nested, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list):
            if shape.setdefault(depth, len(item)) != len(item):
                return False
            stack.extend((x, depth + 1) for x in item)
        else:
            leaves.add(depth)
    return len(leaves) <= 1 and (not leaves or max(leaves) == len(shape))


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
        if not is_answer(text) and not is_array_text(text):
            what = ("a list of finite numbers, each row as long as the others"
                    if text.strip()[:1] == "[" else "a finite number")
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


def answer(text: str) -> answers.Answer:
    """An expectation's text as an answer: a number as written, or arithmetic on numbers."""
    text = text.strip()
    if is_literal(text):
        return answers.number(text)
    return answers.read(text)


def is_answer(text: str) -> bool:
    """Whether text is a finite number or arithmetic on numbers with a finite value."""
    from ..errors import BackpropError

    if is_finite_number(text):
        return True
    if is_literal(text.strip()) or not text.strip():
        return False  # a number past float's range
    try:
        return math.isfinite(answers.read(text).value)
    except (BackpropError, ArithmeticError, ValueError, OverflowError):
        return False


def grade(ours: Any, text: str, what: str, floor: Callable[[], Any] | None = None) -> Check:
    """The learner's `text` against backprop's number (or array) `ours`, by the one grader of
    answers (checks/answers.py): right to the digits written, arithmetic carried through as
    intervals, and an answer of 0 right within `floor()`, the rounding `ours` may carry (asked
    only when an answer is 0). `what` names the quantity in messages (dx, q, value)."""
    from ..engine.forward import is_array

    entries = array_entries(text)
    if entries is None:
        if is_array(ours):
            raise BindingError(f"expected {what}={text}: {what} is an array of shape "
                               f"{tuple(ours.shape)}", hint="write it as a nested list, "
                               "e.g. [[1, 2], [3, 4]]")
        said = answer(text)
        limit = _floor_at(floor, None) if said.is_zero else 0.0
        return _check(float(ours), said, limit, text)
    import numpy as np

    nested, written = entries
    theirs = np.asarray(nested, dtype=float)
    if not is_array(ours) or theirs.shape != ours.shape:
        from .slips import broadcast_slip  # lecture's: names the slip, as grade does

        have = tuple(ours.shape) if is_array(ours) else "a number"
        slip = broadcast_slip(ours, theirs, [])
        raise BindingError(f"expected {what}={text}: that has shape {theirs.shape}, but "
                           f"{what} is {have}" + (f"; most likely {slip}" if slip else ""))
    from .reference import ArrayCheck
    from .slips import array_slip

    said = [answers.number(t) for t in written]
    limits = _floor_at(floor, ours.shape) if any(a.is_zero for a in said) else None
    checks = [_check(float(x), a, 0.0 if limits is None else float(limits.flat[k]), t)
              for k, (x, a, t) in enumerate(zip(ours.ravel(), said, written))]
    wrong = [k for k, c in enumerate(checks) if c.status == "fail"]
    # The entry shown: the first wrong one, else the one furthest off.
    k = wrong[0] if wrong else max(range(len(checks)), key=lambda j: checks[j].rel_error or 0)
    at = tuple(int(i) for i in np.unravel_index(k, ours.shape))
    reason = (f"{len(wrong)} of {len(checks)} entries wrong; at {list(at)} you wrote "
              f"{written[k]}, backprop gets {_n(ours.ravel()[k])}") if wrong else ""
    slip = array_slip(ours, said, wrong)
    reason += f": most likely {slip}" if slip else ""
    return ArrayCheck("expected", "fail" if wrong else "pass", checks[k].reference,
                      checks[k].rel_error, reason, abs_error=checks[k].abs_error,
                      floor=checks[k].floor, entries=len(checks), total=len(checks), worst=at)


def _check(ours: float, said: answers.Answer, floor: float, text: str) -> Check:
    from .scalar import expectation

    return expectation(ours, text, floor, said)


def _floor_at(floor: Callable[[], Any] | None, shape: tuple | None) -> Any:
    """The zero floor as a number (shape None) or an array of `shape`; 0 when unknown."""
    got = None if floor is None else floor()
    if shape is None:  # a number, or a number in an array program (a 0-d array)
        return 0.0 if got is None or getattr(got, "size", 1) != 1 else float(got)
    import numpy as np

    return np.broadcast_to(np.zeros(shape) if got is None else np.asarray(got, float), shape)


def zero_floors(graph: Any, values: list, grads: list) -> Callable[[int, bool], Any]:
    """floor(node, gradient): the rounding that node's value or gradient may carry
    (checks/rounding.py), computed once, on the first call."""
    cache: list = []

    def floor(node: int, gradient: bool) -> Any:
        if not cache:
            from .rounding import floors

            cache.extend(floors(graph, values, grads))
        return cache[1 if gradient else 0][node]
    return floor


def diagnose(check: Check, ours: Any, text: str, mistakes: list[tuple[float, str]]) -> Check:
    """A failed scalar check told in the lecture's words: the right number, and which of the
    usual mistakes (`mistakes`: what each would have given) the learner's answer matches, by
    the same grader that marked it wrong."""
    from ..engine.forward import is_array

    if check.status != "fail" or is_array(ours) or array_entries(text) is not None:
        return check
    said = f"you wrote {text}, backprop gets {_n(ours)}"
    given = answer(text)
    for wrong, words in mistakes:
        if answers.matches(wrong, given):
            return replace(check, reason=f"{said}: most likely {words}")
    return replace(check, reason=said)


def _called(row) -> str:
    """A consumer as a hint names it: its name or short text (q, x*y), or, for a long unnamed
    one, its number on the trace's screen, said as such (eval shows no numbers)."""
    if row.operand.startswith("#"):
        return f"node {row.ref} of the trace"
    wrapped = row.operand.startswith("(") and row.operand.endswith(")")
    return row.operand[1:-1] if wrapped else row.operand


def _sum_text(parts: list) -> str:
    """1 + 2 - 3: a negative part is subtracted, as the trace writes fan-out sums."""
    text = _n(parts[0])
    for g in parts[1:]:
        text += f" - {_n(-g)}" if g < 0 else f" + {_n(g)}"
    return text


def mistakes(rows: list, node: int, gradient: bool) -> list[tuple[float, str]]:
    """What the usual slips give for node's value or gradient, from the trace of the backward
    pass (the parts it added, the locals and upstreams it multiplied). Only slips that give one
    number are named: where a number is broadcast over an array (`x + a` with a vector x), the
    consumer's upstream and local are arrays and no single product is the slip."""
    r = rows[node]
    right = r.grad if gradient else r.value
    if not _number(right):
        return []
    out = [(-right, "a sign flip")] if right else []
    if not gradient:
        return out
    if r.fans_out and all(_number(g) for _, g in r.contributions):
        parts = _sum_text([g for _, g in r.contributions])
        for c, g in r.contributions:
            out.append((right - g, f"a missing fan-out term: {r.operand} is read {r.uses} "
                                   f"times and its gradient is the sum {parts} = {_n(right)} "
                                   f"(the part through {_called(rows[c])} is missing)"))
            out.append((g, f"a missing fan-out term: {r.operand} is read {r.uses} times and "
                           f"its gradient is the sum {parts} = {_n(right)}, not only the part "
                           f"through {_called(rows[c])}"))
    for c, _ in r.contributions:
        consumer = rows[c]
        if not _number(consumer.grad):
            out.extend(_broadcast_slips(r, consumer, node))
            continue
        for k, j in enumerate(consumer.inputs):
            local = consumer.local[k] if j == node else None
            if not _number(local):
                continue
            partial = f"{consumer.grad_name}/{r.grad_name}"
            out.extend(_routed(r, consumer, local))
            out.append((local, f"upstream and local mixed up: {_n(local)} is the local "
                               f"gradient {partial} alone; the chain rule multiplies it by the "
                               f"upstream {consumer.grad_name} = {_n(consumer.grad)}"))
            out.append((consumer.grad, f"upstream and local mixed up: {_n(consumer.grad)} is "
                                       f"the upstream {consumer.grad_name} alone; the chain "
                                       f"rule multiplies it by the local gradient {partial} = "
                                       f"{_n(local)}"))
            if OPS[consumer.op].kind == "switcher" and _number(r.value):
                out.append((consumer.grad * r.value,
                            f"a mul gate's inputs swapped: the local gradient {partial} is the "
                            f"other input's value, not {r.operand}'s own"))
    return out


def _routed(r: Any, consumer: Any, local: float) -> list[tuple[float, str]]:
    """The losing side of max (or min, clip at a bound) given the upstream anyway: a router
    sends the whole upstream to one input (lecture's diagnosis, said before the mix-up one
    that gives the same number)."""
    if OPS[consumer.op].kind != "router" or local != 0 or not consumer.grad:
        return []
    gate = OPS[consumer.op].name
    which = {"max": "larger", "min": "smaller"}.get(gate)
    where = f"the {which} input" if which else "one input"
    return [(consumer.grad, f"{gate} routes the gradient to {where} only: "
                            f"{r.operand} = {_n(r.value)} is not it, so it gets 0 through "
                            f"{_called(consumer)} (the whole upstream {_n(consumer.grad)} goes "
                            f"to the other side)")]


def _broadcast_slips(r: Any, consumer: Any, node: int) -> list[tuple[float, str]]:
    """A number broadcast over an array's entries gets the sum of their parts: one entry's
    part alone is the slip (when every entry sends the same)."""
    import numpy as np

    out = []
    for k, j in enumerate(consumer.inputs):
        local = consumer.local[k] if j == node else None
        if local is None or consumer.grad is None:
            continue
        parts = np.asarray(consumer.grad * local, dtype=float)
        if parts.size > 1 and np.all(parts == parts.flat[0]):
            out.append((float(parts.flat[0]),
                        f"a broadcast not summed: {r.operand} is used by each of the "
                        f"{parts.size} entries of {consumer.operand}, and its gradient is the "
                        f"sum of their parts, {parts.size} x {_n(parts.flat[0])}"))
    return out


def _number(x: Any) -> bool:
    """A plain number, a numpy scalar included (not None, not an array)."""
    if x is None or isinstance(x, bool):
        return False
    if isinstance(x, (int, float)):
        return True
    return type(x).__module__ == "numpy" and getattr(x, "shape", None) == ()


def _n(x: Any) -> str:
    x = float(x)
    return "0" if x == 0 else f"{x:.6g}"

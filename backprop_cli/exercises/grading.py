"""A learner's answers -> marks, with hints in upstream x local terms, and filled-in worksheets
read back.

An answer is a number or arithmetic on numbers in the program language (`0.39`, `-4*3`,
`0.0353*0.1966`), graded by the one grader `--expect` uses (checks/answers.py): right when the
true value lies within the rounding of the numbers as written, carried through the arithmetic.
A wrong answer's hint names the upstream gradient and the local factor each consumer
multiplies, and says which common slip the grader would have marked it right for: the
upstream alone, the local gradient alone, one consumer's part of a fan-out, the wrong sign.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..checks.answers import Answer, matches
from ..errors import BackpropError
from .circuits import Exercise, Question

# The exercise line a worksheet starts with; each field is read loosely here and then checked
# as any input is (a sheet is the learner's file: it may hold anything).
SHEET_MARK = re.compile(r"<!-- backprop quiz --seed (\S+) --ops (\S+) --nodes (\S+) -->")
SHEET_START = "<!-- backprop quiz"
MAX_SEED = 10**18 - 1  # seeds have at most 18 digits, on the command line and in a sheet
ANSWER_ROW = re.compile(r"^\|\s*∂f/∂(\w+)\s*\|([^|\n]*)\|")


@dataclass(frozen=True)
class Mark:
    name: str
    right: bool
    given: str  # the answer as written ("" when unanswered)
    answer: float
    hint: str = ""  # for a wrong answer: upstream x local, and the slip it looks like


def mark(question: Question, text: str, precision: int = 6) -> Mark:
    """Grade one answer (already known to parse, or raising ParseError) by the one grader of
    answers (checks/answers.py), as --expect grades it: right to the digits written, arithmetic
    carried through as intervals, 0 right within the rounding of the parts that were added."""
    from ..checks.answers import judge
    from ..checks.expectations import answer
    from ..checks.rounding import ROUNDING_FACTOR

    text = text.strip()
    if not text:
        return Mark(question.name, False, "", question.answer, explain(question, precision))
    said = answer(text)
    floor = ROUNDING_FACTOR * 2.0 ** -53 * sum(abs(p.part) for p in question.parts)
    right = judge(question.answer, said, floor)[0]
    hint = "" if right else slip(question, said, precision) + explain(question, precision)
    return Mark(question.name, right, text, question.answer, hint)


def explain(q: Question, precision: int = 6) -> str:
    """df/dn = sum over n's consumers of upstream x local, with the numbers."""
    def num(x: float) -> str:
        return _num(x, precision)

    if len(q.parts) == 1:
        p = q.parts[0]
        return (f"∂f/∂{q.name} = {p.upstream_symbol} × {p.local_symbol(q.name)} = "
                f"{num(p.upstream)} × {_paren(num(p.local))} = {num(q.answer)}: upstream from "
                f"{p.consumer}, local factor of {p.statement} ({p.role})")
    terms = " + ".join(f"{p.upstream_symbol} × {p.local_symbol(q.name)}" for p in q.parts)
    values = " + ".join(f"{num(p.upstream)} × {_paren(num(p.local))}" for p in q.parts)
    where = "; ".join(f"{p.statement}: {p.role}" for p in q.parts)
    return (f"{q.name} feeds {len(q.parts)} gates, so its gradient is the sum: ∂f/∂{q.name} = "
            f"{terms} = {values} = {num(q.answer)} ({where})")


def slip(q: Question, said: Answer, precision: int = 6) -> str:
    """What a wrong answer looks like, when the grader would mark it right for a common
    mistake."""
    def same(answered: Answer, mistake: float) -> bool:
        return mistake != q.answer and matches(mistake, answered)

    value = said

    if len(q.parts) == 1:
        p = q.parts[0]
        if same(value, p.upstream):
            return (f"That is the upstream gradient {p.upstream_symbol} alone; multiply it by the "
                    f"local gradient {p.local_symbol(q.name)}. ")
        if same(value, p.local):
            return (f"That is the local gradient {p.local_symbol(q.name)} alone; multiply it by "
                    f"the upstream gradient {p.upstream_symbol}. ")
    for p in q.parts if len(q.parts) > 1 else ():
        if same(value, p.part):
            return (f"That is only what {p.consumer} sends back; {q.name} fans out, so add "
                    "every consumer's part. ")
    if same(value, -q.answer):
        return "The sign is wrong. "
    return ""


def _num(x: float, precision: int) -> str:
    x = float(x)
    return "0" if x == 0 else f"{x:.{precision}g}"


def _paren(text: str) -> str:
    return f"({text})" if text.startswith("-") else text


# --- worksheets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sheet:
    seed: int
    ops: tuple[str, ...]
    nodes: int
    answers: dict[str, tuple[str, int]]  # name -> (answer text, its offset in the file)


def read_sheet(text: str, path: str) -> Sheet:
    """The exercise a worksheet was made from and the answers written in it. A sheet without
    its exercise line, a line naming no exercise the quiz makes, or an answer that does not
    parse, raises (exit 2) pointing at the place in the sheet."""
    found = SHEET_MARK.search(text)
    if found is None:
        at = text.find(SHEET_START)
        if at >= 0:
            end = text.find("\n", at)
            raise BackpropError("the exercise line is not '<!-- backprop quiz --seed N "
                                "--ops LIST --nodes N -->'", text,
                                (at, end if end >= 0 else len(text)),
                                hint="write a new sheet with backprop quiz --worksheet FILE")
        raise BackpropError(f"{path}: not a backprop worksheet (its first lines name the "
                            "exercise: <!-- backprop quiz --seed N ... -->)",
                            hint="write one with backprop quiz --worksheet FILE")
    seed, ops, nodes = _exercise(found, text)
    answers: dict[str, tuple[str, int]] = {}
    offset = 0
    for line in text.splitlines(keepends=True):
        row = ANSWER_ROW.match(line)
        if row:
            cell = row.group(2)
            start = offset + row.start(2) + (len(cell) - len(cell.lstrip()))
            answers[row.group(1)] = (cell.strip(), start)
        offset += len(line)
    if not answers:
        raise BackpropError(f"{path}: no answer rows (| ∂f/∂a | your answer |) were found")
    return Sheet(seed, ops, nodes, answers)


def _exercise(found: re.Match, text: str) -> tuple[int, tuple[str, ...], int]:
    """(seed, ops, nodes) from the exercise line, each checked as the command line checks
    it; a bad one raises with its place in the sheet."""
    from .circuits import MAX_NODES, resolve_ops

    def bad(group: int, message: str, hint: str | None = None) -> BackpropError:
        return BackpropError(message, text, found.span(group), hint)

    seed_text, ops_text, nodes_text = found.groups()
    if not re.fullmatch(r"-?[0-9]{1,18}", seed_text):
        raise bad(1, "the sheet's --seed is not a whole number of at most 18 digits",
                  hint="write a new sheet with backprop quiz --worksheet FILE")
    if not re.fullmatch(r"[0-9]{1,2}", nodes_text) or not 1 <= int(nodes_text) <= MAX_NODES:
        raise bad(3, f"the sheet's --nodes is not a number from 1 to {MAX_NODES}")
    try:
        ops = resolve_ops(ops_text)
    except BackpropError as err:
        raise bad(2, "the sheet's " + err.message, err.hint) from None
    return int(seed_text), ops, int(nodes_text)


def grade_sheet(exercise: Exercise, sheet: Sheet, text: str, precision: int = 6) -> list[Mark]:
    """Every question's mark; an answer that does not parse raises ParseError pointing into the
    worksheet's text (so the CLI can say file:line:col)."""
    marks = []
    for q in exercise.questions:
        given, at = sheet.answers.get(q.name, ("", 0))
        try:
            marks.append(mark(q, given, precision))
        except BackpropError as err:
            span = None if err.span is None else (err.span[0] + at, err.span[1] + at)
            raise type(err)(err.message, text, span, err.hint) from None
    return marks

"""Results -> plain, unboxed text for pipes and files (aligned columns, no colour, no markup)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from ..evaluate import Result
from . import numbers

if TYPE_CHECKING:  # a feature's module is imported where the feature is shown (lean start-up)
    from ..engine.trace import TraceRow
    from . import matrices


def columns(header: list[str], rows: Iterable[list[str]]) -> Iterator[str]:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    rows = list(rows)
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    for r in [header, *rows]:
        cells = [c.ljust(w) for c, w in zip(r[:-1], widths)] + [r[-1]]
        yield "  ".join(cells).rstrip()


def check_columns(result: Result) -> list[str]:
    """Which check methods appear, in a fixed order."""
    present = {c.method for r in result.rows for c in r.checks}
    return [m for m in ("sympy", "finite-difference", "expected") if m in present]


def verdict(result: Result) -> str:
    """One line that says what the checks found, and no more than they found. It words the
    case's one verdict (`result.status`, checks/verdict.py): FAILED exactly when the status is
    "fail", whatever failed (a gradient, an expected number, a claim, the Hessian)."""
    noun = "Jacobian" if result.jacobian is not None else "gradient"
    if result.status == "fail":
        return "FAILED: " + "; ".join(_failures(result, noun))
    value = _values_confirmed(result)
    n = len(result.rows)
    if n == 0:
        return value + "no variables: the program has nothing to differentiate"
    if not any(r.checks for r in result.rows):
        why = "--no-check" if not result.checked else "no check was asked for"
        return f"{value}not checked ({why})"
    if all(r.verdict == "pass" for r in result.rows):
        return _all_confirmed(result, noun)
    return _some_unconfirmed(result, noun)


def _failures(result: Result, noun: str) -> list[str]:
    """What failed, each kind once: a disagreement between backprop and a reference is a
    different failure from a wrong hand-derived answer, so the line says which happened."""
    n = len(result.rows)
    disagree = [r.name for r in result.rows
                if any(c.status == "fail" and c.method != "expected" for c in r.checks)]
    unexpected = [r.name for r in result.rows
                  if any(c.status == "fail" and c.method == "expected" for c in r.checks)]
    unnamed = [key for key, c in result.named_checks if c.status == "fail"]
    hessian = [_METHOD_WORDS.get(c.method) or _HESSIAN_WORDS.get(c.method, c.method)
               for c in result.hessian_checks if c.status == "fail"]
    wrong = [c.claim.name for c in result.claims if c.status == "fail"]
    parts = []
    if disagree:
        parts.append(f"the {noun} disagrees ({disagree[0]})" if n == 1 else
                     f"{len(disagree)} of {n} {noun}s disagree ({', '.join(disagree)})")
    if unexpected:
        parts.append(f"not the expected gradient: {', '.join(unexpected)}")
    if unnamed:
        parts.append(f"not the expected number: {', '.join(unnamed)}")
    if any(c.status == "fail" for c in result.value_checks):
        parts.append("the value is not the expected one")
    if wrong:
        parts.append("a claim does not hold: " + ", ".join(f"d{n}" for n in wrong))
    if hessian:
        # The gradients may still be right: say so, since the Hessian's failure decides.
        rows = f" ({_all_confirmed(result, noun)})" if len(parts) == 0 and result.rows and \
            all(r.verdict == "pass" for r in result.rows) else ""
        parts.append("the Hessian disagrees with " + " and ".join(hessian) + rows)
    return parts


def _values_confirmed(result: Result) -> str:
    """Where the gradients had no check, a graded value is the one thing that was confirmed."""
    value = "the value is the expected one; " if result.value_checks else ""
    if result.named_checks:
        value += f"{', '.join(k for k, _ in result.named_checks)} as expected; "
    return value


def _ran(result: Result) -> list[str]:
    """The methods that checked some gradient, in a fixed order."""
    return [m for m in _METHOD_WORDS
            if any(c.method == m for r in result.rows for c in r.checks)]


def _all_confirmed(result: Result, noun: str) -> str:
    """Every gradient confirmed. A method is named as agreeing only where it passed on every
    gradient it checked; where it did not, the line counts what it found instead."""
    n = len(result.rows)
    ran = _ran(result)
    full = [m for m in ran if all(c.status == "pass" for r in result.rows for c in r.checks
                                  if c.method == m)]
    methods = " and ".join(_METHOD_WORDS[m] for m in full)
    partial = "; ".join(_partial(result, m) for m in ran if m not in full)
    head = (f"the {noun} agrees with {methods}" if n == 1 else
            f"all {n} {noun}s agree with {methods}") if methods else \
        (f"the {noun} is confirmed" if n == 1 else f"all {n} {noun}s are confirmed")
    return f"{head}; {partial}" if partial else head


def _some_unconfirmed(result: Result, noun: str) -> str:
    """Checks ran but did not confirm some gradients: what they found instead, once per
    reason, and which methods confirmed the rest."""
    n = len(result.rows)
    unconfirmed = [r for r in result.rows if r.verdict != "pass"]
    groups = _by_reason(unconfirmed)
    confirmed = [r for r in result.rows if r.verdict == "pass"]
    if not confirmed:
        if n == 1:
            return _unchecked_group(*groups[0])
        if len(groups) == 1:  # one reason for all: the count, a few names, the reason once
            names, reason = groups[0]
            return f"{len(names):,} of {n:,} {noun}s unchecked ({_few(names)}): {reason}"
        return (f"{len(unconfirmed):,} of {n:,} {noun}s unchecked: "
                f"{_unchecked_groups(groups, noun)}")
    by = " and ".join(_METHOD_WORDS[m] for m in _ran(result)
                      if all(any(c.method == m and c.status == "pass" for c in r.checks)
                             for r in confirmed))
    by = f" by {by}" if by else ""
    return f"{len(confirmed):,} of {n:,} {noun}s confirmed{by}; {_unchecked_groups(groups, noun)}"


NAMES_SHOWN = 4  # unchecked variables a summary names in one group; past it, three, …, the last
GROUPS_SHOWN = 3  # reasons a summary spells out; the rest are counted (--json has each one)


def _by_reason(rows) -> list[tuple[list[str], str]]:
    """The unconfirmed gradients grouped by why (in order of first appearance): thousands of
    variables over one budget share one reason, and the summary says it once."""
    groups: dict[str, list[str]] = {}
    for r in rows:
        groups.setdefault(r.unchecked_reason, []).append(r.name)
    return [(names, reason) for reason, names in groups.items()]


def _few(names: list[str]) -> str:
    """'x833, x834, x835, …, x2999': the first few names and the last."""
    if len(names) <= NAMES_SHOWN:
        return ", ".join(names)
    return ", ".join([*names[:NAMES_SHOWN - 1], "…", names[-1]])


def _unchecked_group(names: list[str], reason: str, noun: str = "gradient") -> str:
    """'x: unchecked (why)', or '30 gradients (x10, x11, x12, …, x39): unchecked (why)'."""
    who = names[0] if len(names) == 1 else f"{len(names):,} {noun}s ({_few(names)})"
    return f"{who}: unchecked ({reason})"


def _unchecked_groups(groups: list[tuple[list[str], str]], noun: str = "gradient") -> str:
    shown = [_unchecked_group(*g, noun) for g in groups[:GROUPS_SHOWN]]
    rest = groups[GROUPS_SHOWN:]
    if rest:
        count = sum(len(names) for names, _ in rest)
        shown.append(f"{count:,} more unchecked for {len(rest):,} other reason"
                     f"{'s' if len(rest) > 1 else ''} (--json lists each)")
    return "; ".join(shown)


def _partial(result: Result, method: str) -> str:
    """'finite differences agree on 1 of 2 (x: inconclusive)': a method that did not pass on
    every gradient, counted, with what it found where it did not."""
    mine = [(r.name, c) for r in result.rows for c in r.checks if c.method == method]
    passed = sum(c.status == "pass" for _, c in mine)
    others = ", ".join(f"{name}: {c.status}" for name, c in mine if c.status != "pass")
    verb = "agrees" if method == "sympy" else "agree"  # sympy is one; the others are many
    return f"{_METHOD_WORDS[method]} {verb} on {passed} of {len(mine)} ({others})"


_METHOD_WORDS = {"sympy": "sympy", "finite-difference": "finite differences",
                 "expected": "the expected values"}
# Words for the Hessian's own check (its references share the gradients' words).
_HESSIAN_WORDS = {"symmetry": "its own transpose"}


def node_title(name: str | None, text: str) -> str:
    """A node as its statement reads: 'q = x + y', an unnamed 'a*z', and an augmented
    assignment as written ('q += z': its text already names what it assigns)."""
    from ..language.lexer import AUGMENTED

    if not name or name == text:
        return text
    head, _, rest = text.partition(" ")
    if head == name and rest.partition(" ")[0] in AUGMENTED:
        return text
    return f"{name} = {text}"


def variable_shape(result: Result, row) -> str:
    """The shape column: the variable's own shape (a vector output's Jacobian row holds the
    output's axes too, which its matrix below names)."""
    return numbers.shape(result.bindings.get(row.name, row.gradient))


def eval_text(result: Result, precision: int) -> str:
    lines = [f"value  {numbers.number(result.value, precision)}"]
    for c in result.value_checks:
        lines.append(f"expected value: {numbers.check(c)}")
    for key, c in result.named_checks:
        lines.append(f"expected {key}: {numbers.check(c)}")
    lines.append("")
    methods = check_columns(result)
    shaped = has_arrays(result)
    jacobian = result.jacobian is not None  # the matrices follow the table
    header = ["name", *(["shape"] if shaped else []), *([] if jacobian else ["gradient"]),
              *methods]
    body = []
    for r in result.rows:
        by = {c.method: c for c in r.checks}
        body.append([r.name, *([variable_shape(result, r)] if shaped else []),
                     *([] if jacobian else [numbers.number(r.gradient, precision)]),
                     *[numbers.check(by.get(m)) for m in methods]])
    lines.extend(columns(header, body))
    if jacobian:
        from . import matrices

        for m in matrices.jacobian_matrices(result, precision):
            lines.append("")
            lines.extend(matrix_lines(m))
    formulas = [r for r in result.rows if r.formula]
    if formulas:
        lines.append("")
        lines.extend(f"d/d{r.name} = {r.formula}" for r in formulas)
        if any(" @ " in r.formula for r in formulas):
            from ..checks.formulas import MATRIX_NOTE

            lines.append(MATRIX_NOTE)
    if result.hessian is not None:
        from . import matrices

        lines.append("")
        lines.extend(matrix_lines(matrices.hessian_matrix(result, precision)))
        lines.extend(matrices.hessian_check_lines(result))
    if result.claims:
        lines.append("")
        lines.extend(numbers.claim(c, precision) for c in result.claims)
    lines.append("")
    lines.append(verdict(result))
    hessian = matrices.hessian_verdict(result) if result.hessian is not None else None
    if hessian:
        lines.append(hessian)
    return "\n".join(lines)


def expectation_lines(result: Result, given: Sequence[str] = ()) -> list[str]:
    """`expected dq: pass 0.0e+00`, one line per graded number (trace --expect), in the order
    the learner gave them (`given`, the NAME=VALUE texts), then a FAILED line naming the wrong
    ones."""
    graded = [("value", c) for c in result.value_checks]
    graded += [(f"d{r.name}", c) for r in result.rows for c in r.checks]
    graded += list(result.named_checks)
    # A bound variable's bare name grades its gradient (x=-4 is dx), as eval's --expect does.
    keys = [name if name in ("value", *(k for k, _ in result.named_checks)) else
            (f"d{name}" if name in result.graph.variables else name)
            for name in (text.partition("=")[0].strip() for text in given)]
    graded.sort(key=lambda kc: keys.index(kc[0]) if kc[0] in keys else len(keys))
    lines = [f"expected {key}: {numbers.check(c)}" for key, c in graded]
    wrong = [key for key, c in graded if c.status == "fail"]
    if wrong:
        lines += ["", f"FAILED: {len(wrong)} of {len(graded)} expected numbers are wrong "
                      f"({', '.join(wrong)})"]
    return lines


def matrix_lines(m: matrices.Matrix) -> list[str]:
    """A labelled matrix as aligned columns, its row labels on the left."""
    lines = [m.title]
    if m.cells is None:
        lines.append(f"  ({m.summary})")
    elif m.rows:
        lines.extend("  " + line for line in columns(["", *m.columns],
                                                      [[r, *c] for r, c in zip(m.rows, m.cells)]))
    if m.note:
        lines.append(m.note)
    return lines


def has_arrays(result: Result) -> bool:
    """Whether the shape column is worth showing: some gradient or the value is an array."""
    return numbers.is_array(result.value) or any(numbers.is_array(r.gradient)
                                                 for r in result.rows)


def trace_lines(rows: list[TraceRow], precision: int,
                backward: bool = False) -> Iterator[str]:
    """The trace as aligned columns, a row per node (constants folded into their gates), then
    the fan-out sums. `backward` lists the nodes from the output back."""
    shaped = any(r.shape for r in rows)
    header = ["id", "node", "op", "inputs", *(["shape"] if shaped else []), "value",
              "upstream", "local", "downstream", "gate"]
    body = []
    for r in (reversed(rows) if backward else rows):
        if r.hidden:
            continue
        shown = r.shown_inputs
        body.append([
            r.ref, r.name or r.text, r.gate,
            ", ".join(rows[r.inputs[k]].ref for k in shown) or "-",
            *([numbers.shape(r.value)] if shaped else []),
            numbers.number(r.value, precision),
            numbers.number(r.grad, precision),
            ", ".join(_local(r, k, precision) for k in shown) or "-",
            ", ".join(numbers.number(r.downstream[k], precision) for k in shown) or "-",
            r.role.split(":")[0],
        ])
    yield from columns(header, body)
    fans = [r for r in rows if r.fans_out]
    if fans:
        yield ""
        for r in (reversed(fans) if backward else fans):
            yield fan_out_line(r, precision, rows)


JACOBIAN_CELL = "Jacobian"  # an array op's local gradient: a matrix, applied, never formed


def _local(r: TraceRow, k: int, precision: int) -> str:
    """A local gradient; `Jacobian` where the op's local gradient is a Jacobian applied to the
    upstream gradient without being written out (trace --jacobian writes it), `-` where no
    gradient flows at all (a gate of constants alone)."""
    if r.local[k] is not None:
        return numbers.number(r.local[k], precision)
    return "-" if r.grad is None else JACOBIAN_CELL


def feeds_text(r: TraceRow) -> str:
    """'feeds 2 nodes (3 uses)': distinct consumers, and the uses when one reads it twice."""
    n = len(r.consumers)
    feeds = f"feeds {n} node{'s' if n > 1 else ''}"
    return feeds + (f" ({r.uses} uses)" if r.uses != n else "")


FAN_OUT_SHOWN = 8  # consumers a fan-out line names one by one; past it, the first and last few


def signed_sum(terms: list[str]) -> str:
    """Terms written as a sum the way a person writes one: '2 - 0.0357', never '2 + -0.0357'.
    Each term is a number's text, possibly followed by words ('3 (from #2)'); a term that is
    itself a sum keeps its plus."""
    out = ""
    for k, t in enumerate(terms):
        if k == 0:
            out = t
        elif t.startswith("-") and " + " not in t and " - " not in t:
            out += " - " + t[1:]
        else:
            out += " + " + t
    return out


def fan_out_line(r: TraceRow, precision: int, rows: Sequence[TraceRow] | None = None) -> str:
    """'fan-out: #0 x feeds 2 nodes (3 uses); its gradient 7 = 3 + 3 (from #1) + 1 (from #2)':
    the parts one consumer sent are grouped under it; a negative part is subtracted."""
    feeds = feeds_text(r)
    sent: dict[int, list[str]] = {c: [] for c in r.consumers}
    for k, g in r.contributions:  # one pass: a value can feed 10^5 consumers
        sent[k].append(numbers.number(g, precision))
    ref = (lambda c: rows[c].ref) if rows is not None else (lambda c: f"#{c}")  # noqa: E731
    groups = [signed_sum(parts) + f" (from {ref(c)})" for c, parts in sent.items()]
    if len(groups) > FAN_OUT_SHOWN:  # the line stays readable: its two ends and a count
        head, tail = FAN_OUT_SHOWN - 2, 2
        groups = [*groups[:head], f"... ({len(groups) - head - tail} more)", *groups[-tail:]]
    return (f"fan-out: {r.ref} {r.name or r.text} {feeds}; its gradient "
            f"{numbers.number(r.grad, precision)} = {signed_sum(groups)}")


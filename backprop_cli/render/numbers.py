"""How numbers, arrays and check results read in tables (shared by the plain and rich views)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..engine.forward import is_array

if TYPE_CHECKING:
    from ..checks.scalar import Check

FULL_ARRAY_ENTRIES = 64  # arrays up to this size print in full; larger ones are summarised


def number(x: Any, precision: int = 6) -> str:
    """`precision` significant digits, without a '-0' or a trailing exponent for small ints."""
    if x is None:
        return "-"
    if is_array(x):
        return array(x, precision)
    x = float(x)
    if x == 0:
        return "0"
    text = f"{x:.{precision}g}"
    return text


def array(x: Any, precision: int = 6) -> str:
    import numpy as np

    if x.size <= FULL_ARRAY_ENTRIES:
        # One line: numpy starts each row of a matrix on a new line even when it would fit.
        return np.array2string(np.asarray(x), precision=precision, separator=", ",
                               suppress_small=False, max_line_width=10_000,
                               formatter={"float_kind": lambda v: number(v, precision)}
                               ).replace("\n", "")
    return (f"array{tuple(x.shape)} min {number(x.min(), precision)} "
            f"max {number(x.max(), precision)} mean {number(x.mean(), precision)}")


GRID_COLUMNS = 8  # a matrix this narrow (and small) prints as a grid of aligned columns


def grid(x: Any, precision: int = 6) -> str:
    """A small matrix as rows of right-aligned columns, one line per row, as a page draws it;
    anything else as `number` gives it (numbers, vectors, large arrays summarised)."""
    if not (is_array(x) and x.ndim == 2 and x.size <= FULL_ARRAY_ENTRIES
            and x.shape[1] <= GRID_COLUMNS):
        return number(x, precision)
    cells = [[number(v, precision) for v in row] for row in x.tolist()]
    widths = [max(len(row[k]) for row in cells) for k in range(x.shape[1])]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(f"[{line}]" for line in lines)


def factor(text: str) -> str:
    """A negative factor in a product is parenthesised, 1 × (-4), as the quiz's hints and the
    write-ups print it (the lecture's (-1/1.37^2)(1.00))."""
    return f"({text})" if text.startswith("-") else text


def shape(x: Any) -> str:
    return "x".join(str(n) for n in x.shape) if is_array(x) else "scalar"


def check(c: Check | None) -> str:
    """'pass 1.4e-16', 'pass abs 3.6e-11' (the absolute floor decided it), 'pass 5.0e-12
    ±3e-13' (extrapolated finite differences, with their own error bound), 'FAIL 3.2e-02 (ref
    1.5)', 'subgradient: at a kink sympy's convention gives 0.5', 'skipped: why',
    'inconclusive: why'."""
    if c is None:
        return "-"
    scope = getattr(c, "scope", "")  # array checks: how many entries were compared
    if c.status == "pass":
        text = f"pass {figure(c)}" if c.rel_error is not None else "pass"
        note = "; ".join(p for p in (scope, c.reason if scope else "") if p)
        return f"{text} ({note})" if note else text
    if c.method == "expected" and c.status == "fail" and c.reason:
        # The learner's number is theirs, not a reference: say what they wrote, what backprop
        # gets, and the likely slip (checks/expectations.py words it).
        return f"FAIL: {c.reason}"
    worst = getattr(c, "worst", None)
    at = f" at {list(worst)}" if worst else ""
    if c.status == "subgradient" and c.rel_error is not None:
        # On a kink the derivative does not exist: a relative error against a reference
        # measures no mistake. sympy's value there is its own convention (Heaviside(0) = 1/2),
        # worth showing; a difference quotient across the jump is not.
        found = (f"sympy's convention gives {number(c.reference, 10)}{at}"
                 if c.method == "sympy" else "the slope jumps; no derivative to compare")
        return f"subgradient: at a kink {found}" + (f" ({scope})" if scope else "")
    if c.status == "fail" and c.rel_error is not None:
        return f"FAIL {figure(c)} (ref {number(c.reference, 10)}{at}; {scope})" \
            if scope else f"FAIL {figure(c)} (ref {number(c.reference, 10)})"
    text = f"{c.status}: {c.reason}" if c.reason else c.status
    return f"{text} ({scope})" if scope else text


def check_short(c: Check | None) -> str:
    """A check in a narrow column: 'pass 2e-11', 'FAIL 3e-02', or the status word alone;
    the full text (`check`) is in --json and in a wider window."""
    if c is None:
        return "-"
    err = c.abs_error if c.floor and c.abs_error is not None else c.rel_error
    word = "FAIL" if c.status == "fail" else c.status
    if c.status in ("pass", "fail") and err is not None:
        return f"{word} {err:.0e}" if err else f"{word} 0"
    return word


def figure(c: Check) -> str:
    """The number a check is judged by: the relative error, or the absolute difference when
    the absolute floor decided it; with the finite difference's own error bound when known."""
    text = f"abs {c.abs_error:.1e}" if c.floor and c.abs_error is not None else \
        f"{c.rel_error:.1e}"
    bound = getattr(c, "bound", None)
    if bound is not None:
        text += f" ±{bound:.0e}" if bound == bound and bound != float("inf") else " ±?"
    return text


# A value and a gradient are not verdicts: their colours are not pass's green or fail's red, so
# a column of gradients never reads as a column of errors.
VALUE_STYLE = "cyan"
GRAD_STYLE = "magenta"
STATUS_STYLE = {"pass": "green", "fail": "bold red", "skipped": "yellow",
                "inconclusive": "yellow", "subgradient": "yellow"}


def claim(c, precision: int = 6) -> str:
    """One claim's grade: 'claim dx = 2*x: pass (sympy proof; 33 points agree)', or the
    counterexample with both values."""
    read = getattr(c, "columns", ())
    head = f"claim {c.claim.shown}: " if not read else (
        f"claim {c.claim.shown} ({', '.join(read)} read as "
        f"{'a column' if len(read) == 1 else 'columns'}, n x 1): ")
    if c.status == "pass":
        how = (f"sympy proof; {c.points} points agree" if c.method == "sympy" else
               f"{c.points} points agree; {c.reason}" if c.reason else
               f"{c.points} points agree")
        return head + f"pass ({how})"
    if c.status == "inconclusive":
        return head + f"inconclusive ({c.reason})"
    ex = c.counterexample or {}
    point = ", ".join(f"{n}={number(_value(v), precision)}"
                      for n, v in ex.get("point", {}).items())
    claimed = ex.get("claimed")
    ours = number(_value(ex.get("backprop")), precision)
    from ..checks.claims import DIFFERS  # only a run with --claim reaches here

    if claimed is None or not c.reason.startswith(DIFFERS):
        return head + f"FAIL at {point}: {c.reason}; backprop gives {ours}"
    rest = c.reason[len(DIFFERS):]
    return (head + f"FAIL at {point}: the claim gives {number(_value(claimed), precision)}, "
            f"backprop {ours}{rest}")


def _value(x):
    """A plain (JSON-ready) value back as a number or an array, for `number`."""
    if isinstance(x, list):
        import numpy as np

        return np.array(x, dtype=float)
    return x

"""The one reference record and the one comparison, for a derivative of any order.

A gradient, a Jacobian block and a Hessian are all derivatives with respect to the variables'
entries. Whatever produced a reference for one (sympy's chained derivative, or a finite
difference by numeric.py's kink-aware, step-shrinking method, whose re-measuring is part of
producing it), it is a `Reference`: the method, its values entry by entry, which entries it
reached, and why not the rest; a finite difference's also carries each entry's error bound
and why an entry cannot decide ("inconclusive"). `compare_entries` grades backprop's entries
against one, the same way for every order and shape (a number is a 0-d array), and `fold`
makes them one `ArrayCheck`: the status vocabulary of scalar.py, the worst entry's figures,
and how many entries were compared.
What the checks of a case add up to is verdict.py's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from .scalar import FD_ATOL, FD_RTOL, SYMPY_ATOL, SYMPY_RTOL, Check, compare, grade_slope


@dataclass(frozen=True)
class Reference:
    """A reference derivative: `values` shaped like backprop's (0-d for a number), `done`
    marks the entries it reached, `reason` says why it reached none or not all.

    A finite difference also says, entry by entry, how far to trust it (numeric.py's
    measuring): `bound` its estimated absolute error (nan: none), `notes` why an entry has no
    usable value or cannot decide (""), `shrunk` where a smaller step kept clear of a kink or
    the domain's edge. `order` lists the flat indices in the order they were measured (None:
    row-major), `sampled` says the entries were picked from a large variable, `atol` is the
    floor the measuring used, and `noted` keeps a passing entry's note (a number's check
    shows how its step was taken; an array's does not)."""

    method: str  # "sympy", "finite-difference"
    values: Any
    done: Any
    reason: str = ""
    bound: Any = None
    notes: Any = None
    shrunk: Any = None
    order: tuple[int, ...] | None = None
    sampled: bool = False
    atol: float | None = None
    noted: bool = False

    @classmethod
    def unreached(cls, method: str, shape: tuple, reason: str) -> Reference:
        """A reference that could not run (a gate, a budget, a failure): no entry reached."""
        import numpy as np

        return cls(method, np.zeros(shape), np.zeros(shape, dtype=bool), reason)

    @classmethod
    def found(cls, method: str, values: Any, label: str = "") -> Reference:
        """Values with nan where the method has none. An entry with no finite value leaves the
        whole reference unreached, with the entry named (`label`: the variable's name)."""
        import numpy as np

        values = np.asarray(values, dtype=float)
        done = np.isfinite(values)
        if done.all():
            return cls(method, values, done)
        e = next(e for e in np.ndindex(values.shape) if not done[e])
        name = f"{label}[{','.join(map(str, e))}]" if e else label
        return cls.unreached(method, values.shape,
                             f"sympy's derivative for {name} has no finite value here")

    @classmethod
    def measured(cls, shape: tuple, slopes: dict, *, order: list[int], stopped: bool,
                 sampled: bool = False, atol: float | None = None,
                 noted: bool = False) -> Reference:
        """The finite-difference reference from numeric.py's slopes ({flat index: Slope}):
        the value, error bound and note of every entry measured. `stopped`: the budget ran
        out before every planned entry was."""
        import numpy as np

        from .numeric import OVER_BUDGET

        values, bound = np.full(shape, np.nan), np.full(shape, np.nan)
        done, shrunk = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
        notes = np.full(shape, "", dtype=object)
        for k, s in slopes.items():
            e = np.unravel_index(k, shape) if shape else ()
            done[e], shrunk[e], notes[e] = True, s.shrunk, s.reason
            values[e] = np.nan if s.value is None else s.value
            bound[e] = np.nan if s.bound is None else s.bound
        reason = OVER_BUDGET if not slopes else (
            f"{OVER_BUDGET}: the sample stopped early" if stopped else "")
        return cls("finite-difference", values, done, reason, bound, notes, shrunk,
                   tuple(order), sampled, atol, noted)

    def slope(self, idx: tuple):
        """Entry `idx` as numeric.py's Slope, for grading (numeric references only)."""
        from .numeric import Slope

        value, bound = float(self.values[idx]), float(self.bound[idx])
        return Slope(None if math.isnan(value) else value,
                     None if math.isnan(bound) else bound, 0.0, bool(self.shrunk[idx]),
                     str(self.notes[idx]))


@dataclass(frozen=True)
class ArrayCheck(Check):
    entries: int = 0  # entries compared
    total: int = 0  # entries in the variable
    worst: tuple[int, ...] | None = None  # index of the entry with the largest error
    sampled: bool = False  # entries were picked from a large variable (else all, in order)
    # Entries this check reached and passed, and those it reached but could not decide (on a
    # kink, inconclusive): a gradient is confirmed only when every entry some check reached
    # was passed by one (verdict.row_status). Not part of the JSON record.
    passed_at: frozenset = field(default=frozenset(), compare=False, repr=False)
    undecided_at: frozenset = field(default=frozenset(), compare=False, repr=False)

    @property
    def scope(self) -> str:
        if not self.entries or (self.total <= 1 and self.entries == self.total):
            return ""
        if self.entries == self.total:
            return f"all {self.total:,} entries"
        return f"{self.entries:,} of {self.total:,} entries" + (", sampled" if self.sampled
                                                                 else "")

    def to_dict(self) -> dict:
        out = super().to_dict()
        out.update(entries_checked=self.entries, entries_total=self.total,
                   sampled=self.sampled,
                   worst_index=list(self.worst) if self.worst is not None else None)
        return out

    def as_number(self) -> Check:
        """The check of a program of numbers, whose record has no entry counts."""
        return Check(**{f.name: getattr(self, f.name) for f in fields(Check)})


# How bad a status is, when entries fold into one check: the worst entry is reported.
RANK = {"fail": 4, "subgradient": 3, "inconclusive": 2, "pass": 1, "skipped": 0}


def compare_entries(ours, ref: Reference, on_kink=False, kink_reason: str = "",
                    atol: float | None = None) -> ArrayCheck:
    """The one comparison of backprop's entries with a reference's, for a gradient, a
    Jacobian block or a Hessian alike, each entry the reference reached graded by the
    method's tolerances (sympy: scalar.compare; a finite difference: scalar.grade_slope,
    with the entry's error bound and notes), then folded by `fold`. `on_kink` is a flag or
    one per entry; `kink_reason` says why a kink excuses."""
    import numpy as np

    numeric = ref.method != "sympy"
    rtol = FD_RTOL if numeric else SYMPY_RTOL
    atol = atol if atol is not None else ref.atol if ref.atol is not None else (
        FD_ATOL if numeric else SYMPY_ATOL)
    shape = np.shape(ours)
    ours, refs = np.asarray(ours, dtype=float), np.asarray(ref.values, dtype=float)
    done = np.broadcast_to(np.asarray(ref.done, dtype=bool), shape)
    kinked = np.broadcast_to(np.asarray(on_kink, dtype=bool), shape)
    order = np.ndindex(shape) if ref.order is None else (
        np.unravel_index(k, shape) if shape else () for k in ref.order)
    graded = []
    for idx in order:
        if not done[idx]:
            continue
        mine, kink = float(ours[idx]), bool(kinked[idx])
        graded.append((tuple(int(k) for k in idx),
                       grade_slope(mine, ref.slope(idx), atol, kink) if numeric else
                       compare(ref.method, mine, float(refs[idx]), rtol, atol, kink)))
    return fold(ref, graded, int(np.size(ours)), kink_reason)


def fold(ref: Reference, graded: list[tuple[tuple, Check]], total: int,
         kink_reason: str = "") -> ArrayCheck:
    """The graded entries as one check. "fail" if any entry disagrees; entries the reference
    cannot decide ("inconclusive", and for a finite difference an entry a kink excuses: a step
    across a kink measures neither piece) are set aside, counted in the reason, and the rest
    give "subgradient" if any disagrees on a kink, else "pass"; only when none is left does
    the worst of them decide. The worst entry (by RANK, then relative error) gives the
    figure; the reference's reason says why some entries were not reached. None reached:
    "skipped", with that reason."""
    method = ref.method
    if not graded:
        return ArrayCheck(method, "skipped", reason=ref.reason, total=total)

    def worst_of(entries):
        return max(entries, key=lambda e: (RANK[e[1].status], e[1].rel_error or 0.0))

    unsure = {"inconclusive"} | ({"subgradient"} if method != "sympy" else set())
    clear = [e for e in graded if e[1].status not in unsure]
    idx, worst = worst_of(graded)
    statuses = {c.status for _, c in graded}
    if "fail" in statuses:
        status, reasons, counted = "fail", [worst.reason if ref.noted else ""], graded
    elif clear:
        note = "" if len(clear) == len(graded) else \
            f"{len(graded) - len(clear)} of {len(graded)} entries inconclusive: {worst.reason}"
        idx, worst = worst_of(clear)
        status = "subgradient" if any(c.status == "subgradient" for _, c in clear) else "pass"
        said = (kink_reason or worst.reason) if status == "subgradient" else \
            (worst.reason if ref.noted else "")
        reasons, counted = [said, note], clear
    else:
        status, reasons, counted = worst.status, [worst.reason], graded
    if len(graded) < total and ref.reason:
        reasons.append(ref.reason)
    return ArrayCheck(method, status, worst.reference, worst.rel_error,
                      "; ".join(r for r in reasons if r), abs_error=worst.abs_error,
                      floor=worst.floor, bound=worst.bound, entries=len(counted),
                      total=total, worst=idx, sampled=ref.sampled,
                      passed_at=frozenset(i for i, c in graded if c.status == "pass"),
                      undecided_at=frozenset(i for i, c in graded
                                             if c.status in ("inconclusive", "subgradient")))

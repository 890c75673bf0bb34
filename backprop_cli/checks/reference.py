"""The one reference record and the one comparison, for a derivative of any order.

A gradient, a Jacobian block and a Hessian are all derivatives with respect to the variables'
entries. Whatever produced a reference for one (sympy's chained derivative, a finite
difference), it is a `Reference`: the method, its values entry by entry, which entries it
reached, and why not the rest. `compare_entries` grades backprop's entries against one, the
same way for every order and shape (a number is a 0-d array), into one `ArrayCheck`: the
status vocabulary of scalar.py, the worst entry's figures, and how many entries were compared.
What the checks of a case add up to is verdict.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from .scalar import FD_ATOL, FD_RTOL, SYMPY_ATOL, SYMPY_RTOL, Check, compare


@dataclass(frozen=True)
class Reference:
    """A reference derivative: `values` shaped like backprop's (0-d for a number), `done`
    marks the entries it reached, `reason` says why it reached none or not all."""

    method: str  # "sympy", "finite-difference"
    values: Any
    done: Any
    reason: str = ""

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


@dataclass(frozen=True)
class ArrayCheck(Check):
    entries: int = 0  # entries compared
    total: int = 0  # entries in the variable
    worst: tuple[int, ...] | None = None  # index of the entry with the largest error
    sampled: bool = False  # entries were picked from a large variable (else all, in order)

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
    Jacobian block or a Hessian alike: each entry the reference reached is compared with the
    method's tolerances (scalar.compare); the status is "fail" if any entry disagrees off a
    kink, else "subgradient" if any disagrees on one (`on_kink`, a flag or one per entry;
    `kink_reason` then says why), else "pass"; the worst entry (by that rank, then relative
    error) gives the figure and `worst`; the reference's reason says why some entries were
    not reached. None reached: "skipped", with that reason."""
    import numpy as np

    method = ref.method
    rtol = SYMPY_RTOL if method == "sympy" else FD_RTOL
    atol = (SYMPY_ATOL if method == "sympy" else FD_ATOL) if atol is None else atol
    shape = np.shape(ours)
    ours, refs = np.asarray(ours, dtype=float), np.asarray(ref.values, dtype=float)
    done = np.broadcast_to(np.asarray(ref.done, dtype=bool), shape)
    kinked = np.broadcast_to(np.asarray(on_kink, dtype=bool), shape)
    results = [(idx, compare(method, float(ours[idx]), float(refs[idx]), rtol, atol,
                             bool(kinked[idx])))
               for idx in np.ndindex(shape) if done[idx]]
    total = int(np.size(ours))
    if not results:
        return ArrayCheck(method, "skipped", reason=ref.reason, total=total)
    idx, worst = max(results, key=lambda r: (RANK[r[1].status], r[1].rel_error or 0.0))
    statuses = {c.status for _, c in results}
    status = "fail" if "fail" in statuses else ("subgradient" if "subgradient" in statuses
                                                else "pass")
    reasons = [kink_reason if status == "subgradient" and kink_reason else worst.reason]
    if len(results) < total and ref.reason:
        reasons.append(ref.reason)
    return ArrayCheck(method, status, worst.reference, worst.rel_error,
                      "; ".join(r for r in reasons if r), abs_error=worst.abs_error,
                      floor=worst.floor, bound=worst.bound, entries=len(results),
                      total=total, worst=tuple(int(k) for k in idx))

"""A line's value against the gradient: exact, approx (numpy's allclose), wrong or shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BackpropError
from ..values import is_array

RTOL = 1e-5  # numpy's allclose defaults, as the notebook's own checker uses (torch.allclose)
ATOL = 1e-8
RIGHT = ("exact", "approx")


@dataclass(frozen=True)
class Verdict:
    status: str  # exact, approx, wrong, shape, error
    max_diff: float | None = None
    where: tuple[int, ...] | None = None  # the entry with the largest difference
    shapes: tuple[tuple, tuple] | None = None  # (the line's, the gradient's) for "shape"
    error: BackpropError | None = None

    @property
    def right(self) -> bool:
        return self.status in RIGHT


def shape_of(x: Any) -> tuple:
    return tuple(x.shape) if is_array(x) else ()


def compare(value: Any, truth: Any) -> Verdict:
    """exact, approx, wrong or shape: the line's value against the gradient."""
    if shape_of(value) != shape_of(truth):
        return Verdict("shape", shapes=(shape_of(value), shape_of(truth)))
    if not is_array(value) and not is_array(truth):
        diff = abs(float(value) - float(truth))
        if float(value) == float(truth):
            return Verdict("exact", 0.0)
        ok = diff <= ATOL + RTOL * abs(float(truth))
        return Verdict("approx" if ok else "wrong", diff)
    import numpy as np

    v = np.asarray(value, dtype=float)
    t = np.asarray(truth, dtype=float)
    diff = np.abs(v - t)
    k = int(np.argmax(diff))
    where = tuple(int(i) for i in np.unravel_index(k, diff.shape))
    worst = float(diff.flat[k])
    if np.array_equal(v, t):
        return Verdict("exact", 0.0)
    ok = bool(np.all(diff <= ATOL + RTOL * np.abs(t)))
    return Verdict("approx" if ok else "wrong", worst, where)


def close(a: Any, b: Any) -> bool:
    """Whether a and b have one shape and agree as `approx` says."""
    return compare(a, b).right

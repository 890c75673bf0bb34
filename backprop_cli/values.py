"""Values as they flow through the pipeline: numbers (floats) or numpy arrays, and the plain
data (floats, nested lists, None) that JSON, batch reports and worker processes carry."""

from __future__ import annotations

import math
from typing import Any


def is_array(value: Any) -> bool:
    # Floats are by far the commonest value and hasattr on them raises internally: test first.
    if type(value) is float:
        return False
    return hasattr(value, "shape") and getattr(value, "ndim", 0) > 0


def is_index(value: Any) -> bool:
    """An integer array (positions or labels bound from a file): it gets no gradient."""
    return is_array(value) and value.dtype.kind in "iu"


def plain(x: Any) -> Any:
    """Floats stay floats; arrays become nested lists of floats; nan and inf become null; -0.0
    becomes 0.0 (adding 0.0 does exactly that and changes no other number), as the tables
    print it.

    A derivative that does not exist (d(a**b)/db for a < 0, sent to a constant exponent) is nan
    inside the trace; JSON has no nan, so it is written as null.
    """
    if x is None:
        return None
    if is_array(x):
        import numpy as np

        finite = np.isfinite(x)
        x = x + 0.0
        return x.tolist() if finite.all() else np.where(finite, x, None).tolist()
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    x = float(x)
    return x + 0.0 if math.isfinite(x) else None

"""The usual slips in an array written after --expect, named as grade names them in a
learner's code (grade/diagnoses.py: sign flipped, transposed, a broadcast sum missing). Each
entry is judged by the one grader of written answers (answers.matches, to the digits the
learner wrote), not by allclose, so a rounded answer is read the same way a scalar one is."""

from __future__ import annotations

from typing import Any

from . import answers


def _all_match(candidate: Any, said: list) -> bool:
    return all(answers.matches(float(x), a) for x, a in zip(candidate.ravel(), said))


def array_slip(ours: Any, said: list, wrong: list[int]) -> str | None:
    """Which slip the written entries `said` (flat, in ours' order) are, or None. `wrong`:
    the flat positions marked wrong."""
    import numpy as np

    if not wrong:
        return None
    if np.any(ours != 0) and _all_match(-ours, said):
        return "the sign is flipped: every entry is the gradient negated"
    if ours.ndim == 2 and not np.allclose(ours, ours.T) and ours.shape == ours.T.shape \
            and _all_match(ours.T, said):
        return ("transposed: the answer is the gradient transposed (entry [i, j] is "
                "[j, i]); a matrix product's order swapped, or a .T missing")
    flipped = [k for k in wrong if ours.flat[k] != 0
               and answers.matches(-float(ours.flat[k]), said[k])]
    if flipped and len(flipped) == len(wrong):
        at = ", ".join(str([int(i) for i in np.unravel_index(k, ours.shape)]) for k in flipped)
        which = "that entry is" if len(flipped) == 1 else "those entries are"
        return f"the sign is flipped at {at}: {which} the gradient negated"
    return None


def broadcast_slip(ours: Any, theirs: Any, said: list) -> str | None:
    """An answer of the broadcast shape whose sum over the broadcast axes is the gradient:
    the sum (grade's "a sum over the broadcast axis is missing") was left out."""
    import numpy as np

    shape = tuple(ours.shape) if hasattr(ours, "shape") else ()
    try:
        if np.broadcast_shapes(theirs.shape, shape) != theirs.shape:
            return None
    except ValueError:
        return None
    extra = theirs.ndim - len(shape)
    kept = tuple(extra + k for k, n in enumerate(shape)
                 if n == 1 and theirs.shape[extra + k] != 1)
    axes = tuple(range(extra)) + kept
    summed = np.sum(theirs, axis=axes, keepdims=False)
    ours_flat = np.ravel(ours)
    if summed.size != ours_flat.size or not np.allclose(summed.ravel(), ours_flat, rtol=1e-3):
        return None
    spelled = ", ".join(map(str, axes))
    return (f"a sum over the broadcast axis is missing: summed over axis {spelled} your "
            f"answer is the gradient (the forward broadcast it to {tuple(theirs.shape)})")

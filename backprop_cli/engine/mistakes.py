"""Quiet mistakes: programs that run, give plausible numbers and pass every check, yet are
probably not what was meant. Each finding is a warning line; nothing here changes a value.

  cross_entropy and log_softmax take scores (logits) and apply the softmax themselves: given
  probabilities (a softmax output, or rows in [0, 1] that sum to 1), they take the softmax
  twice, and the loss and its gradients are those of a different model.
"""

from __future__ import annotations

from ..graph import Graph
from ..ops.registry import OPS

TAKE_SCORES = ("cross_entropy", "log_softmax")  # ops that apply softmax to their first input
SUM_TOLERANCE = 1e-6


def quiet_mistakes(graph: Graph, values: list) -> list[str]:
    if not any(map(OPS.loaded, TAKE_SCORES)):
        return []  # their rows' module was never loaded: no program has used them
    out: list[str] = []
    for i, op in enumerate(graph.ops):
        if op.name not in TAKE_SCORES or not graph.args[i]:
            continue
        j = graph.args[i][0]
        why = None
        if graph.ops[j].name == "softmax":
            why = "a softmax output"
        elif _probabilities(values[j]):
            why = "every row in [0, 1] and summing to 1"
        if why:
            out.append(f"{graph.text(i)}: {op.name} takes scores (logits) and applies softmax "
                       f"itself, but its input looks like probabilities ({why}): softmax is "
                       f"taken twice; give it the scores")
    return out


def with_mistakes(result):
    """`result` (evaluate's) with a warning per quiet mistake added to its `warnings`: eval and
    every case of check read them the same way (stderr, a case's block, JSON `warnings`)."""
    import dataclasses

    extra = quiet_mistakes(result.graph, result.values)
    return dataclasses.replace(result, warnings=(*result.warnings, *extra)) if extra else result


def _probabilities(x) -> bool:
    shape = getattr(x, "shape", None)
    if not shape or x.size < 2:
        return False
    import numpy as np

    a = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(a)) or a.min() < 0 or a.max() > 1:
        return False
    return bool(np.all(np.abs(a.sum(axis=-1) - 1.0) <= SUM_TOLERANCE))

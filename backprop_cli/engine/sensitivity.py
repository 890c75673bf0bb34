"""Gradients -> the lecture's reading of a derivative as sensitivity, and one descent step.

nudge: moving x by h moves f by about (df/dx) h; the actual change is one more forward pass.
       An array input is nudged as one direction, every entry by h at once, so the predicted
       change is h times the sum of its gradient's entries (one pass per input, not per entry).
step:  x <- x - eta df/dx for the chosen inputs; to first order f changes by -eta |grad|^2
       (the sum of every entry's square, for arrays).
Each costs one forward pass per input nudged, or two for the step. The output is a number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import BackpropError, BindingError
from ..graph import Graph
from .forward import forward


def _total(x) -> float:
    """The sum of an array's entries; a number as it is."""
    return float(x.sum()) if hasattr(x, "sum") else x


@dataclass(frozen=True)
class Nudge:
    name: str
    gradient: float  # an array input: the sum of its gradient's entries
    predicted: float  # gradient * h
    actual: float  # f(x + h) - f(x); nan where f is undefined at x + h
    entries: int  # 1 for a number
    undefined: str = ""  # why f is undefined at x + h (an array of positions moved off them)


@dataclass(frozen=True)
class Step:
    eta: float
    before: dict[str, Any]  # numbers or arrays
    after: dict[str, Any]
    value_before: float
    value_after: float
    predicted: float  # -eta * sum of squared gradients

    @property
    def change(self) -> float:
        return self.value_after - self.value_before


def nudges(graph: Graph, bindings: Mapping[str, float], gradients: Mapping[str, float],
           h: float) -> list[Nudge]:
    """Predicted against actual change of the output, nudging one input at a time by h."""
    f0 = forward(graph, bindings)[graph.output]
    out = []
    for name, g in gradients.items():
        f1, why = _output(graph, {**bindings, name: bindings[name] + h})
        g = _total(g)
        out.append(Nudge(name, g, g * h, f1 - f0, getattr(bindings[name], "size", 1), why))
    return out


def descent_step(graph: Graph, bindings: Mapping[str, float], gradients: Mapping[str, float],
                 eta: float) -> Step:
    """One gradient-descent step on the inputs in `gradients`; the rest stay put."""
    after = {**bindings, **{n: bindings[n] - eta * g for n, g in gradients.items()}}
    f0 = forward(graph, bindings)[graph.output]
    f1, why = _output(graph, after)
    if why:
        raise BindingError(f"--lr: after the step the program is undefined ({why})")
    predicted = -eta * sum(_total(g * g) for g in gradients.values())
    return Step(eta, {n: bindings[n] for n in gradients}, {n: after[n] for n in gradients},
                f0, f1, predicted)


def _output(graph: Graph, bindings: Mapping[str, Any]) -> tuple[float, str]:
    """(the output, "") at moved inputs; (nan, why) where the program is undefined there (an
    array used as positions, moved off whole numbers)."""
    try:
        return forward(graph, bindings)[graph.output], ""
    except BackpropError as err:
        return math.nan, err.message

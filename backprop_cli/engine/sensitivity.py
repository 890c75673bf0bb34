"""Gradients -> the lecture's reading of a derivative as sensitivity, and one descent step.

nudge: moving x by h moves f by about (df/dx) h; the actual change is one more forward pass.
step:  x <- x - eta df/dx for the chosen inputs; to first order f changes by -eta |grad|^2.
Scalar programs only; each costs one forward pass per input nudged, or one for the step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..graph import Graph
from .forward import forward


@dataclass(frozen=True)
class Nudge:
    name: str
    gradient: float
    predicted: float  # gradient * h
    actual: float  # f(x + h) - f(x)


@dataclass(frozen=True)
class Step:
    eta: float
    before: dict[str, float]
    after: dict[str, float]
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
        f1 = forward(graph, {**bindings, name: bindings[name] + h})[graph.output]
        out.append(Nudge(name, g, g * h, f1 - f0))
    return out


def descent_step(graph: Graph, bindings: Mapping[str, float], gradients: Mapping[str, float],
                 eta: float) -> Step:
    """One gradient-descent step on the inputs in `gradients`; the rest stay put."""
    after = {**bindings, **{n: bindings[n] - eta * g for n, g in gradients.items()}}
    f0 = forward(graph, bindings)[graph.output]
    f1 = forward(graph, after)[graph.output]
    predicted = -eta * sum(g * g for g in gradients.values())
    return Step(eta, {n: bindings[n] for n in gradients}, {n: after[n] for n in gradients},
                f0, f1, predicted)

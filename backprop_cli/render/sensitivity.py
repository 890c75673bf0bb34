"""Nudges and a descent step -> lines of text and JSON records."""

from __future__ import annotations

from ..engine.sensitivity import Nudge, Step
from .numbers import number
from .plain import columns


def _n(x) -> str:
    return number(x) if hasattr(x, "shape") else f"{x:.6g}"


def nudge_lines(h: float, rows: list[Nudge], kinked: list[tuple[str, str]] = ()) -> list[str]:
    table = [[r.name, _n(r.gradient), _n(r.predicted), _n(r.actual), _n(r.actual - r.predicted)]
             for r in rows]
    lines = [f"nudge each input by h = {h:g}: f moves by about gradient x h",
             *("  " + line for line in columns(
                 ["name", "gradient", "predicted", "actual", "actual - predicted"], table))]
    lines += [f"  {r.name}: f is undefined at {r.name} + h: {r.undefined}" for r in rows
              if r.undefined]
    if any(r.entries > 1 for r in rows):
        lines.append("  an array input moves by h in every entry at once: its gradient here is "
                     "the sum of its entries")
    for node, rule in kinked:
        lines += [f"  the point is on a kink: {node}, where backprop uses {rule};",
                  "  first order is one-sided there: actual - predicted is of order h, not h**2"]
    return lines


def step_lines(step: Step) -> list[str]:
    lines = [f"one gradient-descent step, eta = {step.eta:g}: x <- x - eta * df/dx"]
    lines += ["  " + line for line in columns(
        ["name", "before", "after"],
        [[n, _n(step.before[n]), _n(step.after[n])] for n in step.before])]
    went = "down" if step.change < 0 else ("up" if step.change > 0 else "nowhere")
    lines.append(f"  output {_n(step.value_before)} -> {_n(step.value_after)}: change "
                 f"{_n(step.change)}, it went {went}")
    lines.append(f"  first order predicted change {_n(step.predicted)} "
                 "(-eta * sum of gradient**2)")
    return lines


def nudge_json(h: float, rows: list[Nudge]) -> dict:
    return {"h": h, "inputs": {r.name: {"gradient": r.gradient, "predicted": r.predicted,
                                        "actual": None if r.undefined else r.actual,
                                        "entries": r.entries}
                               for r in rows}}


def step_json(step: Step) -> dict:
    return {"eta": step.eta, "before": _plain(step.before), "after": _plain(step.after),
            "value_before": step.value_before, "value_after": step.value_after,
            "change": step.change, "predicted": step.predicted,
            "went_down": step.change < 0}


def _plain(values: dict) -> dict:
    """Arrays as JSON lists."""
    from ..values import plain

    return {n: plain(v) for n, v in values.items()}

"""A float32 replay -> lines of text and a JSON record."""

from __future__ import annotations

from ..checks.float32 import Float32Report
from ..graph import Graph
from .plain import columns


def _e(x: float) -> str:
    return "0" if x == 0 else f"{x:.1e}"


def float32_lines(graph: Graph, report: Float32Report, values: list) -> list[str]:
    # The node's text last: the numbers keep their columns in 60, and a long text spills
    # onto a line of its own (indented) rather than pushing the numbers over.
    rows = [[f"#{n.node}", f"{values[n.node]:.9g}", f"{n.value:.9g}", _e(n.value_error),
             _e(n.grad_error), graph.names.get(n.node) or graph.text(n.node, 30)]
            for n in report.nodes if graph.args[n.node] or n.node in graph.names]
    lines = ["float32 replay: relative error of each node against float64",
             *("  " + line.rstrip() for line in columns(
                 ["node", "float64", "float32", "value err", "grad err", "text"], rows))]
    if report.losses:
        lines.append("digits lost:")
        for x in report.losses:
            lines += [f"  #{x.node} {graph.text(x.node, 30)}, its {x.side}: {x.cause}",
                      f"    {x.detail}"]
    else:
        lines.append("digits lost: nowhere past float32's rounding")
    worst = ", ".join(f"{name} {_e(e)}" for name, (_, e) in report.gradients.items())
    lines.append(f"float32 gradients' relative error: {worst}")
    if report.worst >= 0.1:
        lines.append("no float32 gradient check can pass here: a gradient is wrong in float32, "
                     "not merely rounded")
    else:
        lines.append(f"a float32 gradient check here needs rtol >= {report.tolerance:g} "
                     f"(float32 central differences alone: about 3e-5 at best)")
    return lines


def float32_json(graph: Graph, report: Float32Report) -> dict:
    return {"nodes": [{"node": n.node, "value": n.value, "value_error": n.value_error,
                       "grad": n.grad, "grad_error": n.grad_error} for n in report.nodes],
            "losses": [{"node": x.node, "text": graph.text(x.node), "side": x.side,
                        "cause": x.cause, "detail": x.detail, "error": x.error}
                       for x in report.losses],
            "gradients": {name: {"float32": g, "rel_error": e}
                          for name, (g, e) in report.gradients.items()},
            "tolerance": report.tolerance}

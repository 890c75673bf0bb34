"""A float32 replay -> lines of text and a JSON record. Nodes are named by trace's #n (`refs`);
an array node shows its shape and its worst entry's errors in place of its values."""

from __future__ import annotations

from ..checks.float32 import Float32Report
from ..engine.trace import ShownRefs, shown_id
from ..graph import Graph
from ..values import is_array, plain
from .numbers import shape
from .plain import columns


def _e(x: float) -> str:
    return "0" if x == 0 else f"{x:.1e}"


def _table(graph: Graph, report: Float32Report, values: list, refs: ShownRefs) -> list[str]:
    shown = [n for n in report.nodes if graph.args[n.node] or n.node in graph.names]
    if any(is_array(values[n.node]) for n in shown):
        rows = [[refs[n.node], graph.names.get(n.node) or graph.text(n.node, 30),
                 shape(values[n.node]), _e(n.value_error), _e(n.grad_error)] for n in shown]
        head = ["node", "text", "shape", "value err", "grad err"]
    else:  # the text last: the two wide numbers keep their columns at 60 columns, and a
        # long text goes on indented rather than pushing them over
        rows = [[refs[n.node], f"{values[n.node]:.9g}", f"{n.value:.9g}", _e(n.value_error),
                 _e(n.grad_error), graph.names.get(n.node) or graph.text(n.node, 30)]
                for n in shown]
        head = ["node", "float64", "float32", "value err", "grad err", "text"]
    return ["  " + line.rstrip() for line in columns(head, rows)]


def float32_lines(graph: Graph, report: Float32Report, values: list,
                  refs: ShownRefs) -> list[str]:
    arrays = any(is_array(v) for v in values)
    lines = ["float32 replay: relative error of each node against float64" +
             (" (an array: its worst entry's)" if arrays else ""),
             *_table(graph, report, values, refs)]
    if report.losses:
        lines.append("digits lost:")
        for x in report.losses:
            lines += [f"  {refs[x.node]} {graph.text(x.node, 30)}, its {x.side}: {x.cause}",
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


def float32_json(graph: Graph, report: Float32Report, refs: ShownRefs) -> dict:
    return {"nodes": [{"node": n.node, "shown_id": shown_id(refs, n.node),
                       "value": plain(n.value), "value_error": n.value_error,
                       "grad": plain(n.grad), "grad_error": n.grad_error}
                      for n in report.nodes],
            "losses": [{"node": x.node, "shown_id": shown_id(refs, x.node),
                        "text": graph.text(x.node), "side": x.side,
                        "cause": x.cause, "detail": x.detail, "error": x.error}
                       for x in report.losses],
            "gradients": {name: {"float32": plain(g), "rel_error": e}
                          for name, (g, e) in report.gradients.items()},
            "tolerance": report.tolerance}

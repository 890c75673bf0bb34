"""Forward-mode tangents -> lines in the backward trace's arithmetic style, and JSON."""

from __future__ import annotations

from ..engine.tangents import ForwardMode
from ..engine.trace import ShownRefs, shown_id, shown_refs
from ..graph import Graph
from ..values import plain
from .numbers import factor, number


def _label(graph: Graph, i: int) -> str:
    return graph.names.get(i) or graph.text(i)


def forward_mode_lines(graph: Graph, values: list, fm: ForwardMode, gradient: float,
                       precision: int = 6, refs: ShownRefs | None = None) -> list[str]:
    x = fm.name
    p = precision
    refs = refs or shown_refs(graph)
    lines = [f"forward mode for {x}: tangent = d(node)/d{x} = sum of local * tangent(input)"
             if fm.per == "input" else
             f"forward mode for {x}: tangent = d(node)/d{x}, carried by dual numbers through "
             "each row's rule",
             f"(nodes {x} does not flow into have tangent 0 and are left out)", ""]
    for row in fm.rows:
        head = (f"{refs[row.node]} {_label(graph, row.node)} = "
                f"{number(values[row.node], p)}")
        if not row.terms and fm.per == "input":
            lines.append(f"{head}   tangent = 1 (the input itself)")
        elif not row.terms:
            lines.append(f"{head}   tangent = {number(row.tangent, p)}")
        else:
            sums = " + ".join(f"{factor(f'{lk:.{p}g}')}*{factor(f'{t:.{p}g}')}"
                              for _, lk, t in row.terms)
            lines.append(f"{head}   tangent = {sums} = {row.tangent:.{p}g}")
    lines += ["", f"d(output)/d{x} = {fm.gradient:.{p}g} (the backward pass gives "
                  f"{gradient:.{p}g})"]
    return lines


def passes_lines(fm: ForwardMode) -> list[str]:
    n, m = fm.inputs, fm.outputs
    verdict = ("reverse mode is cheaper here" if n > m else
               "forward mode is cheaper here" if n < m else "the two cost the same here")
    what = "gradients" if fm.per == "input" else "gradient entries"
    return [f"passes for all {n} {what}: forward mode {n} (one per {fm.per}), "
            f"reverse mode {m} (one per output)",
            f"{verdict}: forward mode wins with fewer inputs than outputs"]


def forward_mode_json(graph: Graph, values: list, fm: ForwardMode, gradient: float,
                      refs: ShownRefs) -> dict:
    return {"wrt": fm.name, "gradient": fm.gradient, "backward_gradient": gradient,
            "forward_passes": fm.inputs, "backward_passes": fm.outputs,
            "nodes": [{"id": r.node, "shown_id": shown_id(refs, r.node),
                       "text": graph.text(r.node), "value": plain(values[r.node]),
                       "tangent": plain(r.tangent),
                       "terms": [{"input": j, "local": lk, "tangent": t}
                                 for j, lk, t in r.terms]}
                      for r in fm.rows]}

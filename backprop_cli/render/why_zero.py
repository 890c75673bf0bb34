"""Why-zero reasons -> lines of text and JSON records."""

from __future__ import annotations

from ..engine.why_zero import ZeroReason
from ..graph import Graph


def _node(graph: Graph, i: int, values: list) -> str:
    return f"#{i} {graph.text(i)} = {values[i]:.6g}"


def why_zero_lines(graph: Graph, values: list, reasons: list[ZeroReason]) -> list[str]:
    if not reasons:
        return ["why zero: no gradient is zero"]
    lines = ["why zero:"]
    for r in reasons:
        head = f"  d/d{r.name} = {r.gradient:.6g}:"
        if r.kind == "no path":
            lines.append(f"{head} no path from {r.name} to the output")
        elif r.kind == "blocked":
            lines.append(f"{head} blocked: every path stops at a gate passing back 0")
            lines += [f"    at {_node(graph, g.node, values)}: {g.why}" for g in r.gates]
        elif r.kind == "cancelled":
            lines.append(f"{head} the paths cancel (their products of locals sum to 0)")
        else:
            worst = min(r.gates, key=lambda g: abs(g.local))
            lines.append(f"{head} vanished through saturated gates")
            lines.append(f"    product of the local gradients along the path: {r.product:.3g}")
            lines.append(f"    worst gate {_node(graph, worst.node, values)}: {worst.why}")
    return lines


def why_zero_json(graph: Graph, reasons: list[ZeroReason]) -> list[dict]:
    out = []
    for r in reasons:
        rec = {"name": r.name, "gradient": r.gradient, "reason": r.kind}
        if r.kind == "blocked":
            rec["blocked_at"] = [{"node": g.node, "text": graph.text(g.node), "why": g.why}
                                 for g in r.gates]
        if r.kind in ("vanished", "cancelled"):
            rec["path_product"] = r.product
        if r.kind == "vanished":
            worst = min(r.gates, key=lambda g: abs(g.local))
            rec["worst_gate"] = {"node": worst.node, "text": graph.text(worst.node),
                                 "local": worst.local, "why": worst.why}
        out.append(rec)
    return out

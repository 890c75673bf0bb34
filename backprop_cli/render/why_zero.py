"""Why-zero reasons -> lines of text and JSON records. Nodes are named by trace's #n (`refs`)."""

from __future__ import annotations

from ..engine.trace import ShownRefs, shown_id
from ..engine.why_zero import ArrayZero, ZeroReason
from ..graph import Graph


def _node(graph: Graph, i: int, values: list, refs: ShownRefs) -> str:
    return f"{refs[i]} {graph.text(i)} = {values[i]:.6g}"


def why_zero_lines(graph: Graph, values: list, reasons: list, refs: ShownRefs) -> list[str]:
    if not reasons:
        return ["why zero: no gradient is zero"]
    lines = ["why zero:"]
    for r in reasons:
        if isinstance(r, ArrayZero):
            lines += _array_lines(graph, r, refs)
        else:
            lines += _scalar_lines(graph, values, r, refs)
    return lines


def _scalar_lines(graph: Graph, values: list, r: ZeroReason, refs: ShownRefs) -> list[str]:
    head = f"  d/d{r.name} = {r.gradient:.6g}:"
    if r.kind == "no path":
        return [f"{head} no path from {r.name} to the output"]
    if r.kind == "blocked":
        return [f"{head} blocked: every path stops at a gate passing back 0",
                *(f"    at {_node(graph, g.node, values, refs)}: {g.why}" for g in r.gates)]
    if r.kind == "cancelled":
        return [f"{head} the paths cancel (their products of locals sum to 0)"]
    worst = min(r.gates, key=lambda g: abs(g.local))
    return [f"{head} vanished through saturated gates",
            f"    product of the local gradients along the path: {r.product:.3g}",
            f"    worst gate {_node(graph, worst.node, values, refs)}: {worst.why}"]


def _array_lines(graph: Graph, r: ArrayZero, refs: ShownRefs) -> list[str]:
    head = f"  d/d{r.name}: {r.zeros} of {r.entries} entries are 0"
    if r.kind == "no path":
        return [f"  d/d{r.name} = 0: no path from {r.name} to the output"]
    if r.kind == "positions":
        return [f"  d/d{r.name} = 0: {r.name} holds positions (whole numbers, an index): no "
                "gradient flows to it"]
    lines = [head]
    for b in r.blockers:
        lines.append(f"    {b.freed} blocked at {refs[b.node]} {graph.text(b.node, 40)}: "
                     f"{b.why}")
    if r.unexplained and r.stopped:
        lines.append(f"    {r.unexplained} not placed: more gates than the passes of one "
                     "checked eval (two per input entry) could try")
    elif r.unexplained and r.routers:
        routers = ", ".join(f"{refs[i]} {graph.text(i, 30)} ({graph.ops[i].name})"
                            for i in r.routers)
        lines.append(f"    {r.unexplained} not routed back by {routers}: a router sends 0 to "
                     "the entries it does not pick (or several gates hold them at once)")
    elif r.unexplained:
        lines.append(f"    {r.unexplained} held by several of these gates at once, or their "
                     "paths cancel (no one gate opened alone frees them)")
    return lines


def why_zero_json(graph: Graph, reasons: list, refs: ShownRefs) -> list[dict]:
    return [_array_json(graph, r, refs) if isinstance(r, ArrayZero)
            else _scalar_json(graph, r, refs) for r in reasons]


def _at(graph: Graph, i: int, refs: ShownRefs) -> dict:
    return {"node": i, "shown_id": shown_id(refs, i), "text": graph.text(i)}


def _scalar_json(graph: Graph, r: ZeroReason, refs: ShownRefs) -> dict:
    rec = {"name": r.name, "gradient": r.gradient, "reason": r.kind}
    if r.kind == "blocked":
        rec["blocked_at"] = [{**_at(graph, g.node, refs), "why": g.why} for g in r.gates]
    if r.kind in ("vanished", "cancelled"):
        rec["path_product"] = r.product
    if r.kind == "vanished":
        worst = min(r.gates, key=lambda g: abs(g.local))
        rec["worst_gate"] = {**_at(graph, worst.node, refs), "local": worst.local,
                             "why": worst.why}
    return rec


def _array_json(graph: Graph, r: ArrayZero, refs: ShownRefs) -> dict:
    rec = {"name": r.name, "reason": r.kind, "zero_entries": r.zeros, "entries": r.entries}
    if r.kind == "entries":
        rec["blocked_at"] = [{**_at(graph, b.node, refs), "freed": b.freed, "why": b.why}
                             for b in r.blockers]
        rec["unexplained"] = r.unexplained
        rec["stopped"] = r.stopped
        rec["routers"] = [_at(graph, i, refs) for i in r.routers]
    return rec

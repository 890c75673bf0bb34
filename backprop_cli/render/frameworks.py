"""Kink panels -> lines of text and JSON records. Nodes are named by trace's #n (`refs`)."""

from __future__ import annotations

from ..checks.frameworks import KinkPanel
from ..engine.trace import ShownRefs, shown_id
from ..graph import Graph
from .plain import columns


def number(text: str) -> float:
    """A local as the rows write it: 0.5 or 1/2."""
    top, _, bottom = text.partition("/")
    return float(top) / float(bottom or 1)


def _locals(local: tuple[float, ...]) -> str:
    return ", ".join(f"{x:g}" for x in local)


def _head(graph: Graph, p: KinkPanel, ref: str) -> str:
    args = ", ".join(f"{x:g}" for x in p.inputs)
    where = f"{ref} {graph.text(p.node)} is on a kink"
    if p.entries > 1:
        entry = ", ".join(map(str, p.at))
        where += f" at {p.on_kink} of {p.entries} entries; at entry [{entry}]"
    return f"{where}: {p.op}({args}); upstream {p.upstream:g}"


def frameworks_lines(graph: Graph, panels: list[KinkPanel], refs: ShownRefs) -> list[str]:
    if not panels:
        return ["frameworks: no node is on a kink, so every framework agrees here"]
    lines = []
    for p in panels:
        if not p.elsewhere and not p.local:  # a kink inside a reduction or a matrix op
            lines += ["", f"{refs[p.node]} {graph.text(p.node)} is on a kink at {p.on_kink} of "
                          f"{p.entries} entries; backprop's convention: {p.convention}",
                      "  (the frameworks' panel covers elementwise gates)"]
            continue
        lines += ["", _head(graph, p, refs[p.node]),
                  "  what each framework returns there for d(node)/d(input):"]
        table = [["backprop", p.op, _locals(p.local), _locals(p.sent)],
                 *[[f, fn, v, f"{p.upstream * number(v):g}"] for f, fn, v in p.elsewhere]]
        lines += ["  " + line for line in columns(
            ["framework", "function", "local", "input receives"], table)]
        lines.append(f"  backprop's convention: {p.convention}")
    return lines[1:]


def frameworks_json(graph: Graph, panels: list[KinkPanel], refs: ShownRefs) -> list[dict]:
    return [{"node": p.node, "shown_id": shown_id(refs, p.node), "text": graph.text(p.node),
             "op": p.op, "inputs": list(p.inputs), "upstream": p.upstream,
             "local": list(p.local), "receives": list(p.sent), "convention": p.convention,
             "on_kink": p.on_kink, "entries": p.entries, "at": list(p.at),
             "elsewhere": [{"framework": f, "function": fn, "local": v,
                            "receives": p.upstream * number(v)}
                           for f, fn, v in p.elsewhere]}
            for p in panels]

"""Kink panels -> lines of text and JSON records."""

from __future__ import annotations

from ..checks.frameworks import KinkPanel
from ..graph import Graph
from .plain import columns


def number(text: str) -> float:
    """A local as the rows write it: 0.5 or 1/2."""
    top, _, bottom = text.partition("/")
    return float(top) / float(bottom or 1)


def _locals(local: tuple[float, ...]) -> str:
    return ", ".join(f"{x:g}" for x in local)


def frameworks_lines(graph: Graph, panels: list[KinkPanel]) -> list[str]:
    if not panels:
        return ["frameworks: no node is on a kink, so every framework agrees here"]
    lines = []
    for p in panels:
        args = ", ".join(f"{x:g}" for x in p.inputs)
        lines += ["", f"#{p.node} {graph.text(p.node)} is on a kink: {p.op}({args}); "
                      f"upstream {p.upstream:g}",
                  "  what each framework returns there for d(node)/d(input):"]
        table = [["backprop", p.op, _locals(p.local), _locals(p.sent)],
                 *[[f, fn, v, f"{p.upstream * number(v):g}"] for f, fn, v in p.elsewhere]]
        lines += ["  " + line for line in columns(
            ["framework", "function", "local", "input receives"], table)]
        lines.append(f"  backprop's convention: {p.convention}")
    return lines[1:]


def frameworks_json(graph: Graph, panels: list[KinkPanel]) -> list[dict]:
    return [{"node": p.node, "text": graph.text(p.node), "op": p.op, "inputs": list(p.inputs),
             "upstream": p.upstream, "local": list(p.local), "receives": list(p.sent),
             "convention": p.convention,
             "elsewhere": [{"framework": f, "function": fn, "local": v,
                            "receives": p.upstream * number(v)}
                           for f, fn, v in p.elsewhere]}
            for p in panels]

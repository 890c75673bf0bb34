"""Results -> plain JSON-ready dicts. The field names are an interface: see docs/json.md."""

from __future__ import annotations

from ..engine.trace import TraceRow
from ..evaluate import Result
from ..values import is_array, plain


def eval_json(result: Result, program: str) -> dict:
    """`eval --json`: the case's one record (record.py), which `check` writes too."""
    from ..record import case_record

    return case_record(result, program)


def expectations_json(result: Result) -> dict:
    """--expect's checks keyed as eval's JSON keys them: value, a variable (its gradient), a
    named value (q) or its gradient (dq)."""
    out = {"value": result.value_checks[-1].to_dict()} if result.value_checks else {}
    out.update({r.name: c.to_dict() for r in result.rows for c in r.checks})
    out.update({key: c.to_dict() for key, c in result.named_checks})
    return out


def trace_json(rows: list[TraceRow]) -> dict:
    nodes = []
    for r in rows:
        node = {
            "id": r.id,
            "op": r.op,
            "inputs": list(r.inputs),
            "value": plain(r.value),
            "grad": plain(r.grad),
            "local": [plain(x) for x in r.local],
            "downstream": [plain(x) for x in r.downstream],
            "role": r.role,
            "text": r.text,
        }
        if r.name is not None:
            node["name"] = r.name
        node["gate"] = r.gate
        if any(r.folded):
            node["folded"] = list(r.folded)
        node["shown_id"] = r.number  # the #n on screen, which skips constants inside gates
        if r.hidden:
            node["in_gate"] = True
        if r.fans_out:
            node["fan_out"] = [{"consumer": c, "grad": plain(g)} for c, g in r.contributions]
            node["consumers"] = len(r.consumers)
            node["uses"] = r.uses
        if is_array(r.value):
            node["shape"] = list(r.value.shape)
        nodes.append(node)
    return {"nodes": nodes}

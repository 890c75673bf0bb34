"""Results -> plain JSON-ready dicts. The field names are an interface: see docs/json.md."""

from __future__ import annotations

from ..engine.trace import TraceRow
from ..evaluate import Result
from ..values import is_array, plain


def status(result: Result) -> str:
    if result.failed:
        return "fail"
    checks = [c for r in result.rows for c in r.checks] + list(result.value_checks)
    return "pass" if checks and any(c.status == "pass" for c in checks) else "unchecked"


def eval_json(result: Result, program: str) -> dict:
    out = {
        "program": program,
        "value": plain(result.value),
        "gradients": {r.name: plain(r.gradient) for r in result.rows},
        "checks": {r.name: [c.to_dict() for c in r.checks] for r in result.rows},
        "value_checks": [c.to_dict() for c in result.value_checks],
        "warnings": list(result.warnings),
        "status": status(result),
        "exit_code": result.exit_code,
    }
    if is_array(result.value) or any(is_array(r.gradient) for r in result.rows):
        out["shapes"] = {r.name: list(getattr(r.gradient, "shape", ())) for r in result.rows}
    if any(r.formula for r in result.rows):
        out["formulas"] = {r.name: r.formula for r in result.rows}
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
        if r.fans_out:
            node["fan_out"] = [{"consumer": c, "grad": plain(g)} for c, g in r.contributions]
        if is_array(r.value):
            node["shape"] = list(r.value.shape)
        nodes.append(node)
    return {"nodes": nodes}

"""Results -> plain JSON-ready dicts. The field names are an interface: see docs/json.md."""

from __future__ import annotations

import math
from typing import Any

from ..engine.forward import is_array
from ..engine.trace import TraceRow
from ..evaluate import Result


def plain(x: Any) -> Any:
    """Floats stay floats; arrays become nested lists of floats; nan and inf become null; -0.0
    becomes 0.0 (adding 0.0 does exactly that and changes no other number), as the tables
    print it.

    A derivative that does not exist (d(a**b)/db for a < 0, sent to a constant exponent) is nan
    inside the trace; JSON has no nan, so it is written as null.
    """
    if x is None:
        return None
    if is_array(x):
        import numpy as np

        finite = np.isfinite(x)
        x = x + 0.0
        return x.tolist() if finite.all() else np.where(finite, x, None).tolist()
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    x = float(x)
    return x + 0.0 if math.isfinite(x) else None


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

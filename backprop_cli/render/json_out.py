"""Results -> plain JSON-ready dicts. The field names are an interface: see docs/json.md."""

from __future__ import annotations

from ..engine.trace import TraceRow
from ..evaluate import Result
from ..values import is_array, plain


def status(result: Result) -> str:
    """The verdict policy's word for the whole result (checks/verdict.py)."""
    return result.status


def eval_json(result: Result, program: str) -> dict:
    out = {
        "program": program,
        "value": plain(result.value),
        "gradients": {r.name: plain(r.gradient) for r in result.rows},
        "checks": {r.name: [c.to_dict() for c in r.checks] for r in result.rows},
        "value_checks": [c.to_dict() for c in result.value_checks],
        "named_checks": {key: c.to_dict() for key, c in result.named_checks},
        "warnings": list(result.warnings),
        "status": status(result),
        "exit_code": result.exit_code,
        "verdicts": {r.name: r.verdict for r in result.rows},
        "unchecked": {r.name: r.unchecked_reason for r in result.rows
                      if r.verdict == "unchecked"},
    }
    if is_array(result.value) or any(is_array(r.gradient) for r in result.rows):
        out["shapes"] = {r.name: list(getattr(r.gradient, "shape", ())) for r in result.rows}
    if any(r.formula for r in result.rows):
        out["formulas"] = {r.name: r.formula for r in result.rows}
    if result.jacobian is not None:
        # A non-scalar output: each name's d(output)/d(name) is a Jacobian block, which
        # replaces the gradient (there is no one gradient of a vector).
        del out["gradients"]
        out["jacobian"] = {r.name: plain(r.gradient) for r in result.rows}
        out["jacobian_mode"] = result.jacobian.mode
        out["jacobian_notes"] = {r.name: result.jacobian.notes.get(r.name)
                                 for r in result.rows}
    if result.hessian is not None:
        hess = result.hessian
        out["hessian"] = {a: {b: plain(hess.blocks[a][b]) for b in hess.names}
                          for a in hess.names}
        out["hessian_checks"] = [c.to_dict() for c in result.hessian_checks]
    if result.claims:
        out["claims"] = {c.claim.name: c.to_dict() for c in result.claims}
    return out


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

"""Trace rows -> the backward pass told as the lecture tells it: from the output back, one
node at a time, what arrives (upstream), the local gradient as a formula and a number, and what
each input receives, e.g. `dq = df/dq = z = -4` and `dx = dq * dq/dx = (-4) * 1 = -4`.

Every number is one the backward pass computed (the trace rows carry chain_step's record);
nothing here multiplies or adds.
"""

from __future__ import annotations

import re

from ..engine.trace import TraceRow
from ..language.labels import PLACEHOLDERS, local_formula, squared
from ..ops.registry import OPS
from . import numbers
from .plain import node_title, signed_sum


def explain_blocks(rows: list[TraceRow], output: int, precision: int) -> list[list[str]]:
    """A heading block, then one block of lines per node the gradient reaches, output first."""
    out = rows[output]
    n = lambda x: numbers.number(x, precision)  # noqa: E731
    if out.grad is None:
        return [[f"{out.operand} = {n(out.value)} reads no variable: no gradient flows back"]]
    head = [f"backward pass, from the output back: {out.operand} = {n(out.value)}, and "
            f"{out.grad_name}/{out.grad_name} = {n(out.grad)} to start"]
    blocks = [head]
    for r in reversed(rows):
        if r.hidden or r.grad is None:
            continue
        blocks.append(_block(r, rows, output, n))
    return blocks


def _block(r: TraceRow, rows: list[TraceRow], output: int, n) -> list[str]:
    name = r.name or ("f" if r.id == output else None)  # the output is f, as in the lecture
    title = f"{r.ref} {node_title(name, r.text)}"
    if r.op == "var":
        lines = [f"{title}: an input"]
    elif r.op == "const":
        lines = [f"{title}: a constant"]
    else:
        lines = [title, f"  gate {r.gate}: {r.role}"]
    if r.fans_out:
        parts = signed_sum([n(g) for _, g in r.contributions])
        lines.append(f"  {r.grad_name} = {parts} = {n(r.grad)}: {r.operand} is read "
                     f"{r.uses} times (by {_nodes(r.consumers, rows)}), and the gradients add")
    if r.op in ("var", "const"):
        if not r.fans_out:
            lines.append(f"  {r.grad_name} = {n(r.grad)}")
        return lines
    if r.id != output:
        lines.append(f"  upstream {r.grad_name} = {n(r.grad)}")
    if not r.shown_inputs:
        return lines
    templates = OPS[r.op].local_text
    labels, called = _gate_labels(r, rows)
    seed_one = r.id == output and not r.shape and r.grad == 1
    for k in r.shown_inputs:
        src = rows[r.inputs[k]]
        partial = f"{r.grad_name}/{src.grad_name}"
        get = "+=" if src.fans_out else "="
        down = n(r.downstream[k])
        if r.local[k] is None:
            lines.append(f"  {src.grad_name} {get} {r.grad_name} times the local Jacobian of "
                         f"{r.gate} (applied, not written out) = {down}")
            continue
        local = n(r.local[k])
        formula = ""
        if len(templates) == len(labels):  # max(x, y, z): the texts speak of two inputs
            text = local_formula(templates[k], labels)
            if "²" in r.role:  # written as the gate's role line writes it: x², not x**2
                text = squared(text)
            if called and re.search(rf"(?<![\w.]){called[0]}(?![A-Za-z0-9_])", text):
                text += f" ({called[0]} = {_bare(called[1])})"
            formula = "" if text == local else f"{text} = "
        if seed_one:
            # The output's upstream is 1, so what each input receives is the local gradient.
            lines.append(f"  {src.grad_name} {get} {partial} = {formula}{local}")
            continue
        lines.append(f"  local {partial} = {formula}{local}")
        lines.append(f"  {src.grad_name} {get} {r.grad_name} * {partial} = "
                     f"{numbers.factor(n(r.grad))} * {numbers.factor(local)} = {down}")
    return lines


def _gate_labels(r: TraceRow, rows: list[TraceRow]) -> tuple[list[str], tuple[str, str]]:
    """The inputs as a local formula names them. A gate with a constant folded in (1/x)
    calls its one unnamed input by the gate's placeholder, as its role does (local gradient
    -1/x²), and says which node that is: (x, #11). Else each input's own operand."""
    labels = [rows[j].operand for j in r.inputs]
    free = [k for k, f in enumerate(r.folded) if not f]
    if not r.role.startswith("local gradient ") or len(free) != 1 or \
            rows[r.inputs[free[0]]].name:  # a role in words, or the input has a name
        return labels, ()
    taken = {row.name for row in rows if row.name}
    hole = next(p for p in PLACEHOLDERS if p not in taken)
    k = free[0]
    called = (hole, labels[k])
    labels[k] = hole
    return labels, called


def _bare(operand: str) -> str:
    """(x+1) as x+1: said after '=', it needs no parentheses."""
    return operand[1:-1] if operand.startswith("(") and operand.endswith(")") else operand


def _nodes(ids: tuple[int, ...], rows: list[TraceRow]) -> str:
    return ", ".join(rows[i].ref for i in ids)

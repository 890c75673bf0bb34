"""A node's explicit local Jacobian -> plain text or a JSON-ready dict (see docs/arrays.md)."""

from __future__ import annotations

from collections.abc import Callable

from ..engine.jacobian import Jacobian
from . import numbers


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"


def jacobian_text(j: Jacobian, precision: int, ref: Callable[[int], str] | None = None) -> str:
    """The Jacobian's blocks as text; `ref` names a node as the trace's screen does (#n)."""
    import numpy as np

    ref = ref or (lambda i: f"#{i}")
    lines = [f"local Jacobian of {ref(j.node)} {j.text}  (op {j.op}, output "
             f"{_shape(j.shape)})"]
    for b in j.blocks:
        rows, cols = b.matrix.shape
        lines.append("")
        lines.append(f"d {ref(j.node)} / d {ref(b.input)} {b.text}: {rows} x {cols} "
                     f"(output entries x input entries, row-major)")
        text = np.array2string(b.matrix, precision=precision, separator=", ",
                               max_line_width=100_000, threshold=100_000,
                               formatter={"float_kind": lambda v: numbers.number(v, precision)})
        lines.extend("  " + line for line in text.splitlines())
        lines.append(f"  {b.note}")
    for i, why in j.skipped:
        lines.append("")
        lines.append(f"{ref(i)}: {why}")
    return "\n".join(lines)


def jacobian_json(j: Jacobian) -> dict:
    return {"jacobian": {
        "node": j.node, "text": j.text, "op": j.op, "shape": list(j.shape),
        "blocks": [{"input": b.input, "text": b.text, "matrix": b.matrix.tolist(),
                    "diagonal": b.diagonal, "note": b.note} for b in j.blocks],
        "skipped": [{"input": i, "reason": why} for i, why in j.skipped],
    }}

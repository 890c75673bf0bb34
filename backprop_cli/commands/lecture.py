"""The lecture's extra views for `eval` (why zero, nudge, one step, frameworks at a kink,
float32) and `trace --forward-mode`: one function per command that runs the views asked for.
The commands declare the options and import this module only when one is given; each view's
own modules are imported only when its option is."""

from __future__ import annotations

import math

import click

from ..errors import BindingError


def _scalar(result, what: str) -> None:
    from ..values import is_array

    if result.jacobian is not None or any(is_array(v) for v in result.values):
        raise BindingError(f"{what} works on programs of numbers, not arrays")


def eval_extras(result, why_zero=False, nudge=None, lr=None, frameworks=False,
                float32=False) -> tuple[list[str], dict]:
    """(lines, JSON fields) for the views asked for; nothing when none is."""
    lines: list[str] = []
    fields: dict = {}
    if not (why_zero or nudge is not None or lr is not None or frameworks or float32):
        return lines, fields
    graph, values = result.graph, result.values
    gradients = {r.name: r.gradient for r in result.rows}
    if why_zero:
        _scalar(result, "--why-zero")
        from ..engine.why_zero import zero_gradients
        from ..render.why_zero import why_zero_json, why_zero_lines

        reasons = zero_gradients(graph, values, gradients)
        lines += ["", *why_zero_lines(graph, values, reasons)]
        fields["why_zero"] = why_zero_json(graph, reasons)
    for flag, number in (("--nudge", nudge), ("--lr", lr)):
        if number is not None and not (math.isfinite(number) and number != 0):
            raise BindingError(f"{flag} needs a finite non-zero number, got {number:g}")
    if nudge is not None:
        _scalar(result, "--nudge")
        from ..engine.sensitivity import nudges
        from ..render.sensitivity import nudge_json, nudge_lines

        rows = nudges(graph, result.bindings, gradients, nudge)
        lines += ["", *nudge_lines(nudge, rows)]
        fields["nudge"] = nudge_json(nudge, rows)
    if lr is not None:
        _scalar(result, "--lr")
        from ..engine.sensitivity import descent_step
        from ..render.sensitivity import step_json, step_lines

        step = descent_step(graph, result.bindings, gradients, lr)
        lines += ["", *step_lines(step)]
        fields["step"] = step_json(step)
    if frameworks:
        _scalar(result, "--frameworks")
        from ..checks.frameworks import kink_panels
        from ..render.frameworks import frameworks_json, frameworks_lines

        panels = kink_panels(graph, values, result.grads)
        lines += ["", *frameworks_lines(graph, panels)]
        fields["frameworks"] = frameworks_json(graph, panels)
    if float32:
        _scalar(result, "--float32")
        from ..checks.float32 import replay
        from ..render.float32 import float32_json, float32_lines

        report = replay(graph, values, result.grads, list(gradients))
        lines += ["", *float32_lines(graph, report, values)]
        fields["float32"] = _finite(float32_json(graph, report))
    return lines, fields


def _finite(data):
    """JSON has no inf or nan: null stands for them."""
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_finite(v) for v in data]
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data


def show_forward_mode(result, name: str, as_json: bool, precision: int) -> None:
    """trace --forward-mode NAME (or all): one forward-mode pass per input asked for."""
    import json

    _scalar(result, "--forward-mode")
    from ..engine.tangents import forward_mode
    from ..render.tangents import forward_mode_json, forward_mode_lines, passes_lines

    graph = result.graph
    names = list(graph.variables) if name == "all" else [name]
    for n in names:
        if n not in graph.variables:
            raise BindingError(f"--forward-mode {n}: the program has no input {n}",
                               hint="name one of: " + ", ".join(graph.variables))
    runs = [(forward_mode(graph, result.values, n), result.grads[graph.variables[n]])
            for n in names]
    if as_json:
        click.echo(json.dumps({"forward_mode": [forward_mode_json(graph, result.values, fm, g)
                                                for fm, g in runs]}, indent=2))
        return
    blocks = ["\n".join(forward_mode_lines(graph, result.values, fm, g, precision))
              for fm, g in runs]
    from ..render.wrap import hang_text

    click.echo(hang_text("\n\n".join([*blocks, "\n".join(passes_lines(runs[0][0]))])))

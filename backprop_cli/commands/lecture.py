"""The lecture's extra views (why zero, nudge, one step, frameworks at a kink, float32, forward
mode), run for `eval` and `trace` alike: each view asked for becomes one `View` (its lines, its
JSON field, its title in a write-up). The commands declare the options (commands/eval.py) and
import this module only when one is given; each view's own modules only when its option is.
Nodes are named by the #n trace shows (`shown_refs`), in every view and both commands."""

from __future__ import annotations

import math
from dataclasses import dataclass

import click

from ..errors import BindingError

ASKED = ("why_zero", "nudge", "lr", "frameworks", "float32")  # the options, in print order


@dataclass(frozen=True)
class View:
    key: str  # its --json field
    title: str  # its heading in a write-up
    lines: tuple[str, ...]  # as the terminal shows it
    data: object  # its --json value


def is_array_program(result) -> bool:
    from ..values import is_array

    return any(is_array(v) for v in result.values)


def _gradients(result) -> dict:
    """The gradients a view moves or replays: an integer array binding holds positions (an
    index), which no step or nudge may move and no gradient reaches."""
    from ..values import is_index

    return {n: g for n, g in result.gradients.items()
            if not is_index(result.bindings.get(n))}


def _scalar_output(result, what: str) -> None:
    if result.jacobian is not None:
        raise BindingError(f"{what} needs a scalar output: the output is an array (sum it, or "
                           "take one entry)")


def _number(flag: str, number: float) -> None:
    if not (math.isfinite(number) and number != 0):
        raise BindingError(f"{flag} needs a finite non-zero number, got {number:g}")


def lecture_views(result, why_zero=False, nudge=None, lr=None, frameworks=False,
                  float32=False) -> list[View]:
    """The views asked for, in a fixed order; none when none is."""
    from ..engine.trace import shown_refs

    asked = {"why_zero": why_zero, "nudge": nudge, "lr": lr, "frameworks": frameworks,
             "float32": float32}
    for flag in ("nudge", "lr"):
        if asked[flag] is not None:
            _number(f"--{flag}", asked[flag])
    refs = shown_refs(result.graph)
    return [_VIEWS[key](result, asked[key], refs) for key in ASKED
            if asked[key] is not None and asked[key] is not False]


def _why_zero(result, _flag, refs) -> View:
    from ..render.why_zero import why_zero_json, why_zero_lines

    if is_array_program(result):
        from ..engine.why_zero import array_zeros

        reasons = array_zeros(result.graph, result.values, result.gradients)
    else:
        from ..engine.why_zero import zero_gradients

        reasons = zero_gradients(result.graph, result.values, result.gradients)
    return View("why_zero", "Why zero",
                tuple(why_zero_lines(result.graph, result.values, reasons, refs)),
                why_zero_json(result.graph, reasons, refs))


def _nudge(result, h: float, refs) -> View:
    from ..engine.sensitivity import nudges
    from ..render.sensitivity import nudge_json, nudge_lines

    _scalar_output(result, "--nudge")
    rows = nudges(result.graph, result.bindings, _gradients(result), h)
    kinked = _on_kinks(result, refs)
    return View("nudge", "Nudge each input", tuple(nudge_lines(h, rows, kinked)),
                {**nudge_json(h, rows), "on_kink": [k[0] for k in kinked]})


def _on_kinks(result, refs) -> list[tuple[str, str]]:
    """(the node as trace shows it, what backprop uses there) for each node on a kink: at one,
    first order is one-sided, so a nudge may follow the slope backprop did not take."""
    graph, values = result.graph, result.values
    if is_array_program(result):
        from ..checks.arrays import array_kinks

        found = [(i, f" (in {hits} of {size} entries)" if size > 1 else "", rule)
                 for i, hits, size, rule in array_kinks(graph, values)]
    else:
        from ..checks.scalar import kinks

        found = [(i, "", rule) for i, rule in kinks(graph, values)]
    return [(f"{refs[i]} {graph.text(i)}{where}", rule) for i, where, rule in found]


def _lr(result, eta: float, _refs) -> View:
    from ..engine.sensitivity import descent_step
    from ..render.sensitivity import step_json, step_lines

    _scalar_output(result, "--lr")
    step = descent_step(result.graph, result.bindings, _gradients(result), eta)
    return View("step", "One gradient-descent step", tuple(step_lines(step)), step_json(step))


def _frameworks(result, _flag, refs) -> View:
    from ..checks.frameworks import kink_panels
    from ..render.frameworks import frameworks_json, frameworks_lines

    panels = kink_panels(result.graph, result.values, result.grads)
    return View("frameworks", "Other frameworks at a kink",
                tuple(frameworks_lines(result.graph, panels, refs)),
                frameworks_json(result.graph, panels, refs))


def _float32(result, _flag, refs) -> View:
    from ..checks.float32 import replay
    from ..render.float32 import float32_json, float32_lines

    report = replay(result.graph, result.values, result.grads, list(_gradients(result)))
    return View("float32", "Float32", tuple(float32_lines(result.graph, report, result.values,
                                                          refs)),
                _finite(float32_json(result.graph, report, refs)))


_VIEWS = {"why_zero": _why_zero, "nudge": _nudge, "lr": _lr, "frameworks": _frameworks,
          "float32": _float32}


def _finite(data):
    """JSON has no inf or nan: null stands for them."""
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_finite(v) for v in data]
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data


def view_lines(views: list[View]) -> list[str]:
    """The views as the terminal shows them, each after a blank line."""
    return [line for v in views for line in ("", *v.lines)]


def view_fields(views: list[View]) -> dict:
    return {v.key: v.data for v in views}


def show_forward_mode(result, spec: str, as_json: bool, precision: int) -> None:
    """trace --forward-mode NAME (or all; on arrays NAME[i]): one forward-mode pass per input
    asked for, then the count of passes each mode needs."""
    import json

    from ..engine.trace import shown_refs
    from ..render.tangents import forward_mode_json

    graph = result.graph
    runs = _forward_runs(result, spec)
    refs = shown_refs(graph)
    if as_json:
        click.echo(json.dumps({"forward_mode": [
            forward_mode_json(graph, result.values, fm, g, refs) for fm, g in runs]}, indent=2))
        return
    from ..render.wrap import hang_text

    click.echo(hang_text("\n".join(_forward_mode_text(result, runs, precision, refs))))


def _forward_mode_text(result, runs, precision: int, refs) -> list[str]:
    """Each pass's lines, a blank line between, then the count of passes each mode needs."""
    from ..render.tangents import forward_mode_lines, passes_lines

    lines: list[str] = []
    for fm, g in runs:
        lines += [*forward_mode_lines(result.graph, result.values, fm, g, precision, refs), ""]
    return lines + list(passes_lines(runs[0][0]))


def forward_mode_view(result, spec: str, precision: int) -> View:
    """trace --forward-mode in a write-up: its lines as the terminal shows them, a section
    after the trace's chain rule (the reverse-mode steps it stands beside)."""
    from ..engine.trace import shown_refs
    from ..render.tangents import forward_mode_json

    runs = _forward_runs(result, spec)
    refs = shown_refs(result.graph)
    data = [forward_mode_json(result.graph, result.values, fm, g, refs) for fm, g in runs]
    title = "every input" if spec == "all" else "d/d" + spec.replace(" ", "")
    return View("forward_mode", f"Forward mode ({title})",
                tuple(_forward_mode_text(result, runs, precision, refs)), data)


def _forward_runs(result, spec: str) -> list:
    """(ForwardMode, the backward pass's gradient for the same input or entry) per pass."""
    from ..engine.tangents import entry_of, forward_mode, forward_mode_entry

    graph, values = result.graph, result.values
    if is_array_program(result):
        if spec == "all":
            raise BindingError("--forward-mode all: on arrays forward mode follows one input "
                               "entry per pass; name one, e.g. x[0]")
        name, entry = entry_of(graph, values, spec)
        grad = result.grads[graph.variables[name]]
        backward = float(grad.flat[entry]) if hasattr(grad, "flat") else float(grad)
        return [(forward_mode_entry(graph, values, name, entry, spec.replace(" ", "")),
                 backward)]
    names = list(graph.variables) if spec == "all" else [entry_of(graph, values, spec)[0]]
    return [(forward_mode(graph, values, n), result.grads[graph.variables[n]])
            for n in names]

"""One case end to end: text -> graph -> values -> gradients -> checks, as one `Result`.

`eval`, `trace`, `graph` and the batch checker all run cases through `evaluate`, so they agree
on every number, warning and exit code.

Verdicts and exit codes follow the one policy in checks/verdict.py (docs/checks.md says it for
users); `Result.exit_code` applies it and the CLI only passes it on:
  0  no check disagreed (a gradient no check confirmed is "unchecked", and named, not "pass")
  1  a check disagreed: sympy, finite differences, or an --expect value
  2  bad input (raised as BackpropError before a Result exists)
  3  an internal fault (a rule that broke its own contract), raised as InternalError
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import exits
from .checks import verdict as policy
from .checks.scalar import Check, Limits, kinks
from .engine.backward import backpropagate
from .engine.forward import forward, is_array
from .errors import BindingError, ShapeError
from .graph import SPAN, Graph
from .language.parser import parse
from .values import is_index

EXIT_OK = exits.OK
EXIT_CHECK_FAILED = exits.CHECK_FAILED
EXIT_BAD_INPUT = exits.BAD_INPUT


@dataclass(frozen=True)
class Options:
    check: bool = True  # run sympy and finite differences
    sympy: bool = True
    numeric: bool = True
    wrt: tuple[str, ...] | None = None  # only these gradients
    # (NAME, number text) pairs or a mapping; NAME is "value", a variable, or dNAME
    expect: Mapping[str, str] | tuple[tuple[str, str], ...] = field(default_factory=dict)
    symbolic: bool = False  # also give sympy's derivative formula per variable
    seed: Any = None  # upstream gradient for a non-scalar output
    limits: Limits = Limits()
    # A non-scalar output with no seed: its full Jacobian (eval), rather than an error (the
    # commands that show one backward pass: trace, graph, check).
    full_jacobian: bool = False
    hessian: bool = False  # also the Hessian of a scalar output
    claims: tuple[str, ...] = ()  # derivative formulas to grade, "dx=2*x" (checks/claims.py)


@dataclass(frozen=True)
class GradientRow:
    name: str
    gradient: Any  # float, or an array shaped like the variable
    checks: tuple[Check, ...] = ()
    formula: str | None = None

    @property
    def failed(self) -> bool:
        return self.verdict == "fail"

    @property
    def verdict(self) -> str:
        """One word for the row: fail, pass (a check confirmed it), unchecked."""
        return policy.row_status(self.checks)

    @property
    def unchecked_reason(self) -> str:
        """Why no check confirmed this gradient ("" when one did, or it failed)."""
        return policy.unchecked_reason(self.checks) if self.verdict == "unchecked" else ""


@dataclass(frozen=True)
class Result:
    graph: Graph
    bindings: Mapping[str, Any]
    values: list
    grads: list
    rows: tuple[GradientRow, ...]
    value_checks: tuple[Check, ...] = ()
    warnings: tuple[str, ...] = ()
    checked: bool = False
    # Expectations of named intermediates: ("q", check of q's value), ("dq", of its gradient).
    named_checks: tuple[tuple[str, Check], ...] = ()
    jacobian: Any = None  # engine.jacobian.OutputJacobian, for a non-scalar output
    hessian: Any = None  # engine.hessian.Hessian, with --hessian
    hessian_checks: tuple[Check, ...] = ()
    claims: tuple = ()  # ClaimResult per --claim, in the order given

    @property
    def claims_failed(self) -> bool:
        return any(c.status == "fail" for c in self.claims)

    @property
    def value(self) -> Any:
        return self.values[self.graph.output]

    @property
    def gradients(self) -> dict[str, Any]:
        return {r.name: r.gradient for r in self.rows}

    @property
    def status(self) -> str:
        """fail, pass (every gradient confirmed, and the Hessian when one was asked for), or
        unchecked: checks/verdict.py decides. A Hessian check that disagrees, or a claimed
        formula that does not hold, fails the run."""
        # Symmetry alone confirms no Hessian: it needs sympy or finite differences to agree.
        hessian = [c for c in self.hessian_checks if c.method != "symmetry"]
        derived = [policy.row_status(hessian)] if hessian else []
        return policy.overall([r.verdict for r in self.rows] + derived,
                              [c.status for c in (*self.value_checks,
                                                  *(c for _, c in self.named_checks))],
                              [c.status for c in (*self.hessian_checks, *self.claims)])

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    @property
    def unchecked(self) -> list[str]:
        """The gradients no check confirmed."""
        return [r.name for r in self.rows if r.verdict == "unchecked"]

    @property
    def exit_code(self) -> int:
        return policy.exit_code(self.status)


def evaluate(source: str | Graph, bindings: Mapping[str, Any],
             options: Options = Options()) -> Result:
    """Run one program at one point. Raises BackpropError for bad input."""
    graph = parse(source) if isinstance(source, str) else source
    warnings = [f"{name} is bound but the program never reads it"
                for name in bindings if name not in graph.variables]
    names = _selected_names(graph, bindings, options.wrt)
    # Before any work: a misspelt expectation should not wait for sympy to be refused.
    expected, named = _resolve_expected(graph, bindings, names, options)
    claims = ()
    if options.claims:
        from .checks.claims import parse_claims

        claims = parse_claims(options.claims, list(bindings))
    kinked = array(SPAN)  # the nodes whose op has kinks, listed by the forward pass
    values = forward(graph, bindings, kinked)
    output = values[graph.output]
    if options.hessian:
        _hessian_fits(graph, values, options)
    if is_array(output) and options.seed is None and options.full_jacobian:
        return _jacobian_result(graph, bindings, values, names, warnings, expected, options)
    seed = _seed(graph, output, options.seed)
    # A bound variable the program never reads has gradient 0: nothing to ask the pass for.
    grads = backpropagate(graph, values, seed, wrt=[n for n in names if n in graph.variables]
                          if options.wrt is not None else None)

    for i, convention in kinks(graph, values, kinked):
        warnings.append(f"{graph.text(i)} is evaluated exactly at a non-differentiable point; "
                        f"backprop uses the subgradient convention: {convention}")

    arrays = any(is_array(v) for v in bindings.values()) or is_array(output)
    if arrays:
        warnings.extend(_array_kink_warnings(graph, values))
    checks = _cross_checks(graph, bindings, values, grads, names, seed, arrays, options)
    value_checks, named_checks = _expectations(graph, values, grads, expected, checks,
                                               {s: i for i, s in named.items()}) \
        if expected else ([], [])

    formulas = _formulas(graph, bindings, names, options) if options.symbolic else {}
    rows = tuple(GradientRow(n, _shaped(_gradient(graph, grads, n), bindings.get(n)),
                             tuple(checks[n]), formulas.get(n))
                 for n in names)
    hess, hess_checks = _second_order(graph, bindings, values, names, options) \
        if options.hessian else (None, ())
    graded = ()
    if claims:
        from .checks.claims import grade_claims

        graded = grade_claims(graph, bindings, claims, seed, options.limits)
    return Result(graph, dict(bindings), values, grads, rows, tuple(value_checks),
                  tuple(warnings), options.check, tuple(named_checks), claims=graded,
                  hessian=hess, hessian_checks=hess_checks)


def _resolve_expected(graph: Graph, bindings: Mapping[str, Any], names: list[str],
                      options: Options) -> tuple[tuple, dict[int, str]]:
    """The expectations to grade, and the named values (node -> name) they may name."""
    pairs = options.expect.items() if isinstance(options.expect, Mapping) else options.expect
    if not pairs:  # the grader is imported only by a run that grades something
        return (), {}
    # Only then are the named values listed: a copy of the names, held to the end, would
    # cost a 10^6-node program of statements about 20 B a node at its peak.
    named = {i: s for i, s in graph.names.items()
             if s not in graph.variables and i not in graph.consts}
    from .checks.expectations import resolve as resolve_expectations

    expected = resolve_expectations(pairs, bindings, names if options.wrt is not None else None,
                                    named=named.values())
    return expected, named


def _hessian_fits(graph: Graph, values: list, options: Options) -> None:
    """--hessian needs a scalar output of its own: refused before any work."""
    if options.seed is not None and not is_array(values[graph.output]):
        raise BindingError("--hessian is the Hessian of the output itself, and --seed would "
                           "scale only its gradients",
                           hint="drop --seed, or multiply the program by the number")
    from .engine.hessian import require_scalar_output

    require_scalar_output(graph, values)


def _cross_checks(graph: Graph, bindings: Mapping[str, Any], values: list, grads: list,
                  names: list[str], seed: Any, arrays: bool,
                  options: Options) -> dict[str, list[Check]]:
    """Each gradient against sympy and finite differences, as the options ask."""
    if not (options.check and (options.sympy or options.numeric)):
        return {n: [] for n in names}
    if arrays:
        from .checks.arrays import cross_check_arrays

        return cross_check_arrays(graph, bindings, values, grads, names, sympy=options.sympy,
                                  numeric=options.numeric, limits=options.limits)
    from .checks.gradients import cross_check

    return cross_check(graph, bindings, values, grads, names, sympy=options.sympy,
                       numeric=options.numeric, limits=options.limits, seed=seed)


def _second_order(graph: Graph, bindings: Mapping[str, Any], values: list, names: list[str],
                  options: Options) -> tuple[Any, tuple[Check, ...]]:
    """The Hessian (dual numbers through the backward pass) and its checks."""
    from .engine.hessian import hessian

    hess = hessian(graph, values, names, bindings)
    if not (options.check and (options.sympy or options.numeric)):
        return hess, ()
    from .checks.second import check_hessian

    return hess, tuple(policy.settle(check_hessian(
        graph, bindings, values, hess, sympy=options.sympy, numeric=options.numeric,
        limits=options.limits)))


def _expectations(graph: Graph, values: list, grads: list, expected, checks: dict,
                  named: dict[str, int]) -> tuple[list[Check], list[tuple[str, Check]]]:
    """Grade each (key, text): the output's value, a variable's gradient (into its row's
    checks), a named intermediate's value or gradient. A wrong scalar answer is diagnosed from
    the trace of the backward pass (expectations.mistakes)."""
    from .checks.expectations import diagnose, grade, mistakes, zero_floors

    value_checks: list[Check] = []
    named_checks: list[tuple[str, Check]] = []
    story: list = []
    floor = zero_floors(graph, values, grads)  # an expected 0: the rounding ours may carry

    def rows() -> list:
        if not story:
            from .engine.trace import trace_rows

            story.extend(trace_rows(graph, values, grads))
        return story

    for key, text in expected:
        if key == "value":
            node, gradient, what = graph.output, False, "value"
        elif key in named:
            node, gradient, what = named[key], False, key
        elif key not in checks and key[1:] in named:
            node, gradient, what = named[key[1:]], True, key
        else:
            node, gradient, what = graph.variables.get(key), True, f"d{key}"
        ours = (grads if gradient else values)[node] if node is not None else 0.0
        check = grade(ours, text, what, None if node is None else
                      lambda n=node, g=gradient: floor(n, g))
        if check.status == "fail" and node is not None:
            check = diagnose(check, ours, text, mistakes(rows(), node, gradient))
        if key == "value":
            value_checks.append(check)
        elif key in checks and gradient:
            checks[key].append(check)
        else:
            named_checks.append((key, check))
    return value_checks, named_checks


def _jacobian_result(graph: Graph, bindings: Mapping[str, Any], values: list,
                     names: list[str], warnings: list[str], expected, options: Options) -> Result:
    """A non-scalar output with no --seed: the full Jacobian with respect to each variable,
    each block cross-checked like a gradient."""
    from .engine.jacobian import output_jacobian

    if expected:
        raise BindingError("--expect grades one number, and with a non-scalar output each "
                           "gradient is a Jacobian", hint="compare Jacobians with --json")
    jac = output_jacobian(graph, values, names, bindings)
    warnings.extend(_array_kink_warnings(graph, values))
    checks: dict[str, list[Check]] = {n: [] for n in names}
    if options.check and (options.sympy or options.numeric):
        from .checks.second import check_jacobian

        checks = {n: policy.settle(c) for n, c in check_jacobian(
            graph, bindings, values, jac, names, sympy=options.sympy, numeric=options.numeric,
            limits=options.limits).items()}
    rows = tuple(GradientRow(n, jac.blocks[n], tuple(checks[n])) for n in names)
    return Result(graph, dict(bindings), values, [], rows, (), tuple(warnings), options.check,
                  jacobian=jac)


def _array_kink_warnings(graph: Graph, values: list) -> list[str]:
    from .checks.arrays import array_kinks

    found = []
    for i, hits, total, convention in array_kinks(graph, values):
        where = "" if total == 1 else f" in {hits} of {total:,} entries"
        found.append(f"{graph.text(i)} is evaluated exactly at a non-differentiable "
                     f"point{where}; backprop uses the subgradient convention: {convention}")
    return found


def _selected_names(graph: Graph, bindings: Mapping[str, Any],
                    wrt: tuple[str, ...] | None) -> list[str]:
    # An integer array holds positions (C[Xb]): it has no gradient, and none is reported.
    names = [n for n in bindings if not is_index(bindings[n])]
    for name in graph.variables:  # every read variable is bound; forward raises otherwise
        if name not in bindings:
            names.append(name)
    if wrt is None:
        return names
    for name in wrt:
        if name not in bindings:
            raise BindingError(f"--wrt {name}: {name} is not a bound variable",
                               hint="bound: " + (", ".join(bindings) or "none"))
        if is_index(bindings[name]):
            raise BindingError(f"--wrt {name}: {name} holds integers, positions with no "
                               "gradient", hint="bind it as floats (1.0) to differentiate it")
    return list(dict.fromkeys(wrt))


def _gradient(graph: Graph, grads: list, name: str) -> Any:
    i = graph.variables.get(name)
    return 0.0 if i is None else grads[i]


def _shaped(gradient: Any, value: Any) -> Any:
    """A gradient has its variable's shape, also for an array the program never reads."""
    if is_array(value) and not is_array(gradient):
        import numpy as np

        return np.zeros(value.shape) + gradient
    return gradient


def _seed(graph: Graph, output: Any, seed: Any) -> Any:
    """d(output)/d(output): 1 for a scalar; a non-scalar output needs a given upstream."""
    if not is_array(output):
        if is_array(seed):  # even one entry in a list: the output is a number, not an array
            raise ShapeError(f"--seed has shape {tuple(seed.shape)} but the output is a "
                             "scalar", hint="give one number, e.g. --seed 2")
        return 1.0 if seed is None else float(seed)
    if seed is None:
        raise ShapeError(
            f"the output has shape {tuple(output.shape)}: a gradient needs a scalar output",
            graph.source, (graph.starts[graph.output], graph.ends[graph.output]),
            "wrap it in sum(...), or give the upstream gradient with --seed")
    import numpy as np

    seed = np.broadcast_to(np.asarray(seed, dtype=float), output.shape).copy() \
        if np.ndim(seed) == 0 else np.asarray(seed, dtype=float)
    if seed.shape != output.shape:
        raise ShapeError(f"--seed has shape {seed.shape} but the output has shape "
                         f"{tuple(output.shape)}")
    return seed


def _formulas(graph: Graph, bindings: Mapping[str, Any], names: list[str],
              options: Options) -> dict[str, str]:
    """sympy's derivative formula per variable (checks/formulas.py), within the check's
    limits."""
    from .checks.formulas import formulas

    return formulas(graph, bindings, names, options.limits)

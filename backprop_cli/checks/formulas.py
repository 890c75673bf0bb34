"""Derivative formulas for --symbolic: sympy's d(output)/d(variable), built from the graph.

Scalar programs: the output's expression is built node by node (as the checker builds it), with
one difference: the lecture's sigmoid gate, written as a sigmoid(t) call or spelled out as
1/(1+exp(-t)) (grouping.py recognises it), becomes a sympy function σ whose derivative is
σ(1 - σ), so the formula reads as the lecture writes it, `x0*σ*(1 - σ)`, with σ named once.

Array programs: the matrix formula, from sympy's matrix calculus. A vector of n entries is an
n x 1 MatrixSymbol, a matrix an m x n one; `@` is the matrix product, `*` of arrays the
Hadamard product, `x**k` the Hadamard power, sum(v) is 1^T v (and sum(v**2) is v^T v), norm(v)**2
is v^T v. For sum((W @ x)**2) that gives d/dW = 2*W @ x @ x.T and d/dx = 2*W.T @ W @ x, the
lecture's 2(Wx)x^T and 2W^T(Wx), printed with the language's `@` for the matrix product;
vectors are columns there, so x @ x.T is an outer product (MATRIX_NOTE, which the renderers
print). An op with no matrix form here (an elementwise exp of an array, softmax,
cross_entropy, ...) gives no formula, and says so: never a scalar formula for a matrix variable.

User text never reaches sympy's parser: every expression is made from registry rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine.forward import is_array
from ..graph import Graph
from ..ops import matrix_forms
from ..ops.matrix_forms import NormOf
from ..ops.shapes import infer_shapes
from .scalar import (
    Limits,
    _deadline,
    _sympy_constant,
    _Timeout,
    sympy_expressions,
    sympy_gate,
    sympy_over_budget,
)

MATRIX_NOTE = ("matrix formulas: @ is the matrix product and a vector is a column, so x @ x.T "
               "is an outer product")


class NoFormula(Exception):
    """The program has no matrix formula here; the message says which op."""


def formulas(graph: Graph, bindings: Mapping[str, Any], names: list[str],
             limits: Limits | None = None) -> dict[str, str]:
    """{name: formula text}; a formula that cannot be given is "(...why...)"."""
    limits = limits or Limits()
    refused = sympy_gate(graph, limits)  # the one size gate of every sympy check
    if refused:
        return {n: f"(skipped: {refused})" for n in names}
    arrays = any(is_array(v) for v in bindings.values())
    try:
        with _deadline(limits.sympy_seconds):
            if arrays:
                return _matrix_formulas(graph, bindings, names)
            return _scalar_formulas(graph, names)
    except _Timeout:
        return {n: f"(skipped: {sympy_over_budget(limits)})"
                for n in names}
    except NoFormula as why:
        return {n: f"(no matrix formula: {why})" for n in names}
    except Exception as exc:  # sympy's failures are many; the formula is a courtesy
        if arrays:  # sympy's matrix calculus stops short of it (e.g. sum(v**3))
            return {n: "(no matrix formula: sympy's matrix calculus cannot differentiate "
                       "this program)" for n in names}
        return {n: f"(skipped: sympy failed: {type(exc).__name__})" for n in names}


# --- scalar programs ----------------------------------------------------------------------


def _sigma_function():
    import sympy as sp

    class σ(sp.Function):  # noqa: N801  (the lecture's name for it)
        """The sigmoid, with the lecture's derivative σ(1 - σ)."""

        def fdiff(self, argindex=1):
            return self * (1 - self)

    return σ


def _scalar_formulas(graph: Graph, names: list[str]) -> dict[str, str]:
    import sympy as sp

    from ..engine.grouping import group
    from .sympy_graph import formula_text

    grouped = group(graph, ["sigmoid"]).graph
    sigma = _sigma_function()
    # sigmoid is the one row whose formula reads better as a gate: σ, with σ' = σ(1 - σ).
    f = sympy_expressions(grouped, {"sigmoid": sigma})[grouped.output]
    calls = sorted(f.atoms(sigma), key=sp.default_sort_key)
    out = {}
    for n in names:
        d = sp.diff(f, sp.Symbol(n, real=True))
        if not calls:  # in the program language, so it pastes back as a --claim
            out[n] = formula_text(sp.simplify(d))
            continue
        # One σ: name it once and write the formula in it; several: keep them as calls.
        if len(calls) == 1:
            s = sp.Symbol("σ")
            d = d.subs(calls[0], s)
            out[n] = f"{sp.sstr(d)}, where σ = σ({sp.sstr(calls[0].args[0])})"
        else:
            out[n] = sp.sstr(d)
    return out


# --- array programs -----------------------------------------------------------------------


def _matrix_formulas(graph: Graph, bindings: Mapping[str, Any], names: list[str]
                     ) -> dict[str, str]:
    import sympy as sp

    shapes = infer_shapes(graph, bindings)
    exprs = _matrix_expressions(sp, graph, shapes)
    f = exprs[graph.output]
    if isinstance(f, NormOf):
        raise NoFormula("norm of an array has a matrix formula here only squared, as "
                        "norm(v)**2")
    if isinstance(f, sp.MatrixExpr):
        if f.shape != (1, 1):
            raise NoFormula("the output is not a number")
    out = {}
    for n in names:
        i = graph.variables.get(n)
        if i is None:
            out[n] = "0"
            continue
        d = sp.diff(f, exprs[i])
        out[n] = _matrix_text(sp, d)
    return out


def _matrix_text(sp, d) -> str:
    """sympy's matrix result in plain notation: diag(1) is the identity and is dropped, a
    matrix of ones reads ones(m,n)."""
    from sympy.printing.precedence import precedence
    from sympy.printing.str import StrPrinter

    class Printer(StrPrinter):
        def _print_OneMatrix(self, m):
            return "1" if m.shape == (1, 1) else f"ones({m.shape[0]},{m.shape[1]})"

        def _print_MatMul(self, expr):
            # The program's spelling: @ between matrices (sympy's own `*` would read as the
            # language's entrywise product), `*` only for a number in front.
            c, rest = expr.as_coeff_mmul()
            sign = "-" if c.is_number and c.is_negative else ""
            c = -c if sign else c
            factors = [self.parenthesize(a, precedence(expr)) for a in rest.args]
            head = "" if c == 1 else f"{self.parenthesize(c, precedence(expr))}*"
            return sign + head + " @ ".join(factors)

    if hasattr(d, "atoms"):
        swaps = {m: sp.Identity(m.shape[0]) for m in d.atoms(sp.DiagMatrix)
                 if isinstance(m.args[0], sp.OneMatrix)}
        if swaps:
            d = d.xreplace(swaps).doit()
    return Printer().doprint(d)


def _matrix_expressions(sp, graph: Graph, shapes: list[tuple]) -> list:
    """Every node as a sympy scalar or matrix expression; NoFormula where there is none."""
    exprs: list = [None] * len(graph)
    for i, op in enumerate(graph.ops):
        shape = shapes[i]
        if i in graph.consts:
            exprs[i] = _sympy_constant(sp, graph.names.get(i), graph.consts[i])
        elif op.is_leaf:
            name = graph.names[i]
            if not shape:
                exprs[i] = sp.Symbol(name, real=True)
            else:
                rows, cols = (shape[0], 1) if len(shape) == 1 else shape
                exprs[i] = sp.MatrixSymbol(name, rows, cols)
        else:
            args = [exprs[j] for j in graph.args[i]]
            exprs[i] = _matrix_rule(sp, op.name, args, [shapes[j] for j in graph.args[i]],
                                    graph, i)
    return exprs


def _is_matrix(sp, e) -> bool:
    return isinstance(e, sp.MatrixExpr)


def _matrix_rule(sp, name: str, args: list, shapes: list, graph: Graph, i: int):
    """The node in sympy's matrix calculus: numbers by the row's own sympy form, arrays by the
    row's matrix form (`Op.matrix`, ops/matrix_forms.py), if it has one here."""
    op = graph.ops[i]
    norm = any(isinstance(a, NormOf) for a in args)
    if not norm and not any(_is_matrix(sp, a) for a in args):  # numbers: the scalar row
        return op.sympy(sp, *args)
    form = getattr(matrix_forms, op.matrix)(sp, args, shapes) if op.matrix else None
    if form is not None:
        return form
    if norm:
        raise NoFormula("norm of an array has a matrix formula here only squared, as "
                        "norm(v)**2")
    raise NoFormula(f"{op.name} of an array has no form in sympy's matrix calculus here")

"""sympy expression -> graph, so sympy's scalar formulas (--symbolic, formulas.py) print in our
language (by the one printer) and can be pasted back as programs or claims.

Only sympy's own objects are read here (never user text). The walk keeps its own stack. Which
sympy function is which row is read from the rows themselves (`sympy_functions`: a row whose
sympy form of plain symbols is one sympy function of exactly those symbols, as abs's is
Abs(a) and arcsin's asin(a)), so there is no table of names here. A sympy function with no
row is written in exponentials when sympy can; otherwise (Heaviside, ...) `NotInLanguage` is
raised and the caller falls back to sympy's own spelling.
"""

from __future__ import annotations

from ..graph import Graph
from ..ops import OPS, ROWS

_SYMPY_FUNCTIONS: dict[str, str] | None = None


def sympy_functions() -> dict[str, str]:
    """{sympy function class name: row name}, from each row's own sympy form: the rows whose
    form, applied to plain symbols, is one sympy function of exactly those symbols (abs ->
    Abs, max -> Max, arcsin -> asin, erf -> erf). Built once, on first use."""
    global _SYMPY_FUNCTIONS
    if _SYMPY_FUNCTIONS is None:
        import sympy as sp

        found: dict[str, str] = {}
        for row in ROWS:
            if row.is_leaf or row.sympy is None or not row.elementwise or row.symbol:
                continue
            args = sp.symbols(f"a0:{row.arity or 2}", real=True)
            try:
                e = row.sympy(sp, *args)
            except Exception:  # noqa: BLE001  (a form that needs arrays is not a function)
                continue
            if not (e.is_Atom or e.is_Add or e.is_Mul or e.is_Pow or e.is_Piecewise) \
                    and set(e.args) == set(args) and len(e.args) == len(args):
                found.setdefault(type(e).__name__, row.name)
        _SYMPY_FUNCTIONS = found
    return _SYMPY_FUNCTIONS


class NotInLanguage(Exception):
    """The expression uses something our language cannot write."""


def to_graph(expr) -> Graph:
    """The graph of a sympy expression: sums as + and -, quotients as /, x**(1/2) as sqrt."""
    import sympy as sp

    graph = Graph()
    built: dict = {}
    stack: list = [(expr, None)]
    while stack:
        e, step = stack.pop()
        if e in built and step is None:
            continue
        if step is None:
            children, combine = _split(sp, graph, e)
            stack.append((e, (children, combine)))
            stack.extend((c, None) for c in children if c not in built)
        else:
            children, combine = step
            built[e] = combine([built[c] for c in children])
    return graph.finish(built[expr])


def _split(sp, g: Graph, e):
    """(the sub-expressions e is made of, how to make e's node from theirs)."""
    if e.is_Symbol:
        return [], lambda _: g.add_variable(e.name, 0, 0)
    if e is sp.pi or e is sp.E:
        name = "pi" if e is sp.pi else "e"
        return [], lambda _: g.add_constant(float(e), 0, 0, name)
    if e.is_Integer or e.is_Float:
        return [], lambda _: g.add_constant(float(e), 0, 0)
    if e.is_Rational:  # p/q
        return [sp.Integer(e.p), sp.Integer(e.q)], lambda n: _op(g, "div", n)
    if e.is_Add:
        terms = e.as_ordered_terms()
        # A positive term first, so -a + 1 reads 1 - a.
        terms.sort(key=lambda t: t.could_extract_minus_sign())
        signs = [t.could_extract_minus_sign() for t in terms]
        kids = [-t if s else t for t, s in zip(terms, signs)]

        def add(nodes):
            out = _op(g, "neg", nodes[:1]) if signs[0] else nodes[0]
            for node, s in zip(nodes[1:], signs[1:]):
                out = _op(g, "sub" if s else "add", (out, node))
            return out

        return kids, add
    if e.is_Mul or (e.is_Pow and e.exp.is_negative):
        num, den = sp.fraction(e)
        if den != 1:  # the sign goes on the numerator: -x/y, not -(x/y)
            return [num, den], lambda n: _op(g, "div", n)
        if e.could_extract_minus_sign():
            return [-e], lambda n: _op(g, "neg", n)
        factors = e.as_ordered_factors()

        def mul(nodes):
            out = nodes[0]
            for node in nodes[1:]:
                out = _op(g, "mul", (out, node))
            return out

        return factors, mul
    if e.is_Pow:
        if e.exp == sp.S.Half:
            return [e.base], lambda n: _op(g, "sqrt", n)
        return [e.base, e.exp], lambda n: _op(g, "pow", n)
    cls = type(e).__name__
    name = sympy_functions().get(cls)
    if name is None and e.args:  # cosh, sinh, ... in exponentials, which the language has
        spelled = e.rewrite(sp.exp)
        if spelled != e:
            return [spelled], lambda n: n[0]
    if name is None or not e.args:
        raise NotInLanguage(cls)
    return list(e.args), lambda n: _op(g, name, n)


def _op(g: Graph, name: str, nodes) -> int:
    return g.add_op(OPS[name], tuple(nodes), 0, 0)


def formula_text(expr) -> str:
    """sympy's expression written in our language, or sympy's own spelling when ours lacks a
    function it uses."""
    from ..language.printer import expression

    try:
        return expression(to_graph(expr))
    except NotInLanguage:
        import sympy as sp

        return sp.sstr(expr)

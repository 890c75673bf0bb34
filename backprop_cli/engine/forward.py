"""Graph + bindings -> the value of every node: one loop over the nodes in order."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from itertools import count
from typing import TYPE_CHECKING, Any

from ..errors import DomainError, NameResolutionError
from ..graph import Graph
from ..ops.registry import OPS, SCALAR, array_math
from ..ops.shapes import Unsupported
from ..values import is_array

if TYPE_CHECKING:
    from array import array


def leaf_values(graph: Graph, bindings: Mapping[str, Any]) -> list:
    """A value list with every leaf filled in; raises for a variable with no binding."""
    values: list = [0.0] * len(graph)
    for i, value in graph.consts.items():
        values[i] = value
    for name, i in graph.variables.items():
        if name not in bindings:
            raise NameResolutionError(
                f"{name} has no value", graph.source, (graph.starts[i], graph.ends[i]),
                f"bind it on the command line: {name}=VALUE")
        values[i] = bindings[name]
    return values


_PLAIN = frozenset((float, int))


def math_of(values: Collection):
    """Numpy's namespace if any value is an array, else the scalar one."""
    if _PLAIN.issuperset(map(type, values)):  # the common case, tested at C speed
        return SCALAR
    return array_math() if any(map(is_array, values)) else SCALAR


def forward(graph: Graph, bindings: Mapping[str, Any], kinked: array | None = None) -> list:
    """Values of all nodes, in node order. Raises DomainError naming the node that failed.

    `kinked`, when given, receives the nodes whose op has kinks (a `branch`), in order, found
    in the same walk: the kink scan (checks/scalar.kinks) then looks at those alone. (Machine
    integers, as the graph's spans: a program of a million relus keeps no int object a node.)"""
    m = math_of(bindings.values())
    values = leaf_values(graph, bindings)
    if m.is_array:
        from ..ops.shapes import infer_shapes

        infer_shapes(graph, bindings)  # shape errors name both shapes before anything runs
        # Underflow to 0 (exp of a very negative score) is the right answer, not an error.
        with m.np.errstate(all="raise", under="ignore"):
            _run(graph, values, m, kinked)
    else:
        _run(graph, values, m, kinked)
    check_finite(graph, values, m)
    return values


def run_nodes(graph: Graph, v: list, m) -> None:
    """Fill in every operation's value in namespace `m`, the leaves being set already (the dual
    numbers' namespace uses it to carry a tangent through the forward pass)."""
    _run(graph, v, m, None)


# The two commonest gates, whose rules are `a + b` and `a * b` in every namespace: the loops
# take those steps without a call (a row a test swaps in is another object, and is called).
ADD, MUL = OPS["add"], OPS["mul"]


def _run(graph: Graph, v: list, m, kinked: array | None) -> None:
    i = 0
    try:
        # One zip over the parallel lists: no per-node indexing of ops and args. Add and mul,
        # most of any program, are tested first; a leaf (no inputs, its value set) after them.
        # Neither those two nor a leaf has a kink: only the other ops are looked at for one.
        for i, op, a in zip(count(), graph.ops, graph.args):
            if op is ADD:
                x, y = a
                v[i] = v[x] + v[y]
            elif op is MUL:
                x, y = a
                v[i] = v[x] * v[y]
            elif not a:
                continue
            else:
                if op.branch is not None and kinked is not None:
                    kinked.append(i)
                if len(a) == 1:
                    v[i] = op.forward(m, v[a[0]])
                elif len(a) == 2:
                    x, y = a
                    v[i] = op.forward(m, v[x], v[y])
                else:
                    v[i] = op.forward(m, *[v[j] for j in a])
    except (ArithmeticError, ValueError, FloatingPointError) as exc:
        raise domain_error(graph, v, i, exc) from None


def domain_error(graph: Graph, values: list, i: int, exc: Exception | None,
                 what: str = "") -> DomainError:
    """A one-line error naming node i, its inputs' values and what the op needs."""
    op = graph.ops[i]
    inputs = ", ".join(_short(values[j]) for j in graph.args[i])
    cause = what or _cause(exc)
    hint = f"{op.name} needs {op.domain}" if op.domain else None
    if "overflow" in cause:  # the op's domain text would not explain an overflow
        hint = "float64 holds numbers up to about 1.8e308"
    return DomainError(f"{graph.text(i)} is undefined: {op.name}({inputs}) {cause}",
                       graph.source, (graph.starts[i], graph.ends[i]), hint)


def _cause(exc: Exception | None) -> str:
    if isinstance(exc, Unsupported):  # the rule says what it needs, in words
        return str(exc)
    if isinstance(exc, OverflowError) or (exc and "overflow" in str(exc)):
        return "overflows float64"
    if isinstance(exc, ZeroDivisionError) or (exc and "divide" in str(exc)):
        return "divides by zero"
    return "is outside the function's domain"


def _short(value: Any) -> str:
    """An input as a message shows it: a number, a short vector by its entries ([0, 5]), any
    other array by its shape (a 5x2 array)."""
    if is_array(value):
        if value.ndim == 1 and value.size <= 6:
            return "[" + ", ".join(f"{float(v):.6g}" for v in value) + "]"
        return f"a {'x'.join(map(str, value.shape)) or '0-d'} array"
    return f"{float(value):.6g}"


def check_finite(graph: Graph, values: list, m=SCALAR) -> None:
    """Overflow to inf or nan is never silent: name the first node where it appears."""
    if not m.is_array and math.isfinite(sum(values)):
        return  # one cheap pass; a finite total means every term is finite
    args = graph.args
    for i, x in enumerate(values):
        if m.is_array and not args[i]:
            continue  # bound arrays were checked when bound; a bad one spoils its first user
        finite = all_finite(m, x) if m.is_array else math.isfinite(x)
        if not finite:
            raise domain_error(graph, values, i, None, "is not finite (overflow or nan)")


def all_finite(m, x) -> bool:
    """Whether every entry is finite. inf and nan survive a sum, so a finite sum proves it in
    one pass with no temporary array; only a sum that overflows needs the entrywise test."""
    if not is_array(x):
        return math.isfinite(x)
    with m.np.errstate(all="ignore"):
        total = float(x.sum())
    return math.isfinite(total) or bool(m.np.isfinite(x).all())

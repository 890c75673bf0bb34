"""Why a line's own rule is wrong, in the lecture's words, when one of the usual mistakes fits.

Each test takes the line's value given a right upstream (`c`) and what it should have been
(`t`: the gradient, or the share one gate sent when the value fans out) and says its sentence
only when c is that mistake applied to t, within the grader's tolerance:

  the sign is flipped              c = -t
  a broadcast sum is missing       summing c over the axes the forward broadcast gives t
  summed over the wrong axis       the line ends in sum(X, k), and another axis of X gives t
  transposed                       c.T = t
  a vector's .T taken for a row    the line's `u @ v.T` of two vectors, and t is their outer
                                   product (numpy's .T leaves a 1-D array as it is)
  the upstream is missing          c is the gate's local gradient alone (upstream of ones)
  off by a constant factor         c = k t for a constant k, named from the program's sizes
  `=` where `+=` is needed         c is one gate's share of a value that fans out
"""

from __future__ import annotations

from typing import Any

from ..engine.backward import chain_step
from ..ops.shapes import fmt, unbroadcast
from ..values import is_array
from .comparing import close, compare, shape_of
from .reading import BackwardLine
from .spelling import summed
from .truth import Forward


def diagnose(fw: Forward, line: BackwardLine, run, own) -> str | None:
    """The sentence for the first mistake that fits line's own rule, or None."""
    c = run.rule
    name = line.target
    node = fw.nodes.get(name)
    truth = fw.truth(name)
    shares = fw.shares.get(node, []) if node is not None else []
    gates = list(dict.fromkeys(i for i, _ in shares))
    if len(gates) > 1:
        text = _one_share(fw, name, c, shares, gates)
        if text:
            return text
    targets: list[tuple[Any, int | None]] = [(truth, gates[0] if len(gates) == 1 else None)]
    if len(shares) > 1:
        targets += [(p, i) for i, p in shares]
    for t, gate in targets:
        for test in _TESTS:
            try:
                text = test(fw, line, run, c, t, gate, node)
            except (ArithmeticError, ValueError):
                text = None
            if text:
                through = f" (the share through {fw.gate(gate)})" if gate is not None and \
                    len(gates) > 1 else ""
                return text + through
    return None


def _one_share(fw: Forward, name: str, c, shares, gates) -> str | None:
    """`=` where the value fans out: the line is the share through one gate (or some)."""
    for i, p in shares:
        if close(c, p):
            others = [fw.gate(g) for g in gates if g != i]
            return (f"`=` where {name} fans out and needs `+=`: {name} feeds "
                    f"{len(gates)} gates ({_listed([fw.gate(g) for g in gates])}), and this "
                    f"line is only the share through {fw.gate(i)}; it equals the true "
                    f"gradient less the share of {_listed(others)} (gradients add where a "
                    f"value fans out: d{name} += ... for each)")
    return None


def fan_out(fw: Forward, name: str, lines, ks: list[int], blamed: int, shares,
            total) -> str:
    """Why the lines of a fanned-out value, each right on its own, do not add up."""
    gates = list(dict.fromkeys(i for i, _ in shares))
    listed = _listed([fw.gate(g) for g in gates])
    line = lines[blamed]
    earlier = [lines[k].number for k in ks if k < blamed]
    if not line.accumulate and earlier:
        what = f"the share line {earlier[0]} added" if len(earlier) == 1 else \
            f"the shares lines {_and([str(n) for n in earlier])} added"
        return (f"`=` where {name} fans out and needs `+=`: line {line.number} assigns "
                f"d{name} afresh, discarding {what}; {name} feeds "
                f"{len(gates)} gates ({listed}) and their shares add: write d{name} += ...")
    truth = fw.truth(name)
    if total is not None:
        for i, p in shares:
            if close(total, truth - p):
                return (f"{name} feeds {len(gates)} gates ({listed}); the lines add up all "
                        f"but the share through {fw.gate(i)}: a d{name} += ... line for it is "
                        "missing (gradients add where a value fans out)")
            if close(total, truth + p):
                return (f"the share through {fw.gate(i)} is added twice: {name} feeds "
                        f"{len(gates)} gates ({listed}), one share each")
    return (f"{name} feeds {len(gates)} gates ({listed}); the lines' shares do not add up to "
            "its gradient")


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _listed(items: list[str]) -> str:
    if len(items) <= 4:
        return ", ".join(items)
    return ", ".join(items[:3]) + f", ... ({len(items)} in all)"


# --- the tests ------------------------------------------------------------------------------


def _sign(fw, line, run, c, t, gate, node) -> str | None:
    if shape_of(c) == shape_of(t) and close(c, -t) and not close(t, 0 * t):
        return "the sign is flipped: the line is the gradient negated"
    return None


def _broadcast_sum(fw, line, run, c, t, gate, node) -> str | None:
    got, want = shape_of(c), shape_of(t)
    if got == want or len(got) < len(want):
        return None
    back = unbroadcast(fw.m, c, t)
    if not close(back, t):
        return None
    extra = len(got) - len(want)
    kept = [k for k, n in enumerate(want) if n == 1 and got[extra + k] != 1]
    axes = list(range(extra)) + [extra + k for k in kept]
    spelled = ", ".join(map(str, axes))
    how = "..."
    for _ in range(extra):
        how = summed(how, 0)
    for k in kept:
        how = summed(how, k, keepdims=True)
    if not want:
        how = summed("...")
    return (f"a sum over the broadcast axis is missing: the forward broadcast "
            f"{line.target}'s {fmt(want)} to {fmt(got)}, so its gradient adds up the "
            f"upstream over axis {spelled}: {how}")


def _wrong_axis(fw, line, run, c, t, gate, node) -> str | None:
    """The line ends in a sum (or mean) of X; over another axis of X it would be the
    gradient. The axis the line used need not be known: every other one is tried."""
    g = line.graph
    out = g.output
    op = g.ops[out]
    if op.name not in ("sum", "mean") or run.rule_values is None or not g.args[out]:
        return None
    x = run.rule_values[g.args[out][0]]
    if not is_array(x):
        return None
    np = fw.m.np
    want = shape_of(t)
    for a in range(x.ndim):
        r = getattr(np, op.name)(x, axis=a)
        for keep, candidate in ((False, r), (True, np.expand_dims(r, a))):
            if candidate.shape == want and close(candidate, t) and not close(c, t):
                spelled = summed("...", a, keepdims=keep).replace("sum(", f"{op.name}(", 1)
                return (f"summed over the wrong axis: the forward broadcast {line.target} "
                        f"along axis {a}, so its gradient is {spelled}")
    return None


def _transposed(fw, line, run, c, t, gate, node) -> str | None:
    if not (is_array(c) and is_array(t)) or c.ndim != 2 or c.shape != t.shape[::-1]:
        return None
    if c.shape == t.shape and close(t.T, t):
        return None  # symmetric: transposing changes nothing
    if close(c.T, t):
        return (f"transposed: the line is d{line.target} transposed, shape {fmt(c.shape)} for "
                f"{line.target}'s {fmt(t.shape)}; swap the matrix product's order or add .T")
    return None


def _vector_transpose(fw, line, run, c, t, gate, node) -> str | None:
    """`dq @ x.T` for vectors: the notes' column-vector formula, which numpy reads as a dot
    product; the gradient is the outer product of the two vectors."""
    g, values = line.graph, run.rule_values
    if values is None or not is_array(t) or t.ndim != 2:
        return None
    np = fw.m.np
    for i in range(len(g)):
        if g.ops[i].name != "matmul" or len(g.args[i]) != 2:
            continue
        u, v = (values[j] for j in g.args[i])
        if not (is_array(u) and is_array(v) and u.ndim == v.ndim == 1):
            continue
        left, right = (_unT(g, j) for j in g.args[i])
        for a, b, x, y in ((u, v, left, right), (v, u, right, left)):
            if np.shape(np.outer(a, b)) == t.shape and close(np.outer(a, b), t):
                return (f"{g.source[g.starts[i]:g.ends[i]]} of two vectors is their dot "
                        f"product, a number: .T does nothing to a 1-D array. "
                        f"d{line.target} has {line.target}'s shape {fmt(t.shape)}, the outer "
                        f"product of {x} and {y} (a column times a row): "
                        f"reshape({x}, {len(a)}, 1) * {y} (np.outer({x}, {y}) in numpy)")
    return None


def _unT(g, j: int) -> str:
    """The text of node j, without a transpose of its own (x.T names x)."""
    if g.ops[j].name == "transpose" and len(g.args[j]) == 1:
        j = g.args[j][0]
    return g.source[g.starts[j]:g.ends[j]]


def _upstream_missing(fw, line, run, c, t, gate, node) -> str | None:
    if gate is None or node is None:
        return None
    op = fw.graph.ops[gate]
    if op.vjp is not None or op.local is None:
        return None  # a vector-Jacobian product has no local gradient to write alone
    m = fw.m
    out = fw.values[gate]
    ones = m.np.ones_like(out) if is_array(out) else 1.0
    args = fw.graph.args[gate]
    if m.is_array:
        with m.np.errstate(all="ignore"):
            parts = chain_step(op, m, ones, args, fw.values, out, fw.wants)
    else:
        parts = chain_step(op, m, ones, args, fw.values, out, fw.wants)
    for j, local in zip(args, parts):
        if j == node and local is not None and close(c, local):
            up = fw.graph.names.get(gate)
            times = f"d{up}" if up and fw.nodes.get(up) == gate else "its upstream gradient"
            return (f"the upstream is missing: the line is only the local gradient of "
                    f"{fw.gate(gate)}; multiply it by {times} (downstream = upstream x local)")
    return None


def _factor(fw, line, run, c, t, gate, node) -> str | None:
    if shape_of(c) != shape_of(t):
        return None
    if is_array(t):
        np = fw.m.np
        tt = float(np.sum(t * t))
        k = float(np.sum(c * t)) / tt if tt else 0.0
    else:
        k = float(c) / float(t) if t else 0.0
    if not k or abs(k - 1) < 1e-9 or abs(k + 1) < 1e-9 or not close(c, k * t):
        return None
    named = _factor_name(k, fw.sizes)
    if named is None and not is_array(t):
        return None  # any wrong number is some multiple of the right one: say so only by name
    shown = f"{k:.4g}"
    return (f"off by a constant factor: the line is {shown} times the gradient"
            + (f" ({named})" if named and named != shown else ""))


def _factor_name(k: float, sizes) -> str | None:
    candidates: list[tuple[float, str]] = [(2.0, "2"), (0.5, "1/2")]
    for n in sizes:
        candidates += [(float(n), f"n = {n}"), (1 / n, f"1/n, n = {n}"),
                       (float(n - 1), f"n-1, n = {n}"), (1 / (n - 1), f"1/(n-1), n = {n}"),
                       (n / (n - 1), f"n/(n-1), n = {n}: 1/(n-1) where 1/n was meant?"),
                       ((n - 1) / n, f"(n-1)/n, n = {n}: 1/n where the forward has 1/(n-1)?")]
    for value, text in candidates:
        if abs(k - value) <= 1e-6 * abs(value):
            return text
    return None


_TESTS = (_sign, _broadcast_sum, _wrong_axis, _transposed, _vector_transpose, _upstream_missing,
          _factor)

__all__ = ["compare", "diagnose", "fan_out"]

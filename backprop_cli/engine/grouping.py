"""Gate grouping: rewrite recognised subgraphs of a flat graph into single registry gates.

The lecture draws the sigmoid neuron twice: once node by node (`*-1`, `exp`, `+1`, `1/x`) and
once with the four nodes collapsed into one sigmoid gate whose local gradient is
(1 - σ(t)) σ(t). `group(graph, ["sigmoid"])` makes the second picture from the first. The
rewrite never changes what the program computes, only how finely the graph is cut, so backprop
through either graph gives the same gradients (up to float rounding); `agreement` measures it.

Patterns (t is any subexpression; `+` and `*` match in either argument order):

  sigmoid   1/(1+exp(-t)), 1/(1+exp(-1*t)), (1+exp(-t))**-1, exp(t)/(1+exp(t))  ->  sigmoid(t)
  tanh      (exp(t)-exp(-t))/(exp(t)+exp(-t))                                    ->  tanh(t)
  softplus  log(1+exp(t))                                                         ->  softplus(t)

max(0, t) is deliberately not grouped into relu(t): exactly at t = 0 the max gate splits the
tied gradient evenly (1/2 to t) while relu'(0) = 0, so the two granularities would disagree
there, and grouping must never change a gradient.

`all` asks for every pattern. A match is collapsed only when its inner nodes are used by nothing
outside it: if the program also reads exp(-t) elsewhere, that node must stay, and so the match
is left as written. Names given to inner nodes disappear with them; a name on the match's root
stays on the gate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import BackpropError
from ..graph import Graph
from ..ops.registry import OPS

T = "t"  # the pattern's one free operand

# Each pattern: (gate op name, tree). A tree is T, a number (a constant leaf with that value),
# or (op name, *subtrees). Depth is fixed here, never by the user's input.
PATTERNS: dict[str, tuple[tuple[str, Any], ...]] = {
    "sigmoid": (
        ("sigmoid", ("div", 1.0, ("add", 1.0, ("exp", ("neg", T))))),
        ("sigmoid", ("div", 1.0, ("add", 1.0, ("exp", ("mul", -1.0, T))))),
        ("sigmoid", ("pow", ("add", 1.0, ("exp", ("neg", T))), -1.0)),
        ("sigmoid", ("pow", ("add", 1.0, ("exp", ("mul", -1.0, T))), -1.0)),
        ("sigmoid", ("div", ("exp", T), ("add", 1.0, ("exp", T)))),
    ),
    "tanh": (
        ("tanh", ("div", ("sub", ("exp", T), ("exp", ("neg", T))),
                  ("add", ("exp", T), ("exp", ("neg", T))))),
    ),
    "softplus": (
        ("softplus", ("log", ("add", 1.0, ("exp", T)))),
    ),
}
GROUP_NAMES = (*PATTERNS, "all")

@dataclass(frozen=True)
class Gate:
    """One collapsed match: the gate's id in the new graph and how many nodes it replaced."""

    id: int
    pattern: str
    op: str
    replaced: int
    text: str


@dataclass(frozen=True)
class Grouped:
    graph: Graph
    gates: tuple[Gate, ...]

    def summary(self) -> str:
        if not self.gates:
            return "no subgraph matched the requested gate patterns; the graph is as written"
        counts: dict[str, int] = {}
        for g in self.gates:
            counts[g.pattern] = counts.get(g.pattern, 0) + 1
        parts = ", ".join(f"{n} {p} gate{'s' if n > 1 else ''}" for p, n in counts.items())
        nodes = sum(g.replaced for g in self.gates)
        return f"grouped {parts} ({nodes} nodes collapsed into {len(self.gates)})"


def resolve_patterns(names: tuple[str, ...] | list[str]) -> list[str]:
    """Validate --group values (comma-separated or repeated); 'all' means every pattern."""
    out: list[str] = []
    for item in names:
        for name in item.split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name == "all":
                out.extend(PATTERNS)
            elif name in PATTERNS:
                out.append(name)
            else:
                raise BackpropError(f"--group {name}: no such gate pattern",
                                    hint="choose from: " + ", ".join(GROUP_NAMES))
    return list(dict.fromkeys(out))


def _variants(tree: Any) -> list[Any]:
    """Every operand order of the commutative ops in a pattern tree (small, fixed trees)."""
    if not isinstance(tree, tuple):
        return [tree]
    op, *subs = tree
    combos: list[list[Any]] = [[]]
    for sub in subs:
        combos = [c + [v] for c in combos for v in _variants(sub)]
    out = [(op, *c) for c in combos]
    if OPS[op].commutative and len(subs) == 2:  # operand order does not matter: try both
        out += [(op, c[1], c[0]) for c in combos if c[0] != c[1]]
    return out


_COMPILED: dict[str, list[tuple[str, Any]]] = {
    name: [(gate, v) for gate, tree in rows for v in _variants(tree)]
    for name, rows in PATTERNS.items()
}


def _match(graph: Graph, root: int, tree: Any) -> tuple[int, list[int]] | None:
    """(node bound to t, inner op nodes including the root) if the tree matches at root."""
    bound: int | None = None
    inner: list[int] = []
    stack = [(tree, root)]
    while stack:
        pat, i = stack.pop()
        if pat == T:
            if bound is not None and bound != i:
                return None
            bound = i
        elif isinstance(pat, float):
            if graph.ops[i].name != "const" or graph.consts[i] != pat:
                return None
        else:
            op, *subs = pat
            if graph.ops[i].name != op or len(graph.args[i]) != len(subs):
                return None
            inner.append(i)
            stack.extend(zip(subs, graph.args[i]))
    if bound is None:
        return None
    return bound, list(dict.fromkeys(inner))


def group(graph: Graph, patterns: list[str]) -> Grouped:
    """A new graph with every clean match of the patterns collapsed into one gate node."""
    rows = [r for name in patterns for r in ((name, g, t) for g, t in _COMPILED[name])]
    if not rows:
        return Grouped(graph, ())
    gate_at, claimed = _clean_matches(graph, rows)
    if not gate_at:
        return Grouped(graph, ())
    new, new_id = _rebuild(graph, gate_at, claimed)
    gates = [Gate(new_id[r], pattern, gate, replaced, graph.text(r))
             for r, (pattern, gate, _, replaced) in gate_at.items()]
    gates.sort(key=lambda g: g.id)
    return Grouped(new, tuple(gates))


def _clean_matches(graph: Graph, rows: list[tuple[str, str, Any]]
                   ) -> tuple[dict[int, tuple[str, str, int, int]], bytearray]:
    """Every match to collapse, as root -> (pattern, gate op, node bound to t, nodes
    replaced), and which nodes the matches cover (claimed[i] is 1 for each inner node)."""
    consumers = graph.consumers()
    claimed = bytearray(len(graph))
    gate_at: dict[int, tuple[str, str, int, int]] = {}
    # Outermost first, so a match is never cut in two by a smaller one inside it.
    for root in range(len(graph) - 1, -1, -1):
        if claimed[root] or not graph.args[root]:
            continue
        for pattern, gate, tree in rows:
            found = _match(graph, root, tree)
            if found is None:
                continue
            t, inner = found
            if not _is_clean(root, inner, claimed, consumers):
                continue
            for i in inner:
                claimed[i] = 1
            gate_at[root] = (pattern, gate, t, len(inner))
            break
    return gate_at, claimed


def _is_clean(root: int, inner: list[int], claimed: bytearray, consumers) -> bool:
    """A match may collapse when no other match has taken its nodes and nothing outside it
    reads a node below its root."""
    inside = set(inner)
    return not any(claimed[i] for i in inner) and not any(
        c not in inside for i in inner if i != root for c in consumers[i])


def _rebuild(graph: Graph, gate_at: dict[int, tuple[str, str, int, int]],
             claimed: bytearray) -> tuple[Graph, list[int]]:
    """The grouped graph, and each old node's id in it (-1 for a node that is gone)."""
    new = Graph(graph.source)
    new_id = [-1] * len(graph)
    var_ids = {i: s for s, i in graph.variables.items()}

    def mapped(j: int) -> int:
        # Constants are added when first read, so one that only fed a collapsed match is
        # never added and the new graph has no dead node.
        if new_id[j] < 0:
            new_id[j] = new.add_constant(graph.consts[j], graph.starts[j], graph.ends[j],
                                         graph.names.get(j))
        return new_id[j]

    for i, op in enumerate(graph.ops):
        start, end = graph.starts[i], graph.ends[i]
        if i in var_ids:
            new_id[i] = new.add_variable(var_ids[i], start, end)
            continue
        if i in graph.consts:
            if i == graph.output:
                mapped(i)
            continue
        if i in gate_at:
            _, gate, t, _ = gate_at[i]
            new_id[i] = new.add_op(OPS[gate], (mapped(t),), start, end)
        elif claimed[i]:
            continue  # inner node of a match: replaced by its gate
        else:
            new_id[i] = new.add_op(op, tuple(mapped(j) for j in graph.args[i]), start, end)
        if i in graph.names:
            new.name_node(new_id[i], graph.names[i])
    size = len(new.ops)
    new.finish(new_id[graph.output])
    if len(new.ops) != size:  # pragma: no cover - every node added above is live
        raise AssertionError("grouping left a dead node")
    return new, new_id


def agreement(plain: Mapping[str, Any], grouped: Mapping[str, Any]) -> tuple[bool, float]:
    """(all gradients agree to 1e-9 relative, the largest relative difference)."""
    worst = 0.0
    ok = True
    for name, a in plain.items():
        b = grouped.get(name)
        if b is None:
            return False, float("inf")
        diff, scale = _diff(a, b)
        rel = diff / max(scale, 1e-300) if diff else 0.0
        worst = max(worst, rel)
        if not diff <= 1e-9 * max(scale, 1.0):
            ok = False
    return ok, worst


def _diff(a: Any, b: Any) -> tuple[float, float]:
    if hasattr(a, "shape") or hasattr(b, "shape"):
        import numpy as np

        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if a.shape != b.shape:
            return float("inf"), 1.0
        if a.size == 0:
            return 0.0, 1.0
        return float(np.max(np.abs(a - b))), float(np.max(np.abs(a)))
    a, b = float(a), float(b)
    if a == b:  # also inf == inf
        return 0.0, abs(a)
    return abs(a - b), abs(a)

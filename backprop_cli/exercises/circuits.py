"""Seeded circuits like the lecture's: a few inputs with small integer values, a few named gates,
the output f; and the questions a learner answers, one gradient per node from the output back.

The same (seed, ops, nodes) always gives the same circuit: only `random.Random(seed)` decides,
and values are redrawn (from the same generator) until the circuit is inside every op's domain
and off every kink (no ties in max, no relu at 0), so each gradient is unambiguous, and until
every value and local gradient is a number to work with by hand (no saturated sigmoid, no
exp(20)): 0 or between HAND_SMALL and HAND_LARGE (values up to HAND_VALUE) in size.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ..errors import BackpropError, BindingError
from ..ops.registry import OPS, Op, role_for

DEFAULT_OPS = ("add", "mul", "max")
LECTURE_OPS = ("sigmoid", "exp", "tanh", "relu", "neg", "reciprocal")  # listed first when refusing
DEFAULT_NODES = 4
MAX_NODES = 12
INPUT_NAMES = ("x", "y", "z", "w", "u", "v")
GATE_NAMES = ("a", "b", "c", "d", "g", "h", "k", "m", "n", "p", "q", "r")  # e is a constant
VALUES = (-4, -3, -2, -1, 1, 2, 3, 4, 5)  # the lecture's kind of numbers
DRAWS = 500  # value draws before a circuit is given up as having no valid point
HAND_SMALL = 0.01  # smallest local gradient or value (other than 0) worked by hand: σ'(4)
HAND_LARGE = 1000.0  # largest local gradient: exp(6)
HAND_VALUE = 10_000.0  # largest value


@dataclass(frozen=True)
class Part:
    """What one consumer sends back to a node: upstream x local = part."""

    consumer: str  # the consumer's name
    statement: str  # what the consumer computes, e.g. "b = max(a, z)"
    role: str  # the consumer's gate role in the lecture's words
    upstream: float  # df/d(consumer)
    local: float  # d(consumer)/d(node)
    part: float

    @property
    def upstream_symbol(self) -> str:
        """The upstream factor: the total gradient ∂f/∂b of the consumer b."""
        return f"∂f/∂{self.consumer}"

    def local_symbol(self, node: str) -> str:
        """The local factor: ∂b/∂a for a named gate b. The output's own local gradient is
        written with its expression, ∂(a*d)/∂a, never ∂f/∂a: that is the total gradient being
        asked for, and `∂f/∂a = ∂f/∂f × ∂f/∂a` would define it by itself."""
        if self.consumer != "f":
            return f"∂{self.consumer}/∂{node}"
        return f"∂({self.statement.partition(' = ')[2]})/∂{node}"


@dataclass(frozen=True)
class Question:
    name: str  # the node asked about: df/d<name>
    answer: float
    parts: tuple[Part, ...]  # one per use of the node; their parts sum to the answer


@dataclass(frozen=True)
class Exercise:
    seed: int
    ops: tuple[str, ...]
    nodes: int
    statements: tuple[str, ...]  # "a = x*y", ..., "f = b + x"
    bindings: dict[str, float]
    values: dict[str, float]  # every named node's forward value
    questions: tuple[Question, ...]  # from the output back; df/df = 1 is given
    graph: Any  # the evaluated graph, values and trace rows, for drawings
    rows: tuple

    @property
    def program(self) -> str:
        return "; ".join(self.statements)

    @property
    def command(self) -> str:
        """The command that makes this exercise again."""
        return f"backprop quiz --seed {self.seed} --ops {','.join(self.ops)} --nodes {self.nodes}"


def resolve_ops(text: str | None) -> tuple[str, ...]:
    """'add,mul,max' -> the rows' names; a name the quiz cannot use is refused (exit 2)."""
    names = tuple(n.strip() for n in text.split(",") if n.strip()) if text else DEFAULT_OPS
    for n in names:
        if n not in OPS or not _usable(OPS[n]):
            raise BindingError(f"--ops {n}: not an op a circuit can use", hint=_choices(n))
    if not names:
        raise BindingError("--ops names no op", hint="e.g. --ops add,mul,max")
    return tuple(dict.fromkeys(names))


def _choices(name: str, limit: int = 150) -> str:
    """'did you mean sigmoid? choose from: add, mul, ..., and 30 more': whole names, the
    lecture's gates first, within about `limit` characters (the full list outgrew a line)."""
    import difflib

    usable = sorted(n for n, op in OPS.items() if _usable(op))
    first = [n for n in (*DEFAULT_OPS, *LECTURE_OPS) if n in usable]
    names = first + [n for n in usable if n not in first]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    listed = []
    for k, n in enumerate(names):
        more = f", and {len(names) - k} more"
        if len(", ".join([*listed, n])) + len(more) > limit:
            return f"{hint}choose from: {', '.join(listed)}{more}"
        listed.append(n)
    return f"{hint}choose from: {', '.join(listed)}"


def _usable(op: Op) -> bool:
    """Scalar gates of one or two inputs (max and min take two here)."""
    if op.is_leaf or not op.elementwise or op.local is None:
        return False
    return op.arity in (1, 2) or (op.arity is None and op.min_arity <= 2 and
                                  (op.max_arity is None or op.max_arity >= 2) and
                                  op.branch is not None)


def make(seed: int, ops: tuple[str, ...] = DEFAULT_OPS, nodes: int = DEFAULT_NODES) -> Exercise:
    if not 1 <= nodes <= MAX_NODES:
        raise BindingError(f"--nodes {nodes}: a circuit has 1 to {MAX_NODES} gates")
    rng = random.Random(seed)
    rows = [OPS[n] for n in ops]
    binary = [op for op in rows if op.arity != 1]
    n_inputs = 1 if not binary else max(2, min(len(INPUT_NAMES), (nodes + 3) // 2))
    inputs = list(INPUT_NAMES[:n_inputs])
    gates = _wire(rng, rows, binary, inputs, nodes)
    return _with_values(rng, seed, ops, nodes, _program(gates, inputs), inputs)


def _program(gates: list[tuple[str, Op, list[str]]], inputs: list[str]) -> tuple[str, ...]:
    """The gates as statements, written by the one printer (the last gate is the output f)."""
    from ..graph import Graph
    from ..language.printer import program

    graph = Graph()
    node = {n: graph.add_variable(n, 0, 0) for n in inputs}
    for k, (name, op, args) in enumerate(gates):
        node[name] = graph.add_op(op, tuple(node[a] for a in args), 0, 0)
        graph.name_node(node[name], "f" if k == len(gates) - 1 else name)
    return tuple(program(graph.finish(node[gates[-1][0]])).split("; "))


def _wire(rng: random.Random, rows: list[Op], binary: list[Op], inputs: list[str],
          nodes: int) -> list[tuple[str, Op, list[str]]]:
    """Gates in order: each reads at least one value nothing has read yet, so every input and
    gate reaches the output and no two gates compute the same thing; some read a value that
    was read before, so gradients fan out."""
    unused = list(inputs)
    available = list(inputs)
    gates = []
    names = iter(GATE_NAMES)
    for _ in range(nodes):
        op = rng.choice(rows)
        first = unused.pop(rng.randrange(len(unused))) if unused else rng.choice(available)
        args = [first]
        if op.arity != 1:
            others = [v for v in available if v != first]
            pool = [v for v in unused if v != first] if unused and rng.random() < 0.7 else others
            second = rng.choice(pool or others)
            if second in unused:
                unused.remove(second)
            args.append(second)
        name = next(names)
        gates.append((name, op, args))
        unused.append(name)
        available.append(name)
    while len(unused) > 1:  # join what is left, so one output depends on everything
        op = rng.choice(binary)
        a, b = unused.pop(0), unused.pop(0)
        name = next(names, f"g{len(gates)}")
        gates.append((name, op, [a, b]))
        unused.append(name)
        available.append(name)
    return gates


def _with_values(rng: random.Random, seed: int, ops: tuple[str, ...], nodes: int,
                 statements: tuple[str, ...], inputs: list[str]) -> Exercise:
    """Values drawn until the circuit is defined and off every kink; the graph is parsed from
    the statements, so every node keeps its text."""
    from ..checks.scalar import kinks
    from ..engine.trace import trace_rows
    from ..evaluate import Options, evaluate
    from ..language.parser import parse

    graph = parse("\n".join(statements))
    for _ in range(DRAWS):
        bindings = {n: float(rng.choice(VALUES)) for n in inputs}
        try:
            result = evaluate(graph, bindings, Options(check=False))
        except BackpropError:
            continue
        if kinks(graph, result.values) or _ties(graph, result.values):
            continue
        rows = tuple(trace_rows(graph, result.values, result.grads))
        if not _by_hand(graph, result.values, rows):
            continue
        return Exercise(seed, ops, nodes, statements, bindings,
                        {graph.names[i]: result.values[i] for i in graph.names
                         if i not in graph.consts},
                        _questions(graph, rows), graph, rows)
    raise BindingError(f"no values in {VALUES[0]}..{VALUES[-1]} keep this circuit inside its "
                       "ops' domains with numbers to work by hand",
                       hint="try another --seed, other --ops or fewer --nodes")


def _by_hand(graph, values, rows) -> bool:
    """Every value and every gate's local gradient is 0 or hand-sized."""
    def sized(x, largest: float) -> bool:
        return x == 0 or HAND_SMALL <= abs(x) <= largest

    return all(sized(values[i], HAND_VALUE) for i in range(len(graph))) and all(
        sized(g, HAND_LARGE) for r in rows for g in (r.local or ()) if g is not None)


def _called(graph, text, i: int) -> str:
    """A gate's input as the statements call it: its name, else its text."""
    return graph.names.get(i) or text.expression(i)


def _ties(graph, values) -> bool:
    """Two equal inputs to a gate with kinks (max(a, a) is fine: one input twice)."""
    for i, op in enumerate(graph.ops):
        a = graph.args[i]
        if op.branch is not None and len(a) == 2 and a[0] != a[1] and \
                values[a[0]] == values[a[1]]:
            return True
    return False


def _questions(graph, rows) -> tuple[Question, ...]:
    from ..language.printer import Printer

    text = Printer(graph, by_name=True)
    statement = {i: f"{name} = {text.expression(i)}" for i, name in graph.names.items()
                 if not graph.ops[i].is_leaf}
    questions = []
    for i in range(len(graph) - 1, -1, -1):
        if i == graph.output or i in graph.consts or i not in graph.names:
            continue
        parts = [Part(graph.names[c], statement[c],
                      role_for(graph.ops[c].role, _called(graph, text, graph.args[c][0])),
                      rows[c].grad, rows[c].local[k], rows[c].downstream[k])
                 for c in range(i + 1, len(graph)) for k, j in enumerate(graph.args[c])
                 if j == i and rows[c].downstream[k] is not None]
        questions.append(Question(graph.names[i], rows[i].grad, tuple(parts)))
    return tuple(questions)

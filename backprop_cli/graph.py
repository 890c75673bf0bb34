"""Nodes and the flat graph: an ordered list in which every node comes after its inputs.

The graph is stored as parallel lists (struct of arrays) rather than one object per node, so a
program of a million nodes costs tens of bytes a node and gives the garbage collector nothing to
walk. `Graph.node(i)` gives a frozen `Node` view for the renderers.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from itertools import chain

from .errors import LimitError
from .ops.registry import CONST, VAR, Op

MAX_NODES = 10_000_000  # far past any real program; stops a runaway input before memory does
TEXT_LIMIT = 80  # longest node text shown whole; longer spans show their two ends
SPAN = "i"  # the typecode of the span arrays: a C int



@dataclass(frozen=True)
class Node:
    """One node as the renderers see it."""

    id: int
    op: Op
    inputs: tuple[int, ...]
    name: str | None  # the variable's name, or the name an assignment gave this value
    const: float | None  # the value of a constant leaf
    span: tuple[int, int]  # where in the source the node's expression first appears


class Graph:
    """A DAG in topological order. Build with `add_*`, then call `finish(output)` once."""

    def __init__(self, source: str = ""):
        self.source = source
        self.ops: list[Op] = []
        self.args: list[tuple[int, ...]] = []
        # Source spans: lists while the graph is built (a list's append is a third of an
        # array's, twice a node), machine integers once finished (4 bytes a node each, not a
        # pointer and an int object): a source is at most 64 MiB (parser.MAX_SOURCE_BYTES),
        # far within 2**31.
        self.starts: list[int] | array[int] = []
        self.ends: list[int] | array[int] = []
        self.names: dict[int, str] = {}  # node id -> name (variables and named intermediates)
        self.consts: dict[int, float] = {}
        self.variables: dict[str, int] = {}  # variable name -> leaf id, in order of first read
        self.output: int = -1
        self._named_consts: dict[str, int] = {}  # pi, e: one leaf per name, like a variable

    def __len__(self) -> int:
        return len(self.ops)

    # --- building ---------------------------------------------------------------------

    def too_many(self, start: int, end: int) -> LimitError:
        return LimitError(f"the program has more than {MAX_NODES:,} nodes", self.source,
                          (start, end))

    def add_variable(self, name: str, start: int, end: int) -> int:
        i = self.variables.get(name)
        if i is None:
            i = self.add_op(VAR, (), start, end)
            self.variables[name] = i
            self.names[i] = name
        return i

    def add_constant(self, value: float, start: int, end: int, name: str | None = None) -> int:
        """A new leaf for each number written; a named constant (pi, e) is one leaf per name,
        as a variable is."""
        if not name:
            return self.add_number(value, start, end)
        i = self._named_consts.get(name)
        if i is None:
            i = self.add_number(value, start, end)
            self.names[i] = name
            self._named_consts[name] = i
        return i

    def add_number(self, value: float, start: int, end: int) -> int:
        """A new constant leaf for a number written (the parser's hot path)."""
        i = len(self.ops)  # add_op's steps inlined: once per number written
        if i >= MAX_NODES:
            raise self.too_many(start, end)
        self.ops.append(CONST)
        self.args.append(())
        self.starts.append(start)
        self.ends.append(end)
        self.consts[i] = value
        return i

    def add_op(self, op: Op, args: tuple[int, ...], start: int, end: int) -> int:
        """A new node for op(args), every time: the graph is the one typed, one gate per
        operation written. Only a name (`a = x*y; f = a + a`) makes one value fan out."""
        i = len(self.ops)
        if i >= MAX_NODES:
            raise self.too_many(start, end)
        self.ops.append(op)
        self.args.append(args)
        self.starts.append(start)
        self.ends.append(end)
        return i

    def name_node(self, i: int, name: str) -> None:
        """Give a computed value the name it was assigned to (first name wins)."""
        if i not in self.names:
            self.names[i] = name

    def finish(self, output: int, every_node_read: bool = False) -> Graph:
        """Fix the output and drop nodes it does not depend on, so the output is last.
        `every_node_read`: the builder vouches that every node but the output feeds another
        (the parser, for a program whose steps can leave none unread), so none is dead."""
        self._named_consts = {}
        self.starts, self.ends = array(SPAN, self.starts), array(SPAN, self.ends)  # in C
        n = len(self.ops)
        # Fast path, in C: when every node but the last feeds some node, every node reaches
        # the last one (a DAG's only sink), so nothing is dead and nothing needs renumbering.
        if output == n - 1 and (every_node_read or
                                len(set(chain.from_iterable(self.args))) == n - 1):
            self.output = output
            return self
        live = bytearray(n)
        live[output] = 1
        args = self.args
        for i in range(output, -1, -1):
            if live[i]:
                for j in args[i]:
                    live[j] = 1
        keep_vars = set(self.variables.values())
        if output == n - 1 and live.count(0) <= len(keep_vars) and \
                all(live[i] or i in keep_vars for i in range(n)):
            self.output = output
            return self
        # Renumber the live nodes (and every variable, read or not) densely, in order.
        new_id = [-1] * n
        ops, nargs, starts, ends = [], [], array(SPAN), array(SPAN)
        for i in range(n):
            if (live[i] or i in keep_vars) and i != output:
                new_id[i] = len(ops)
                ops.append(self.ops[i])
                nargs.append(tuple(new_id[j] for j in args[i]))
                starts.append(self.starts[i])
                ends.append(self.ends[i])
        new_id[output] = len(ops)
        ops.append(self.ops[output])
        nargs.append(tuple(new_id[j] for j in args[output]))
        starts.append(self.starts[output])
        ends.append(self.ends[output])
        self.ops, self.args, self.starts, self.ends = ops, nargs, starts, ends
        self.names = {new_id[i]: s for i, s in self.names.items() if new_id[i] >= 0}
        self.consts = {new_id[i]: v for i, v in self.consts.items() if new_id[i] >= 0}
        self.variables = {s: new_id[i] for s, i in self.variables.items()}
        self.output = new_id[output]
        return self

    # --- reading ----------------------------------------------------------------------

    def node(self, i: int) -> Node:
        return Node(i, self.ops[i], self.args[i], self.names.get(i), self.consts.get(i),
                    (self.starts[i], self.ends[i]))

    def nodes(self):
        """Every node, inputs before users, output last."""
        return (self.node(i) for i in range(len(self.ops)))

    def text(self, i: int, limit: int = TEXT_LIMIT) -> str:
        """The source text the node was parsed from; past `limit` characters, its two ends.

        A node deep in a big program spans most of it: printing every node's whole text (in a
        trace, a warning, an error) would cost the square of the program's size.
        """
        start, end = self.starts[i], self.ends[i]
        if end - start <= limit:
            return self.source[start:end]
        half = (limit - 5) // 2
        return self.source[start:start + half] + " ... " + self.source[end - half:end]

    def consumers(self) -> list[list[int]]:
        """For each node, the nodes that read it (once per use), in order: fan-out."""
        out: list[list[int]] = [[] for _ in self.ops]
        for i, a in enumerate(self.args):
            for j in a:
                out[j].append(i)
        return out

    def depth(self) -> int:
        """Length of the longest path from a leaf to the output."""
        d = [0] * len(self.ops)
        for i, a in enumerate(self.args):
            if a:
                d[i] = 1 + max(d[j] for j in a)
        return d[self.output] if self.ops else 0

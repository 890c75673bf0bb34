"""One node's explicit local Jacobian, for small shapes: the matrix the lecture draws.

Backprop itself never builds it: the backward pass multiplies the upstream gradient by the
diagonal (elementwise ops) or calls the op's vector-Jacobian product. Here the matrix is made
from those same rules, one row per output entry: row r is the downstream gradient the node
sends back when the upstream gradient is the r-th unit array, so what is printed is exactly
what the backward pass uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BindingError, LimitError
from ..graph import Graph

MAX_ENTRIES = 4096  # rows x columns of one printed block


@dataclass(frozen=True)
class JacobianBlock:
    input: int  # the input node
    text: str  # its source text or name
    matrix: Any  # (output entries, input entries), both in row-major order
    diagonal: bool
    note: str


@dataclass(frozen=True)
class Jacobian:
    node: int
    text: str
    op: str
    shape: tuple[int, ...]
    blocks: tuple[JacobianBlock, ...]
    skipped: tuple[tuple[int, str], ...]  # (input, why no block): constants, axis arguments


def find_node(graph: Graph, spec: str) -> int:
    """A node from '#3', '3', a variable or assigned name, or the node's source text."""
    text = spec.strip()
    digits = text.lstrip("#")
    if digits.isdigit():
        i = int(digits)
        if i < len(graph):
            return i
        raise BindingError(f"--jacobian {spec}: there is no node #{i}",
                           hint=f"nodes are #0..#{len(graph) - 1}; see `backprop trace`")
    for i, name in graph.names.items():
        if name == text:
            return i
    squeezed = text.replace(" ", "")
    for i in range(len(graph)):
        if graph.args[i] and graph.text(i).replace(" ", "") == squeezed:
            return i
    raise BindingError(f"--jacobian {spec}: no node is named or written like that",
                       hint="give a node id from `backprop trace` (e.g. #3) or a name")


def local_jacobian(graph: Graph, values: list, i: int) -> Jacobian:
    """d(node i)/d(each input) as explicit matrices. Raises LimitError for large shapes."""
    from ..ops.registry import array_math
    from .backward import chain_step

    m = array_math()
    np = m.np
    op = graph.ops[i]
    label = graph.names.get(i) or graph.text(i)
    a = graph.args[i]
    if not a:
        raise BindingError(f"--jacobian: #{i} {label} is an input, not an operation",
                           hint="pick a node with inputs; see `backprop trace`")
    out = values[i]
    inputs = [values[j] for j in a]
    out_shape = tuple(np.shape(out))
    n_out = int(np.prod(out_shape)) if out_shape else 1
    wanted = [k for k, j in enumerate(a) if j not in graph.consts]
    skipped = tuple((a[k], "a constant: no gradient flows into it")
                    for k in range(len(a)) if k not in wanted)
    for k in wanted:
        n_in = int(np.size(inputs[k]))
        if n_out * n_in > MAX_ENTRIES:
            raise LimitError(
                f"the local Jacobian of #{i} {label} with respect to #{a[k]} is "
                f"{n_out:,} x {n_in:,} = {n_out * n_in:,} entries; --jacobian prints up to "
                f"{MAX_ENTRIES:,}",
                hint="backprop never builds it: it multiplies the upstream gradient by it "
                "without writing it out")
    rows: list[list] = [[] for _ in wanted]
    flags = [k in wanted for k in range(len(a))]
    slots = tuple(range(len(a)))  # chain_step reads inputs by position here
    for r in range(n_out):
        seed = np.zeros(out_shape)
        seed.flat[r] = 1.0
        if not out_shape:
            seed = 1.0
        parts = chain_step(op, m, seed, slots, inputs, out, flags)
        for slot, k in enumerate(wanted):
            rows[slot].append(np.ravel(np.asarray(parts[k], dtype=float)))
    blocks = []
    for slot, k in enumerate(wanted):
        matrix = np.array(rows[slot]).reshape(n_out, -1)
        in_shape = tuple(np.shape(inputs[k]))
        diagonal = op.vjp is None and in_shape == out_shape and n_out > 1
        blocks.append(JacobianBlock(a[k], graph.names.get(a[k]) or graph.text(a[k]), matrix,
                                    diagonal, _note(op, op.vjp is None, in_shape, out_shape,
                                                    n_out, _input_text(graph, a[0]))))
    return Jacobian(i, label, op.name, out_shape, tuple(blocks), skipped)


def _input_text(graph: Graph, i: int) -> str:
    return graph.names.get(i) or graph.text(i)


def _rule(op, input_text: str) -> str:
    """The op's rule (its role after the gate word), in terms of this gate's input."""
    from ..ops.registry import role_for

    return role_for(op.role.split(":", 1)[-1].strip(), input_text) if op.role else ""


def _note(op, elementwise: bool, in_shape, out_shape, n_out: int, input_text: str) -> str:
    rule = _rule(op, input_text)
    if elementwise and n_out == 1 and not in_shape:
        return f"one number in, one out: the local gradient is this 1 x 1 matrix ({rule})"
    if elementwise and in_shape == out_shape:
        return ("diagonal: the op works entry by entry, so output entry i depends only on "
                "input entry i and every off-diagonal entry is 0. Backprop never builds this "
                "matrix: it multiplies the upstream gradient by the diagonal, entry by entry "
                "(upstream * local).")
    if elementwise:
        return ("the input was broadcast: each input entry feeds several output entries, so a "
                "column holds several non-zeros. Backprop multiplies upstream * local entry by "
                "entry and sums over the broadcast axes; it never builds this matrix.")
    return ("backprop never builds this matrix: it multiplies the upstream gradient by it "
            f"without writing it out ({rule}).")



# --- the Jacobian of a whole non-scalar output ---------------------------------------------


@dataclass(frozen=True)
class OutputJacobian:
    """d(output)/d(name) for each name: an array shaped shape(output) + shape(name)."""

    shape: tuple[int, ...]  # the output's
    blocks: dict[str, Any]
    mode: str  # "reverse" (one backward pass per output entry) or "forward" (one dual
    # forward pass per variable entry): whichever needs fewer passes
    notes: dict[str, str]  # name -> why its block is diagonal (an entrywise path), or the
    # rule of the one op between the variable and the output


def output_jacobian(graph: Graph, values: list, names: list[str],
                    bindings: dict | None = None) -> OutputJacobian:
    """The full Jacobian of an array output. Raises LimitError past hessian.MAX_ENTRIES.
    `bindings` gives the shapes of names the program never reads (their blocks are 0)."""
    from ..ops.registry import array_math
    from .hessian import MAX_ENTRIES, _size, variable_shapes

    np = array_math().np
    out = values[graph.output]
    out_shape = tuple(np.shape(out))
    m_out = _size(out_shape)
    shapes = variable_shapes(graph, values, names, bindings)
    n_in = sum(_size(s) for s in shapes.values())
    if m_out * n_in > MAX_ENTRIES:
        raise LimitError(
            f"the Jacobian of the output (shape {out_shape}) would have {m_out:,} x {n_in:,} = "
            f"{m_out * n_in:,} entries; eval computes up to {MAX_ENTRIES:,}",
            graph.source, (graph.starts[graph.output], graph.ends[graph.output]),
            "reduce the output with sum(...) or mean(...), pick variables with --wrt, or give "
            "--seed for one vector-Jacobian product")
    read = [n for n in names if n in graph.variables]
    blocks = {n: np.zeros((m_out, _size(shapes[n]))) for n in names}
    mode = "forward" if n_in < m_out else "reverse"
    if mode == "forward":
        from .dual import NoDualForm

        try:
            _forward_mode(graph, values, read, shapes, out_shape, blocks, np)
        except NoDualForm:  # a rule with no dual form: the reverse passes need none
            mode = "reverse"
    if mode == "reverse":
        from .backward import backpropagate

        for r in range(m_out):
            seed = np.zeros(out_shape)
            seed.flat[r] = 1.0
            grads = backpropagate(graph, values, seed, wrt=read)
            for n in read:
                blocks[n][r] = np.ravel(np.broadcast_to(grads[graph.variables[n]], shapes[n]))
    shaped = {n: blocks[n].reshape(out_shape + shapes[n]) for n in names}
    return OutputJacobian(out_shape, shaped, mode,
                          {n: why for n in read
                           if (why := entrywise_path(graph, values, n) or
                               single_op(graph, n)) is not None})


def _forward_mode(graph: Graph, values: list, read: list[str], shapes, out_shape, blocks,
                  np) -> None:
    """Column by column: one forward pass of dual numbers per variable entry."""
    from .dual import dual_array_math, tangent
    from .hessian import _size, _unit, dual_values

    dm = dual_array_math()
    for n in read:
        for e in range(_size(shapes[n])):
            v = dual_values(graph, values, dm, {n: _unit(np, shapes[n], e)})
            blocks[n][:, e] = np.ravel(np.broadcast_to(tangent(v[graph.output]), out_shape))


def single_op(graph: Graph, name: str) -> str | None:
    """The rule of the one op between a variable and the output (softmax(s)), else None."""
    out = graph.output
    leaf = graph.variables[name]
    if leaf not in graph.args[out] or any(leaf in a for i, a in enumerate(graph.args)
                                          if i != out):
        return None
    op = graph.ops[out]
    if op.vjp is None or not op.role:
        return None
    return f"one op from {name} to the output, {op.name}: " \
           f"{_rule(op, _input_text(graph, graph.args[out][0]))}"


def entrywise_path(graph: Graph, values: list, name: str) -> str | None:
    """Why d(output)/d(name) is diagonal, when it is so by construction: every node between the
    variable and the output works entry by entry on arrays of the variable's shape (no
    broadcasting, no matrix product, no reduction). None otherwise."""
    from .hessian import shape_of

    leaf = graph.variables[name]
    shape = shape_of(values[leaf])
    if not shape or shape_of(values[graph.output]) != shape:
        return None
    on_path = bytearray(len(graph))
    on_path[leaf] = 1
    ops = []
    for i, a in enumerate(graph.args):
        if a and any(on_path[j] for j in a):
            on_path[i] = 1
            op = graph.ops[i]
            if op.vjp is not None or shape_of(values[i]) != shape:
                return None
            if any(shape_of(values[j]) not in ((), shape) for j in a):
                return None
            ops.append(op.name)
    if not on_path[graph.output]:
        return None
    names = ", ".join(dict.fromkeys(ops))
    return (f"diagonal: every op from {name} to the output ({names}) works entry by entry, "
            f"so output entry i depends only on {name}[i] and every off-diagonal entry is 0. "
            "Backprop never builds this matrix: it multiplies the upstream gradient by the "
            "diagonal (upstream * local).")

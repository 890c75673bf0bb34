"""The indexing rows of the op registry: s[i] and s[a:b], as the lecture picks one class score.

The parser turns `s[2]` into index(s, 2) and `s[1:3]` into slice(s, 1, 3) (`s[1:]` is
slice(s, 1)); the positions are constants written in the program, read by the shape rule, and
get no gradient. Indexing is along the first axis, as numpy's: `W[1]` is a row, `W[1][2]` an
entry. The backward pass puts the upstream gradient back where the entries were taken from,
and zeros everywhere else.
"""

from __future__ import annotations

from .registry import Op, register
from .shapes import Mismatch


def _where(name: str, shape, k, allow_end: bool = False) -> int:
    """A position as a non-negative int within an axis of n entries (n itself for a slice's
    end)."""
    n = shape[0]
    if k is None:
        raise Mismatch(f"the position in {name} must be a whole number written in the program")
    if k != int(k):
        raise Mismatch(f"the position {k:g} in {name} is not a whole number")
    k = int(k)
    hi = n if allow_end else n - 1
    if not -n <= k <= hi:
        raise Mismatch(f"position {k} is out of range: the first axis has {n} entries "
                       f"({-n}..{n - 1})")
    return k % n if k < 0 or k < n else n


def _index_shape(shapes, consts):
    a = shapes[0]
    if not a:
        raise Mismatch("a number has no entries to index", "index a vector or a matrix")
    _where("[i]", a, consts[1])
    return a[1:]


def _slice_bounds(n: int, args) -> tuple[int, int]:
    start = int(args[1])
    stop = int(args[2]) if len(args) > 2 else n
    return slice(start, stop).indices(n)[:2]


def _slice_shape(shapes, consts):
    a = shapes[0]
    if not a:
        raise Mismatch("a number has no entries to slice", "slice a vector or a matrix")
    start = _where("[a:b]", a, consts[1], True)
    stop = _where("[a:b]", a, consts[2], True) if len(consts) > 2 else a[0]
    if stop <= start:
        raise Mismatch(f"the slice [{int(consts[1])}:{'' if len(consts) < 3 else int(consts[2])}]"
                       f" is empty", "a slice takes entries start..stop-1")
    return (stop - start, *a[1:])


def _index_forward(m, a, i):
    if not m.is_array or not m.np.ndim(a):
        raise ValueError("indexing needs a vector or a matrix")
    return a[int(i)]


def _slice_forward(m, a, *bounds):
    if not m.is_array or not m.np.ndim(a):
        raise ValueError("slicing needs a vector or a matrix")
    start, stop = _slice_bounds(len(a), (a, *bounds))
    return a[start:stop]


def _index_vjp(m, g, args, out):
    a, i = args
    da = m.np.zeros(a.shape)
    da[int(i)] = g
    return da, 0.0


def _slice_vjp(m, g, args, out):
    a = args[0]
    start, stop = _slice_bounds(len(a), args)
    da = m.np.zeros(a.shape)
    da[start:stop] = g
    return (da, *(0.0,) * (len(args) - 1))


def _index_sympy(sp, a, i):
    return a[int(i)]


def _slice_sympy(sp, a, *bounds):
    start, stop = _slice_bounds(len(a), (a, *bounds))
    return a[start:stop]


def _spell_slice(parts: list[str]) -> str:
    return f"{parts[0]}[{parts[1]}:{parts[2] if len(parts) > 2 else ''}]"


INDEX_ROWS = [
    Op("index", 2, _index_forward, None, _index_sympy, label="[i]",
       role="router: the upstream gradient goes to the entry taken, 0 to the others",
       domain="a vector or matrix and a position on its first axis",
       vjp=_index_vjp, shape=_index_shape, elementwise=False,
       spelled=lambda parts: f"{parts[0]}[{parts[1]}]",
       doc="s[i]: entry (or row) i, counting from 0; s[-1] is the last"),
    Op("slice", None, _slice_forward, None, _slice_sympy, label="[a:b]",
       role="router: the upstream gradient goes back to the entries taken, 0 to the others",
       domain="a vector or matrix and positions on its first axis",
       vjp=_slice_vjp, shape=_slice_shape, elementwise=False, min_arity=2, max_arity=3,
       spelled=_spell_slice,
       doc="s[a:b]: entries (or rows) a to b-1; s[a:] runs to the end, s[:b] starts at 0"),
]

for _row in INDEX_ROWS:
    register(_row, function=False)

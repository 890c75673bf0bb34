"""The indexing rows of the op registry: s[i] and s[a:b], as the lecture picks one class score.

The parser turns `s[2]` into index(s, 2) and `s[1:3]` into slice(s, 1, 3) (`s[1:]` is
slice(s, 1)); the positions are constants written in the program, read by the shape rule, and
get no gradient. Indexing is along the first axis, as numpy's: `W[1]` is a row, `W[1][2]` an
entry. The backward pass puts the upstream gradient back where the entries were taken from,
and zeros everywhere else.
"""

from __future__ import annotations

from .registry import Op, register
from .shapes import Mismatch, Unsupported, fmt


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
       doc="s[i]: entry (or row) i, counting from 0; s[-1] is the last",
       vjp_text=("add_at(zeros_like(a), dout, idx)",)),
    Op("slice", None, _slice_forward, None, _slice_sympy, label="[a:b]",
       role="router: the upstream gradient goes back to the entries taken, 0 to the others",
       domain="a vector or matrix and positions on its first axis",
       vjp=_slice_vjp, shape=_slice_shape, elementwise=False, min_arity=2, max_arity=3,
       spelled=_spell_slice,
       doc="s[a:b]: entries (or rows) a to b-1; s[a:] runs to the end, s[:b] starts at 0",
       vjp_text=("add_at(zeros_like(a), dout, at)",)),
]

for _row in INDEX_ROWS:
    register(_row, function=False)


# --- positions written in the program on several axes: x[0, 1], x[::-1], x[:, 2] ------------
#
# The parser binds the row `subscript` to the key it read (ops/keywords.py): a tuple with a
# whole number or a (start, stop, step) slice per axis, from the first.


def _key(key) -> tuple:
    return tuple(slice(*part) if isinstance(part, tuple) else part for part in key)


def _key_text(key) -> str:
    def one(part) -> str:
        if not isinstance(part, tuple):
            return str(part)
        start, stop, step = ("" if b is None else str(b) for b in part)
        return f"{start}:{stop}" + (f":{step}" if step else "")
    return ", ".join(one(part) for part in key)


_DEFAULT_KEY = ((None, None, -1), (1, 3, None))  # x[::-1, 1:3]: the row's own test samples


def _subscript_shape(shapes, consts, key=_DEFAULT_KEY):
    a = shapes[0]
    if len(key) > len(a):
        raise Mismatch(f"[{_key_text(key)}] gives {len(key)} positions, but shape {fmt(a)} "
                       f"has {len(a)} {'axis' if len(a) == 1 else 'axes'}")
    out = []
    for axis, (part, n) in enumerate(zip(key, a)):
        if isinstance(part, tuple):
            if part[2] == 0:
                raise Mismatch("a slice's step cannot be 0")
            size = len(range(*slice(*part).indices(n)))
            if not size:
                raise Mismatch(f"the slice [{_key_text((part,))}] of axis {axis} (size {n}) is "
                               "empty")
            out.append(size)
        elif not -n <= part < n:
            raise Mismatch(f"position {part} is out of range for axis {axis} of shape {fmt(a)} "
                           f"({-n}..{n - 1})")
    return (*out, *a[len(key):])


def _subscript_forward(m, a, key=_DEFAULT_KEY):
    if not m.is_array or not m.np.ndim(a):
        raise ValueError("indexing needs an array")
    return a[_key(key)]


def _subscript_vjp(m, g, args, out, key=_DEFAULT_KEY):
    a = args[0]
    da = m.np.zeros(a.shape)
    da[_key(key)] = g  # basic indexing takes each entry at most once
    return (da,)


def _subscript_sympy(sp, a, key=_DEFAULT_KEY):
    return a[_key(key)]


# --- positions that are values: C[idx], x[arange(n), y] ------------------------------------


def _positions(np, a, idx) -> tuple:
    """The index values as integer arrays (or ints), checked against a's shape."""
    out = []
    for axis, i in enumerate(idx):
        n = a.shape[axis]
        arr = np.asarray(getattr(i, "v", i))  # a dual number's value (Hessians): positions
        if arr.dtype.kind not in "iub":
            if not np.all(arr == np.round(arr)):
                raise Unsupported(f"has positions on axis {axis} that are not whole numbers")
            arr = arr.astype(np.intp)
        if arr.size and (arr.min() < -n or arr.max() >= n):
            raise Unsupported(f"has a position out of range on axis {axis}: {int(arr.max())} "
                              f"(the axis has {n} entries, {-n}..{n - 1})"
                              if arr.max() >= n else
                              f"has a position out of range on axis {axis}: {int(arr.min())} "
                              f"(the axis has {n} entries, {-n}..{n - 1})")
        out.append(arr if arr.ndim else int(arr))
    return tuple(out)


def _take_forward(m, a, *idx):
    if not m.is_array or not m.np.ndim(a):
        raise ValueError("indexing needs an array")
    return a[_positions(_numpy(), a, idx)]


def _numpy():
    import numpy as np

    return np


def _take_vjp(m, g, args, out):
    # Every entry taken gets the upstream gradient of the place it went to; an entry taken
    # twice (a row of C gathered by two examples) gets both, added.
    np = _numpy()
    a, idx = args[0], args[1:]
    pos = _positions(np, a, idx)
    zeros = tuple(np.zeros(np.shape(i)) if np.ndim(i) else 0.0 for i in idx)
    if isinstance(g, np.ndarray):
        da = np.zeros(a.shape)
        np.add.at(da, pos, g)
        return (da, *zeros)
    # The same sum as a product with a 0/1 matrix (for the dual numbers of a Hessian):
    # row j of `hits` marks the entry that place j was taken from.
    lead = len(idx)
    taken = np.ravel_multi_index(np.broadcast_arrays(*pos), a.shape[:lead], mode="wrap")
    hits = np.zeros((taken.size, int(np.prod(a.shape[:lead]))))
    hits[np.arange(taken.size), taken.ravel()] = 1.0
    rest = tuple(a.shape[lead:])
    g2 = m.np.reshape(g, (taken.size, *rest)) if rest else m.np.reshape(g, (taken.size,))
    da = m.np.reshape(m.np.matmul(m.np.asarray(hits.T), g2), a.shape)
    return (da, *zeros)


def _take_shape(shapes, consts):
    from .shapes import broadcast

    a, idx = shapes[0], shapes[1:]
    if len(idx) > len(a):
        raise Mismatch(f"{len(idx)} positions for shape {fmt(a)}, which has {len(a)} "
                       f"{'axis' if len(a) == 1 else 'axes'}")
    for axis, c in enumerate(consts[1:]):
        if c is not None:
            _where(f"axis {axis}", a[axis:], c)
    try:
        lead = broadcast(*idx)
    except Mismatch:
        raise Mismatch("the index arrays' shapes " + ", ".join(map(fmt, idx)) +
                       " do not broadcast together") from None
    return (*lead, *a[len(idx):])


def _take_sympy(sp, a, *idx):
    import numpy as np

    arrays = [np.asarray(i, dtype=object) for i in idx]
    if not all(_is_number(v) for arr in arrays for v in arr.flat):
        return _chosen(sp, np, a, arrays)
    pos = []
    for arr in arrays:
        pos.append(np.vectorize(lambda v: int(float(v)), otypes=[int])(arr) if arr.ndim
                   else int(float(arr[()])))
    return a[tuple(pos)]


def _is_number(v) -> bool:
    return isinstance(v, int | float) or bool(getattr(v, "is_Number", False))


def _chosen(sp, np, a, arrays: list):
    """x[p] where a position p is an expression (x[argmax(x)]): each entry is a Piecewise over
    the places p can name, so sympy differentiates the entry taken (the conditions are
    constant where p does not jump)."""
    from itertools import product

    lead = np.broadcast_arrays(*arrays)
    rest = a.shape[len(arrays):]
    out = np.empty(lead[0].shape + rest, dtype=object)
    for j in np.ndindex(lead[0].shape):
        ps = [arr[j] for arr in lead]
        choices = [[int(float(p))] if _is_number(p) else range(a.shape[ax])
                   for ax, p in enumerate(ps)]
        for r in np.ndindex(rest):
            out[j + r] = sp.Piecewise(*[
                (a[combo + r], sp.And(*[sp.Eq(p, k) for p, k in zip(ps, combo)
                                        if not _is_number(p)]))
                for combo in product(*choices)])
    return out if out.ndim else out[()]


def _spell_subscript(parts: list) -> str:
    return f"{parts[0]}[{_key_text(parts[1] if len(parts) > 1 else _DEFAULT_KEY)}]"


def _spell_take(parts: list[str]) -> str:
    return f"{parts[0]}[{', '.join(parts[1:])}]"


# --- the way back: add_at(x, v, idx...), x with v added where x[idx] took its entries ------
#
# take's VJP as a value of the language, so that an answer key (and a learner) can write
# `dC = add_at(zeros_like(C), demb, Xb)`: numpy's np.add.at, on a copy. A position taken twice
# gets both values, added.


def _taken_shape(a: tuple, idx: tuple) -> tuple:
    from .shapes import broadcast

    return (*broadcast(*idx), *a[len(idx):])


def _add_at_forward(m, x, v, *idx):
    if not m.is_array or not m.np.ndim(x):
        raise ValueError("add_at needs an array to add into")
    np = _numpy()
    taken = _taken_shape(np.shape(x), tuple(np.shape(i) for i in idx))
    spread = m.np.broadcast_to(v, taken) if isinstance(v, np.ndarray) or not np.ndim(v) \
        else v * np.ones(taken)  # a dual number (Hessians) broadcasts by arithmetic
    return x + _take_vjp(m, spread, (x, *idx), None)[0]


def _add_at_vjp(m, g, args, out):
    from .shapes import unbroadcast

    x, v, idx = args[0], args[1], args[2:]
    np = _numpy()
    taken = g[_positions(np, x, idx)]
    dv = unbroadcast(m, taken, v) if np.ndim(v) else m.scalar(np.sum(taken))
    zeros = tuple(np.zeros(np.shape(i)) if np.ndim(i) else 0.0 for i in idx)
    return (g, dv, *zeros)


def _add_at_shape(shapes, consts):
    from .shapes import broadcast

    x, v, idx = shapes[0], shapes[1], shapes[2:]
    taken = _take_shape((x, *idx), (consts[0], *consts[2:]))
    try:
        fits = broadcast(v, taken) == taken
    except Mismatch:
        fits = False
    if not fits:
        raise Mismatch(f"add_at() adds values of shape {fmt(v)} where x[positions] has shape "
                       f"{fmt(taken)}", "the values must have the shape of what was taken")
    return x


def _add_at_sympy(sp, x, v, *idx):
    import numpy as np

    # Each entry taken, as its flat position in x: then one addition per value.
    out = np.array(x, dtype=object)
    flat = _take_sympy(sp, np.arange(out.size).reshape(out.shape), *idx)
    values = np.broadcast_to(np.asarray(v, dtype=object), np.shape(flat))
    for k, e in zip(np.ravel(flat), np.ravel(values)):
        where = np.unravel_index(int(k), out.shape)
        out[where] = out[where] + e
    return out


VALUE_INDEX_ROWS = [
    Op("subscript", 1, _subscript_forward, None, _subscript_sympy, label="[...]",
       role="router: the upstream gradient goes back to the entries taken, 0 to the others",
       domain="an array with an axis for each position",
       vjp=_subscript_vjp, shape=_subscript_shape, elementwise=False,
       spelled=_spell_subscript,
       doc="x[i, j], x[a:b:step, ...], x[::-1], x[:, 0]: positions written in the program, "
           "one per axis from the first",
       vjp_text=("add_at(zeros_like(a), dout, at)",)),
    Op("take", None, _take_forward, None, _take_sympy, label="[idx]", min_arity=2,
       role="router: each entry taken gets back the upstream gradient of where it went; an "
            "entry taken twice gets both",
       domain="integer positions within each axis",
       vjp=_take_vjp, shape=_take_shape, elementwise=False, spelled=_spell_take,
       doc="C[idx], x[arange(n), y]: positions given by values (integer arrays, arange(n), a "
           "label), one per axis from the first, broadcast together as numpy's integer-array "
           "indexing; the positions get no gradient",
       vjp_text=("add_at(zeros_like(a), dout, idx)",)),
    Op("add_at", None, _add_at_forward, None, _add_at_sympy, label="add_at", min_arity=3,
       role="x gets the upstream gradient whole; the values get back the upstream gradient of "
            "the places they were added to",
       domain="an array, values shaped like x[positions], integer positions within each axis",
       vjp=_add_at_vjp, shape=_add_at_shape, elementwise=False,
       doc="add_at(x, v, idx...): x with v added at x[idx...] (numpy's np.add.at, on a copy); a "
           "position given twice gets both: take's backward, dC = add_at(zeros_like(C), demb, Xb)",
       vjp_text=("dout", "dout[idx2]")),
]

for _row in VALUE_INDEX_ROWS:
    register(_row, function=_row.name == "add_at")


def samples() -> dict:
    """Array argument tuples for the value-indexing rows (the positions are integer arrays)."""
    import numpy as np

    rng = np.random.default_rng(9)
    C = rng.normal(size=(5, 3))
    W = rng.normal(size=(3, 4))
    return {
        "subscript": [(W,)],
        "take": [(C, np.array([[0, 2, 2], [4, 1, 0]])), (W, np.arange(3), np.array([1, 3, 0])),
                 (W, np.array([2, 0]))],
        # The values broadcast along the last axis, so that the mutation tests' enlarged
        # arrays (3x on each axis, positions kept) still fit.
        "add_at": [(C, rng.normal(size=(3,)), np.array([[0, 2, 2], [4, 1, 0]])),
                   (W, rng.normal(size=(1,)), np.arange(3), np.array([1, 3, 0])),
                   (W, rng.normal(size=(4,)), np.array([2, 0]))],
    }

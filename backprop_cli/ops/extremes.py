"""The rows for max and min (of several arguments, numbers or arrays entry by entry, or of one
array: its largest or smallest entry, as amax and amin in arrays.py) and numpy's elementwise
maximum and minimum.

Every one of them reads the one tie rule, `registry.tie_shares`: maximum and minimum state it as
their local partials, max and min of several arguments take the VJP it gives, and max(x) of one
array is amax's VJP, which reads it along the array. They live apart from registry.py because
their array forms need arrays.py, which itself builds on the registry: this module imports
both, and neither imports it.
"""

from __future__ import annotations

from .arrays import _entrywise, _np, _pick_vjp, pick_kinks
from .registry import Op, register, tie_local
from .shapes import broadcast, unbroadcast


def _branch(pick):
    def branch(*args):
        best = pick(args)
        hits = [k for k, a in enumerate(args) if a == best]
        return hits[0] if len(hits) == 1 else None
    return branch


def _forward(pick):
    pair_name = "maximum" if pick is max else "minimum"
    whole_name = "max" if pick is max else "min"

    def forward(m, *args):
        if not m.is_array:
            # Through the namespace: the dual numbers' max is lifted from this row, so a tie's
            # tangent is split as the gradient splits it and a Hessian at a tie is symmetric.
            return getattr(m, whole_name)(args)
        np = m.np
        if len(args) == 1:
            return getattr(np, whole_name)(args[0])
        pair = getattr(np, pair_name)
        out = args[0]
        for a in args[1:]:
            out = pair(out, a)
        return out
    return forward


def _several_vjp(m, g, args, out):
    """The VJP of the tie rule stated as local partials: upstream x local, summed back over
    broadcast axes, as the backward pass does for every elementwise row."""
    parts = tie_local(m, *args, out)
    if not m.is_array:
        return parts if type(g) is float and g == 1.0 else tuple(g * p for p in parts)
    return tuple(unbroadcast(m, g * p, a) for p, a in zip(parts, args))


def _vjp(m, g, args, out):
    """max(x) of one array routes to its largest entry (amax); of several arguments, to the
    winner entry by entry. Ties split the gradient evenly, by the one tie rule."""
    if len(args) == 1:
        return _pick_vjp(m, g, args, out)
    return _several_vjp(m, g, args, out)


def _kinks(args, out) -> tuple[int, int] | None:
    """max(x) of one array ties like amax(x); max(a, b, ...) is judged entry by entry."""
    return pick_kinks(args, out) if len(args) == 1 else None


def _shape(shapes, consts):
    if len(shapes) == 1:
        return ()
    return broadcast(*shapes)


def _sympy(fn_name: str):
    def rule(sp, *args):
        fn = getattr(sp, fn_name)
        if not any(hasattr(a, "ndim") for a in args):  # the scalar check stays numpy-free
            return fn(*args)
        np = _np()
        if len(args) == 1 and isinstance(args[0], np.ndarray):
            return fn(*args[0].flat)
        return _entrywise(sp, fn, *args)
    return rule


def _pair_forward(pick):
    whole_name = "max" if pick is max else "min"
    pair_name = "maximum" if pick is max else "minimum"

    def forward(m, a, b):
        if not m.is_array:
            return getattr(m, whole_name)((a, b))
        return getattr(m.np, pair_name)(a, b)
    return forward


_SAMPLES = ((0.5, 1.5), (2.0, -3.0), (0.1, 0.4, -0.2))


def _tie_texts(pick) -> tuple[str, str]:
    """The local partials of the larger (smaller) of a and b in the language: 1 for the one
    picked, 0 for the other, half each at a tie (the tie rule)."""
    wins, loses = (">", "<") if pick is max else ("<", ">")
    return tuple(f"where({x} {wins} {y}, 1, where({x} {loses} {y}, 0, 0.5))"
                 for x, y in (("a", "b"), ("b", "a")))

for _pick, _word in ((max, "largest"), (min, "smallest")):
    register(Op(
        _pick.__name__, None, _forward(_pick), None, _sympy(_pick.__name__.capitalize()),
        label=_pick.__name__, latex="\\" + _pick.__name__,
        role=f"router: the upstream gradient goes to the {_word} input", kind="router",
        branch=_branch(_pick), subgradient="ties split the gradient evenly", kinks=_kinks,
        elsewhere=(("PyTorch", f"torch.{_pick.__name__}imum", "0.5"),
                    ("JAX", f"jnp.{_pick.__name__}imum", "0.5"),
                    ("sympy", f"{_pick.__name__.capitalize()}: Heaviside(0)", "1/2")),
        samples=_SAMPLES, min_arity=1, vjp=_vjp, shape=_shape,
        # the two-input case, ties included: an input shares the gradient with the one it ties
        local_text=_tie_texts(_pick),
        doc=f"{_word} argument; {_pick.__name__}(x) of one array is its {_word} entry"))

for _pick, _word, _name in ((max, "larger", "maximum"), (min, "smaller", "minimum")):
    register(Op(
        _name, 2, _pair_forward(_pick), tie_local,
        _sympy(_pick.__name__.capitalize()),
        label=_name, role=f"router: the upstream gradient goes to the {_word} input, entry by "
                          "entry", kind="router",
        branch=_branch(_pick), subgradient="ties split the gradient evenly",
        # at a tie, the frameworks' own maximum / minimum split it as numpy's does here
        elsewhere=(("PyTorch", f"torch.{_name}", "0.5"), ("JAX", f"jnp.{_name}", "0.5"),
                   ("sympy", f"{_pick.__name__.capitalize()}: Heaviside(0)", "1/2")),
        samples=((0.5, 1.5), (2.0, -3.0), (-0.4, -0.7)),
        local_text=_tie_texts(_pick),
        doc=f"{_name}(a, b): the {_word} of a and b, entry by entry (numpy's {_name})"))

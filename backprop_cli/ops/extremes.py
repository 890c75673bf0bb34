"""The rows for max and min: of several arguments (numbers, or arrays entry by entry) or of one
array (its largest or smallest entry, as amax and amin in arrays.py).

They live apart from registry.py because their array forms need arrays.py, which itself builds
on the registry: this module imports both, and neither imports it.
"""

from __future__ import annotations

from .arrays import _entrywise, _np, _pick_vjp, pick_kinks
from .registry import Op, register
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
            # Through the namespace: the dual numbers' max splits a tie's tangent evenly among
            # the winners, as the gradient splits it, so a Hessian at a tie stays symmetric.
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


def _local(m, *args_out):
    # Ties split the gradient evenly among the winners (as PyTorch's maximum does), so the
    # rule stays a subgradient and the sum of the parts is still the upstream gradient.
    *args, out = args_out
    hits = [1.0 if a == out else 0.0 for a in args]
    share = 1.0 / sum(hits)
    return tuple(h * share for h in hits)


def _vjp(m, g, args, out):
    """Routes the upstream gradient to the winner; ties split it evenly among the winners."""
    if len(args) == 1:
        return _pick_vjp(m, g, args, out)
    np = m.np
    hits = [np.equal(a, out).astype(float) for a in args]
    total = hits[0]
    for h in hits[1:]:
        total = total + h
    return tuple(unbroadcast(m, g * (h / total), a) for h, a in zip(hits, args))


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


_SAMPLES = ((0.5, 1.5), (2.0, -3.0), (0.1, 0.4, -0.2))

for _pick, _word in ((max, "largest"), (min, "smallest")):
    register(Op(
        _pick.__name__, None, _forward(_pick), _local, _sympy(_pick.__name__.capitalize()),
        label=_pick.__name__, latex="\\" + _pick.__name__,
        role=f"router: the upstream gradient goes to the {_word} input",
        branch=_branch(_pick), subgradient="ties split the gradient evenly", kinks=_kinks,
        elsewhere=(("PyTorch", f"torch.{_pick.__name__}imum", "0.5"),
                    ("JAX", f"jnp.{_pick.__name__}imum", "0.5"),
                    ("sympy", f"{_pick.__name__.capitalize()}: Heaviside(0)", "1/2")),
        samples=_SAMPLES, min_arity=1, vjp=_vjp, shape=_shape,
        local_text=(f"1 if it is the {_word} input, else 0",),
        doc=f"{_word} argument; {_pick.__name__}(x) of one array is its {_word} entry"))

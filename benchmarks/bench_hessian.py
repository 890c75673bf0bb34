"""What a Hessian and a full Jacobian cost, as multiples of one forward+backward pass.

Hessian: programs of n scalar variables (sums of sin, tanh, exp and squares of products of
pairs of variables, about 200 terms); the Hessian is the forward pass plus
`engine.hessian.hessian` (the forward and backward passes on dual numbers whose tangents carry
all n directions at once). Target: at most 4n forward+backward passes.

Jacobian: tanh(W @ x + b) with an m-entry output; the Jacobian is the forward pass plus
`engine.jacobian.output_jacobian` (one backward pass per output entry, or one dual forward
pass per variable entry when there are fewer of those). Target: at most 3m.

Both are timed side by side with the forward+backward pass they are measured in, alternating
within each round, and the ratio of the medians is reported: the machine is shared, and only
a ratio taken in the same minute means anything.

    uv run python benchmarks/bench_hessian.py [--rounds 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from functools import partial

import numpy as np

from backprop_cli.engine.backward import backpropagate
from backprop_cli.engine.forward import forward
from backprop_cli.engine.hessian import hessian
from backprop_cli.engine.jacobian import output_jacobian
from backprop_cli.language.parser import parse


def scalar_program(n: int, terms: int = 200, seed: int = 0) -> str:
    r = random.Random(seed)
    parts = []
    for _ in range(terms):
        a, b = r.randrange(n), r.randrange(n)
        f = r.choice(["sin", "tanh", "exp"])
        parts.append(f"{f}(x{a}*x{b}*0.3) + x{a}**2*0.1")
    return " + ".join(parts)


def forward_backward(graph, bindings, seed=1.0) -> None:
    backpropagate(graph, forward(graph, bindings), seed)


def full_hessian(graph, bindings, names) -> None:
    hessian(graph, forward(graph, bindings), names)


def full_jacobian(graph, bindings, names):
    return output_jacobian(graph, forward(graph, bindings), names, bindings)


def timed(fn, rounds: int, base) -> tuple[float, float]:
    """Medians of fn and of base, run alternately."""
    fn()
    base()
    ours, ref = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        base()
        ref.append(time.perf_counter() - t)
        t = time.perf_counter()
        fn()
        ours.append(time.perf_counter() - t)
    return statistics.median(ours), statistics.median(ref)


def hessian_rows(rounds: int) -> list[dict]:
    rows = []
    for n in (1, 2, 3, 5, 10, 30, 100):
        graph = parse(scalar_program(n))
        bindings = {f"x{k}": 0.05 * (k + 1) for k in range(n)}
        t_h, t_fb = timed(partial(full_hessian, graph, bindings, list(bindings)), rounds,
                          partial(forward_backward, graph, bindings))
        rows.append({"case": f"{n} scalar variables", "nodes": len(graph), "n": n,
                     "fb_ms": t_fb * 1e3, "ms": t_h * 1e3, "multiple": t_h / t_fb,
                     "target": 4 * n})
    rng = np.random.default_rng(0)
    for k in (2, 4, 8):
        W, x = rng.normal(size=(k, k)), rng.normal(size=k)
        graph = parse("norm(W @ x)**2")
        bindings = {"W": W, "x": x}
        n = k * k + k
        t_h, t_fb = timed(partial(full_hessian, graph, bindings, ["W", "x"]), rounds,
                          partial(forward_backward, graph, bindings))
        rows.append({"case": f"norm(W @ x)**2, W {k}x{k}", "nodes": len(graph), "n": n,
                     "fb_ms": t_fb * 1e3, "ms": t_h * 1e3, "multiple": t_h / t_fb,
                     "target": 4 * n})
    return rows


def jacobian_rows(rounds: int) -> list[dict]:
    rows = []
    rng = np.random.default_rng(1)
    # W's entries count as variable entries too: past 64 outputs only x and b are asked for,
    # which keeps the Jacobian under the 10^5-entry cap; with x alone there are fewer variable
    # entries than outputs and the engine goes forward.
    for m, k, wrt in ((4, 8, None), (16, 16, None), (64, 16, None), (256, 16, ["x", "b"]),
                      (256, 16, ["x"])):
        W, x, b = rng.normal(size=(m, k)), rng.normal(size=k), rng.normal(size=m)
        graph = parse("tanh(W @ x + b)")
        bindings = {"W": W, "x": x, "b": b}
        names = wrt or list(bindings)
        jac = partial(full_jacobian, graph, bindings, names)
        mode = jac().mode
        t_j, t_fb = timed(jac, rounds, partial(forward_backward, graph, bindings, np.ones(m)))
        n_in = sum(np.size(bindings[n]) for n in names)
        case = f"tanh(W @ x + b), W {m}x{k}" + (f", --wrt {','.join(wrt)}" if wrt else "")
        rows.append({"case": case,
                     "m": m, "entries_in": int(n_in), "mode": mode, "fb_ms": t_fb * 1e3,
                     "ms": t_j * 1e3, "multiple": t_j / t_fb, "target": 3 * m})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    hess, jac = hessian_rows(args.rounds), jacobian_rows(args.rounds)
    if args.json:
        print(json.dumps({"hessian": hess, "jacobian": jac}, indent=2))
        return 0
    print("| Hessian of | graph nodes | n | forward+backward ms | Hessian ms | multiple | "
          "multiple / n | target |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in hess:
        print(f"| {r['case']} | {r['nodes']:,} | {r['n']} | {r['fb_ms']:.2f} | {r['ms']:.2f} | "
              f"{r['multiple']:.1f}x | {r['multiple'] / r['n']:.2f} | {r['target']}x |")
    print()
    print("| Jacobian of | output entries m | variable entries | mode | forward+backward ms | "
          "Jacobian ms | multiple | multiple / m | target |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in jac:
        print(f"| {r['case']} | {r['m']} | {r['entries_in']} | {r['mode']} | "
              f"{r['fb_ms']:.3f} | {r['ms']:.2f} | {r['multiple']:.1f}x | "
              f"{r['multiple'] / r['m']:.2f} | {r['target']}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

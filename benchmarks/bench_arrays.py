"""The lecture's vectorized layer at full size: forward+backward against hand-written numpy.

f = sum((W @ x)**2) with W 4096x4096 and x 4096x100 (float64). The reference is the three
formulas written by hand: q = W x, dW = 2 q x^T, dx = 2 W^T q. Both run in the same process on
the same W and x, alternating, after a warm-up; the figures are medians.

    uv run --with threadpoolctl python benchmarks/bench_arrays.py [--n 4096] [--batch 100]

threadpoolctl is optional: with it, the BLAS library, its kernel (architecture) and its thread
count are printed, so a run says which kernel did the work. If OPENBLAS_CORETYPE or
OPENBLAS_L2_SIZE are set, the script says so; to measure numpy's own choice, unset both in the
benchmark command alone: `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE uv run ...`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

from backprop_cli.engine.backward import backpropagate
from backprop_cli.engine.forward import forward
from backprop_cli.language.parser import parse


def by_hand(W, x):
    q = W @ x
    f = float(np.sum(q * q))
    g = 2.0 * q
    return f, g @ x.T, W.T @ g


def by_backprop(graph, bindings):
    values = forward(graph, bindings)
    grads = backpropagate(graph, values)
    v = graph.variables
    return values[graph.output], grads[v["W"]], grads[v["x"]]


def blas_info() -> list[dict]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed (uv run --with threadpoolctl ...)"}]
    return [{k: info.get(k) for k in ("internal_api", "version", "architecture",
                                      "num_threads", "threading_layer")}
            for info in threadpool_info() if info.get("user_api") == "blas"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    W = rng.standard_normal((args.n, args.n)) / np.sqrt(args.n)
    x = rng.standard_normal((args.n, args.batch))
    graph = parse("sum((W @ x)**2)")
    bindings = {"W": W, "x": x}

    f_ref, dW_ref, dx_ref = by_hand(W, x)
    f, dW, dx = by_backprop(graph, bindings)
    agree = (abs(f - f_ref) <= 1e-12 * abs(f_ref) and np.allclose(dW, dW_ref, rtol=1e-12)
             and np.allclose(dx, dx_ref, rtol=1e-12))

    hand, ours = [], []
    for _ in range(2):  # warm-up: page in W, let BLAS spin up its threads
        by_hand(W, x)
        by_backprop(graph, bindings)
    for _ in range(args.repeat):
        t = time.perf_counter()
        by_hand(W, x)
        hand.append(time.perf_counter() - t)
        t = time.perf_counter()
        by_backprop(graph, bindings)
        ours.append(time.perf_counter() - t)

    result = {
        "program": "sum((W @ x)**2)",
        "W": list(W.shape), "x": list(x.shape),
        "numpy_by_hand_ms": round(1e3 * statistics.median(hand), 1),
        "backprop_ms": round(1e3 * statistics.median(ours), 1),
        "ratio": round(statistics.median(ours) / statistics.median(hand), 3),
        "ratio_of_minimums": round(min(ours) / min(hand), 3),
        "same_numbers": bool(agree),
        "repeats": args.repeat,
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "blas": blas_info(),
        "openblas_env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                                     "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
                         if k in os.environ},
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:20} {v}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())

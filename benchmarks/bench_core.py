"""Benchmark of issue 3: process start-up, and the scalar engine per node against its peers.

Not a test: it measures and prints Markdown tables (the ones in docs/performance.md).

Part 1, start-up: a one-shot `backprop eval "(x+y)*z" x=-2 y=5 z=-4 --no-check` as a whole
process (the venv's console script, stdout piped so plain text), next to a bare `python -c pass`
and a process that only imports click and rich (the floor any click+rich CLI pays). Runs are
interleaved round-robin so machine noise hits every command alike; medians are reported.

Part 2, scalar engine: the same generated programs, wide (a balanced sum of many small terms)
and deep (one nested chain), of about 10^3 .. 10^6 nodes, timed as
  backprop  parse(text), forward(graph), backpropagate(graph, values)
  micrograd building the graph of Values (its forward) and .backward()
  PyTorch   building the graph of 0-d float64 tensors with requires_grad, and .backward()
The peers get exactly backprop's graph (the parsed, hash-consed node list is replayed through
their operators), so every engine computes the same nodes; per-node figures divide by that
node count. Ops: add, mul, relu and pow with a constant exponent, which micrograd's Value has
natively. Peers are optional: a missing one is skipped, and the script says so.

GC: before every timed run the collector runs once; during the run it is disabled for every
engine (what backprop's CLI does; it also spares micrograd and PyTorch the collector's
super-linear re-walks of big object graphs). `--gc` keeps the collector on instead.

Reproduce (see docs/performance.md):
  python3 -m venv /tmp/benchenv && /tmp/benchenv/bin/pip install micrograd torch==2.13.0
  /tmp/benchenv/bin/python benchmarks/bench_core.py          # from the repo root
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project under test, straight from the repo

from backprop_cli.backward import backpropagate  # noqa: E402  (after the sys.path line)
from backprop_cli.forward import forward  # noqa: E402
from backprop_cli.parser import parse  # noqa: E402

SIZES = (1_000, 10_000, 100_000, 1_000_000)

# --- part 1: start-up -------------------------------------------------------------------------


def startup(runs: int, venv: Path) -> str:
    python = str(venv / "bin" / "python")
    backprop = str(venv / "bin" / "backprop")
    cases = [
        ("python -c pass", [python, "-c", "pass"]),
        ("python -c 'import click, rich.console, rich.table'  (floor)",
         [python, "-c", "import click, rich.console, rich.table"]),
        ("backprop eval '(x+y)*z' x=-2 y=5 z=-4 --no-check",
         [backprop, "eval", "(x+y)*z", "x=-2", "y=5", "z=-4", "--no-check"]),
        ("backprop eval '(x+y)*z' x=-2 y=5 z=-4  (sympy + finite differences)",
         [backprop, "eval", "(x+y)*z", "x=-2", "y=5", "z=-4"]),
    ]
    warm = dict(os.environ)
    warm.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's install keeps its bytecode cache
    with tempfile.TemporaryDirectory() as empty:
        # No bytecode cache at all: every module (click's and rich's too) compiles from source.
        cold = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=empty)
        times: dict[str, list[float]] = {label: [] for label, _ in cases}
        cold_times: dict[str, list[float]] = {label: [] for label, _ in cases}
        for _, cmd in cases:  # warm-up: writes the bytecode caches
            for _ in range(2):
                subprocess.run(cmd, env=warm, capture_output=True, check=True)
        for r in range(runs):
            for label, cmd in cases:
                for env, into in ((warm, times), (cold, cold_times)):
                    if env is cold and r >= max(3, runs // 4):
                        continue
                    t = time.perf_counter()
                    done = subprocess.run(cmd, env=env, capture_output=True, check=False)
                    into[label].append(time.perf_counter() - t)
                    if done.returncode != 0:
                        raise SystemExit(f"{label} failed: {done.stderr.decode()}")
    floor = statistics.median(times[cases[1][0]])
    lines = ["| command | median ms | min ms | x click+rich floor | no bytecode cache, median ms |",
             "|---|---:|---:|---:|---:|"]
    for label, _ in cases:
        med = statistics.median(times[label])
        lines.append(f"| `{label}` | {med * 1e3:.1f} | {min(times[label]) * 1e3:.1f} | "
                     f"{med / floor:.2f} | {statistics.median(cold_times[label]) * 1e3:.1f} |")
    lines.append("")
    lines.append(f"{runs} runs each (interleaved), {len(cold_times[cases[0][0]])} without a "
                 f"bytecode cache; target: eval --no-check within 1.5x the floor.")
    return "\n".join(lines)


# --- part 2: programs -------------------------------------------------------------------------

N_VARS = 64


def wide_program(nodes: int, rng: random.Random) -> tuple[str, dict[str, float]]:
    """A balanced sum of small distinct terms over 64 variables (depth ~ log2 of the size)."""
    shapes = ("relu(x{a}*x{b} + x{c})", "(x{a} + x{b})**2*x{c}", "relu(x{a}*x{b})*x{c}")
    n_terms = max(2, int((nodes - N_VARS) / 4.7))
    terms = []
    for t in range(n_terms):
        a, b, c = t % N_VARS, (t // N_VARS + t) % N_VARS, (t // N_VARS ** 2 + 3 * t) % N_VARS
        terms.append(shapes[t % 3].format(a=a, b=b, c=c))
    while len(terms) > 1:  # pairwise, level by level: balanced, and no recursion
        paired = [f"({terms[k]} + {terms[k + 1]})" for k in range(0, len(terms) - 1, 2)]
        if len(terms) % 2:
            paired.append(terms[-1])
        terms = paired
    bindings = {f"x{k}": rng.uniform(-1.0, 1.0) for k in range(N_VARS)}
    return terms[0], bindings


def deep_program(nodes: int, rng: random.Random) -> tuple[str, dict[str, float]]:
    """One chain h <- relu(h*w + b), nested as a single expression (depth ~ a third of the size).

    Weights alternate 2 and 1/2 and biases are small and positive, so values stay moderate,
    relu never cuts the chain and the gradient neither vanishes nor explodes."""
    steps = max(1, (nodes - 2 * N_VARS) // 3)
    tail = "".join(f"*w{k % N_VARS}+b{(7 * k) % N_VARS})" for k in range(steps))
    text = "relu(" * steps + "x0" + tail
    bindings = {"x0": 0.5}
    for k in range(N_VARS):
        bindings[f"w{k}"] = 2.0 if k % 2 else 0.5
        bindings[f"b{k}"] = rng.uniform(0.001, 0.01)
    return text, bindings


# --- part 2: engines --------------------------------------------------------------------------

LEAF, ADD, MUL, RELU, POW = range(5)


def tape_of(graph, bindings) -> tuple[list, list]:
    """backprop's graph as (leaf values, [(code, a, b)]) for the peers to replay."""
    leaves, code = [], []
    for i, op in enumerate(graph.ops):
        a = graph.args[i]
        name = op.name
        if name == "var":
            leaves.append((i, bindings[graph.names[i]]))
        elif name == "const":
            leaves.append((i, graph.consts[i]))
        elif name == "add":
            code.append((i, ADD, a[0], a[1]))
        elif name == "mul":
            code.append((i, MUL, a[0], a[1]))
        elif name == "relu":
            code.append((i, RELU, a[0], 0))
        elif name == "pow":
            code.append((i, POW, a[0], graph.consts[a[1]]))
        else:
            raise ValueError(f"no peer spelling for {name}")
    return leaves, code


def replay(leaves, code, n, leaf, relu):
    """Build the peer's graph node by node; returns the list of node objects."""
    v = [None] * n
    for i, x in leaves:
        v[i] = leaf(x)
    for i, c, a, b in code:
        if c == ADD:
            v[i] = v[a] + v[b]
        elif c == MUL:
            v[i] = v[a] * v[b]
        elif c == RELU:
            v[i] = relu(v[a])
        else:
            v[i] = v[a] ** b
    return v


def inner_runs(nodes: int) -> int:
    """Back-to-back runs per timed sample, timeit-style: a sub-millisecond run is at the mercy
    of the timer and the scheduler, so small programs are timed k at a time (the same k for
    every engine) and each sample is their mean."""
    return max(1, 20_000 // nodes)


def timed(fn, repeat: int, keep_gc: bool, inner: int = 1) -> tuple[float, object]:
    """Median seconds of `repeat` samples, each the mean of `inner` runs of fn() (and its
    last result)."""
    times, out = [], None
    for _ in range(repeat):
        out = None
        gc.collect()
        if not keep_gc:
            gc.disable()
        try:
            t = time.perf_counter()
            for _ in range(inner):
                out = fn()
            times.append((time.perf_counter() - t) / inner)
        finally:
            gc.enable()
    return statistics.median(times), out


def bench_backprop(text, bindings, repeat, keep_gc):
    t_parse, graph = timed(lambda: parse(text), repeat, keep_gc)
    k = inner_runs(len(graph))
    t_fwd, values = timed(lambda: forward(graph, bindings), repeat, keep_gc, k)
    t_bwd, grads = timed(lambda: backpropagate(graph, values), repeat, keep_gc, k)
    grad = {name: grads[i] for name, i in graph.variables.items()}
    return graph, {"parse": t_parse, "forward": t_fwd, "backward": t_bwd}, grad


def bench_peer(name, leaves, code, n, repeat, keep_gc):
    """(forward, backward) median seconds and the gradients, or the reason it failed."""
    if name == "micrograd":
        from micrograd.engine import Value

        def run():
            v = replay(leaves, code, n, Value, Value.relu)
            t = time.perf_counter()
            v[-1].backward()
            return v, time.perf_counter() - t

        def grad_of(v):
            return [v[i].grad for i, _ in leaves]
    else:
        import torch

        def leaf(x):
            return torch.tensor(x, dtype=torch.float64, requires_grad=True)

        def run():
            v = replay(leaves, code, n, leaf, torch.relu)
            t = time.perf_counter()
            v[-1].backward()
            return v, time.perf_counter() - t

        def grad_of(v):
            return [0.0 if v[i].grad is None else float(v[i].grad) for i, _ in leaves]

    fwd, bwd, grads = [], [], None
    k = inner_runs(n)
    try:
        for _ in range(repeat):
            gc.collect()
            if not keep_gc:
                gc.disable()
            try:
                t_f = t_b = 0.0
                for _ in range(k):
                    t = time.perf_counter()
                    v, tb = run()
                    t_f += time.perf_counter() - t - tb
                    t_b += tb
                    grads = grad_of(v)
                    del v
                fwd.append(t_f / k)
                bwd.append(t_b / k)
            finally:
                gc.enable()
    except RecursionError:
        return "fails (RecursionError)", None
    except MemoryError:
        return "fails (MemoryError)", None
    return (statistics.median(fwd), statistics.median(bwd)), grads


def dispatch_floor(leaves, code, n, repeat):
    """The replay loop alone on plain floats: the part of a peer's time that is our driver."""
    return timed(lambda: replay(leaves, code, n, float, lambda a: a if a > 0 else 0.0),
                 repeat, False, inner_runs(n))[0]


def peers_available() -> dict[str, str | None]:
    out = {}
    for name, module in (("micrograd", "micrograd.engine"), ("torch", "torch")):
        try:
            __import__(module)
            out[name] = None
        except ImportError as exc:
            out[name] = f"not installed ({exc.name})"
    return out


def us(seconds: float, n: int) -> str:
    return f"{seconds / n * 1e6:.3f}"


def engines(sizes, repeat: int, keep_gc: bool, peers: dict[str, str | None]) -> str:
    rng = random.Random(3)
    rows, ratio_rows, notes = [], [], []
    for shape, make in (("wide", wide_program), ("deep", deep_program)):
        for size in sizes:
            text, bindings = make(size, rng)
            # Small programs take a millisecond: take the median of many more runs there, so one
            # scheduler hiccup cannot decide a cell (every engine gets the same count).
            reps = (max(repeat, min(100, 100_000 // size)) if size < 1_000_000
                    else max(3, repeat // 2))
            graph, t, grad = bench_backprop(text, bindings, reps, keep_gc)
            n = len(graph)
            fb = t["forward"] + t["backward"]
            leaves, code = tape_of(graph, bindings)
            floor = dispatch_floor(leaves, code, n, reps)
            row = [f"{shape} {size:.0e}", f"{n:,}", f"{graph.depth():,}",
                   us(t["parse"], n), us(t["forward"], n), us(t["backward"], n), us(fb, n),
                   f"{t['backward'] / t['forward']:.2f}"]
            ratios = [f"{shape} {size:.0e}"]
            for peer in ("micrograd", "torch"):
                if peers[peer] is not None:
                    row.append("skipped")
                    ratios.append("-")
                    continue
                got, pgrad = bench_peer(peer, leaves, code, n, reps, keep_gc)
                if isinstance(got, str):
                    row.append(got)
                    ratios.append(got)
                    continue
                total = got[0] + got[1]
                row.append(f"{us(total, n)} ({us(got[0], n)} + {us(got[1], n)})")
                ratios.append(f"{total / fb:.1f}x")
                mine = [grad[graph.names[i]] for i, _ in leaves if i in graph.names
                        and graph.ops[i].name == "var"]
                theirs = [g for (i, _), g in zip(leaves, pgrad) if graph.ops[i].name == "var"]
                worst = max((abs(a - b) / max(abs(a), abs(b), 1e-300)
                             for a, b in zip(mine, theirs)), default=0.0)
                if worst > 1e-9:
                    notes.append(f"{shape} {size:.0e}: {peer}'s gradients differ from "
                                 f"backprop's by a relative {worst:.1e}")
            row.append(us(floor, n))
            rows.append(row)
            ratio_rows.append(ratios)
            print(f"  done {shape} {size:.0e}", file=sys.stderr, flush=True)
            del graph, leaves, code
    head = ("| program | nodes | depth | parse | forward | backward | fwd+bwd | bwd/fwd | "
            "micrograd fwd+bwd (fwd + bwd) | torch fwd+bwd (fwd + bwd) | replay loop alone |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", ("All times in microseconds per node (medians). 'replay loop alone' is the "
                   "driver that builds the peers' graphs, run on plain floats: it is included "
                   "in their forward times."), "",
              "| program | micrograd / backprop (fwd+bwd) | torch / backprop (fwd+bwd) |",
              "|---|---:|---:|"]
    lines += ["| " + " | ".join(r) + " |" for r in ratio_rows]
    lines.append("")
    lines.append("Targets: backprop at least 5x faster than micrograd and 10x faster than "
                 "torch per node at every size; backward <= 2x forward; linear scaling.")
    for peer, why in peers.items():
        if why:
            lines.append(f"- {peer} skipped: {why}")
    if notes:
        lines += [f"- {n}" for n in notes]
    else:
        lines.append("- every peer that ran agreed with backprop's gradients (relative 1e-9).")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=",".join(str(s) for s in SIZES),
                    help="comma-separated node counts (default: 1e3..1e6)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per measurement (median)")
    ap.add_argument("--startup-runs", type=int, default=40)
    ap.add_argument("--skip-startup", action="store_true")
    ap.add_argument("--skip-engines", action="store_true")
    ap.add_argument("--no-peers", action="store_true", help="time backprop only")
    ap.add_argument("--gc", action="store_true", help="keep the cyclic collector on")
    ap.add_argument("--venv", default=str(ROOT / ".venv"),
                    help="the project's venv (for the start-up part)")
    opts = ap.parse_args()

    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {platform.platform()}")
    peers = {"micrograd": "--no-peers", "torch": "--no-peers"} if opts.no_peers \
        else peers_available()
    if not opts.no_peers and peers["torch"] is None:
        import torch

        torch.set_num_threads(1)  # scalar tensors: threads only add overhead
        print(f"torch {torch.__version__}, 1 thread")
    print(f"GC: {'on' if opts.gc else 'collected before, disabled during every timed run'}")
    if not opts.skip_startup:
        print("\n## Start-up\n")
        print(startup(opts.startup_runs, Path(opts.venv)))
    if not opts.skip_engines:
        sizes = [int(float(s)) for s in opts.sizes.split(",")]
        print("\n## Scalar engine\n")
        print(engines(sizes, opts.repeat, opts.gc, peers))


if __name__ == "__main__":
    main()

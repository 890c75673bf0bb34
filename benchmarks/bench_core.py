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

Each engine runs in a fresh interpreter of its own (`--worker`, one process at a time), so no
engine's imports slow another's timings. Programs up to 10^4 nodes, whose runs take under a
millisecond, get `--rounds` (3) such processes per engine, the engines taking turns, so a slow
spell of the machine (this VM has them, lasting seconds) hits every engine alike. Tables give
each engine's best sample (timeit's advice for CPU-bound code) and the ratio table also the
ratio of medians (the median of the rounds' medians).

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
import importlib.metadata
import importlib.util
import json
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

from backprop_cli.engine.backward import backpropagate  # noqa: E402  (after the sys.path line)
from backprop_cli.engine.forward import forward  # noqa: E402
from backprop_cli.language.parser import parse  # noqa: E402

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


def summary(samples: list[float]) -> dict[str, float]:
    """The best and the median sample. The best is what the tables use (timeit's advice: on a
    CPU-bound run, slower samples are other processes' doing, not the code's); the median is
    kept beside it, so a reader can see how noisy the machine was."""
    return {"min": min(samples), "median": statistics.median(samples)}


def timed(fn, repeat: int, keep_gc: bool, inner: int = 1) -> tuple[dict, object]:
    """`summary` of `repeat` samples, each the mean of `inner` runs of fn() (and its last
    result)."""
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
    return summary(times), out


def bench_backprop(text, bindings, repeat, keep_gc):
    """Parse timed on its own; then, like the peers, each sample runs forward and backward in
    turn (each `inner` times), so both passes meet the allocator in the same state."""
    t_parse, graph = timed(lambda: parse(text), repeat, keep_gc)
    k = inner_runs(len(graph))
    fwd, bwd = [], []
    values = grads = None
    for _ in range(repeat):
        gc.collect()
        if not keep_gc:
            gc.disable()
        try:
            t = time.perf_counter()
            for _ in range(k):
                values = forward(graph, bindings)
            t_f = time.perf_counter() - t
            t = time.perf_counter()
            for _ in range(k):
                grads = backpropagate(graph, values)
            t_b = time.perf_counter() - t
        finally:
            gc.enable()
        fwd.append(t_f / k)
        bwd.append(t_b / k)
    grad = {name: grads[i] for name, i in graph.variables.items()}
    return graph, {"parse": t_parse, "forward": summary(fwd), "backward": summary(bwd)}, grad


def bench_peer(name, leaves, code, n, repeat, keep_gc):
    """(forward, backward) `summary`s and the gradients, or the reason it failed."""
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
    return (summary(fwd), summary(bwd)), grads


def dispatch_floor(leaves, code, n, repeat):
    """The replay loop alone on plain floats: the part of a peer's time that is our driver."""
    return timed(lambda: replay(leaves, code, n, float, lambda a: a if a > 0 else 0.0),
                 repeat, False, inner_runs(n))[0]


def peers_available() -> dict[str, str | None]:
    """Which peers are installed (found, not imported: the parent process times nothing)."""
    out = {}
    for name in ("micrograd", "torch"):
        out[name] = None if importlib.util.find_spec(name) else f"not installed ({name})"
    return out


def us(seconds: float, n: int) -> str:
    return f"{seconds / n * 1e6:.3f}"


def program(shape: str, size: int) -> tuple[str, dict[str, float]]:
    """The benchmark program of a shape and size: the same text in every process."""
    make = wide_program if shape == "wide" else deep_program
    return make(size, random.Random(f"{shape} {size}"))


def samples(size: int, repeat: int) -> int:
    # Small programs take a millisecond: take the median of many more runs there, so one
    # scheduler hiccup cannot decide a cell (every engine gets the same count).
    return (max(repeat, min(100, 100_000 // size)) if size < 1_000_000
            else max(3, repeat // 2))


def measure(engine: str, shape: str, size: int, repeat: int, keep_gc: bool) -> dict:
    """One engine on one program, in this process: times in seconds (medians) and the
    variables' gradients, in backprop's leaf order."""
    text, bindings = program(shape, size)
    reps = samples(size, repeat)
    if engine == "backprop":
        graph, t, grad = bench_backprop(text, bindings, reps, keep_gc)
        n = len(graph)
        leaves, code = tape_of(graph, bindings)
        t["floor"] = dispatch_floor(leaves, code, n, reps)
        names = [graph.names[i] for i, _ in leaves if graph.ops[i].name == "var"]
        return {"n": n, "depth": graph.depth(), "times": t,
                "grads": [grad[name] for name in names]}
    graph = parse(text)
    n = len(graph)
    leaves, code = tape_of(graph, bindings)
    is_var = [graph.ops[i].name == "var" for i, _ in leaves]
    del graph
    if engine == "torch":
        import torch

        torch.set_num_threads(1)  # scalar tensors: threads only add overhead
    got, pgrad = bench_peer(engine, leaves, code, n, reps, keep_gc)
    if isinstance(got, str):
        return {"n": n, "failed": got}
    return {"n": n, "times": {"forward": got[0], "backward": got[1]},
            "grads": [g for g, v in zip(pgrad, is_var) if v]}


def in_worker(engine: str, shape: str, size: int, repeat: int, keep_gc: bool) -> dict:
    """`measure` in a fresh interpreter: each engine is timed with only its own imports
    loaded (PyTorch's libraries alone slow a neighbour's sub-millisecond runs measurably)."""
    cmd = [sys.executable, __file__, "--worker", engine, "--shape", shape,
           "--sizes", str(size), "--repeat", str(repeat)] + (["--gc"] if keep_gc else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"failed": f"fails ({tail[:60]})"}
    return json.loads(done.stdout)


def in_rounds(engines_: list[str], shape: str, size: int, repeat: int, keep_gc: bool,
              rounds: int) -> dict[str, dict]:
    """Each engine's worker run `rounds` times, the engines taking turns (so a slow spell of
    the machine hits them alike); per timing, the best sample of all rounds and the median of
    the rounds' medians."""
    runs: dict[str, list[dict]] = {e: [] for e in engines_}
    for _ in range(rounds):
        for engine in engines_:
            if runs[engine] and "failed" in runs[engine][0]:
                continue  # a failure (RecursionError) fails alike every time
            runs[engine].append(in_worker(engine, shape, size, repeat, keep_gc))
    out = {}
    for engine, got in runs.items():
        first = got[0]
        if "failed" not in first:
            first["times"] = {k: {"min": min(g["times"][k]["min"] for g in got),
                                  "median": statistics.median(g["times"][k]["median"]
                                                              for g in got)}
                              for k in first["times"]}
        out[engine] = first
    return out


def engines(sizes, repeat: int, keep_gc: bool, peers: dict[str, str | None],
            rounds: int) -> str:
    rows, ratio_rows, notes = [], [], []
    present = ["backprop"] + [p for p in ("micrograd", "torch") if peers[p] is None]
    for shape in ("wide", "deep"):
        for size in sizes:
            # Sub-millisecond programs are the noisy ones: they get the extra rounds.
            got_all = in_rounds(present, shape, size, repeat, keep_gc,
                                rounds if size <= 10_000 else 1)
            mine = got_all["backprop"]
            t, n = mine["times"], mine["n"]
            best = {k: v["min"] for k, v in t.items()}
            fb = best["forward"] + best["backward"]
            fb_median = t["forward"]["median"] + t["backward"]["median"]
            row = [f"{shape} {size:.0e}", f"{n:,}", f"{mine['depth']:,}",
                   us(best["parse"], n), us(best["forward"], n), us(best["backward"], n),
                   us(fb, n), f"{best['backward'] / best['forward']:.2f}"]
            ratios = [f"{shape} {size:.0e}"]
            for peer in ("micrograd", "torch"):
                if peers[peer] is not None:
                    row.append("skipped")
                    ratios.append("-")
                    continue
                got = got_all[peer]
                if "failed" in got:
                    row.append(got["failed"])
                    ratios.append(got["failed"])
                    continue
                pf, pb = got["times"]["forward"]["min"], got["times"]["backward"]["min"]
                p_median = got["times"]["forward"]["median"] + got["times"]["backward"]["median"]
                row.append(f"{us(pf + pb, n)} ({us(pf, n)} + {us(pb, n)})")
                ratios.append(f"{(pf + pb) / fb:.1f}x ({p_median / fb_median:.1f}x)")
                worst = max((abs(a - b) / max(abs(a), abs(b), 1e-300)
                             for a, b in zip(mine["grads"], got["grads"])), default=0.0)
                if worst > 1e-9 or len(mine["grads"]) != len(got["grads"]):
                    notes.append(f"{shape} {size:.0e}: {peer}'s gradients differ from "
                                 f"backprop's by a relative {worst:.1e}")
            row.append(us(best["floor"], n))
            rows.append(row)
            ratio_rows.append(ratios)
            print(f"  done {shape} {size:.0e}", file=sys.stderr, flush=True)
    head = ("| program | nodes | depth | parse | forward | backward | fwd+bwd | bwd/fwd | "
            "micrograd fwd+bwd (fwd + bwd) | torch fwd+bwd (fwd + bwd) | replay loop alone |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", ("All times in microseconds per node, best sample (see `summary`). Each engine "
                   "ran in a fresh interpreter of its own. 'replay loop alone' is the driver "
                   "that builds the peers' graphs, run on plain floats: it is included in their "
                   "forward times. Programs up to 10^4 nodes: best sample of all rounds "
                   "(engines taking turns, a fresh process each), median of the rounds' "
                   "medians. Ratios: best samples (medians in parentheses)."),
              "", "| program | micrograd / backprop (fwd+bwd) | torch / backprop (fwd+bwd) |",
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
    ap.add_argument("--rounds", type=int, default=3,
                    help="fresh-process rounds per engine for programs up to 10^4 nodes")
    ap.add_argument("--venv", default=str(ROOT / ".venv"),
                    help="the project's venv (for the start-up part)")
    ap.add_argument("--worker", choices=("backprop", "micrograd", "torch"),
                    help=argparse.SUPPRESS)  # one engine, one program; prints JSON
    ap.add_argument("--shape", choices=("wide", "deep"), help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.worker:
        print(json.dumps(measure(opts.worker, opts.shape, int(float(opts.sizes)),
                                 opts.repeat, opts.gc)))
        return

    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {platform.platform()}")
    peers = {"micrograd": "--no-peers", "torch": "--no-peers"} if opts.no_peers \
        else peers_available()
    for name, why in peers.items():
        if why is None:
            print(f"{name} {importlib.metadata.version(name)}"
                  + (", 1 thread" if name == "torch" else ""))
    print(f"GC: {'on' if opts.gc else 'collected before, disabled during every timed run'}")
    if not opts.skip_startup:
        print("\n## Start-up\n")
        print(startup(opts.startup_runs, Path(opts.venv)))
    if not opts.skip_engines:
        sizes = [int(float(s)) for s in opts.sizes.split(",")]
        print("\n## Scalar engine\n")
        print(engines(sizes, opts.repeat, opts.gc, peers, opts.rounds))


if __name__ == "__main__":
    main()

"""Issue 25's table in one run: each row measured side by side with its floor or peer.

Not a test: it measures on a quiet machine and prints Markdown for docs/performance.md, each
row with its ratio and its target. Whole processes, as the user runs them; runs of a row and of
its floor take turns round-robin, and the figure is the median.

  startup  `backprop eval "(x+y)*z" x=-2 y=5 z=-4 --no-check`
           against `python -c "import click, rich"`                         target <= 1.5x
  net      a 3-4-3 tanh net with cross-entropy (a scalar loss), all checks on
           against `python -c "import sympy"`                               target <= 3x
  scores   the same net's scores (a vector output: its Jacobian), all checks on,
           against the same floor                                           target <= 3x
  peers    wide 10^4 / 10^5 AST nodes against micrograd / PyTorch, deep 10^4 / 10^5 against
           PyTorch, on the graph as typed: benchmarks/bench_core.py, run from here as a
           subprocess (needs --peer-python with micrograd and torch)
                                 targets: wide 1e4 >= 2x / 3x, wide 1e5 >= 5x / 5x,
                                          deep 1e4 >= 3x torch, deep 1e5 >= 5x torch
  memory   bytes per graph node of a 10^6-node program: the graph as parsed (tracemalloc),
           the whole of `evaluate` (graph, values, gradients: its peak), and the whole
           `backprop eval -f FILE --no-check --json` process (peak RSS less the lecture's)
                                                                            target <= 200 B
  batch    `backprop check FILE --no-check --quiet` on 10^6 one-line cases, every output
           (table, --json, --jsonl, --junit, --report), the default pool (one worker a core):
           wall time, cases/s, peak RSS of the whole process tree and its growth from the
           second quarter of the run to the last               target <= 100 s on 2 cores, flat
           Two files: "templates" (bench_batch.py's eight lecture programs at random points,
           the usual file: one circuit at many points) and "distinct" (every line's program
           text differs, so no line reuses another's parsed graph).

    uv run python benchmarks/bench_issue25.py --peer-python /tmp/benchenv/bin/python
    uv run python benchmarks/bench_issue25.py --only startup,net,scores --rounds 5   # a part
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench_batch import TEMPLATES, case_line  # noqa: E402  (benchmarks/ is on the path)
from proc_tree import peak_tree_rss  # noqa: E402

PARTS = ("startup", "net", "scores", "peers", "memory", "batch")
OUTPUTS = {"table": [], "--json": ["--json"], "--jsonl": ["--jsonl"],
           "--junit": ["--junit", "{tmp}/junit.xml"], "--report": ["--report", "{tmp}/r.jsonl"]}

LECTURE = ["eval", "(x+y)*z", "x=-2", "y=5", "z=-4"]
# The 3-4-3 net: 3 inputs, 4 tanh units, 3 classes; the loss is the cross-entropy of class 2.
NET_POINT = ["x=[0.5,-1.2,0.8]",
             "W1=[[0.2,-0.5,0.1],[0.7,0.3,-0.4],[-0.6,0.9,0.2],[0.1,-0.2,0.8]]",
             "b1=[0.1,0,-0.1,0.2]",
             "W2=[[0.3,-0.7,0.5,0.1],[-0.2,0.4,0.6,-0.9],[0.8,0.1,-0.3,0.5]]",
             "b2=[0,0.1,-0.2]"]
NET = ["eval", "h = tanh(W1 @ x + b1); s = W2 @ h + b2; cross_entropy(s, 2)", *NET_POINT]
SCORES = ["eval", "h = tanh(W1 @ x + b1); W2 @ h + b2", *NET_POINT]


def env() -> dict:
    e = dict(os.environ)
    e.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed tool keeps its bytecode cache
    return e


def side_by_side(rows: dict[str, list[str]], rounds: int) -> dict[str, list[float]]:
    """Whole-process seconds of each command, the commands taking turns in every round."""
    times: dict[str, list[float]] = {k: [] for k in rows}
    for cmd in rows.values():  # warm-up: bytecode caches, the page cache
        subprocess.run(cmd, env=env(), capture_output=True, check=False)
    for _ in range(rounds):
        for key, cmd in rows.items():
            t = time.perf_counter()
            done = subprocess.run(cmd, env=env(), capture_output=True, check=False)
            times[key].append(time.perf_counter() - t)
            if done.returncode not in (0, 1):
                raise SystemExit(f"{key}: {' '.join(cmd)} exited {done.returncode}: "
                                 f"{done.stderr.decode()[-500:]}")
    return times


def ratio_rows(opts, parts: list[str]) -> list[str]:
    py = sys.executable
    script = Path(py).parent / "backprop"  # the installed command, as a user runs it
    bp = [str(script)] if script.exists() else [py, "-m", "backprop_cli"]
    rows: dict[str, list[str]] = {}
    targets: dict[str, tuple[str, float]] = {}
    if "startup" in parts:
        rows["click+rich floor"] = [py, "-c", "import click, rich"]
        rows["startup"] = [*bp, *LECTURE, "--no-check"]
        targets["startup"] = ("click+rich floor", 1.5)
    if "net" in parts or "scores" in parts:
        rows["sympy floor"] = [py, "-c", "import sympy"]
    if "net" in parts:
        rows["net"] = [*bp, *NET]
        targets["net"] = ("sympy floor", 3.0)
    if "scores" in parts:
        rows["scores"] = [*bp, *SCORES]
        targets["scores"] = ("sympy floor", 3.0)
    if not rows:
        return []
    times = side_by_side(rows, opts.rounds)
    med = {k: statistics.median(v) for k, v in times.items()}
    out = ["| row | command | median ms | min ms | floor | ratio | target | met |",
           "|---|---|---:|---:|---|---:|---:|---|"]
    for key, cmd in rows.items():
        words = cmd[len(bp):]
        shown = ("backprop " + " ".join(words[:2] if key != "startup" else words)
                 + (" <the net's point> (all checks)" if key != "startup" else "")
                 if cmd[:len(bp)] == bp else " ".join(("python" if w == py else w) for w in cmd))
        if key in targets:
            floor, limit = targets[key]
            r = med[key] / med[floor]
            out.append(f"| {key} | `{shown}` | {med[key] * 1e3:.0f} | {min(times[key]) * 1e3:.0f}"
                       f" | {floor} | {r:.2f}x | <= {limit:g}x | {'yes' if r <= limit else 'NO'} |")
        else:
            out.append(f"| {key} | `{shown}` | {med[key] * 1e3:.0f} | {min(times[key]) * 1e3:.0f}"
                       f" | - | - | - | - |")
    out += ["", f"{opts.rounds} rounds, the commands taking turns in each; medians. The net's "
            "point: " + " ".join(NET_POINT) + "."]
    return out


_MEMORY_PROBE = r"""
import gc, json, sys, tracemalloc
sys.path.insert(0, sys.argv[2])
from backprop_cli.evaluate import Options, evaluate
from backprop_cli.language.parser import parse
text = open(sys.argv[1]).read()
bindings = {f"x{i}": round(0.1 * (i + 1), 1) for i in range(10)}
gc.collect()
tracemalloc.start()
base = tracemalloc.get_traced_memory()[0]
graph = parse(text)
held = tracemalloc.get_traced_memory()[0] - base
tracemalloc.reset_peak()
result = evaluate(graph, bindings, Options(check=False))
peak = tracemalloc.get_traced_memory()[1] - base
print(json.dumps({"nodes": len(graph), "graph": held, "evaluate_peak": peak}))
"""


def memory_rows(opts) -> list[str]:
    import bench_core

    out = ["| program | AST nodes | graph nodes | graph B/node | evaluate peak B/node | "
           "process peak RSS B/node | target |", "|---|---:|---:|---:|---:|---:|---|"]
    words = [f"x{i}={round(0.1 * (i + 1), 1)}" for i in range(10)]
    with tempfile.TemporaryDirectory() as tmp:
        lecture = os.path.join(tmp, "lecture.txt")
        Path(lecture).write_text("(x+y)*z\n")
        base, *_ = peak_tree_rss([sys.executable, "-m", "backprop_cli", "eval", "-f", lecture,
                                  *LECTURE[2:], "--no-check", "--json"], cwd=ROOT)
        for shape in ("wide", "deep"):
            text = bench_core.PROGRAMS[shape](opts.nodes, random.Random(opts.nodes))
            path = os.path.join(tmp, f"{shape}.txt")
            Path(path).write_text(text)
            probe = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, path, str(ROOT)],
                                   capture_output=True, text=True, check=True)
            import json

            m = json.loads(probe.stdout)
            peak, *_ = peak_tree_rss([sys.executable, "-m", "backprop_cli", "eval", "-f", path,
                                      *words, "--no-check", "--json"], cwd=ROOT)
            n = m["nodes"]
            out.append(f"| {shape} {opts.nodes:.0e} | {bench_core.ast_nodes(text):,} | {n:,} | "
                       f"{m['graph'] / n:.0f} | {m['evaluate_peak'] / n:.0f} | "
                       f"{(peak - base) / n:.0f} | <= 200 B |")
    out += ["", "graph: bytes held by the parsed graph (tracemalloc, the source text not "
            "counted); evaluate peak: the most traced while `evaluate` runs on it (graph, "
            "values, gradients and result); process: peak RSS of the whole `eval -f FILE "
            "--no-check --json` less the same command's on (x+y)*z."]
    return out


def distinct_line(rng: random.Random, k: int) -> str:
    """A lecture-sized line whose program text no other line has (no expectations)."""
    program, names = rng.choice(TEMPLATES)
    at = " ".join(f"{n}={round(rng.uniform(-3, 3), 2):g}" for n in names)
    last = program.rsplit(";", 1)[-1]
    if "=" in last:  # `...; f = q * z`: one more statement reads the output
        program = f"{program}; {last.partition('=')[0].strip()} + {k}e-9"
    else:
        program = f"({program}) + {k}e-9"
    return f'"{program}" {at}'


def batch_rows(opts) -> list[str]:
    out = [f"| file | output | wall s ({opts.cases:,} cases) | cases/s | CPU us a case, whole "
           "tree | peak RSS, whole tree | growth, 2nd to last quarter | target |",
           "|---|---|---:|---:|---:|---:|---:|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for kind in opts.batch_files.split(","):
            path = os.path.join(tmp, f"{kind}.txt")
            rng = random.Random(231)
            with open(path, "w", encoding="utf-8") as fh:
                for k in range(opts.cases):
                    fh.write((case_line(rng) if kind == "templates" else distinct_line(rng, k))
                             + "\n")
            files[kind] = path
        for kind, path in files.items():
            for label in opts.batch_outputs.split(","):
                extra = OUTPUTS[label]
                cmd = [sys.executable, "-m", "backprop_cli", "check", path, "--no-check",
                       "--quiet", *(a.format(tmp=tmp) for a in extra)]
                before = _children_cpu()
                peak, seconds, code, samples, err = peak_tree_rss(cmd, cwd=ROOT)
                cpu = (_children_cpu() - before) * 1e6 / opts.cases  # the command and its pool
                if code not in (0, 1):
                    raise SystemExit(f"{' '.join(cmd)} exited {code}: {err[-500:]}")
                q = len(samples) // 4
                growth = max(samples[-q:]) - max(samples[q:2 * q]) if q else 0
                met = seconds * 1e6 / opts.cases <= 100
                out.append(f"| {kind} | {label} | {seconds:.1f} | {opts.cases / seconds:,.0f} | "
                           f"{cpu:.0f} | {peak / 2**20:.1f} MB | {growth / 2**20:+.1f} MB | <= "
                           f"{opts.cases / 1e4:g} s: {'yes' if met else 'NO'} |")
                print(out[-1], file=sys.stderr, flush=True)
    out += ["", "The default pool (one worker a core). CPU: user + system seconds of the command "
            "and every process it waited for (its workers), a case's share; on 2 cores the "
            "target needs at most 200 us a case (and the parent's share under 100). Peak RSS "
            "sampled every 20 ms over the command and every process it starts; growth is the "
            "last quarter's peak less the second quarter's (flat memory: about 0)."]
    return out


def _children_cpu() -> float:
    """CPU seconds of every finished child process so far (with the processes they waited
    for): a command's CPU time, unmoved by what else the machine runs."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(PARTS), help="comma-separated: " +
                    ", ".join(PARTS))
    ap.add_argument("--rounds", type=int, default=15, help="turns of each whole-process row")
    ap.add_argument("--cases", type=int, default=1_000_000, help="lines in the batch files")
    ap.add_argument("--batch-files", default="templates,distinct",
                    help="which batch files (templates, distinct), comma-separated")
    ap.add_argument("--batch-outputs", default=",".join(OUTPUTS),
                    help="which outputs, comma-separated: " + ", ".join(OUTPUTS))
    ap.add_argument("--nodes", type=int, default=1_000_000, help="program size for memory")
    ap.add_argument("--peer-python", default=sys.executable,
                    help="a python with micrograd and torch (bench_core.py's peers)")
    ap.add_argument("--peer-sizes", default="1e4,1e5", help="bench_core.py's --sizes")
    ap.add_argument("--load", default="", help="what else ran on the machine, for the record")
    opts = ap.parse_args()
    parts = [p for p in opts.only.split(",") if p]
    for p in parts:
        if p not in PARTS:
            raise SystemExit(f"unknown part {p!r}: choose from {', '.join(PARTS)}")
    load = os.getloadavg()
    print(f"Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC. Machine: "
          f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores usable, Python "
          f"{platform.python_version()}. Load average at start: {load[0]:.2f} / {load[1]:.2f} "
          f"/ {load[2]:.2f}{'; ' + opts.load if opts.load else ''}.\n")
    lines = ratio_rows(opts, parts)
    if lines:
        print("## Start-up and checked nets, against their floors\n")
        print("\n".join(lines), flush=True)
    if "memory" in parts:
        print(f"\n## Memory of a {opts.nodes:.0e}-node program\n")
        print("\n".join(memory_rows(opts)), flush=True)
    if "peers" in parts:
        print("\n## Against the peers (benchmarks/bench_core.py)\n", flush=True)
        subprocess.run([sys.executable, str(HERE / "bench_core.py"), "--skip-startup",
                        "--sizes", opts.peer_sizes, "--big", "",
                        "--peer-python", opts.peer_python], check=True)
    if "batch" in parts:
        print(f"\n## check of {opts.cases:,} one-line cases, --no-check\n")
        print("\n".join(batch_rows(opts)), flush=True)
    print(f"\nLoad average at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}.")


if __name__ == "__main__":
    main()

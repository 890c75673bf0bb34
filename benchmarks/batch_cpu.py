"""CPU time a case of `backprop check FILE --no-check --quiet`, in every output mode, split into
the command's own process (reading the file, sending cases, writing the outputs) and its pool
of workers (checking them): counted, not timed, so it may run on a busy machine.

Issue 25's batch row asks for 10^6 one-line cases in 100 s on 2 cores: at most 200 us of CPU
a case with both cores busy, and the parent's share well under the workers' (it must keep both
fed). Two source trees side by side (each run of one followed by the same run of the other), so
a change shows as a ratio:

    uv run python benchmarks/batch_cpu.py --cases 20000                       # this tree
    uv run python benchmarks/batch_cpu.py --cases 20000 --base /tmp/batch_base  # vs another

A tree is a folder holding `backprop_cli` (e.g. `git archive main | tar -x -C /tmp/base`).
--profile DIR writes cProfile files of the parent (`parent-FILE-OUTPUT.prof`) for the first
tree instead of counting.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_batch import case_line  # noqa: E402
from bench_issue25 import OUTPUTS, distinct_line  # noqa: E402

# Runs the command in this process with the tree first on the path, then writes the CPU of
# the process itself and of every child it waited for (the pool's workers) as JSON.
_WRAPPER = r"""
import atexit, json, resource, sys
tree, out, *argv = sys.argv[1:]
sys.path.insert(0, tree)
def dump():
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as fh:
        json.dump({"parent": me.ru_utime + me.ru_stime,
                   "workers": kids.ru_utime + kids.ru_stime}, fh)
atexit.register(dump)
sys.argv = ["backprop", *argv]
import backprop_cli, os
assert os.path.dirname(backprop_cli.__file__).startswith(tree), backprop_cli.__file__
from backprop_cli.cli import main
main()
"""


def write_files(tmp: str, n: int, kinds: list[str]) -> dict[str, str]:
    files = {}
    for kind in kinds:
        path = os.path.join(tmp, f"{kind}.txt")
        rng = random.Random(231)
        with open(path, "w", encoding="utf-8") as fh:
            for k in range(n):
                fh.write((case_line(rng) if kind == "templates" else distinct_line(rng, k)) + "\n")
        files[kind] = path
    return files


def command(path: str, label: str, tmp: str, jobs: str) -> list[str]:
    return ["check", path, "--no-check", "--quiet", "--jobs", jobs,
            *(a.format(tmp=tmp) for a in OUTPUTS[label])]


def cpu_of(tree: str, args: list[str], tmp: str) -> dict[str, float]:
    out = os.path.join(tmp, "cpu.json")
    done = subprocess.run([sys.executable, "-c", _WRAPPER, tree, out, *args],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{tree}: {' '.join(args)} exited {done.returncode}: "
                         f"{done.stderr.decode()[-1000:]}")
    with open(out) as fh:
        return json.load(fh)


def profile(tree: str, args: list[str], prof: str) -> None:
    script = prof + ".py"
    with open(script, "w") as fh:
        fh.write(f"import sys\nsys.path.insert(0, {tree!r})\nsys.argv = ['backprop', *{args!r}]\n"
                 "from backprop_cli.cli import main\nmain()\n")
    subprocess.run([sys.executable, "-m", "cProfile", "-o", prof, script],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=20_000)
    ap.add_argument("--files", default="templates,distinct")
    ap.add_argument("--outputs", default=",".join(OUTPUTS))
    ap.add_argument("--jobs", default="2")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--small", type=int, default=2000,
                    help="a run this long is taken off (start-up): the figures are per case "
                         "of the rest")
    ap.add_argument("--tree", default=str(HERE.parent), help="the source tree measured")
    ap.add_argument("--base", default="", help="another tree, measured side by side")
    ap.add_argument("--profile", default="", help="a folder for cProfile files of the parent")
    opts = ap.parse_args()
    trees = {"tree": opts.tree, **({"base": opts.base} if opts.base else {})}
    n = opts.cases
    with tempfile.TemporaryDirectory() as tmp:
        files = write_files(tmp, n, opts.files.split(","))
        os.makedirs(os.path.join(tmp, "small"))
        small = write_files(os.path.join(tmp, "small"), opts.small, opts.files.split(","))
        if opts.profile:
            os.makedirs(opts.profile, exist_ok=True)
            for kind, path in files.items():
                for label in opts.outputs.split(","):
                    prof = os.path.join(opts.profile, f"parent-{kind}-{label.strip('-')}.prof")
                    profile(opts.tree, command(path, label, tmp, opts.jobs), prof)
                    print(prof, flush=True)
            return
        head = "| file | output | " + " | ".join(
            f"{t}: parent / workers / all us" for t in trees) + \
            (" | all, tree / base |" if opts.base else " |")
        print(head)
        print("|---|---|" + "---:|" * (len(trees) + bool(opts.base)))
        for kind, path in files.items():
            for label in opts.outputs.split(","):
                got: dict[str, list[dict]] = {t: [] for t in trees}
                for _ in range(opts.repeats):
                    for name, tree in trees.items():
                        big = cpu_of(tree, command(path, label, tmp, opts.jobs), tmp)
                        little = cpu_of(tree, command(small[kind], label, tmp, opts.jobs), tmp)
                        got[name].append({k: big[k] - little[k] for k in big})
                cells = []
                alls = {}
                for name in trees:
                    per = 1e6 / (n - opts.small)
                    parent = statistics.median(g["parent"] for g in got[name]) * per
                    workers = statistics.median(g["workers"] for g in got[name]) * per
                    alls[name] = parent + workers
                    cells.append(f"{parent:.0f} / {workers:.0f} / {parent + workers:.0f}")
                ratio = f" | {alls['tree'] / alls['base']:.2f}x" if opts.base else ""
                print(f"| {kind} | {label} | {' | '.join(cells)}{ratio} |", flush=True)


if __name__ == "__main__":
    main()

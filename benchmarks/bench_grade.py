"""Benchmark of issue 22: `grade` of a hand-written backward pass next to `eval --no-check` of
its forward program, as whole processes, at the ninja exercise's sizes.

The program is nn-zero-to-hero's "becoming a backprop ninja" (batch 32, hidden 64, vocabulary
27). Once the language has the exercise's vocabulary (issue 21: integer-array indexing,
keepdims, reshape, one_hot), it is the notebook's own forward pass, docs/examples/ninja/
forward.bp with its batch.npz, and the exercise's 30-line backward pass
(benchmarks/grade/ninja_full_backward.bp, every line exact); before that, the same network
written in the language as it was (benchmarks/grade/ninja_forward.bp, the embedding bound as
a (32, 30) input) and a 25-line backward pass (ninja_backward.bp). `--today` forces the
second. The two commands run interleaved round-robin; the medians and their ratio are
printed. Target: grade / eval <= 2.0.

  A  backprop eval -f ninja_forward.bp BINDINGS --no-check
  B  backprop grade ninja_forward.bp ninja_backward.bp BINDINGS

`--key` grades the answer key `backprop backward` writes for the forward pass (30 lines,
every one exact or approx) instead of the exercise's hand-written pass. `--cpu` measures each
process's CPU time (user + system, from the kernel's accounting of the child) instead of wall
time: a count that a loaded machine does not inflate as much, for a check while others work.

Run on a quiet machine:
  uv run python benchmarks/bench_grade.py            (15 rounds, wall time)
  uv run python benchmarks/bench_grade.py --key      (the written answer key)
  uv run python benchmarks/bench_grade.py --cpu      (CPU seconds of each process)
  uv run python benchmarks/bench_grade.py --rounds 1 (a smoke run: numbers meaningless)
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent / "grade"
NAMES = ("embcat", "W1", "b1", "bngain", "bnbias", "W2", "b2", "Yb")
TARGET = 2.0


def point(n=32, d=30, hidden=64, vocab=27) -> dict:
    r = np.random.default_rng(42)
    return {"embcat": r.normal(size=(n, d)),
            "W1": r.normal(size=(d, hidden)) * (5 / 3) / d**0.5,
            "b1": r.normal(size=hidden) * 0.1, "bngain": 1 + 0.1 * r.normal(size=hidden),
            "bnbias": 0.1 * r.normal(size=hidden), "W2": r.normal(size=(hidden, vocab)) * 0.1,
            "b2": r.normal(size=vocab) * 0.1, "Yb": np.eye(vocab)[r.integers(0, vocab, size=n)]}


FULL = ROOT / "docs" / "examples" / "ninja"
FULL_NAMES = ("C", "W1", "b1", "W2", "b2", "bngain", "bnbias", "Xb", "Yb")


def full_ready() -> bool:
    """Whether the notebook's own forward pass is here and the language reads it."""
    if not (FULL / "forward.bp").exists() or not (FULL / "batch.npz").exists():
        return False
    from backprop_cli.errors import BackpropError
    from backprop_cli.language.parser import parse

    try:
        parse((FULL / "forward.bp").read_text())
    except BackpropError:
        return False
    return True


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(argv: list[str], folder: Path, code: int, cpu: bool = False) -> float:
    start = _cpu() if cpu else time.perf_counter()
    done = subprocess.run(argv, cwd=folder, capture_output=True, check=False)
    took = (_cpu() if cpu else time.perf_counter()) - start
    if done.returncode != code:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: "
                         f"{done.stderr.decode()[:500]}")
    return took


def _write_key(folder: Path, binds: list[str]) -> None:
    """The answer key for the forward pass, as `backprop backward` writes it."""
    done = subprocess.run([sys.executable, "-m", "backprop_cli", "backward", "ninja_forward.bp",
                           *binds], cwd=folder, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"backward exited {done.returncode}: {done.stderr[:500]}")
    (folder / "ninja_backward.bp").write_text(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--today", action="store_true",
                        help="the 25-line version in the language without issue 21")
    parser.add_argument("--key", action="store_true",
                        help="grade the answer key backprop backward writes (30 lines)")
    parser.add_argument("--cpu", action="store_true",
                        help="CPU seconds of each process instead of wall time")
    args = parser.parse_args()
    full = full_ready() and not args.today
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if full:
            shutil.copy(FULL / "batch.npz", folder / "data.npz")
            shutil.copy(FULL / "forward.bp", folder / "ninja_forward.bp")
            binds = [f"{n}=@data.npz" for n in FULL_NAMES]
            if args.key:
                _write_key(folder, binds)
            else:
                shutil.copy(HERE / "ninja_full_backward.bp", folder / "ninja_backward.bp")
        else:
            np.savez(folder / "data.npz", **point())
            for name in ("ninja_forward.bp", "ninja_backward.bp"):
                shutil.copy(HERE / name, folder / name)
            binds = [f"{n}=@data.npz" for n in NAMES]
        print(f"program: {'the notebook forward pass' if full else 'today version'}")
        cmd = [sys.executable, "-m", "backprop_cli"]
        lines = sum(1 for line in (folder / "ninja_backward.bp").read_text().splitlines()
                    if line.strip() and not line.lstrip().startswith("#"))
        runs = {
            "eval --no-check": ([*cmd, "eval", "-f", "ninja_forward.bp", *binds, "--no-check"],
                                0),
            f"grade ({lines} lines)": ([*cmd, "grade", "ninja_forward.bp", "ninja_backward.bp",
                                        *binds], 0),
        }
        times: dict[str, list[float]] = {k: [] for k in runs}
        for argv, code in runs.values():  # one warm-up each: the page cache, .pyc files
            timed(argv, folder, code)
        for _ in range(args.rounds):
            for k, (argv, code) in runs.items():
                times[k].append(timed(argv, folder, code, args.cpu))
    medians = {k: statistics.median(v) for k, v in times.items()}
    a, b = medians.values()
    print(f"| command | median {'CPU ' if args.cpu else ''}(s) | runs |")
    print("| --- | ---: | ---: |")
    for k, v in medians.items():
        print(f"| backprop {k} | {v:.3f} | {len(times[k])} |")
    ratio = b / a
    print(f"\ngrade / eval --no-check = {ratio:.2f} (target <= {TARGET:g}): "
          f"{'met' if ratio <= TARGET else 'NOT met'}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()

"""Benchmark of issue 10: what the user waits for, program text in -> printed gradients out.

Not a test: it measures and prints the Markdown tables of docs/performance.md.

Part 1, start-up: the lecture's `backprop eval "(x+y)*z" x=-2 y=5 z=-4 --no-check` as a whole
process, next to `python -c pass` and a process that only imports click and rich (the floor any
click+rich CLI pays). Runs interleave round-robin; medians.

Part 2, the user's clock: generated programs over x0..x9 with + * ** sin tanh exp, written to a
file and run as whole processes, exactly as a user would:
  backprop   backprop eval -f FILE x0=... --no-check --json
  micrograd  python benchmarks/peer.py micrograd FILE x0=...   (Value, .backward())
  torch      python benchmarks/peer.py torch FILE x0=...       (0-d float64 tensors, 1 thread)
The peers compile the same text as Python (their compile is included). Each engine's start-up,
the same command on the lecture's (x+y)*z, is subtracted. Programs: wide (a balanced sum of
small terms, one expression) and deep (a chain of statements t_k = f(t_k-1, x_j), depth ~ size/4:
Python's own parser refuses deeply nested parentheses, so the chain is written one statement
a line) of about 10^4 and 10^5 AST nodes; 10^6 and a 10^5-deep nested expression for backprop
alone. Every engine's gradients are compared with backprop's.

Part 3, phases: the same programs in-process, backprop's time split into lex, parse (building
the graph), forward, backward, the rest of `evaluate` (kink scan, result rows) and output (the
JSON written), per AST node and per graph node (the graph as typed: one node per operation
written, so graph nodes are about AST nodes less the names read).

For a before/after of two checkouts on a busy machine, in CPU time: cpu_side_by_side.py.

AST nodes are counted from the tokens: every number, every name read (not the targets of
assignments), every function called and every operator.

Reproduce (see docs/performance.md):
  python3 -m venv /tmp/benchenv && /tmp/benchenv/bin/pip install micrograd torch==2.13.0
  uv sync && uv run python benchmarks/bench_core.py --peer-python /tmp/benchenv/bin/python
"""

from __future__ import annotations

import argparse
import gc
import io
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

from backprop_cli.checks.scalar import kinks  # noqa: E402  (after the sys.path line)
from backprop_cli.engine.backward import backpropagate  # noqa: E402
from backprop_cli.engine.forward import forward  # noqa: E402
from backprop_cli.evaluate import Options, evaluate  # noqa: E402
from backprop_cli.language.lexer import chunks, scan  # noqa: E402
from backprop_cli.language.parser import parse  # noqa: E402
from backprop_cli.ops.registry import INFIX, PREFIX  # noqa: E402
from backprop_cli.render.json_out import eval_json  # noqa: E402

N_VARS = 10
BINDINGS = {f"x{i}": round(0.1 * (i + 1), 1) for i in range(N_VARS)}
LECTURE = "(x+y)*z"
LECTURE_WORDS = ["x=-2", "y=5", "z=-4"]

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


# --- the programs -----------------------------------------------------------------------------

_TERMS = ("sin(x{a}*x{b})", "tanh(x{a}+x{b})*x{c}", "exp(x{a}*0.{d})*x{b}", "(x{a}+x{b})**2")
_STEPS = ("sin({t}*x{a})", "tanh({t}+x{a})", "{t}*0.5+x{a}", "{t}*x{a}*0.{d}")


def wide_program(size: int, rng: random.Random) -> str:
    """A balanced sum of small terms: one expression about log2(size) deep."""
    terms = []
    while len(terms) * 6 < size:
        terms.append(rng.choice(_TERMS).format(a=rng.randrange(N_VARS), b=rng.randrange(N_VARS),
                                               c=rng.randrange(N_VARS), d=rng.randrange(1, 10)))
    while len(terms) > 1:
        terms = [f"({terms[i]} + {terms[i + 1]})" if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    return terms[0] + "\n"


def deep_program(size: int, rng: random.Random) -> str:
    """A chain of statements, each reading the one before: a graph about size/4 deep."""
    lines = ["t0 = x0"]
    k = 0
    while len(lines) * 4.5 < size:
        step = rng.choice(_STEPS).format(t=f"t{k}", a=rng.randrange(N_VARS),
                                         d=rng.randrange(1, 10))
        k += 1
        lines.append(f"t{k} = {step}")
    return "\n".join(lines) + "\n"


def nested_program(size: int, rng: random.Random) -> str:
    """The same chain as one expression, nested size/4 parentheses deep (backprop alone)."""
    left, right = [], []
    while len(left) * 4.5 < size:
        step = rng.choice(_STEPS).format(t="\0", a=rng.randrange(N_VARS), d=rng.randrange(1, 10))
        head, _, tail = step.partition("\0")
        left.append(head + "(")
        right.append(")" + tail)
    return "".join(left) + "x0" + "".join(reversed(right)) + "\n"


def ast_nodes(text: str) -> int:
    """Numbers, names read, functions called and operators (not assignment targets, parens)."""
    kinds, texts, _ = scan(text)
    count = 0
    for k, (kind, piece) in enumerate(zip(kinds, texts)):
        if kind == "num" or (kind == "op" and (piece in INFIX or piece in PREFIX)):
            count += 1
        elif kind == "name" and not (texts[k + 1] == "=" and kinds[k + 1] == "op"):
            count += 1
    return count


PROGRAMS = {"wide": wide_program, "deep": deep_program, "nested": nested_program}


# --- part 2: whole processes ------------------------------------------------------------------


def commands(engine: str, path: str, peer_python: str, venv: Path) -> list[str]:
    words = [f"{k}={v}" for k, v in BINDINGS.items()]
    if engine == "backprop":
        return [str(venv / "bin" / "backprop"), "eval", "-f", path, *words, "--no-check",
                "--json"]
    return [peer_python, str(ROOT / "benchmarks" / "peer.py"), engine, path, *words]


def lecture_commands(engine: str, path: str, peer_python: str, venv: Path) -> list[str]:
    if engine == "backprop":
        return [str(venv / "bin" / "backprop"), "eval", "-f", path, *LECTURE_WORDS,
                "--no-check", "--json"]
    return [peer_python, str(ROOT / "benchmarks" / "peer.py"), engine, path, *LECTURE_WORDS]


def run_once(cmd: list[str]) -> tuple[float, dict | str]:
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t
    if done.returncode not in (0, 1):
        return elapsed, (done.stderr.strip().splitlines() or ["no output"])[-1][:70]
    return elapsed, json.loads(done.stdout)


def startups(engines_: list[str], folder: str, peer_python: str, venv: Path,
             runs: int) -> dict[str, float]:
    path = os.path.join(folder, "lecture.txt")
    Path(path).write_text(LECTURE + "\n")
    times: dict[str, list[float]] = {e: [] for e in engines_}
    for e in engines_:  # warm-up: bytecode caches written, files in the page cache
        run_once(lecture_commands(e, path, peer_python, venv))
    for _ in range(runs):
        for e in engines_:
            times[e].append(run_once(lecture_commands(e, path, peer_python, venv))[0])
    return {e: statistics.median(t) for e, t in times.items()}


def agreement(mine: dict, theirs: dict) -> float:
    """The largest relative difference between two engines' gradients."""
    worst = 0.0
    for name, g in mine["gradients"].items():
        h = theirs["gradients"][name]
        worst = max(worst, abs(g - h) / max(abs(g), abs(h), 1e-300))
    return worst


def user_clock(cases: list[tuple[str, int]], engines_: list[str], peer_python: str,
               venv: Path, rounds: int, startup_runs: int) -> tuple[list[dict], dict]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        base = startups(engines_, folder, peer_python, venv, startup_runs)
        lecture = os.path.join(folder, "lecture.txt")
        for shape, size in cases:
            text = PROGRAMS[shape](size, random.Random(size))
            path = os.path.join(folder, f"{shape}{size}.txt")
            Path(path).write_text(text)
            who = engines_ if shape != "nested" and size <= 100_000 else ["backprop"]
            samples: dict[str, list[float]] = {e: [] for e in who}
            answers: dict[str, dict | str] = {}
            inside: dict[str, list[float]] = {}  # a peer's own time after its imports
            # Small programs take less than the start-up's own jitter (torch's whole process
            # varies by +-30 ms from run to run, its work on 10^4 nodes is ~40 ms): four times
            # the rounds, so the median of the differences settles within a few ms.
            for _ in range(rounds if size > 10_000 else 4 * rounds + 1):
                for e in who:
                    if isinstance(answers.get(e), str):
                        continue  # a peer that cannot run the program fails alike every time
                    # The start-up is measured right before, in the same round, and
                    # subtracted: a slow spell of the machine hits both alike.
                    start, _ = run_once(lecture_commands(e, lecture, peer_python, venv))
                    elapsed, answer = run_once(commands(e, path, peer_python, venv))
                    answers[e] = answer
                    samples[e].append(elapsed - start)
                    if isinstance(answer, dict) and "seconds" in answer:
                        inside.setdefault(e, []).append(answer["seconds"])
            rows.append({"shape": shape, "size": size, "ast": ast_nodes(text),
                         "samples": samples, "inside": inside, "answers": answers})
    return rows, base


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.0f}"


def user_table(rows: list[dict], base: dict[str, float], floor: dict[tuple, float]) -> str:
    """Each cell is conservative against backprop: backprop's time is the larger of its whole
    process less start-up and its in-process clock (the phases below: text in, JSON out), so
    start-up jitter can never shrink it; a peer's time is the smaller of its whole process less
    start-up and its own clock after its imports."""
    lines = ["| program | AST nodes | backprop ms | micrograd ms | torch ms | "
             "micrograd / backprop | torch / backprop | gradients agree to |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        whole_mine = statistics.median(r["samples"]["backprop"])
        mine = max(whole_mine, floor[(r["shape"], r["size"])])
        cells = [f"{r['shape']} {r['size']:.0e}", f"{r['ast']:,}",
                 f"{ms(mine)} ({ms(whole_mine)})"]
        ratios, agree = [], []
        for peer in ("micrograd", "torch"):
            got = r["answers"].get(peer)
            if got is None:
                cells.append("-")
                ratios.append("-")
            elif isinstance(got, str):
                cells.append("dies")
                ratios.append(got.split(":")[1].strip() if ":" in got else got)
            else:
                whole = statistics.median(r["samples"][peer])
                own = statistics.median(r["inside"][peer])
                cells.append(f"{ms(whole)} ({ms(own)})")
                ratios.append(f"{whole / mine:.1f}x ({own / mine:.1f}x)")
                agree.append(agreement(r["answers"]["backprop"], got))
        cells += ratios + [f"{max(agree):.0e}" if agree else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Medians of the rounds. backprop: the larger of its in-process clock (text in, "
              "JSON out, the phases below) and, in brackets, its whole process less its start-up "
              "(the same command on the lecture's (x+y)*z, run just before it in the same round). "
              "Peers: their whole process less start-up and, in brackets, their own clock from "
              "after their imports to the gradients; the ratios are taken on both (the bracketed "
              "one is stricter: it leaves out the peer's reading, printing and exit). Start-ups: "
              + ", ".join(f"{e} {ms(t)} ms" for e, t in base.items()) + ".",
              "Targets: backprop at least 2x faster than micrograd (where it runs) and 3x "
              "faster than torch."]
    return "\n".join(lines)


# --- part 3: phases in-process ----------------------------------------------------------------


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def phases(shape: str, size: int, repeat: int) -> dict:
    text = PROGRAMS[shape](size, random.Random(size))
    # Lexing as the parser does it, a chunk at a time (each chunk's lists dropped before the
    # next is made), so that parse less lex is the parser's own loop.
    lex, _ = best_of(lambda: sum(len(kinds) for kinds, _, _ in chunks(text)), repeat)
    parsing, graph = best_of(lambda: parse(text), repeat)
    fwd, values = best_of(lambda: forward(graph, BINDINGS), repeat)
    bwd, _ = best_of(lambda: backpropagate(graph, values), repeat)
    whole, result = best_of(lambda: evaluate(graph, BINDINGS, Options(check=False)), repeat)
    scan_kinks, _ = best_of(lambda: kinks(graph, values), repeat)

    def output():
        sink = io.StringIO()
        json.dump(eval_json(result, text.strip()), sink)
        return sink

    out, _ = best_of(output, repeat)
    return {"shape": shape, "size": size, "ast": ast_nodes(text), "graph": len(graph),
            "lex": lex, "parse": parsing - lex, "forward": fwd, "backward": bwd,
            "evaluate_rest": max(whole - fwd - bwd, 0.0), "kinks": scan_kinks, "output": out}


def in_process(r: dict) -> float:
    """Text in, JSON out, in one warm process: lex, parse, evaluate (forward, backward and the
    rest) and output."""
    return r["lex"] + r["parse"] + r["forward"] + r["backward"] + r["evaluate_rest"] + r["output"]


def us(seconds: float, n: int) -> str:
    return f"{seconds / n * 1e6:.2f}"


def phase_table(rows: list[dict]) -> str:
    lines = ["| program | AST nodes | graph nodes | lex | parse | forward | backward | rest of "
             "evaluate | output | lex+parse per AST node | after parsing per graph node |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        after = r["forward"] + r["backward"] + r["evaluate_rest"] + r["output"]
        cells = [f"{r['shape']} {r['size']:.0e}", f"{r['ast']:,}", f"{r['graph']:,}"]
        cells += [ms(r[k]) for k in ("lex", "parse", "forward", "backward", "evaluate_rest",
                                     "output")]
        cells += [us(r["lex"] + r["parse"], r["ast"]) + " us", us(after, r["graph"]) + " us"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Milliseconds, best of the runs, in one process. Targets: lex+parse within "
              "3 us per AST node; everything after parsing within 2 us per graph node."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e4,1e5", help="program sizes for all engines")
    ap.add_argument("--big", default="1e6", help="sizes for backprop alone")
    ap.add_argument("--rounds", type=int, default=3, help="whole-process runs per engine")
    ap.add_argument("--repeat", type=int, default=3, help="in-process runs per phase (best)")
    ap.add_argument("--startup-runs", type=int, default=20)
    ap.add_argument("--peer-python", default=sys.executable,
                    help="a python with micrograd and torch installed")
    ap.add_argument("--venv", default=str(ROOT / ".venv"), help="the project's venv")
    ap.add_argument("--skip-startup", action="store_true")
    ap.add_argument("--json", metavar="FILE", help="also write the raw samples here")
    opts = ap.parse_args()
    venv = Path(opts.venv)
    sizes = [int(float(s)) for s in opts.sizes.split(",") if s]
    big = [int(float(s)) for s in opts.big.split(",") if s]
    engines_ = ["backprop"] + [p for p in ("micrograd", "torch") if subprocess.run(
        [opts.peer_python, "-c", f"import {p}"], capture_output=True).returncode == 0]
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; engines: {', '.join(engines_)}")
    if not opts.skip_startup:
        print("\n## Start-up\n")
        print(startup(opts.startup_runs, venv))
    cases = [(s, n) for s in ("wide", "deep") for n in sizes + big]
    cases.append(("nested", 100_000))
    # The phases first: backprop's in-process clock is the floor of its user-clock figure.
    rows = [phases(s, n, opts.repeat) for s, n in cases]
    floor = {(r["shape"], r["size"]): in_process(r) for r in rows}
    raw, base = user_clock(cases, engines_, opts.peer_python, venv, opts.rounds,
                           opts.startup_runs)
    print("\n## The user's clock: text in, gradients out\n")
    print(user_table(raw, base, floor))
    print("\n## Where the time goes\n")
    print(phase_table(rows))
    if opts.json:
        Path(opts.json).write_text(json.dumps({"user_clock": raw, "phases": rows}, indent=1))


if __name__ == "__main__":
    main()

"""Two checkouts' text-in-to-JSON-out path side by side in one process, in CPU time.

Not a test. For a shared, busy machine, where wall-clock figures say little: each checkout's
`backprop_cli` is copied under its own package name and imported into this one process, and
every phase runs on both, taking turns, the best of the repeats kept (`time.process_time`).
The ratio (A / B) is the figure to read: a busy spell slows both sides alike.

    uv run python benchmarks/cpu_side_by_side.py --a /work/main --b . --repeat 7

Phases: lex (`chunks`, or `scan` in a checkout without it), parse less lex, forward,
backward, the rest of `evaluate`, output (`with_mistakes`, `eval_json`, `json.dumps` as
`eval --json` writes it) and the total, one run of all of them from the text, timed as a whole.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_core  # noqa: E402  (benchmarks/ is on the path)

BINDINGS = bench_core.BINDINGS


def load(root: str, name: str, into: str):
    """The checkout's package, imported as `name` (its imports are relative)."""
    shutil.copytree(Path(root) / "backprop_cli", Path(into) / name,
                    ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, into)
    mods = {m: importlib.import_module(f"{name}.{m}") for m in (
        "language.lexer", "language.parser", "engine.forward", "engine.backward", "evaluate",
        "engine.mistakes", "render.json_out")}
    return mods


def runners(m: dict, text: str):
    lexer = m["language.lexer"]
    # as the parser lexes: a chunk at a time where the checkout does (older ones lex whole)
    chunks = getattr(lexer, "chunks", lambda text: [lexer.scan(text)])
    parse = m["language.parser"].parse
    forward, backward = m["engine.forward"].forward, m["engine.backward"].backpropagate
    ev = m["evaluate"]
    with_mistakes, eval_json = m["engine.mistakes"].with_mistakes, m["render.json_out"].eval_json
    options = ev.Options(check=False)
    program = text.strip()

    def total():
        result = with_mistakes(ev.evaluate(text, BINDINGS, options))
        return json.dumps(eval_json(result, program), indent=2, allow_nan=False)

    graph = parse(text)
    values = forward(graph, BINDINGS)
    result = with_mistakes(ev.evaluate(graph, BINDINGS, options))
    return {
        "lex": lambda: sum(len(kinds) for kinds, _, _ in chunks(text)),
        "parse": lambda: parse(text),
        "forward": lambda: forward(graph, BINDINGS),
        "backward": lambda: backward(graph, values),
        "evaluate": lambda: ev.evaluate(graph, BINDINGS, options),
        "output": lambda: json.dumps(eval_json(with_mistakes(result), program), indent=2,
                                     allow_nan=False),
        "total": total,
    }, len(graph), total()


def cpu(fn) -> float:
    gc.collect()
    t = time.process_time()
    fn()
    return time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", default="/work/main", help="the checkout measured first (before)")
    ap.add_argument("--b", default=str(HERE.parent), help="the checkout measured second (after)")
    ap.add_argument("--programs", default="wide:1e4,wide:1e5,deep:1e4,deep:1e5,nested:1e5")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--phases", default="", help="only these phases, e.g. lex,parse (quick)")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        a, b = load(opts.a, "bp_a", tmp), load(opts.b, "bp_b", tmp)
        print("| program | graph nodes | lex | parse less lex | forward | backward | rest of "
              "evaluate | output | total, text in to JSON out | total per graph node |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for spec in opts.programs.split(","):
            shape, size = spec.split(":")
            text = bench_core.PROGRAMS[shape](int(float(size)), random.Random(int(float(size))))
            ra, na, out_a = runners(a, text)
            rb, nb, out_b = runners(b, text)
            if opts.phases:
                keep = set(opts.phases.split(",")) | {"lex", "forward", "backward"}
                ra = {k: (f if k in keep else (lambda: None)) for k, f in ra.items()}
                rb = {k: (f if k in keep else (lambda: None)) for k, f in rb.items()}
            same = "" if out_a == out_b else " (outputs DIFFER)"
            best = {side: {k: float("inf") for k in ra} for side in "ab"}
            for _ in range(opts.repeat):
                for k in ra:
                    best["a"][k] = min(best["a"][k], cpu(ra[k]))
                    best["b"][k] = min(best["b"][k], cpu(rb[k]))
            ba, bb = best["a"], best["b"]
            ba["parse"] -= ba["lex"]
            bb["parse"] -= bb["lex"]
            ba["evaluate"] -= ba["forward"] + ba["backward"]
            bb["evaluate"] -= bb["forward"] + bb["backward"]

            def cell(k, ba=ba, bb=bb):
                x, y = ba[k] * 1e3, bb[k] * 1e3
                return f"{x:.1f} -> {y:.1f} ({x / y:.2f}x)" if y > 0 else f"{x:.1f} -> {y:.1f}"

            cells = [f"{shape} {float(size):.0e}{same}", f"{na:,} -> {nb:,}" if na != nb
                     else f"{na:,}"]
            cells += [cell(k) for k in ("lex", "parse", "forward", "backward", "evaluate",
                                        "output", "total")]
            cells.append(f"{ba['total'] / na * 1e6:.2f} -> {bb['total'] / nb * 1e6:.2f} us")
            print("| " + " | ".join(cells) + " |", flush=True)
        print(f"\nCPU time (time.process_time), best of {opts.repeat}, A = {opts.a}, "
              f"B = {opts.b}, taking turns phase by phase in one process.")


if __name__ == "__main__":
    main()

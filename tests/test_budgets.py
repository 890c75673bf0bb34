"""Budgets count work, not the clock: the same case gets the same statuses on a busy machine.

sympy's budget is the CPU time of the thread running it (deadline.py); the finite differences'
is counted forward-pass work (numeric.Work). Neither reads the wall clock, so busy processes
that make every check wait for a core change no status.
"""

import subprocess
import sys
import time

import numpy as np

from backprop_cli.checks.scalar import Limits
from backprop_cli.evaluate import Options, evaluate

BUSY = 5  # processes spinning on the CPU: with 2 cores, the check gets a third of one or less


def _case():
    rng = np.random.default_rng(0)
    return ("sum(tanh(V @ tanh(W @ x + b)))",
            {"W": rng.normal(size=(2, 2)), "x": rng.normal(size=2), "b": rng.normal(size=2),
             "V": rng.normal(size=(2, 2))})


# sympy's check of this one needs most of a second of CPU: under load it takes several seconds
# of wall time, so a budget twice its CPU time would run out if it counted the clock.
SLOW_FOR_SYMPY = "+".join(f"sin(x*{k})*cos(y+{k})" for k in range(1, 200))


def _statuses(limits: Limits) -> list[tuple[str, str, str]]:
    import sympy

    sympy.core.cache.clear_cache()  # each run does the whole work again
    result = evaluate(SLOW_FOR_SYMPY, {"x": 0.5, "y": 0.25},
                      Options(numeric=False, limits=limits))
    return [(r.name, c.method, c.status) for r in result.rows for c in r.checks]


def test_a_busy_machine_changes_no_status():
    started = time.thread_time()
    quiet = _statuses(Limits(sympy_max_depth=1000))
    needed = time.thread_time() - started
    # A budget twice the CPU time the quiet run needed: under load the run waits three times as
    # long or more for a core (a wall-clock limit would run out), but spends the same CPU.
    limits = Limits(sympy_seconds=2 * needed, sympy_max_depth=1000)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(BUSY)]
    try:
        loaded = _statuses(limits)
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    assert loaded == quiet
    assert {status for *_, status in quiet} == {"pass"}


def test_the_finite_difference_budget_is_counted_work():
    """Two runs with a budget that stops the sample part-way stop at the same entry."""
    program, at = _case()
    limits = Limits(fd_max_node_evals=100)
    runs = [evaluate(program, at, Options(sympy=False, limits=limits)) for _ in range(2)]
    first, second = ([(c.entries, c.status, c.reason) for r in run.rows for c in r.checks]
                     for run in runs)
    assert first == second
    assert any("over the finite-difference budget" in reason for *_, reason in first)

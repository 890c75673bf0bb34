"""deadline.py's limits raise into the thread they stop (PyThreadState_SetAsyncExc), and such a
raise can land at any check the interpreter makes for pending work: a Python function's start
and a C call's return. Wherever it lands while a limit is entered or left, the watchdog must
keep working, nothing may stay watched, and nothing may be left pending.

Clearing a pending raise with PyThreadState_SetAsyncExc(id, NULL) left CPython 3.11's
"pending work" flag set for good, so once any trace or profile function was set (cProfile, a
debugger, Hypothesis explaining a failing example) the next Python call spun at 100 % CPU
forever: the test runs that hung. And a raise landing just after the working thread took the
watchdog's lock could leave the lock held, so that no budget fired again.

The raise is placed deterministically, at each such point in turn (a profile function raising
at a call's start or a C call's return is the raise landing there), never by timing.
"""

import functools
import subprocess
import sys
import threading
import time

import pytest

from backprop_cli import deadline
from backprop_cli.checks.scalar import _deadline, _Timeout

LONG = 600.0  # a budget that never runs out during a test: only the placed raise lands


@functools.cache
def _a_tracer_runs_after_limits() -> str:
    """After limits are left (one ran out, one did not), a profile or trace function set
    later must not make the next call spin. A process of its own: a spin would hang it (the
    timeout is only a last guard)."""
    script = """
import sys, time
from backprop_cli.checks.scalar import _deadline, _Timeout
with _deadline(600):
    pass
try:
    with _deadline(0.01):
        t0 = time.thread_time()
        while time.thread_time() - t0 < 5:
            sum(range(1000))
except _Timeout:
    pass
def f():
    return 1
for hook in (sys.setprofile, sys.settrace):
    hook(lambda *a: None)
    f()
    hook(None)
print("ok")
"""
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=120, check=False)
    except subprocess.TimeoutExpired:
        return "the call after setting a profile function never returned"
    return done.stdout.strip() or done.stderr


def test_leaving_a_limit_leaves_no_work_pending_for_a_tracer():
    assert _a_tracer_runs_after_limits() == "ok"


def _raise_at(k: int, when):
    if _a_tracer_runs_after_limits() != "ok":  # the profile function below would spin
        pytest.fail("a profile function set after a limit was left makes calls spin")
    """A profile function raising _Timeout at the k-th check point (a Python call's start, a C
    call's return) reached while `when()` holds; and the count of points seen."""
    seen = [0]

    def hook(frame, event, arg):
        if event in ("call", "c_return") and when():
            seen[0] += 1
            if seen[0] == k:
                raise _Timeout

    return seen, hook


def _mine() -> list:
    return [x for x in deadline._WATCHDOG.limits if x.ident == threading.get_ident()]


def _still_fires() -> bool:
    t0 = time.thread_time()
    try:
        with _deadline(0.05):
            while time.thread_time() - t0 < 5:  # CPU seconds: only a last guard
                sum(range(1_000))
    except _Timeout:
        return True
    return False


def test_a_raise_landing_anywhere_while_a_limit_is_left_breaks_nothing():
    k = 0
    while True:
        k += 1
        limit = _deadline(LONG)
        seen, hook = _raise_at(k, lambda limit=limit: limit.leaving)
        try:
            with limit:
                sys.setprofile(hook)
        except _Timeout:
            pass
        finally:
            sys.setprofile(None)
        assert _mine() == [], f"a limit still watched after a raise at point {k}"
        if seen[0] < k:  # the leaving has fewer points: every one was tried
            break
    assert k > 5
    assert _still_fires()


def test_a_raise_landing_anywhere_while_an_inner_limit_is_entered_breaks_nothing():
    k = 0
    while True:
        k += 1
        entering = [True]
        seen, hook = _raise_at(k, lambda entering=entering: entering[0])
        try:
            with _deadline(LONG):
                try:
                    sys.setprofile(hook)
                    with _deadline(LONG):
                        entering[0] = False
                        sys.setprofile(None)
                except _Timeout:
                    pass
                finally:
                    sys.setprofile(None)
        except _Timeout:  # landed in the outer limit's block: taken as its own raise
            pass
        assert _mine() == [], f"a limit still watched after a raise at point {k}"
        if seen[0] < k:
            break
    assert k > 5
    assert _still_fires()


def _spin_until(done) -> None:
    t0 = time.thread_time()
    while not done() and time.thread_time() - t0 < 5:  # CPU seconds: only a last guard
        sum(range(1_000))


def test_the_watchdog_never_raises_after_a_block_left_without_its_exit():
    """A limit whose `with` block ended without its __exit__ running is let go once the frame
    that entered it has returned: never raised into the code after it."""
    def enter_and_return():
        limit = _deadline(0.01)
        limit.__enter__()  # and never __exit__, as if a raise had cut it short
        return limit

    limit = enter_and_return()
    _spin_until(lambda: limit not in deadline._WATCHDOG.limits)  # well past its 0.01 s
    assert limit.leaving
    assert limit not in deadline._WATCHDOG.limits


def test_a_limit_of_a_thread_that_ended_is_let_go():
    for clock in ("cpu", "wall"):
        limit = deadline.Deadline(0.01, _Timeout, clock=clock)
        thread = threading.Thread(target=limit.__enter__)
        thread.start()
        thread.join()
        _spin_until(lambda limit=limit: limit not in deadline._WATCHDOG.limits)
        assert limit not in deadline._WATCHDOG.limits
    assert _still_fires()

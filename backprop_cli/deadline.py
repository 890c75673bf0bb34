"""Limits on a piece of work that hold in any thread: a budget of the thread's own CPU time, or
a wall-clock guard against a hang.

A budget that decides a verdict counts CPU time, the work the thread did, not the clock: on a
busy machine a thread waits longer for a core but spends the same CPU, so the same input gets
the same verdict (STYLE.md 12). Wall time is only the last guard (a batch case's --timeout).

Both are kept by one watchdog thread, which works where no alarm can: in the main thread, in a
pool worker, and in a Dask worker thread. When a limit is over, the watchdog raises the
limit's exception in the working thread (CPython's PyThreadState_SetAsyncExc: it lands at the
thread's next check for pending work, after a call returns or at a loop's jump back), and
raises it again every `repeat` seconds until the limit is left, since code that catches
broadly could swallow one. The exception must be a BaseException subclass the caller names,
so sympy's `except Exception` blocks let it through. Limits nest: each is watched on its own.

Such a raise can land between any two steps of Python code, so the working thread's side of
the bookkeeping never takes a lock or waits on a condition (a raise landing just after a lock
was taken would leave it taken for good, and the watchdog waiting on it), and a pending raise
is never cleared with PyThreadState_SetAsyncExc(id, NULL) (`_clear_own_raise` says why: in
CPython 3.11 the next call spun forever once a trace or profile function was set, which hung
test runs where Hypothesis explained a failing example). The two sides meet only through
plain attribute stores, which are atomic, in this order:
  * the watchdog raises only when the limit's thread is not in this module's code (its
    innermost frames), and only while the frame that entered the limit is still running: a
    limit whose `with` block was left some other way is forgotten, never raised;
  * leaving, the working thread first marks the limit `leaving`, waits out a raise the
    watchdog has already begun (`raising`), then clears whatever raise is still pending for
    itself, so none can land after the `with` block; a raise that lands while it leaves is
    moot and swallowed, and an enclosing limit's, cleared with it, is raised again;
  * a limit left, it also forgets the limits entered after it in the same thread (an inner
    one whose `__enter__` was cut short never reaches its `__exit__`).

Work in C that holds the GIL (one huge numpy call) is not interrupted until it returns.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections.abc import Callable

TICK = 0.02  # seconds between the watchdog's looks at its limits
OWN_FRAMES = 8  # innermost frames of a thread looked at for this module's bookkeeping
_SERIALS = itertools.count()  # order of entry: a thread's inner limits come after its outer
_KINDS: set[type[BaseException]] = set()  # every exception a limit was given to raise


def thread_cpu_clock():
    """A function giving the calling thread's CPU seconds, readable from any thread."""
    try:
        clock = time.pthread_getcpuclockid(threading.get_ident())
        time.clock_gettime(clock)
    except (AttributeError, OSError):  # no per-thread clock here: the process's CPU time
        return time.process_time
    return lambda: time.clock_gettime(clock)


class Deadline:
    """`with Deadline(seconds, exc):` raises `exc` in this thread once the block has spent
    `seconds` of this thread's CPU time (clock="cpu", a budget) or of wall time
    (clock="wall", a guard). 0 or None seconds: no limit."""

    def __init__(self, seconds: float | None, exc: type[BaseException], repeat: float = 0.1,
                 clock: str = "cpu"):
        self.seconds = seconds
        self.exc = exc
        self.repeat = repeat
        self.clock = clock
        self.armed = False

    def __enter__(self) -> Deadline:
        if self.seconds:
            _raiser()  # ctypes loads now, before any limit of this thread can fire
            home = sys._getframe(1)  # the frame running the `with` block
            self.home = (id(home), home.f_code)
            del home
            self.ident = threading.get_ident()
            self.now = thread_cpu_clock() if self.clock == "cpu" else time.monotonic
            self.ends = self.now() + self.seconds
            self.next_raise = 0.0
            self.leaving = self.raising = False
            self.serial = next(_SERIALS)
            self.armed = True
            _KINDS.add(self.exc)
            _WATCHDOG.watch(self)
        return self

    def __exit__(self, *exc_info) -> bool:
        if self.armed:
            self.leaving = True  # first: the watchdog starts no raise for this limit now
            while True:
                try:
                    _WATCHDOG.forget(self)
                    break
                except BaseException as landed:  # noqa: BLE001 - only a limit's raise is moot
                    if not isinstance(landed, tuple(_KINDS)):
                        raise
        return False


_RAISE: list[Callable] = []


def _raiser() -> Callable:
    """CPython's PyThreadState_SetAsyncExc(thread id, exception class or None to clear), loaded
    once (ctypes loads with the first limit, not with every command)."""
    if not _RAISE:
        import ctypes

        call = ctypes.pythonapi.PyThreadState_SetAsyncExc
        call.argtypes = (ctypes.c_ulong, ctypes.c_void_p)
        _RAISE.append(call)
    return _RAISE[0]


def _set_async_exc(ident: int, exc: type[BaseException]) -> None:
    """Raise `exc` in the thread `ident` at its next check for pending work. The class object
    lives as long as the module naming it, so its address is safe."""
    _raiser()(ident, id(exc))


class _Cleared(BaseException):
    """Raised by a thread into itself, and caught at once, to clear a pending raise."""


def _clear_own_raise() -> None:
    """Drop a raise still pending for this thread. Not by PyThreadState_SetAsyncExc(id, NULL):
    in CPython 3.11 that leaves the interpreter's "pending work" flag set with no work to do,
    and from then on, once a trace or profile function is set (cProfile, a debugger,
    Hypothesis explaining a failure), the next Python call spins forever at 100 % CPU. A raise
    of our own replaces the pending one and, caught at the next check (the return of the call
    that set it), takes the flag down as every delivered raise does."""
    me = threading.get_ident()
    try:
        try:
            _set_async_exc(me, _Cleared)
            for _ in (0, 1):  # a jump back: a check, should the call's return not have been
                pass
        except _Cleared:
            return
    except BaseException:  # something else came first (a Ctrl-C): never leave ours behind
        _raiser()(me, None)
        raise
    _raiser()(me, None)  # (not reached: a set raise is taken at the next check)


class _Watchdog:
    def __init__(self):
        self.limits: list[Deadline] = []  # appended and removed only by their own threads
        self.thread: threading.Thread | None = None
        self.wake = threading.Lock()  # held while the watchdog has nothing to watch
        self.wake.acquire()
        self.starting = threading.Lock()

    def watch(self, limit: Deadline) -> None:
        self.limits.append(limit)
        if self.thread is None:
            with self.starting:  # no limit fires before the watchdog runs: no raise lands here
                if self.thread is None:
                    self.thread = threading.Thread(target=self._run, name="backprop-limits",
                                                   daemon=True)
                    self.thread.start()
        if self.wake.locked():
            try:
                self.wake.release()
            except RuntimeError:  # released by another thread meanwhile
                pass

    def forget(self, limit: Deadline) -> None:
        """Stop watching `limit` and the limits its thread entered after it, and clear any
        raise pending for the thread; the thread's enclosing limits that are over their time
        raise again at the next tick (the raise cleared may have been theirs). Every step may
        be run again after a raise landed in it."""
        mine = [x for x in tuple(self.limits) if x.ident == limit.ident]
        gone = [x for x in mine if x is limit or x.serial > limit.serial]
        for x in gone:
            x.leaving = True
        for x in gone:
            while x.raising:  # a raise the watchdog began before `leaving`: let it land first
                time.sleep(0)
        _clear_own_raise()
        limit.armed = False
        for x in gone:
            _drop(self.limits, x)
        for x in mine:
            if x.serial < limit.serial:
                x.next_raise = 0.0

    def _run(self) -> None:
        while True:
            if not self.limits:
                self.wake.acquire()  # until watch() releases it
                continue
            self._fire()
            time.sleep(TICK)

    def _fire(self) -> None:
        wall = time.monotonic()
        frames = quiet = None
        for limit in tuple(self.limits):
            if limit.leaving or wall < limit.next_raise:
                continue
            try:
                if limit.now() < limit.ends:
                    continue
            except OSError:  # the thread is gone: nothing left to stop
                limit.leaving = True
                _drop(self.limits, limit)
                continue
            if frames is None:
                frames, quiet = sys._current_frames(), _collector_callbacks()
            where = _where(frames.get(limit.ident), limit.home, quiet)
            if where == "left":  # the block ended without __exit__: never raise after it
                limit.leaving = True
                _drop(self.limits, limit)
            elif where == "inside":
                limit.raising = True  # before `leaving` is read: the leaving side waits
                if not limit.leaving:
                    limit.next_raise = wall + limit.repeat
                    _set_async_exc(limit.ident, limit.exc)
                limit.raising = False

    def after_fork(self) -> None:
        """A forked child (a pool worker) has no watchdog thread and watches nothing yet."""
        self.__init__()


def _drop(limits: list, limit: Deadline) -> None:
    try:
        limits.remove(limit)
    except ValueError:  # the other side dropped it first
        pass


def _collector_callbacks() -> set:
    """The code of the garbage collector's callbacks (Hypothesis times collections with one):
    a raise landing in one is printed as "Exception ignored" and lost."""
    import gc

    return {getattr(getattr(cb, "__func__", cb), "__code__", None) for cb in gc.callbacks}


def _where(top, home: tuple, quiet: set = frozenset()) -> str:
    """Where the thread whose innermost frame is `top` is, for a limit entered by `home`:
    "busy" in this module's bookkeeping or in code whose raise would be lost (`quiet`: the
    collector's callbacks), so the raise waits for the next tick; "inside" the limit's block;
    "left" when the frame that entered the limit no longer runs (or the thread has ended)."""
    frame, depth = top, 0
    while frame is not None:
        if depth < OWN_FRAMES and (frame.f_globals is _OWN or frame.f_code in quiet):
            return "busy"
        if id(frame) == home[0] and frame.f_code is home[1]:
            return "inside"
        frame, depth = frame.f_back, depth + 1
    return "left"  # (no frame at all: the thread has ended)


_OWN = globals()
_WATCHDOG = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_WATCHDOG.after_fork)

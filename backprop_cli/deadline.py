"""Limits on a piece of work that hold in any thread: a budget of the thread's own CPU time, or
a wall-clock guard against a hang.

A budget that decides a verdict counts CPU time, the work the thread did, not the clock: on a
busy machine a thread waits longer for a core but spends the same CPU, so the same input gets
the same verdict (STYLE.md 12). Wall time is only the last guard (a batch case's --timeout).

Both are kept by one watchdog thread, which works where no alarm can: in the main thread, in a
pool worker, and in a Dask worker thread. When a limit is over, the watchdog raises the
limit's exception in the working thread (CPython's PyThreadState_SetAsyncExc: it lands at the
thread's next bytecode), and raises it again every `repeat` seconds until the limit is left,
since code that catches broadly could swallow one. The exception must be a BaseException
subclass the caller names, so sympy's `except Exception` blocks let it through. Limits nest:
each is watched on its own. Leaving a limit clears a raise still pending for the thread, so
it can never land in the code after the `with` block.

Work in C that holds the GIL (one huge numpy call) is not interrupted until it returns.
"""

from __future__ import annotations

import os
import threading
import time

TICK = 0.02  # seconds between the watchdog's looks at its limits
LINGER = 1.0  # an idle watchdog waits this long for a new limit before it ends


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
            self.ident = threading.get_ident()
            self.now = thread_cpu_clock() if self.clock == "cpu" else time.monotonic
            self.ends = self.now() + self.seconds
            self.next_raise = 0.0
            _WATCHDOG.watch(self)
            self.armed = True
        return self

    def __exit__(self, *exc_info) -> bool:
        if not self.armed:
            return False
        self.armed = False
        while True:
            try:
                _WATCHDOG.forget(self)
                return False
            except _WATCHDOG.kinds:
                # A raise landed while leaving: this limit's is moot now, and another limit
                # still over its time raises again at the watchdog's next tick.
                continue

    def spent(self) -> float:
        """The seconds this limit has counted so far (0 when it is not armed)."""
        return self.now() - (self.ends - self.seconds) if self.armed else 0.0


def _set_async_exc(ident: int, exc: type[BaseException] | None) -> None:
    """Raise `exc` in the thread `ident` at its next bytecode; None (NULL) clears a pending
    one. The class object lives as long as the module naming it, so its address is safe.
    (ctypes loads here, when a limit first fires or is cleared, not with every command.)"""
    import ctypes

    call = ctypes.pythonapi.PyThreadState_SetAsyncExc
    call.argtypes = (ctypes.c_ulong, ctypes.c_void_p)
    call(ident, None if exc is None else id(exc))


class _Settled(BaseException):
    """Put in place of a raise that may still be pending for a thread, and caught there."""


def _settle(ident: int) -> None:
    """Drop a raise that may still be pending for the thread `ident` (the caller's own).

    Not by clearing it with NULL: CPython (3.11) then still marks "an exception is pending"
    for the whole interpreter, and only a delivered exception takes the mark off, so every
    later call and loop would go through the eval loop's slow path for the rest of the
    process (about 6 % of the CPU of call-heavy code, after the first limit; a profiler's
    hooks even spin on it). A harmless exception put in its place and caught at once takes
    the mark off."""
    if ident != threading.get_ident():  # pragma: no cover - limits end in their own thread
        _set_async_exc(ident, None)
        return
    import gc

    collecting = gc.isenabled()
    gc.disable()  # a collection's callbacks are Python code where it could land instead
    try:
        _set_async_exc(ident, _Settled)
        _land()
    except _Settled:
        pass
    finally:
        if collecting:
            gc.enable()


def _land() -> None:
    """A call: where a pending raise lands (CPython looks for one as a function starts)."""


class _Watchdog:
    def __init__(self):
        self.lock = threading.Condition()
        self.limits: list[Deadline] = []
        self.thread: threading.Thread | None = None
        self.kinds: tuple[type[BaseException], ...] = ()  # what the watchdog ever raised
        self.raised: set[int] = set()  # threads raised into since their last limit ended

    def watch(self, limit: Deadline) -> None:
        with self.lock:
            if limit.exc not in self.kinds:
                self.kinds = (*self.kinds, limit.exc)
            self.limits.append(limit)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="backprop-limits",
                                               daemon=True)
                self.thread.start()
            # No notify: the watchdog looks every TICK anyway, and waking it for each limit
            # (a batch case each) cost a thread switch a case for nothing (a new limit is
            # never over yet).

    def forget(self, limit: Deadline) -> None:
        """Stop watching `limit` and clear any raise pending for its thread (the watchdog
        raises only under this lock, so none can follow); the thread's other limits that are
        over their time raise again at the next tick."""
        with self.lock:
            if limit in self.limits:
                self.limits.remove(limit)
            if limit.ident in self.raised:  # nothing to clear when nothing was raised
                self.raised.discard(limit.ident)
                _settle(limit.ident)
            for other in self.limits:
                if other.ident == limit.ident:
                    other.next_raise = 0.0

    def _run(self) -> None:
        with self.lock:
            idle_since = None
            while True:
                if not self.limits:
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since > LINGER:
                        self.thread = None
                        return
                else:
                    idle_since = None
                    self._fire()
                self.lock.wait(TICK)

    def _fire(self) -> None:
        wall = time.monotonic()
        for limit in self.limits:
            try:
                over = limit.now() >= limit.ends
            except OSError:  # the thread is gone: nothing left to stop
                continue
            if over and wall >= limit.next_raise:
                limit.next_raise = wall + limit.repeat
                self.raised.add(limit.ident)
                _set_async_exc(limit.ident, limit.exc)

    def after_fork(self) -> None:
        """A forked child (a pool worker) has no watchdog thread and watches nothing yet."""
        self.lock = threading.Condition()
        self.limits = []
        self.raised = set()
        self.thread = None


_WATCHDOG = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_WATCHDOG.after_fork)

"""Many cases at once: in this process, or spread over a pool of worker processes.

Results always come back in file order, and the file is read lazily with a bounded number of
cases in flight, so memory does not grow with the file. Nothing here prints: the caller decides
what to do with each result.
"""

from __future__ import annotations

import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..errors import BackpropError
from .case import Case
from .run import CaseResult, Settings, run_case, warm_up

KILL_GRACE = 2.0  # a worker this far past the time limit ignored its alarm: it is killed
WINDOW_PER_JOB = 512  # cases a job may run ahead of the oldest unfinished one (bounds memory)
CHUNK = 64  # cases per message to a worker: fewer round trips (and wake-ups of the command)
# Chunks a worker holds, sent and not yet answered: when it sends one back it still has work
# for the time the command takes to be scheduled (it shares the cores with the workers),
# take the results in and send more. With two, a worker often ran dry.
DEPTH = 4
MIN_PARALLEL = 8  # fewer cases than this run in-process: starting workers would cost more
JOBS_PER_CORE = 4  # more workers than this per core only wait their turn (and use memory)


class WorkerError(BackpropError):
    """A worker process could not be started: the system is out of processes, file
    descriptors or memory. The run stops there; the results so far are kept."""


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def plan_jobs(requested: int, lines: int | None = None) -> tuple[int, str | None]:
    """Worker processes for a run: `requested` (0: one per core), capped by JOBS_PER_CORE per
    core and by the case file's `lines` (a bound on its cases) when known. The note says why
    an explicit request was lowered (None when nothing was, or nothing was asked)."""
    cores = default_jobs()
    jobs = requested or cores
    note = None
    if jobs > JOBS_PER_CORE * cores:
        jobs = JOBS_PER_CORE * cores
        note = (f"--jobs {requested} capped at {jobs} ({JOBS_PER_CORE} per core, "
                f"{cores} core{'s' * (cores != 1)})")
    if lines is not None and jobs > max(1, lines):
        jobs = max(1, lines)
        note = f"--jobs {requested} capped at {jobs}: the file has {lines} line{'s' * (lines != 1)}"
    return jobs, (note if requested else None)


def run_serial(cases: Iterable[Case], settings: Settings,
               run: Callable[[Case, Settings], CaseResult] = run_case) -> Iterator[CaseResult]:
    """Every case in this process, in order."""
    warm_up(settings)
    for case in cases:
        yield run(case, settings)


def run_cases(cases: Iterable[Case], settings: Settings, jobs: int = 1,
              dask: str | None = None, render: Any = None) -> Iterator[CaseResult]:
    """Results in file order, from this process, a pool of `jobs` processes, or Dask. With
    `render` (the command's: a result -> the result rendered for its outputs), a pool worker
    renders each case where it ran and sends back the texts instead of its record."""
    if dask:
        from .dask import run_dask

        yield from run_dask(cases, settings, dask)
        return
    if jobs <= 1:
        yield from run_serial(cases, settings)
        return
    # Read ahead enough to give every worker a chunk: a file that ends sooner says how many
    # cases there are, and no more workers are started than they can keep busy.
    it = iter(cases)
    head = []
    for case in it:
        head.append(case)
        if len(head) >= max(MIN_PARALLEL, jobs * CHUNK):
            break
    else:
        if len(head) < MIN_PARALLEL:
            yield from run_serial(head, settings)
            return
        chunk = max(1, min(CHUNK, -(-len(head) // jobs)))
        yield from run_pool(head, settings, -(-len(head) // chunk), chunk=chunk,
                            render=render)
        return
    yield from run_pool(_chain(head, it), settings, jobs, render=render)


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _worker_main(conn, settings: Settings, run: Callable, current, since, render=None) -> None:
    """A pool worker: receive a chunk of cases, send back the chunk's results (rendered for
    the outputs when `render` says how), until told to stop. `current` and `since` (shared
    memory) say which case is running and since when, so the parent can tell a stuck case
    without a message per case."""

    # Ctrl-C reaches the whole process group; the parent alone decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warm_up(settings)
    conn.send("ready")
    while True:
        try:
            cases = conn.recv()
        except EOFError:
            return
        if cases is None:
            return
        out = []
        for case in cases:
            since.value = time.monotonic()
            current.value = case.index
            res = run(case, settings)
            out.append(render(res) if render is not None else res)
        current.value = -1
        conn.send(out)


class _Worker:
    def __init__(self, ctx, settings: Settings, run: Callable, render=None):
        parent, child = ctx.Pipe()
        try:
            self.current = ctx.Value("q", -1, lock=False)  # index of the running case, or -1
            self.since = ctx.Value("d", 0.0, lock=False)  # time.monotonic() when it started
            self.proc = ctx.Process(target=_worker_main, daemon=True,
                                    args=(child, settings, run, self.current, self.since,
                                          render))
            self.proc.start()
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        self.conn = parent
        self.queue: deque[Case] = deque()  # sent, not yet answered, in order
        self.ready = False

    def overdue(self, limit: float, now: float) -> bool:
        return bool(self.queue) and self.current.value >= 0 and \
            now - self.since.value > limit + KILL_GRACE

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                self.proc.kill()
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def _context():
    import multiprocessing

    # fork: a worker starts with everything already imported and re-runs no __main__. The
    # parent stays single-threaded while it forks (the progress bar refreshes without a thread).
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")  # pragma: no cover - not Unix


def _start(ctx, settings: Settings, run: Callable, which: str, render=None) -> _Worker:
    """A new worker; WorkerError (one line) when the system has no process or descriptor left."""
    try:
        return _Worker(ctx, settings, run, render)
    except OSError as exc:
        raise WorkerError(f"cannot start {which}: {exc.strerror or exc}",
                          hint="lower --jobs, or raise the limits: ulimit -n, ulimit -u") \
            from None


def run_pool(cases: Iterable[Case], settings: Settings, jobs: int,
             run: Callable[[Case, Settings], CaseResult] = run_case,
             window: int | None = None, chunk: int = CHUNK,
             render: Any = None) -> Iterator[CaseResult]:
    """Spread cases over `jobs` worker processes; yield results in file order.

    Cases go out in chunks of `chunk` (one message each way per chunk); each worker holds at
    most DEPTH chunks, and the reader runs at most `window` cases ahead of the oldest unfinished
    one, so memory stays bounded however long the file. A case running past the time limit plus
    KILL_GRACE ignored its own alarm (stuck in C code): its worker is killed, the case reported
    as a timeout, the worker's other cases sent again, and a fresh worker takes its place.
    When a worker cannot be started (no process or descriptor left), the results finished so
    far are handed over and WorkerError is raised.
    """
    pool = _Pool(_context(), settings, run, iter(cases), window or jobs * WINDOW_PER_JOB, chunk)
    pool.render = render
    try:
        pool.start(jobs)
        while True:
            pool.hand_out()
            yield from pool.in_order()
            if pool.all_done():
                return
            pool.wait()
    except (KeyboardInterrupt, WorkerError):
        # Hand over what already finished (in order, with gaps), then stop.
        for index in sorted(pool.done):
            yield pool.done[index]
        raise
    finally:
        for w in pool.workers:
            w.stop(kill=True)


class _Pool:
    """The state of one pool run: the workers, the cases read and not yet sent, the results
    that wait for an older case to be handed over."""

    def __init__(self, ctx, settings: Settings, run: Callable, source: Iterator[Case],
                 window: int, chunk: int):
        self.ctx = ctx
        self.settings = settings
        self.run = run
        self.source = source
        self.window = window
        self.chunk = chunk
        self.limit = settings.timeout or 0
        self.retry: list[Case] = []  # cases a killed worker held, to send again first (in order)
        self.done: dict[int, CaseResult] = {}
        self.next_out = 0
        self.next_in = 0  # index of the next case the reader will hand out
        self.exhausted = False
        self.workers: list[_Worker] = []
        self.render = None  # how the workers render a case for the outputs (or not at all)

    def start(self, jobs: int) -> None:
        for k in range(jobs):
            self.workers.append(_start(self.ctx, self.settings, self.run,
                                       f"worker process {k + 1} of {jobs}", self.render))

    def hand_out(self) -> None:
        """Give every ready worker chunks until it holds DEPTH."""
        for w in self.workers:
            while w.ready and len(w.queue) < DEPTH * self.chunk:
                batch = self._next_batch()
                if not batch:
                    break
                w.conn.send(batch)
                w.queue.extend(batch)

    def _next_batch(self) -> list[Case]:
        """Up to `chunk` cases: those to send again first, then new ones within the window.
        A line that is bad input needs no worker: its result is made here."""
        batch: list[Case] = []
        while len(batch) < self.chunk:
            if self.retry:
                batch.append(self.retry.pop(0))
                continue
            if self.exhausted or self.next_in >= self.next_out + self.window:
                break
            case = next(self.source, None)
            if case is None:
                self.exhausted = True
                break
            self.next_in = case.index + 1
            if case.problem is not None:
                self.done[case.index] = run_case(case, self.settings)
            else:
                batch.append(case)
        return batch

    def in_order(self) -> Iterator[CaseResult]:
        while self.next_out in self.done:
            yield self.done.pop(self.next_out)
            self.next_out += 1

    def all_done(self) -> bool:
        return (self.exhausted and not self.retry and not self.done
                and all(not w.queue for w in self.workers))

    def wait(self) -> None:
        """Wait for a message from a busy worker (at most until one may be stuck), take in
        what came, and replace a worker that died or is stuck."""
        from multiprocessing.connection import wait

        busy = [w for w in self.workers if w.queue or not w.ready]
        if not busy:
            return
        ready = wait([w.conn for w in busy], self._patience(busy))
        now = time.monotonic()
        for k, w in enumerate(self.workers):
            if w.conn in ready:
                self._receive(k, w)
            elif self.limit and w.overdue(self.limit, now):
                self.workers[k] = self._replace(w, "stuck")

    def _patience(self, busy: list[_Worker]) -> float:
        """Seconds to wait: half a second, or less when a running case comes to its end."""
        timeout = 0.5
        if self.limit:
            now = time.monotonic()
            for w in busy:
                if w.queue and w.current.value >= 0:
                    timeout = min(timeout, w.since.value + self.limit + KILL_GRACE - now)
        return max(0.0, timeout)

    def _receive(self, k: int, w: _Worker) -> None:
        try:
            msg = w.conn.recv()
        except (EOFError, OSError):
            self.workers[k] = self._replace(w, "died")
            return
        if msg == "ready":
            w.ready = True
            return
        for res in msg:
            w.queue.popleft()
            self.done[res.index] = res

    def _replace(self, w: _Worker, why: str) -> _Worker:
        """Kill a stuck or dead worker: its running case is reported, its other cases (finished
        or not: their results died with it) are sent again."""
        s = self.settings
        running = w.current.value
        seconds = time.monotonic() - w.since.value
        w.stop(kill=True)
        code = w.proc.exitcode if why == "died" else None
        for case in w.queue:
            if case.index != running:
                continue
            if why == "stuck":
                self.done[case.index] = CaseResult(
                    case.index, case.line, case.id, case.program, "timeout", seconds=seconds,
                    kind="timeout", message=f"{s.origin}:{case.line}: timeout: the case took "
                                            f"longer than {s.timeout:g} s (its worker was "
                                            f"stopped)")
            else:
                self.done[case.index] = CaseResult(
                    case.index, case.line, case.id, case.program, "error", seconds=seconds,
                    kind="error", message=f"{s.origin}:{case.line}: error: the worker process "
                                          f"died while checking this case (exit code {code})")
        self.retry.extend(c for c in w.queue if c.index != running)
        self.retry.sort(key=lambda c: c.index)
        return _start(self.ctx, s, self.run, "a worker process in place of one that stopped",
                      self.render)

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

from ..errors import BackpropError
from .case import Case
from .run import CaseResult, Settings, run_case, warm_up

KILL_GRACE = 2.0  # a worker this far past the time limit ignored its alarm: it is killed
WINDOW_PER_JOB = 128  # cases a job may run ahead of the oldest unfinished one (bounds memory)
CHUNK = 32  # cases per message to a worker: fewer round trips for sub-millisecond cases
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
              dask: str | None = None) -> Iterator[CaseResult]:
    """Results in file order, from this process, a pool of `jobs` processes, or Dask."""
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
        yield from run_pool(head, settings, -(-len(head) // chunk), chunk=chunk)
        return
    yield from run_pool(_chain(head, it), settings, jobs)


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _worker_main(conn, settings: Settings, run: Callable, current, since) -> None:
    """A pool worker: receive a chunk of cases, send back the chunk's results, until told to
    stop. `current` and `since` (shared memory) say which case is running and since when, so
    the parent can tell a stuck case without a message per case."""
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
            out.append(run(case, settings))
        current.value = -1
        conn.send(out)


class _Worker:
    def __init__(self, ctx, settings: Settings, run: Callable):
        parent, child = ctx.Pipe()
        try:
            self.current = ctx.Value("q", -1, lock=False)  # index of the running case, or -1
            self.since = ctx.Value("d", 0.0, lock=False)  # time.monotonic() when it started
            self.proc = ctx.Process(target=_worker_main, daemon=True,
                                    args=(child, settings, run, self.current, self.since))
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


def _start(ctx, settings: Settings, run: Callable, which: str) -> _Worker:
    """A new worker; WorkerError (one line) when the system has no process or descriptor left."""
    try:
        return _Worker(ctx, settings, run)
    except OSError as exc:
        raise WorkerError(f"cannot start {which}: {exc.strerror or exc}",
                          hint="lower --jobs, or raise the limits: ulimit -n, ulimit -u") \
            from None


def run_pool(cases: Iterable[Case], settings: Settings, jobs: int,
             run: Callable[[Case, Settings], CaseResult] = run_case,
             window: int | None = None, chunk: int = CHUNK) -> Iterator[CaseResult]:
    """Spread cases over `jobs` worker processes; yield results in file order.

    Cases go out in chunks of `chunk` (one message each way per chunk); each worker holds at
    most two chunks, and the reader runs at most `window` cases ahead of the oldest unfinished
    one, so memory stays bounded however long the file. A case running past the time limit plus
    KILL_GRACE ignored its own alarm (stuck in C code): its worker is killed, the case reported
    as a timeout, the worker's other cases sent again, and a fresh worker takes its place.
    When a worker cannot be started (no process or descriptor left), the results finished so
    far are handed over and WorkerError is raised.
    """
    from multiprocessing.connection import wait

    ctx = _context()
    window = window or jobs * WINDOW_PER_JOB
    limit = settings.timeout or 0
    source = iter(cases)
    retry: list[Case] = []  # cases a killed worker held, to send again first (in order)
    done: dict[int, CaseResult] = {}
    next_out = 0
    next_in = 0  # index of the next case the reader will hand out
    exhausted = False
    workers: list[_Worker] = []
    try:
        for k in range(jobs):
            workers.append(_start(ctx, settings, run, f"worker process {k + 1} of {jobs}"))
        while True:
            # Hand out chunks; errors found while reading need no worker.
            for w in workers:
                while w.ready and len(w.queue) < 2 * chunk:
                    batch: list[Case] = []
                    while len(batch) < chunk:
                        if retry:
                            batch.append(retry.pop(0))
                            continue
                        if exhausted or next_in >= next_out + window:
                            break
                        case = next(source, None)
                        if case is None:
                            exhausted = True
                            break
                        next_in = case.index + 1
                        if case.problem is not None:
                            done[case.index] = run_case(case, settings)
                        else:
                            batch.append(case)
                    if not batch:
                        break
                    w.conn.send(batch)
                    w.queue.extend(batch)
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
            if exhausted and not retry and all(not w.queue for w in workers) and not done:
                return
            busy = [w for w in workers if w.queue or not w.ready]
            if not busy:
                continue
            timeout = 0.5
            if limit:
                now = time.monotonic()
                for w in busy:
                    if w.queue and w.current.value >= 0:
                        timeout = min(timeout, w.since.value + limit + KILL_GRACE - now)
                timeout = max(0.0, timeout)
            ready = wait([w.conn for w in busy], timeout)
            now = time.monotonic()
            for k, w in enumerate(workers):
                if w.conn in ready:
                    try:
                        msg = w.conn.recv()
                    except (EOFError, OSError):
                        workers[k] = _replace(ctx, settings, run, w, retry, done, "died")
                        continue
                    if msg == "ready":
                        w.ready = True
                        continue
                    for res in msg:
                        w.queue.popleft()
                        done[res.index] = res
                elif limit and w.overdue(limit, now):
                    workers[k] = _replace(ctx, settings, run, w, retry, done, "stuck")
    except (KeyboardInterrupt, WorkerError):
        # Hand over what already finished (in order, with gaps), then stop.
        for index in sorted(done):
            yield done[index]
        raise
    finally:
        for w in workers:
            w.stop(kill=True)


def _replace(ctx, s: Settings, run: Callable, w: _Worker, retry: list, done: dict,
             why: str) -> _Worker:
    """Kill a stuck or dead worker: its running case is reported, its other cases (finished
    or not: their results died with it) are sent again."""
    running = w.current.value
    seconds = time.monotonic() - w.since.value
    w.stop(kill=True)
    code = w.proc.exitcode if why == "died" else None
    for case in w.queue:
        if case.index != running:
            continue
        if why == "stuck":
            done[case.index] = CaseResult(
                case.index, case.line, case.id, case.program, "timeout", seconds=seconds,
                kind="timeout", message=f"{s.origin}:{case.line}: timeout: the case took "
                                        f"longer than {s.timeout:g} s (its worker was stopped)")
        else:
            done[case.index] = CaseResult(
                case.index, case.line, case.id, case.program, "error", seconds=seconds,
                kind="error", message=f"{s.origin}:{case.line}: error: the worker process "
                                      f"died while checking this case (exit code {code})")
    retry.extend(c for c in w.queue if c.index != running)
    retry.sort(key=lambda c: c.index)
    return _start(ctx, s, run, "a worker process in place of one that stopped")


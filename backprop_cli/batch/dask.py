"""Cases on a Dask cluster, many to a task, results in file order, none lost when a worker or
the scheduler goes away.

The client reads the file lazily and sends contiguous runs of cases ("chunks") as one task
each; a worker thread runs a chunk case by case through `run_case`, the function the local
runners call, so a case gets the same record on the cluster as at home. Chunks start small
(first results come back soon), double up to MAX_CHUNK as the run goes on, and shrink again
near the end of the file (known LOOKAHEAD cases early), so the last tasks finish together.
At most TASKS_PER_THREAD unfinished tasks per worker thread and HELD_PER_THREAD tasks in all
are held, so the client's memory does not grow with the file.

Faults:
- a task whose worker died is run again by Dask on another worker; when Dask gives up on it
  (KilledWorker) the chunk is split in two and each half sent again, down to single cases;
  a single case Dask gives up on is sent once more, with no other such case out (it may only
  have shared a worker with the culprit), and the second time it is that case's error;
- a task that fails for another reason (the worker cannot run backprop) makes each of its
  cases an error naming the reason;
- the scheduler going away, or no worker for `patience` seconds: the cases that finished are
  handed over and `RunLost` says how many were not run;
- Ctrl-C: the cases that finished are handed over (in order, with gaps), then it propagates.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import HEADLINE_LIMIT, BackpropError, shown
from .case import Case
from .report import RunLost
from .run import CaseResult, Settings, run_case, warm_up

FIRST_CHUNK = 16  # cases in each worker thread's first task
MAX_CHUNK = 512  # cases a task at most: a task costs milliseconds of scheduling and transfer
MIN_CHUNK = 8  # the smallest task near the end of the file
LOOKAHEAD = 4096  # cases read ahead of those sent, at most: the end of the file is seen early
TASKS_PER_THREAD = 2  # unfinished tasks per worker thread: one running, one waiting its turn
HELD_PER_THREAD = 4  # tasks held per worker thread, finished or not (bounds the client memory)
POLL = 1.0  # seconds between looks at the cluster while waiting for a task
PATIENCE = 60.0  # seconds with no worker at all before the run stops (the rest not run)
KILL_GRACE = 2.0  # a case this far past the time limit ignored run_case's guard: left behind
STRIKES = 2  # times Dask gives up on a single case before it is that case's error


def run_dask(cases: Iterable[Case], settings: Settings, address: str,
             run: Callable[[Case, Settings], CaseResult] = run_case,
             patience: float = PATIENCE) -> Iterator[CaseResult]:
    """Run the cases on the Dask cluster at `address`, results in file order.

    Raises RunLost (after handing over every finished case) when the scheduler goes away or no
    worker is left for `patience` seconds; BackpropError when the cluster cannot be used."""
    _large_blocks_mapped()  # before distributed's imports and connections use the heap
    try:
        import distributed
    except ImportError:
        raise BackpropError("--dask needs the optional Dask extra",
                            hint="pip install 'backprop-cli[dask]'") from None
    _quiet_logs()
    _check_address(address)
    _knock(address)
    import dask

    try:
        # The client keeps its last messages to the scheduler for debugging (1,000 by
        # default, each holding a task's cases): none kept, so memory stays flat.
        with dask.config.set({"distributed.admin.low-level-log-length": 0}):
            client = distributed.Client(address, timeout="10s", set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - gone since the knock: say so, exit 2
        raise _unreachable(address, exc) from None
    runner = _Run(distributed, client, address, settings, run, patience)
    try:
        with _cycles_collected():
            runner.check_workers()
            yield from runner.results(iter(cases))
    finally:
        runner.stop()


@contextlib.contextmanager
def _cycles_collected():
    """The cyclic collector on while the client runs. The command turns it off (cli.py: its
    own work makes no cycles), but the client's event loop (tornado's coroutines, asyncio's
    handles, distributed's batched sends) makes reference cycles as it goes, by the second
    rather than by the case: with the collector off they were never freed, and the client
    grew by megabytes over a long run. What was imported before is frozen out of the
    collector's walks (it stays), so each collection looks at the run's young objects only."""
    was_on = gc.isenabled()
    if not was_on:
        gc.freeze()
        gc.enable()
    try:
        yield
    finally:
        if not was_on:
            gc.disable()


def _large_blocks_mapped() -> None:
    """Keep glibc's mmap threshold at its 128 KiB default. glibc raises it each time a large
    block is freed, and from then on the client's large buffers (a task's pickled results,
    hundreds of KB) come from the heap instead and fragment it: the client's RSS grew in
    steps, +2-5 MB over 10^6 cases, while what Python held stayed flat. Pinned, each such
    buffer is its own mapping, given back when freed. (Not glibc: nothing to do.)"""
    import ctypes

    try:
        ctypes.CDLL(None).mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD, from glibc's malloc.h
    except (OSError, AttributeError):
        pass


def _check_address(address: str) -> None:
    """A scheduler address Dask can dial (a Client given another hangs at exit)."""
    from distributed.comm.addressing import parse_address
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
    except (ValueError, ImportError) as exc:
        raise BackpropError(f"--dask {shown(address)} is not a Dask scheduler address: "
                            f"{shown(str(exc).split(' (')[0])}",
                            hint="such as tcp://HOST:8786") from None
    if not location:
        raise BackpropError(f"--dask {shown(address)} names no host",
                            hint="such as tcp://HOST:8786")


def _knock(address: str) -> None:
    """Open and close one connection to the scheduler first: a Client that fails to connect
    lingers and stalls the interpreter's exit with a traceback."""
    import asyncio

    from distributed.comm import connect

    async def knock() -> None:
        comm = await connect(address, timeout="10s")
        await comm.close()

    try:
        asyncio.run(knock())
    except Exception as exc:  # noqa: BLE001 - refused, timed out, a bad port: say which
        raise _unreachable(address, exc) from None


def _unreachable(address: str, exc: Exception) -> BackpropError:
    return BackpropError(f"cannot reach the Dask scheduler at {shown(address)}: "
                         f"{shown(str(exc) or type(exc).__name__, HEADLINE_LIMIT // 2)}")


@dataclass
class _Chunk:
    """Consecutive cases sent as one task; `results` once they are back."""

    cases: list[Case]
    future: Any = None
    results: list[CaseResult] | None = None
    given: int = 0  # results handed over so far
    strikes: int = 0  # times Dask gave up on this one case (its workers died under it)


class _Lost(Exception):
    """The cluster cannot run the rest: the scheduler went away, or no worker is left."""


@dataclass
class _Run:
    distributed: Any
    client: Any
    address: str
    settings: Settings
    run: Callable[[Case, Settings], CaseResult]
    patience: float
    chunks: list[_Chunk] = field(default_factory=list)  # in file order; the head is chunks[0]
    ahead: list[Case] = field(default_factory=list)  # read, not yet sent (a queue, in order)
    exhausted: bool = False
    sent_tasks: int = 0
    sent_cases: int = 0
    threads: int = 1
    no_workers_since: float | None = None

    def check_workers(self) -> None:
        """Every worker present must run this backprop (a task would otherwise fail on each)."""
        from .. import __version__

        try:
            versions = self.client.run(_worker_version)
        except Exception as exc:  # noqa: BLE001 - a worker that cannot import backprop_cli
            raise BackpropError(f"the Dask workers at {shown(self.address)} cannot run backprop:"
                                f" {type(exc).__name__}: {shown(str(exc))}",
                                hint="install backprop-cli on every worker") from None
        for worker, version in sorted(versions.items()):
            if version != __version__:
                raise BackpropError(f"the Dask worker {shown(worker)} runs backprop-cli "
                                    f"{shown(str(version))}, this is {__version__}",
                                    hint="install the same version on every worker")
        self._count_threads()

    def results(self, source: Iterator[Case]) -> Iterator[CaseResult]:
        try:
            while True:
                self._fill(source)
                while self.chunks and self.chunks[0].results is not None:
                    head = self.chunks[0]
                    while head.given < len(head.results):  # a Ctrl-C here loses none
                        head.given += 1
                        yield head.results[head.given - 1]
                    self.chunks.pop(0)
                if self.chunks:
                    self._wait()
                elif self.exhausted and not self.ahead:
                    return
        except _Lost as lost:
            yield from self._finished()
            not_run = (sum(len(c.cases) for c in self.chunks if c.results is None)
                       + len(self.ahead) + sum(1 for _ in source))
            self.chunks.clear()
            raise RunLost(str(lost), not_run) from None
        except KeyboardInterrupt:
            yield from self._finished()
            raise

    def _finished(self) -> Iterator[CaseResult]:
        """The results already back, in file order (behind an unfinished chunk: with gaps)."""
        for chunk in self.chunks:
            if chunk.results is not None:
                while chunk.given < len(chunk.results):
                    chunk.given += 1
                    yield chunk.results[chunk.given - 1]

    def _fill(self, source: Iterator[Case]) -> None:
        """Send chunks until the limits on tasks held are reached or the file ends."""
        while True:
            unfinished = sum(1 for c in self.chunks if c.results is None)
            if (unfinished >= TASKS_PER_THREAD * self.threads
                    or len(self.chunks) >= HELD_PER_THREAD * self.threads):
                return
            size = self._size()
            # Read ahead as many cases as were sent already (up to LOOKAHEAD): a slow pipe
            # is not waited on for thousands of lines before the first task goes out.
            want = size + min(LOOKAHEAD, self.sent_cases)
            while not self.exhausted and len(self.ahead) < want:
                case = next(source, None)
                if case is None:
                    self.exhausted = True
                else:
                    self.ahead.append(case)
            if not self.ahead:
                return
            if self.exhausted:
                size = self._size()
            chunk, self.ahead = self.ahead[:size], self.ahead[size:]
            self.chunks.append(self._submit(chunk))

    def _size(self) -> int:
        """Double the chunk size every round of tasks; near the end, share what is left
        evenly among the threads (two tasks each) so that no thread finishes long after."""
        size = min(MAX_CHUNK, FIRST_CHUNK << min(16, self.sent_tasks // self.threads))
        if self.exhausted:
            share = -(-len(self.ahead) // (2 * self.threads))
            size = min(size, max(MIN_CHUNK, share))
        return size

    def _submit(self, cases: list[Case]) -> _Chunk:
        self.sent_tasks += 1
        self.sent_cases += len(cases)
        future = self.client.submit(run_chunk, cases, self.settings, self.run, pure=False)
        return _Chunk(cases, future)

    def _wait(self) -> None:
        """Wait for at least one unfinished task (or POLL seconds), then collect every task that
        ended: its results, or, for a failed one, what the failure means for its cases."""
        self._retry_one_alone()
        pending = [c.future for c in self.chunks if c.future is not None]
        try:
            with self.client.as_current():
                self.distributed.wait(pending, timeout=POLL, return_when="FIRST_COMPLETED")
        except TimeoutError:
            self._look_at_cluster()
            return
        except self.distributed.client.FuturesCancelledError:
            pass  # some task was cancelled: each is collected below, as its reason says
        k = 0
        while k < len(self.chunks):
            chunk = self.chunks[k]
            if chunk.future is not None and chunk.future.done():
                self.chunks[k:k + 1] = self._collect(chunk)
            k += 1

    def _collect(self, chunk: _Chunk) -> list[_Chunk]:
        """The chunk with its results, or the chunks that replace a failed one."""
        future = chunk.future
        try:
            chunk.results = future.result()
        except self.distributed.client.FutureCancelledError as exc:
            if exc.reason == "scheduler-connection-lost" or self.client.status != "running":
                raise _Lost(self._lost_reason()) from exc
            return [self._submit(chunk.cases)]  # cancelled by someone else: send it again
        except self.distributed.KilledWorker:
            if len(chunk.cases) > 1:
                half = len(chunk.cases) // 2
                return [self._submit(chunk.cases[:half]), self._submit(chunk.cases[half:])]
            chunk.strikes += 1
            if chunk.strikes < STRIKES:  # it may only have shared a worker with the culprit
                return [chunk]  # sent again alone (`_retry_one_alone`)
            chunk.results = [self._error(chunk.cases[0], "every Dask worker that ran this case "
                                                         "died while running it (KilledWorker)")]
        except Exception as exc:  # noqa: BLE001 - the task could not run: say why, per case
            if self.client.status != "running":
                raise _Lost(self._lost_reason()) from exc
            chunk.results = [self._error(c, f"the Dask task failed ({_reason(exc)})")
                             for c in chunk.cases]
        finally:
            chunk.future = None
            with contextlib.suppress(Exception):  # a client that lost its scheduler may refuse
                future.release()
        return [chunk]

    def _retry_one_alone(self) -> None:
        """Send again one single case Dask gave up on, when no other such case is out: a case
        that merely shared a worker with the one that killed it then runs without it."""
        waiting = [c for c in self.chunks if c.strikes and c.results is None]
        if waiting and all(c.future is None for c in waiting):
            waiting[0].future = self._submit(waiting[0].cases).future

    def _error(self, case: Case, why: str) -> CaseResult:
        return CaseResult(case.index, case.line, case.id, case.program, "error", kind="error",
                          message=f"{self.settings.origin}:{case.line}: error: {why}")

    def _lost_reason(self) -> str:
        return f"lost the Dask scheduler at {shown(self.address)}"

    def _look_at_cluster(self) -> None:
        """While waiting: the scheduler must answer, and some worker must be there to run."""
        if self.client.status != "running":
            raise _Lost(self._lost_reason())
        try:
            threads = self._count_threads()
        except Exception as exc:  # noqa: BLE001 - no answer: the scheduler is gone
            raise _Lost(self._lost_reason()) from exc
        if threads:
            self.no_workers_since = None
            return
        now = time.monotonic()
        if self.no_workers_since is None:
            self.no_workers_since = now
        if now - self.no_workers_since >= self.patience:
            raise _Lost(f"no Dask worker at {shown(self.address)} for {self.patience:g} s")

    def _count_threads(self) -> int:
        """Worker threads now (chunks are sized for at least one)."""
        threads = sum(self.client.nthreads().values())
        self.threads = threads or 1
        return threads

    def stop(self) -> None:
        futures = [c.future for c in self.chunks if c.future is not None]
        with contextlib.suppress(Exception):
            if futures and self.client.status == "running":
                self.client.cancel(futures)
        with contextlib.suppress(Exception):
            self.client.close(timeout=5)


def _reason(exc: BaseException) -> str:
    text = str(exc).split("\n", 1)[0]
    return shown(f"{type(exc).__name__}: {text}" if text else type(exc).__name__,
                 HEADLINE_LIMIT // 2)


def _quiet_logs() -> None:
    """The client's own log lines (reconnecting, a lost scheduler) stay off stderr, for the
    rest of the process (they may come from its threads after the run): the run says what
    happened in one line of its own."""
    names = [n for n in logging.root.manager.loggerDict if n.startswith("distributed.")]
    for name in ("distributed", *names):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def _worker_version() -> str:
    from .. import __version__

    return __version__


# On the worker -------------------------------------------------------------------------------

def run_chunk(cases: list[Case], settings: Settings,
              run: Callable[[Case, Settings], CaseResult] = run_case) -> list[CaseResult]:
    """One task: every case of the chunk in order, each its own result, never a raise.

    A case is limited by run_case alone, as in the local runners: its budgets count work, and
    its wall-clock guard (deadline.py, which reaches any thread) raises a timeout into the
    case's thread. The cases run in a thread of their own only for the far last guard: a case
    that guard cannot stop (inside C code) KILL_GRACE seconds past the limit is reported as a
    timeout and its thread left behind, as the pool kills a stuck worker, and the chunk goes
    on with the next case in a new thread."""
    me = object()
    _TURNS.take(me)  # the warm-up checks a case too: in turn with the other threads' cases
    try:
        warm_up(settings)
    finally:
        _TURNS.give(me)
    with _NO_CYCLE_COLLECTOR:
        return _run_all(cases, settings, run)


def _run_all(cases: list[Case], settings: Settings,
             run: Callable[[Case, Settings], CaseResult]) -> list[CaseResult]:
    limit = settings.timeout or 0
    results: list[CaseResult] = []
    while len(results) < len(cases):
        runner = _Runner(cases[len(results):], settings, run)
        runner.start()
        stuck = runner.wait_or_leave(limit + KILL_GRACE if limit else None)
        results += runner.results
        if stuck is not None:
            results.append(CaseResult(
                stuck.index, stuck.line, stuck.id, stuck.program, "timeout",
                seconds=limit + KILL_GRACE, kind="timeout",
                message=f"{settings.origin}:{stuck.line}: timeout: the case took longer than "
                        f"{limit:g} s (its thread could not be stopped)"))
    return results


class _CyclesOff:
    """Python's cyclic garbage collector off while any chunk of this process runs, as in the
    local pool's workers (forked from the command, which turns it off: checking a case makes
    no reference cycles). A Dask worker keeps it on, and in its process, which holds Dask's
    own objects too, it cost about 4 % of the CPU a case takes (counted with process_time).
    Turned back on when the last running chunk ends (while another runs on, the young
    generations are collected instead), so the worker's own cycles do not pile up."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running = 0
        self.was_on = False

    def __enter__(self) -> None:
        with self.lock:
            if self.running == 0:
                self.was_on = gc.isenabled()
                gc.disable()
            self.running += 1

    def __exit__(self, *exc_info) -> None:
        with self.lock:
            self.running -= 1
            if not self.was_on:
                return
            if self.running == 0:
                gc.enable()
            else:  # another thread's chunk runs on: the young cycles (Dask's own) collected now
                gc.collect(1)


_NO_CYCLE_COLLECTOR = _CyclesOff()


class _Turns:
    """One case at a time in this worker process, whatever its --nthreads: sympy's numbers
    are mpmath's, whose precision is one setting for the whole process (`workdps` sets it and
    puts it back), so two cases checked side by side could each compute at the other's
    precision, or leave it changed. Threads of one process share one core's worth of Python,
    so taking turns costs them nothing. A case left behind (stuck in C code) gives up its
    turn, so the cases after it run."""

    def __init__(self):
        self.cond = threading.Condition()
        self.holder: object | None = None

    def take(self, who: object) -> None:
        with self.cond:
            while self.holder is not None:
                self.cond.wait()
            self.holder = who

    def give(self, who: object) -> None:
        """Give up `who`'s turn (nothing when the turn is no longer its own)."""
        with self.cond:
            if self.holder is who:
                self.holder = None
                self.cond.notify()


_TURNS = _Turns()


class _Runner(threading.Thread):
    """Runs cases in order, one at a time in the process (`_TURNS`); `results`, `started` and
    `waiting` (under `lock`) say how far, since when the running case runs, and whether it
    waits for its turn."""

    def __init__(self, cases: list[Case], settings: Settings, run: Callable):
        super().__init__(daemon=True, name="backprop-cases")
        self.cases = cases
        self.settings = settings
        self.run_one = run
        self.results: list[CaseResult] = []
        self.lock = threading.Lock()
        self.started = time.monotonic()  # when the running case began
        self.waiting = False  # for its turn: no time of its own is spent
        self.left = False  # the chunk gave up on this thread: it must add nothing more
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            for case in self.cases:
                res = self._run_in_turn(case)
                with self.lock:
                    if self.left:
                        return
                    self.results.append(res)
        finally:
            self.finished.set()

    def _run_in_turn(self, case: Case) -> CaseResult:
        with self.lock:
            self.waiting = True
        _TURNS.take(self)
        try:
            with self.lock:
                self.waiting, self.started = False, time.monotonic()
            return self.run_one(case, self.settings)
        except Exception as exc:  # noqa: BLE001 - run_case never raises; a stand-in may
            return _failed(case, self.settings, exc)
        finally:
            _TURNS.give(self)

    def wait_or_leave(self, most: float | None) -> Case | None:
        """Wait for the thread to finish; when one case has run `most` seconds, give up on the
        thread, and its turn, and return that case (None: no such limit)."""
        while not self.finished.wait(self._left_of(most)):
            with self.lock:
                if not self.waiting and time.monotonic() - self.started >= most:
                    self.left = True
                    _TURNS.give(self)
                    return self.cases[len(self.results)]
        return None

    def _left_of(self, most: float | None) -> float | None:
        if most is None:
            return None
        with self.lock:
            if self.waiting:  # its time has not begun: look again later
                return 0.5
            return max(0.0, self.started + most - time.monotonic()) + 1e-3


def _failed(case: Case, settings: Settings, exc: Exception) -> CaseResult:
    return CaseResult(case.index, case.line, case.id, case.program, "error",
                      kind="internal error",
                      message=f"{settings.origin}:{case.line}: internal error: {_reason(exc)} "
                              f"(please report this)")

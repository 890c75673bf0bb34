"""`check --dask`: cases go out many to a task and come back in file order; a case keeps its own
result and time limit inside its chunk; a worker or the scheduler going away loses no case.

The quick tests drive the client loop against a stand-in cluster (tasks run in this process)
and count tasks, cases held and results; the slow ones start a real scheduler and workers
(`distributed`'s own command lines, separate processes on 127.0.0.1) and kill them mid-run."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest

from backprop_cli.batch import dask as batch_dask
from backprop_cli.batch.case import Case
from backprop_cli.batch.report import RunLost
from backprop_cli.batch.run import CaseResult, Settings

ROOT = Path(__file__).resolve().parent.parent


def passing(case: Case, settings: Settings) -> CaseResult:
    """A stand-in for run_case that costs nothing: every case passes."""
    return CaseResult(case.index, case.line, case.id, case.program, "pass")


def make_cases(n: int, special: dict[int, str] | None = None):
    special = special or {}
    for k in range(n):
        yield Case(k, k + 2, f"line {k + 2}", special.get(k, "x*y"), (("x", 1.0), ("y", 2.0)))


# A stand-in for the distributed package: futures are done at once (their chunk runs on
# result()), and a hook decides which chunks fail and how.

class Killed(Exception):
    pass


class Cancelled(Exception):
    def __init__(self, reason: str):
        super().__init__(f"cancelled for reason: {reason}")
        self.reason = reason


class CancelledSome(Exception):
    """distributed.wait's own complaint when a future it waited on was cancelled."""


FAKE = types.SimpleNamespace(KilledWorker=Killed,
                             client=types.SimpleNamespace(FutureCancelledError=Cancelled,
                                                          FuturesCancelledError=CancelledSome),
                             wait=lambda *a, **k: None)


class FakeFuture:
    def __init__(self, client, cases, settings, run):
        self.client, self.cases, self.settings, self.run = client, cases, settings, run

    def done(self):
        return True

    def result(self):
        failure = self.client.fail(self.cases)
        if failure is not None:
            raise failure
        return batch_dask.run_chunk(self.cases, self.settings, self.run)

    def release(self):
        self.client.released += 1


class FakeClient:
    status = "running"

    def __init__(self, threads=2, fail=lambda cases: None):
        self.threads = threads
        self.fail = fail
        self.sizes: list[int] = []
        self.released = 0

    def submit(self, fn, cases, settings, run, pure):
        assert fn is batch_dask.run_chunk and pure is False
        self.sizes.append(len(cases))
        return FakeFuture(self, cases, settings, run)

    def nthreads(self):
        return {f"tcp://w{k}": 1 for k in range(self.threads)}

    def as_current(self):
        return contextlib.nullcontext()


def fake_run(client, cases, run=passing, patience=60.0):
    runner = batch_dask._Run(FAKE, client, "tcp://fake", Settings(origin="c.txt"), run,
                             patience)
    runner._count_threads()
    return runner.results(iter(cases))


class Reader:
    """Cases handed out and results taken back: how far the client reads ahead."""

    def __init__(self, n: int):
        self.n = n
        self.read = 0
        self.back = 0
        self.most_ahead = 0

    def cases(self):
        for case in make_cases(self.n):
            self.read += 1
            self.most_ahead = max(self.most_ahead, self.read - self.back)
            yield case

    def took(self):
        self.back += 1


def test_chunks_start_small_grow_to_the_cap_and_share_the_end():
    client = FakeClient(threads=2)
    out = [r.index for r in fake_run(client, make_cases(10_000))]
    assert out == list(range(10_000))
    sizes = client.sizes
    assert sizes[:2] == [16, 16] and sizes[2:4] == [32, 32]
    assert max(sizes) == batch_dask.MAX_CHUNK
    assert sum(sizes) == 10_000 and len(sizes) == 42  # as docs/batch.md says; not 1 per case
    tail = sizes[sizes.index(max(sizes)):]
    assert tail[-1] <= 2 * batch_dask.MIN_CHUNK and tail == sorted(tail, reverse=True)
    assert client.released == len(sizes)  # every task's result is let go once taken


def test_a_small_file_is_shared_among_the_threads():
    client = FakeClient(threads=4)
    assert [r.index for r in fake_run(client, make_cases(40))] == list(range(40))
    assert client.sizes == [16, 8, 8, 8]


def test_the_client_holds_a_bounded_number_of_cases_however_long_the_file():
    reader = Reader(50_000)
    for _ in fake_run(FakeClient(threads=2), reader.cases()):
        reader.took()
    held = batch_dask.HELD_PER_THREAD * 2 * batch_dask.MAX_CHUNK + batch_dask.LOOKAHEAD
    assert reader.back == 50_000 and reader.most_ahead <= held


def test_a_chunk_dask_gave_up_on_is_split_down_to_the_case_that_kills_its_workers():
    def fail(cases):
        if any(c.index == 777 for c in cases):
            return Killed("Attempted to run task run_chunk-abc on 4 different workers, "
                          "but all those workers died while running it.")
        return None

    client = FakeClient(threads=2, fail=fail)
    out = list(fake_run(client, make_cases(3000)))
    assert [r.index for r in out] == list(range(3000))
    bad = [r for r in out if r.status != "pass"]
    assert [(r.index, r.status) for r in bad] == [(777, "error")]
    assert bad[0].message == ("c.txt:779: error: every Dask worker that ran this case died "
                              "while running it (KilledWorker)")
    assert len(client.sizes) < 3000 / 64 + 12  # a halving per level, not a task per case


def test_a_case_that_only_shared_a_worker_with_the_culprit_is_run_again_and_passes():
    seen = {"776": 0}

    def fail(cases):
        if any(c.index == 777 for c in cases):
            return Killed("died")
        if [c.index for c in cases] == [776]:
            seen["776"] += 1
            if seen["776"] == 1:  # queued on the worker the culprit took down
                return Killed("died")
        return None

    out = list(fake_run(FakeClient(threads=2, fail=fail), make_cases(3000)))
    assert [r.index for r in out] == list(range(3000))
    assert [(r.index, r.status) for r in out if r.status != "pass"] == [(777, "error")]
    assert seen["776"] == 2  # given up on once, then passed alone


def test_a_task_that_cannot_run_makes_each_of_its_cases_an_error_with_the_reason():
    client = FakeClient(fail=lambda cases: ModuleNotFoundError("No module named 'sympy'")
                        if cases[0].index == 0 else None)
    out = list(fake_run(client, make_cases(100)))
    assert [r.index for r in out] == list(range(100))
    errors = [r for r in out if r.status == "error"]
    assert len(errors) == client.sizes[0] == 16
    assert errors[3].message == ("c.txt:5: error: the Dask task failed (ModuleNotFoundError: "
                                 "No module named 'sympy')")


def test_a_lost_scheduler_hands_over_what_finished_and_counts_the_rest_not_run():
    client = FakeClient()
    client.fail = lambda cases: (Cancelled("scheduler-connection-lost")
                                 if len(client.sizes) > 5 else None)
    got = []
    with pytest.raises(RunLost) as lost:
        for r in fake_run(client, make_cases(5000)):
            got.append(r.index)
    assert got == list(range(len(got))) and got  # in order, none twice
    assert len(got) + lost.value.not_run == 5000
    assert str(lost.value) == "lost the Dask scheduler at tcp://fake"


def test_a_lost_scheduler_is_lost_too_when_the_wait_says_its_tasks_were_cancelled():
    client = FakeClient()
    client.fail = lambda cases: (Cancelled("scheduler-connection-lost")
                                 if len(client.sizes) > 5 else None)

    def wait(*a, **k):  # distributed.wait raises when a future it waits on was cancelled
        if len(client.sizes) > 5:
            raise CancelledSome("2 Futures cancelled")

    runner = batch_dask._Run(types.SimpleNamespace(**{**vars(FAKE), "wait": wait}), client,
                             "tcp://fake", Settings(), passing, 60.0)
    got = []
    with pytest.raises(RunLost) as lost:
        for r in runner.results(make_cases(5000)):
            got.append(r.index)
    assert got == list(range(len(got))) and got
    assert len(got) + lost.value.not_run == 5000


def test_no_worker_left_stops_the_run_after_the_patience():
    client = FakeClient()
    futures_done = {"now": True}

    class Slow(FakeFuture):
        def done(self):
            return futures_done["now"]

    client.submit = lambda fn, cases, settings, run, pure: (
        client.sizes.append(len(cases)) or Slow(client, cases, settings, run))

    def wait(*a, **k):
        futures_done["now"] = False  # the first results came back; then the workers went
        client.threads = 0
        raise TimeoutError

    runner = batch_dask._Run(types.SimpleNamespace(**{**vars(FAKE), "wait": wait}), client,
                             "tcp://fake", Settings(), passing, patience=0.0)
    with pytest.raises(RunLost) as lost:
        list(runner.results(make_cases(300)))
    assert str(lost.value) == "no Dask worker at tcp://fake for 0 s"
    assert lost.value.not_run == 300


def test_ctrl_c_hands_over_the_finished_cases_then_stops():
    client = FakeClient()
    calls = {"n": 0}

    def wait(*a, **k):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt

    runner = batch_dask._Run(types.SimpleNamespace(**{**vars(FAKE), "wait": wait}), client,
                             "tcp://fake", Settings(), passing, 60.0)
    got = []
    with pytest.raises(KeyboardInterrupt):
        for r in runner.results(make_cases(2000)):
            got.append(r.index)
    assert got == list(range(len(got))) and got


@pytest.mark.parametrize("answer, message", [
    (ModuleNotFoundError("No module named 'backprop_cli'"),
     "the Dask workers at tcp://fake cannot run backprop: ModuleNotFoundError: No module named "
     "'backprop_cli' (install backprop-cli on every worker)"),
    ({"tcp://w0": "0.0.1"}, "the Dask worker tcp://w0 runs backprop-cli 0.0.1, this is {v} "
                            "(install the same version on every worker)"),
])
def test_workers_that_cannot_run_this_backprop_are_refused_before_any_case(answer, message):
    from backprop_cli import __version__
    from backprop_cli.errors import BackpropError

    client = FakeClient()

    def run(fn):
        if isinstance(answer, Exception):
            raise answer
        return answer

    client.run = run
    runner = batch_dask._Run(FAKE, client, "tcp://fake", Settings(), passing, 60.0)
    with pytest.raises(BackpropError) as err:
        runner.check_workers()
    assert err.value.render() == "error: " + message.format(v=__version__)
    assert client.sizes == []


@pytest.fixture
def stalling(monkeypatch):
    """evaluate at x=7 loops in Python forever (what a stalled sympy is); at x=8 it waits in C
    code forever, where no raised exception lands."""
    import backprop_cli.evaluate

    real = backprop_cli.evaluate.evaluate

    def evaluate(program, bindings, *args, **kwargs):
        while bindings.get("x") == 7.0:
            pass
        if bindings.get("x") == 8.0:
            threading.Event().wait()
        return real(program, bindings, *args, **kwargs)

    monkeypatch.setattr(backprop_cli.evaluate, "evaluate", evaluate)


def at(index: int, x: float) -> Case:
    return Case(index, index + 2, f"line {index + 2}", "x*y", (("x", x), ("y", 2.0)))


def test_a_case_over_the_limit_is_its_own_timeout_and_the_chunk_goes_on(stalling, monkeypatch):
    monkeypatch.setattr(batch_dask, "KILL_GRACE", 0.3)
    cases = [at(k, {1: 7.0, 4: 8.0}.get(k, 1.0)) for k in range(6)]
    out = batch_dask.run_chunk(cases, Settings(origin="c.txt", timeout=1.0, sympy=False))
    assert [(r.index, r.status) for r in out] == [
        (0, "pass"), (1, "timeout"), (2, "pass"), (3, "pass"), (4, "timeout"), (5, "pass")]
    assert out[1].message == "c.txt:3: timeout: the case took longer than 1 s"
    assert out[4].message == ("c.txt:6: timeout: the case took longer than 1 s (its thread "
                              "could not be stopped)")


def test_a_real_case_over_the_limit_gets_the_local_runner_s_timeout_record(stalling):
    from backprop_cli.batch.run import run_case

    cases = [at(0, 1.0), at(1, 7.0), at(2, 1.0)]
    settings = Settings(origin="c.txt", timeout=1.0, sympy=False)
    out = batch_dask.run_chunk(cases, settings)
    assert [r.status for r in out] == ["pass", "timeout", "pass"]
    # No upper bound on the seconds: the loop never ends, so only the interrupt stopped it.
    assert out[1].kind == "timeout" and 1.0 <= out[1].seconds
    strip = lambda r: {**vars(r), "seconds": 0}  # noqa: E731
    assert strip(out[1]) == strip(run_case(cases[1], settings))


def test_a_chunk_runs_real_cases_as_the_local_runner_does():
    from backprop_cli.batch.run import run_case

    cases = [Case(0, 2, "line 2", "(x+y)*z", (("x", -2.0), ("y", 5.0), ("z", -4.0))),
             Case(1, 3, "line 3", "log(x)", (("x", -1.0),))]
    settings = Settings(origin="c.txt")
    here = [run_case(c, settings) for c in cases]
    there = batch_dask.run_chunk(cases, settings)
    strip = lambda r: {**vars(r), "seconds": 0}  # noqa: E731
    assert [strip(r) for r in there] == [strip(r) for r in here]


def side_by_side(work, threads: int) -> None:
    """work(0), ..., work(threads - 1), each in a thread of its own, all at once, the threads
    taking turns often."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        running = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for t in running:
            t.start()
        for t in running:
            t.join()
    finally:
        sys.setswitchinterval(before)


def test_chunks_run_side_by_side_take_turns_and_give_the_serial_records():
    """A worker of two threads runs two chunks at once: sympy's numbers are mpmath's, whose
    precision is one setting for the process, so cases take turns. Without them, a case
    computed at the other's precision (a record that differed) and mpmath was left at 30
    digits."""
    import mpmath

    from backprop_cli.batch.run import run_case

    settings = Settings(origin="c.txt")
    cases = [Case(k, k + 2, f"line {k + 2}", "tanh(x*y) + x**2",
                  (("x", k % 7 - 3.5), ("y", k % 3 + 0.25))) for k in range(60)]
    alone = [run_case(c, settings).record for c in cases]
    dps = mpmath.mp.dps
    out: dict[int, list] = {}

    def work(t: int) -> None:
        out[t] = [r.record for r in batch_dask.run_chunk(cases, settings)]

    side_by_side(work, 2)
    assert out[0] == out[1] == alone
    assert mpmath.mp.dps == dps


def test_the_cyclic_collector_is_off_while_chunks_run_and_back_on_after():
    """As in the pool's workers (forked from the command, which turns it off): off while any
    chunk of the process runs, also when two overlap, and on again when the last one ends."""
    import gc

    seen: list[bool] = []

    def look(case: Case, settings: Settings) -> CaseResult:
        seen.append(gc.isenabled())
        return CaseResult(case.index, case.line, case.id, case.program, "pass")

    cases = [Case(k, k + 1, f"line {k + 1}", "x", (("x", 1.0),)) for k in range(8)]
    assert gc.isenabled()
    side_by_side(lambda t: batch_dask.run_chunk(cases, Settings(), look), 2)
    assert seen == [False] * 16
    assert gc.isenabled()
    gc.disable()  # a process that keeps it off (the command itself) keeps it off
    try:
        batch_dask.run_chunk(cases, Settings(), look)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_each_thread_keeps_its_own_parsed_graphs():
    """Each thread's cache of parsed graphs is its own (no two threads evict from one dict):
    cases run from four threads at once, past the cache's size, get one thread's records."""
    from backprop_cli.batch import run as batch_run

    settings = Settings(numeric=False, sympy=False)
    batch_run.warm_up(settings)
    cases = [Case(k, k + 1, f"line {k + 1}", f"x*y + {k % 300}", (("x", 1.5), ("y", 2.0)))
             for k in range(900)]
    alone = [batch_run.run_case(c, settings).record for c in cases]
    assert len(batch_run._parsed_graphs()) == batch_run.PARSED_KEEP
    out: dict[int, list] = {}

    def work(t: int) -> None:
        assert batch_run._parsed_graphs() == {}  # nothing of another thread's
        out[t] = [batch_run.run_case(c, settings).record for c in cases]

    side_by_side(work, 4)
    assert [out[t] for t in range(4)] == [alone] * 4


@pytest.mark.parametrize("address, message", [
    ("nonsense://x", "error: --dask nonsense://x is not a Dask scheduler address: unknown "
                     "address scheme 'nonsense' (such as tcp://HOST:8786)"),
    ("tcp://", "error: --dask tcp:// names no host (such as tcp://HOST:8786)"),
    ("tcp://127.0.0.1", "error: cannot reach the Dask scheduler at tcp://127.0.0.1: missing "
                        "port number in address '127.0.0.1'"),
])
def test_an_address_no_scheduler_can_have_is_one_line_and_exit_2(tmp_path, address, message):
    pytest.importorskip("distributed")
    cases = tmp_path / "cases.txt"
    cases.write_text('"x*y" x=1 y=2\n')
    done = subprocess.run([sys.executable, "-m", "backprop_cli", "check", str(cases), "--dask",
                           address], capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", message + "\n")


# A real cluster: a scheduler and workers as separate processes on 127.0.0.1 ------------------

class Cluster:
    """`python -m distributed.cli.dask_scheduler` and `..dask_worker` processes; stopped (by
    their own pids) on exit."""

    def __init__(self, tmp: Path, workers: int, nanny: bool = False, env: dict | None = None,
                 threads: int = 1):
        self.tmp = tmp
        self.env = {**os.environ, "PYTHONPATH": str(ROOT / "tests"), **(env or {})}
        self.procs: list[subprocess.Popen] = []
        file = tmp / "scheduler.json"
        self.scheduler = self._start("scheduler", "distributed.cli.dask_scheduler", "--host",
                                     "127.0.0.1", "--port", "0", "--no-dashboard",
                                     "--scheduler-file", str(file))
        self.address = self._address(file)
        self.workers = [self._start(f"w{k}", "distributed.cli.dask_worker", self.address,
                                    "--nthreads", str(threads), "--no-dashboard", "--name", f"w{k}",
                                    *(() if nanny else ("--no-nanny",)))
                        for k in range(workers)]
        self.wait_for(workers)

    def _start(self, name: str, module: str, *args: str) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", module, *args], stdout=log,
                                stderr=subprocess.STDOUT, env=self.env, cwd=self.tmp)
        self.procs.append(proc)
        return proc

    def _address(self, file: Path) -> str:
        for _ in range(600):  # 60 s at most; each look is 0.1 s
            if file.exists() and file.stat().st_size:
                with contextlib.suppress(ValueError):
                    return json.loads(file.read_text())["address"]
            if self.scheduler.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("the scheduler did not start: "
                             + (self.tmp / "scheduler.log").read_text()[-2000:])

    def wait_for(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout="30s", set_as_default=False) as client:
            client.wait_for_workers(n, timeout=120)

    def busy_worker(self) -> subprocess.Popen:
        """A worker process running a task now."""
        from distributed import Client

        with Client(self.address, timeout="30s", set_as_default=False) as client:
            names = {a: w["name"] for a, w in client.scheduler_info()["workers"].items()}
            busy = [names[a] for a, keys in client.processing().items() if keys]
        assert busy, "no worker is running a task"
        return self.workers[int(busy[0][1:])]

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.kill()
            proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def case_file(path: Path, n: int) -> Path:
    path.write_text("".join(f'{{"id": "c{k}", "expr": "tanh(x*y) + x**2", '
                            f'"at": {{"x": {k % 7 - 3}.5, "y": {k % 5}.25}}}}\n'
                            for k in range(n)))
    return path


def start_check(path: Path, address: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "backprop_cli", "check", str(path), "--dask",
                             address, "--jsonl", "--no-sympy", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def finish(proc: subprocess.Popen, timeout: float) -> tuple[list[dict], str]:
    """The rest of the case lines, the summary last, and stderr (communicate() would skip
    what readline already buffered)."""
    rest = proc.stdout.read()
    err = proc.stderr.read()
    proc.wait(timeout)
    return [json.loads(x) for x in rest.splitlines()], err


def read_until(proc: subprocess.Popen, count: int) -> list[dict]:
    """The first `count` case lines the command writes (it keeps running)."""
    lines = []
    while len(lines) < count:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        lines.append(json.loads(line))
    return lines


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_no_case(tmp_path):
    pytest.importorskip("distributed")
    cases = case_file(tmp_path / "cases.jsonl", 4000)
    with Cluster(tmp_path, workers=2) as cluster:
        proc = start_check(cases, cluster.address)
        lines = read_until(proc, 200)
        cluster.busy_worker().kill()  # SIGKILL: its running and waiting chunks go with it
        rest, err = finish(proc, 600)
    lines += rest
    summary = lines.pop()["summary"]
    assert proc.returncode == 0, err
    assert [c["id"] for c in lines] == [f"c{k}" for k in range(4000)]
    assert {c["status"] for c in lines} == {"pass"}
    assert summary["total"] == summary["passed"] == 4000 and summary["not_run"] == 0


@pytest.mark.slow
def test_the_scheduler_killed_mid_run_reports_what_finished_and_exits_2(tmp_path):
    pytest.importorskip("distributed")
    cases = case_file(tmp_path / "cases.jsonl", 4000)
    with Cluster(tmp_path, workers=2) as cluster:
        proc = start_check(cases, cluster.address)
        lines = read_until(proc, 100)
        cluster.scheduler.kill()
        rest, err = finish(proc, 600)
    lines += rest
    assert proc.returncode == 2, err
    summary = lines.pop()["summary"]
    ids = [c["id"] for c in lines]
    assert len(set(ids)) == len(ids) == summary["total"] < 4000
    assert ids[:100] == [f"c{k}" for k in range(100)]
    assert summary["total"] + summary["not_run"] == 4000
    assert summary["exit_code"] == 2
    assert err == (f"error: lost the Dask scheduler at {cluster.address}: "
                   f"{summary['total']:,} cases finished and reported, "
                   f"{summary['not_run']:,} not run\n")


def kill_on_boom(case: Case, settings: Settings) -> CaseResult:
    """A case that takes its worker down with it, as one that runs out of memory would."""
    if case.program == "boom":
        os._exit(9)
    from backprop_cli.batch.run import run_case

    return run_case(case, settings)


@pytest.mark.slow
def test_a_case_that_kills_every_worker_it_runs_on_is_that_case_s_error(tmp_path):
    pytest.importorskip("distributed")
    # Dask gives up on a task at the first worker it kills; the nannies start new workers.
    env = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    with Cluster(tmp_path, workers=2, nanny=True, env=env) as cluster:
        results = list(batch_dask.run_dask(make_cases(64, {37: "boom"}),
                                           Settings(origin="c.txt", sympy=False),
                                           cluster.address, run=kill_on_boom))
    assert [r.index for r in results] == list(range(64))
    bad = [r for r in results if r.status != "pass"]
    assert [(r.index, r.status) for r in bad] == [(37, "error")]
    assert bad[0].message == ("c.txt:39: error: every Dask worker that ran this case died "
                              "while running it (KilledWorker)")


@pytest.mark.slow
def test_ctrl_c_on_a_dask_run_keeps_every_finished_case(tmp_path):
    pytest.importorskip("distributed")
    cases = case_file(tmp_path / "cases.jsonl", 4000)
    with Cluster(tmp_path, workers=2) as cluster:
        proc = start_check(cases, cluster.address)
        lines = read_until(proc, 100)
        proc.send_signal(signal.SIGINT)
        rest, err = finish(proc, 120)
    lines += rest
    summary = lines.pop()["summary"]
    assert proc.returncode == 130
    assert err == "interrupted: the summary counts the cases that finished\n"
    assert summary["interrupted"] is True and len(lines) < 4000
    # check.py counts a case, then writes it: a Ctrl-C landing between the two (in the write)
    # counts one case not written. The same holds for --jobs; not a Dask matter.
    assert len(lines) <= summary["total"] <= len(lines) + 1
    assert {c["status"] for c in lines} == {"pass"}
    assert len({c["id"] for c in lines}) == len(lines)


@pytest.mark.slow
def test_the_client_keeps_no_message_of_tasks_long_gone(tmp_path):
    """distributed's client logs its last 1,000 messages to the scheduler, each holding a
    task's cases: memory that grew with the file until that log was turned off."""
    import gc

    pytest.importorskip("distributed")
    with Cluster(tmp_path, workers=2) as cluster:
        sent = 0
        for r in batch_dask.run_dask(make_cases(20_000), Settings(), cluster.address,
                                     run=passing):
            if r.index == 19_000:
                gc.collect()
                sent = sum(1 for x in gc.get_objects()
                           if isinstance(x, dict) and x.get("op") == "update-graph")
    assert sent <= batch_dask.HELD_PER_THREAD * 2  # the tasks held now, none from before


@pytest.mark.slow
def test_the_client_leaves_no_garbage_that_grows_with_the_run(tmp_path):
    """The command runs with the cyclic collector off (cli.py); the client's event loop makes
    reference cycles as it goes (tornado's coroutines, asyncio's handles): left uncollected
    they grew the client by megabytes over 10^6 cases (0.066 cyclic objects a case). Counted
    where the run ends, before the client closes: what the collector finds then is only what
    it had no turn to take yet, not a share of every case."""
    import gc

    pytest.importorskip("distributed")
    n = 50_000
    with Cluster(tmp_path, workers=2) as cluster:
        gc.collect()
        gc.disable()
        try:
            found = None
            for r in batch_dask.run_dask(make_cases(n), Settings(), cluster.address,
                                         run=passing):
                if r.index == n - 1:
                    found = gc.collect()
            assert not gc.isenabled()  # the command's setting is back
        finally:
            gc.enable()
    assert found is not None and found < n / 50, found  # 3,300 before: 0.066 a case


def test_the_cyclic_collector_runs_in_the_client_and_is_put_back():
    import gc

    for was_on in (False, True):
        (gc.enable if was_on else gc.disable)()
        try:
            with batch_dask._cycles_collected():
                assert gc.isenabled()
            assert gc.isenabled() is was_on
        finally:
            gc.enable()


# Few programs at many points, with every kind of record: a pass (sympy on), an unchecked
# gradient at a kink, a failed expectation, a bad binding and an error the program raises.
FEW_PROGRAMS = ('"tanh(x*y) + x**2" x={a} y={b}',
                '"relu(x) * y" x=0 y={b}',
                '"(x+y)*z" x={a} y=5 z=-4 expect: x=-5',
                '"log(x) + y" x=-{b} y={a}',
                '"sin(x)/y" x={a} y=1_0')


@pytest.mark.slow
def test_a_worker_of_two_threads_gives_every_case_the_record_of_a_serial_run(tmp_path):
    """Two threads of one worker process run chunks side by side (each parsed-graph cache is
    its thread's own): every record is the --jobs 1 record, apart from `seconds`."""
    pytest.importorskip("distributed")
    path = tmp_path / "cases.txt"
    path.write_text("".join(FEW_PROGRAMS[k % 5].format(a=k % 7 - 3.5, b=k % 3 + 0.25) + "\n"
                            for k in range(1500)))

    def records(*extra: str) -> list[dict]:
        done = subprocess.run([sys.executable, "-m", "backprop_cli", "check", str(path),
                               "--jsonl", *extra], capture_output=True, text=True, cwd=ROOT,
                              timeout=900, check=False)
        assert done.returncode == 2, done.stderr  # the bad bindings
        lines = [json.loads(x) for x in done.stdout.splitlines()]
        for line in lines[:-1]:
            line.pop("seconds")
        return lines[:-1]

    serial = records("--jobs", "1")
    with Cluster(tmp_path, workers=1, threads=2) as cluster:
        there = records("--dask", cluster.address)
    assert {r["status"] for r in serial} == {"pass", "unchecked", "fail", "error"}
    assert len(there) == len(serial) == 1500
    for here, far in zip(serial, there, strict=True):
        assert far == here, {k: (here.get(k), far.get(k)) for k in {*here, *far}
                             if here.get(k) != far.get(k)}

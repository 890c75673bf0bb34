"""`backprop check` across processes and machines: same report whatever the jobs, stuck workers
replaced, Ctrl-C keeps what finished, and a Dask cluster on loopback gives the same answers."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from backprop_cli.batch import cases as batch_cases
from backprop_cli.batch import pool as batch_pool
from backprop_cli.batch import run as batch_run
from backprop_cli.cli import cli

TEMPLATES = [
    '"(x+y)*z" x={a} y={b} z=-4 expect: value={v} x=-4 z={s}',
    '"sigmoid(w0*x0 + w1*x1 + w2)" w0={a} x0=-1 w1=-3 x1={b} w2=-3',
    '{{"id": "j{n}", "expr": "x*y + y*z", "at": {{"x": {a}, "y": {b}, "z": 2}}}}',
    '"(x+y*z" x=1 y=2 z=3',  # a parse error
    '"x*y" x={a} y={b} expect: x={b}1',  # a wrong expectation (a digit appended)
    '"log(x)" x=-{n}',  # a domain error
]


def mixed_file(n: int) -> str:
    lines = ["# generated: passes, failures and errors"]
    for k in range(n):
        a, b = (k % 7) - 3, (k % 5) + 1
        lines.append(TEMPLATES[k % len(TEMPLATES)].format(
            a=a, b=b, n=k + 1, v=(a + b) * -4, s=a + b))
    return "\n".join(lines) + "\n"


def report_lines(path):
    """The report without timings (the one thing that differs run to run)."""
    out = []
    for line in path.read_text().splitlines():
        data = json.loads(line)
        data.pop("seconds", None)
        if "summary" in data:
            for k in ("seconds", "cases_per_second"):
                data["summary"].pop(k)
        out.append(data)
    return out


def test_serial_and_parallel_runs_give_identical_reports(tmp_path):
    cases = tmp_path / "cases.txt"
    cases.write_text(mixed_file(60))
    reports = {}
    for jobs in ("1", "2"):
        report = tmp_path / f"report{jobs}.jsonl"
        res = CliRunner().invoke(cli, ["check", str(cases), "--jobs", jobs, "--report",
                                       str(report)])
        assert res.exit_code == 2
        reports[jobs] = report_lines(report)
    assert reports["1"] == reports["2"]
    summary = reports["1"][-1]["summary"]
    assert (summary["passed"], summary["failed"], summary["errors"]) == (30, 10, 20)
    assert [c["line"] for c in reports["1"][:-1]] == list(range(2, 62))


def test_the_pool_streams_results_from_an_endless_file():
    def endless():
        n = 0
        while True:
            n += 1
            yield f'"x*{n}" x=1\n'

    settings = batch_run.Settings(origin="endless", sympy=False)
    results = batch_pool.run_cases(batch_cases.read_cases(endless()), settings, jobs=2)
    first = [next(results) for _ in range(20)]
    results.close()
    assert [r.gradients for r in first] == [(("x", float(n)),) for n in range(1, 21)]


def stuck(case, settings):
    """A case stuck where no alarm reaches it (like a long call into C code). It leaves its
    worker's pid where the test can see whether that worker was killed."""
    if case.program == "stuck":
        with open(os.environ["BACKPROP_TEST_STUCK_PID"], "w") as fh:
            fh.write(str(os.getpid()))
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(120)  # a kill ends this; a worker that lives on says so
        with open(os.environ["BACKPROP_TEST_STUCK_PID"], "a") as fh:
            fh.write(" survived")
    return batch_run.run_case(case, settings)


def test_a_worker_that_ignores_its_alarm_is_killed_and_replaced(monkeypatch, tmp_path):
    monkeypatch.setattr(batch_pool, "KILL_GRACE", 0.3)
    monkeypatch.setenv("BACKPROP_TEST_STUCK_PID", str(tmp_path / "stuck.pid"))
    lines = ['"x*2" x=1\n'] * 5 + ['"stuck" stuck=1\n'] + ['"x*3" x=1\n'] * 10
    settings = batch_run.Settings(origin="cases.txt", sympy=False, timeout=0.5)
    results = list(batch_pool.run_pool(batch_cases.read_cases(lines), settings, jobs=2, run=stuck))
    # The stuck worker is gone (killed, not waited out), and the run
    # finished every case after it on a replacement.
    pid = int((tmp_path / "stuck.pid").read_text())  # no " survived" after it
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert [r.status for r in results] == ["pass"] * 5 + ["timeout"] + ["pass"] * 10
    assert results[5].message == ("cases.txt:6: timeout: the case took longer than 0.5 s "
                                  "(its worker was stopped)")
    assert [r.index for r in results] == list(range(16))


def crash(case, settings):
    if case.program == "crash":
        os._exit(7)
    return batch_run.run_case(case, settings)


def test_a_worker_that_dies_is_an_error_for_its_case_only():
    lines = ['"x*2" x=1\n'] * 9 + ['"crash" crash=1\n'] + ['"x*3" x=1\n'] * 9
    settings = batch_run.Settings(origin="cases.txt", sympy=False)
    results = list(batch_pool.run_pool(batch_cases.read_cases(lines), settings, jobs=2, run=crash))
    assert [r.status for r in results] == ["pass"] * 9 + ["error"] + ["pass"] * 9
    assert results[9].message == ("cases.txt:10: error: the worker process died while "
                                  "checking this case (exit code 7)")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_stops_cleanly_with_a_summary_and_keeps_the_report(tmp_path, jobs):
    # Each case takes sympy a moment, so the run is still going when Ctrl-C arrives.
    line = '"tanh(x*y + exp(-x)) * log(1 + exp(y*x))" x={a} y=0.7\n'
    cases = tmp_path / "cases.txt"
    cases.write_text("".join(line.format(a=k / 100 + 0.01) for k in range(2000)))
    report = tmp_path / "report.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "backprop_cli", "check", str(cases), "--jobs", jobs,
         "--report", str(report), "--junit", str(tmp_path / "j.xml")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True)  # its own process group, as a terminal's foreground job
    # The report is written to a temporary file beside it, renamed into place at the end.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        temporary = list(tmp_path.glob(".report.jsonl.*.tmp"))
        if temporary and temporary[0].read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    assert not report.exists()
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole group gets SIGINT
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == \
        "interrupted: the summary counts the cases that finished"
    lines = [json.loads(x) for x in report.read_text().splitlines()]
    summary = lines[-1]["summary"]
    assert summary["interrupted"] is True
    assert 3 <= summary["total"] == len(lines) - 1 < 2000
    assert all(c["status"] == "pass" for c in lines[:-1])
    assert out.splitlines()[-1] == f"INTERRUPTED after {summary['total']:,} cases"
    assert list(tmp_path.glob(".*.tmp")) == []
    import xml.etree.ElementTree as ET

    suite = ET.parse(tmp_path / "j.xml").getroot()[0]  # the JUnit file is whole XML too
    assert len(suite.findall("testcase")) == int(suite.get("tests")) == summary["total"]
    assert suite.find("properties/property").get("name") == "interrupted"


@pytest.mark.slow
def test_dask_on_a_loopback_cluster_matches_the_serial_run(tmp_path):
    distributed = pytest.importorskip("distributed")
    cases = tmp_path / "cases.txt"
    cases.write_text(mixed_file(24))
    serial = tmp_path / "serial.jsonl"
    res = CliRunner().invoke(cli, ["check", str(cases), "--jobs", "1", "--report", str(serial)])
    assert res.exit_code == 2
    # In-process workers on a TCP loopback port: the client talks to it as to a remote one.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        on_dask = tmp_path / "dask.jsonl"
        res = CliRunner().invoke(cli, ["check", str(cases), "--dask", cluster.scheduler_address,
                                       "--report", str(on_dask)])
        assert res.exit_code == 2, res.output
    assert report_lines(on_dask) == report_lines(serial)


def test_without_the_dask_extra_the_command_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now fails
    cases = tmp_path / "cases.txt"
    cases.write_text('"x*y" x=1 y=2\n')
    res = CliRunner().invoke(cli, ["check", str(cases), "--dask", "tcp://127.0.0.1:1"])
    assert res.exit_code == 2
    assert res.stderr == ("error: --dask needs the optional Dask extra "
                          "(pip install 'backprop-cli[dask]')\n")

"""The `check` command: run every case of a case file and report pass, fail or error for each."""

from __future__ import annotations

import contextlib
import signal
import sys
from dataclasses import dataclass
from typing import Any

import click

from ..language.reads import MAX_FILE_BYTES
from .common import CONTEXT, on_stderr, report_errors


@click.command("check", context_settings={**CONTEXT, "ignore_unknown_options": False})
@click.argument("case_file", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(["auto", "text", "jsonl"]), default="auto",
              show_default=True, help="Case format; auto reads a line starting with '{' as JSON.")
@click.option("-j", "--jobs", type=click.IntRange(0), default=0,
              help="Worker processes (default 0: one per core; 1: this process only).")
@click.option("--timeout", type=click.FloatRange(0), default=None, metavar="SECONDS",
              help="Time limit per case in seconds, 300 by default (0: no limit); a case "
                   "over it is reported as a timeout.")
@click.option("--no-check", is_flag=True, help="Skip sympy and finite differences "
              "(expectations are still graded).")
@click.option("--no-sympy", is_flag=True, help="Skip the symbolic check.")
@click.option("--no-numeric", is_flag=True, help="Skip the finite-difference check.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object on stdout: every case (written as it finishes), then the "
                   "summary.")
@click.option("--jsonl", "as_jsonl", is_flag=True,
              help="JSON Lines on stdout: one object per case as it finishes, then "
                   '{"summary": ...}.')
@click.option("--junit", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write a JUnit XML report to FILE.")
@click.option("--report", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write JSON Lines to FILE, one case a line as it finishes.")
@click.option("-q", "--quiet", is_flag=True, help="No progress line.")
@click.option("--plain", is_flag=True, help="Plain text even on a terminal.")
@click.option("--precision", type=click.IntRange(1, 17), default=10, show_default=True,
              help="Significant digits in failure details.")
@click.option("--dask", metavar="ADDRESS",
              help="Run the cases on the Dask scheduler at ADDRESS (needs the dask extra).")
@click.option("--max-line-bytes", "line_limit", type=click.IntRange(1), default=1 << 20,
              metavar="BYTES", help="Longest line read, 1\u00a0MiB by default; a longer one is "
                                    "that line's error, never held in memory.")
@click.option("--max-file-bytes", "file_limit", type=click.IntRange(1), default=MAX_FILE_BYTES,
              metavar="BYTES", help="Largest @file read (an array file a case binds), "
                                    f"{MAX_FILE_BYTES >> 20}\u00a0MiB by default.")
@click.option("--allow-read", "allowed", multiple=True, metavar="DIR",
              type=click.Path(exists=True, file_okay=False),
              help="Let the case file's @file paths read inside DIR too (repeatable); by "
                   "default they stay in the case file's own folder.")
@report_errors
def check_cmd(case_file, fmt, jobs, timeout, no_check, no_sympy, no_numeric, as_json, as_jsonl,
              junit, report, quiet, plain, precision, dask, line_limit, file_limit, allowed):
    """Check every case in FILE ('-' for stdin): backprop vs sympy, finite differences, and
    the expected values a line gives.

    A text line reads like eval's arguments, optionally followed by expectations; a JSON line
    is an object with expr, at, and optionally id and expect (see docs/batch.md). Blank lines
    and lines starting with # are skipped. Exit code 0: no check disagreed (a case no check
    confirmed is counted as unchecked); 1: a check disagreed; 2: a line was bad input or
    timed out; 130: interrupted.

    \b
    Examples:
      backprop check cases.txt
      backprop check cases.jsonl --jobs 2 --junit results.xml
      backprop check - --json < cases.txt
      backprop check cases.txt --jsonl | jq -c 'select(.status != "pass")'
    \b
    A case file:
      "(x+y)*z" x=-2 y=5 z=-4 expect: value=-12 x=-4 z=3
      {"id": "q1", "expr": "2*x", "at": {"x": 3}, "expect": {"value": 6}}
    """
    from ..batch import cases, pool, stream
    from ..batch.report import Tally

    _refuse_mixed(dask, jobs, as_json, as_jsonl)
    settings = _settings(case_file, timeout, no_check, no_sympy, no_numeric)
    scope = _file_rules(case_file, report, junit, allowed, file_limit)
    source = stream.open_cases(case_file)
    screen = _Screen.open(as_json or as_jsonl, plain, quiet, precision, case_file)
    lines = stream.count_lines(case_file) if screen.progress or jobs != 1 else None
    if not dask:
        jobs, note = pool.plan_jobs(jobs, lines)
        if note:
            on_stderr(f"note: {note}")
    sinks, files = _sinks(report, junit, as_json, as_jsonl)
    tally = Tally()
    results = pool.run_cases(cases.read_cases(stream.bounded_lines(source, line_limit), fmt,
                                              scope, line_limit), settings,
                             jobs=jobs if not dask else 1, dask=dask,
                             render=_outputs(settings.origin, precision, report, junit,
                                             as_json or as_jsonl))
    try:
        with screen.progress or contextlib.nullcontext():
            ended = _run_all(results, source, tally, sinks, screen, settings.origin)
        summary = tally.report(ended.interrupted, ended.lost.not_run if ended.lost else 0,
                               ended.stopped is not None)
        _finish_files(sinks, files, summary, settings.origin)
    finally:
        for f in files:
            f.discard()
    screen.summary(summary)
    sys.stdout.flush()  # a write that fails is reported before the summary line below
    _say_on_stderr(summary, settings.origin, ended.interrupted, ended.lost, ended.stopped)
    sys.exit(summary.exit_code)


def _outputs(origin: str, precision: int, report, junit, machine: bool):
    """How a pool worker renders a case for the run's outputs, where it ran."""
    import functools

    from ..render.batch_report import Outputs, rendered

    return functools.partial(rendered, outputs=Outputs(
        origin, precision, json=bool(report) or machine, junit=bool(junit), lines=not machine))


def _refuse_mixed(dask, jobs: int, as_json: bool, as_jsonl: bool) -> None:
    """Options that contradict each other: a usage error before anything runs."""
    if dask and jobs:
        raise click.UsageError("--dask and --jobs do not mix: the cluster decides the workers")
    if as_json and as_jsonl:
        raise click.UsageError("--json and --jsonl do not mix: choose one output")


def _settings(case_file: str, timeout, no_check: bool, no_sympy: bool, no_numeric: bool):
    """What every case of the run is checked with (run.Settings)."""
    from ..batch import run
    from ..errors import PATH_SHOWN, shown

    return run.Settings(
        origin="<stdin>" if case_file == "-" else shown(case_file, PATH_SHOWN),
        sympy=not (no_check or no_sympy), numeric=not (no_check or no_numeric),
        timeout=run.DEFAULT_TIMEOUT if timeout is None else (timeout or None))


@dataclass
class _Screen:
    """What the terminal shows of a run: a block per case that did not pass, the live
    progress line (on stderr), and the summary; nothing of it when stdout is JSON."""

    machine: bool  # --json or --jsonl: stdout is the record, not words
    console: Any  # a rich Console on a terminal, else None (plain text)
    precision: int
    progress: Any  # the live line, or None

    @classmethod
    def open(cls, machine: bool, plain: bool, quiet: bool, precision: int,
             case_file: str) -> _Screen:
        console = None
        if not plain and not machine and _terminal(sys.stdout):
            from rich.console import Console

            console = Console(highlight=False)
        return cls(machine, console, precision,
                   _progress(case_file, not quiet and _terminal(sys.stderr)))

    def case(self, r, origin: str, tally) -> None:
        """A case finished: its block when it did not pass (or warns), then the progress
        line."""
        if self.machine and not self.progress:
            return  # nothing of a case shows (the common case of a long run: a case each)
        from ..render import batch_report as out

        if not self.machine and (r.status != "pass" or r.warnings):
            if self.progress:  # the block goes above the live line, never glued to it
                self.progress.clear()
            if self.console is not None:
                self.console.print(out.case_view(r, origin, self.precision))
            else:
                click.echo("\n".join(out.case_lines(r, origin, self.precision)))
            sys.stdout.flush()
        if self.progress:
            self.progress.update(sum(tally.counts.values()), _counts(tally))
            if not self.progress.drawn:  # cleared for a block: back at the bottom
                self.progress.draw()

    def summary(self, summary) -> None:
        from ..render import batch_report as out

        if self.machine:
            return
        if self.console is not None:
            self.console.print(out.summary_view(summary))
        else:
            click.echo(("\n" if summary.total - summary.passed else "")
                       + out.summary_text(summary))


@dataclass
class _Ended:
    """How the loop over the cases ended, when not by the last case."""

    interrupted: bool = False  # Ctrl-C: finished results are kept
    lost: Any = None  # RunLost: the cluster went away; the rest are not run
    stopped: Any = None  # pool.WorkerError: out of processes or descriptors


def _run_all(results, source, tally, sinks: list, screen: _Screen, origin: str) -> _Ended:
    """Count, write and show each result as it finishes; what stopped the run early is kept,
    not raised, so what finished is still reported."""
    from ..batch import pool
    from ..batch.report import RunLost

    ended = _Ended()
    whole = _Whole()
    with whole.armed():
        try:
            for r in results:
                with whole:  # Ctrl-C waits until the case is counted and written
                    tally.add(r)
                    for sink in sinks:
                        sink.add(r, origin)
                screen.case(r, origin, tally)
        except KeyboardInterrupt:
            ended.interrupted = True
        except RunLost as exc:
            ended.lost = exc
        except pool.WorkerError as err:
            ended.stopped = err
        finally:
            results.close()
            if source is not sys.stdin.buffer:
                source.close()
    return ended


def _file_rules(case_file: str, report, junit, allowed: tuple[str, ...], file_limit: int):
    """Before anything is opened for writing: no output is the case file or another output
    (SameFileError otherwise). Returns how the cases' @file paths are read: inside the case
    file's folder (and --allow-read), at most --max-file-bytes, never an output of this run."""
    from ..language.reads import case_file_scope
    from ..outputs import Named, refuse_clashes

    written = refuse_clashes(
        [Named("the case file on standard input" if case_file == "-" else "the case file",
               case_file)],
        [Named(option, path) for option, path in (("--report", report), ("--junit", junit))
         if path], stdout=True)
    return case_file_scope(case_file, allowed, file_limit,
                           {key: str(named) for key, named in written.items()
                            if key[0] != "name"})


def _finish_files(sinks: list, files: list, summary, origin: str) -> None:
    """Every finished case reaches the files, an interrupted run's too; then they are renamed
    into place (a second Ctrl-C waits for that). A run that fails before this leaves the old
    files whole (the caller discards the temporary ones)."""
    with _no_interrupt():
        for sink in sinks:
            sink.close(summary, origin)
        for f in files:
            f.commit()


def _sinks(report, junit, as_json: bool, as_jsonl: bool) -> tuple[list, list]:
    """Where each finished case is written as it arrives (and then forgotten), and the output
    files behind them (each written beside its target, renamed into place at the end)."""
    import tempfile

    from ..errors import PATH_SHOWN, shown
    from ..outputs import OutputFile
    from ..render import batch_report as out

    sinks: list = []
    files: list = []
    try:
        if report:
            f = OutputFile(report, f"the report {shown(report, PATH_SHOWN)}")
            files.append(f)
            sinks.append(out.JsonLines(f.stream, f.what))
        if junit:
            f = OutputFile(junit, f"the JUnit report {shown(junit, PATH_SHOWN)}")
            files.append(f)
            try:  # the test cases wait here for the header, whose counts come at the end
                spool = tempfile.TemporaryFile("w+", encoding="utf-8",  # noqa: SIM115
                                               dir=f.folder)
            except OSError as exc:
                from ..errors import output_error

                raise output_error(f.what, exc) from None
            sinks.append(out.JUnitFile(f.stream, f.what, spool))
    except BaseException:
        for f in files:
            f.discard()
        raise
    if as_json:
        sinks.append(out.JsonStream(sys.stdout))
    elif as_jsonl:
        sinks.append(out.JsonLines(sys.stdout, "standard output"))
    return sinks, files


def _say_on_stderr(summary, origin: str, interrupted: bool, lost=None, stopped=None) -> None:
    """One line on stderr whenever the run did not simply pass, whatever the output format."""
    from ..render import batch_report as out

    if lost is not None:
        done = f"{summary.total:,} case{'s' * (summary.total != 1)}"
        on_stderr(f"error: {lost.message}: {done} finished and reported, "
                  f"{lost.not_run:,} not run")
    elif stopped is not None:
        on_stderr(f"{stopped.render()}; the summary counts the cases that finished")
    elif interrupted:
        on_stderr("interrupted: the summary counts the cases that finished")
    elif summary.total == 0:
        on_stderr(f"warning: {origin} holds no cases")
    elif summary.exit_code:
        on_stderr(f"{origin}: {out.stderr_summary(summary)}")


class _Whole:
    """A block Ctrl-C does not cut in two: a SIGINT inside it is raised when it ends, so a
    finished case is always both counted and written, or neither."""

    def __init__(self):
        self.inside = False
        self.pending = False

    def _on_sigint(self, signum, frame):
        if self.inside:
            self.pending = True
        else:
            raise KeyboardInterrupt

    def armed(self):
        return _on_sigint(self._on_sigint)

    def __enter__(self):
        self.inside = True

    def __exit__(self, *exc):
        self.inside = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


def _no_interrupt():
    """Ctrl-C waits while the output files are finished and renamed into place."""
    return _on_sigint(signal.SIG_IGN)


@contextlib.contextmanager
def _on_sigint(handler):
    """Ctrl-C goes to `handler` inside the block; only the main thread can set it (a thread
    that runs check, as a test's does, keeps Python's own)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _terminal(stream) -> bool:
    import os

    return stream.isatty() and os.environ.get("TERM") != "dumb"


def _counts(tally) -> str:
    c = tally.counts
    text = f"{c['pass']} passed"
    if c["unchecked"]:
        text += f", {c['unchecked']} unchecked"
    if c["fail"]:
        text += f", {c['fail']} failed"
    if c["error"] + c["timeout"]:
        bad = c["error"] + c["timeout"]
        text += f", {bad} error{'s' * (bad != 1)}"
    return text


def _progress(case_file: str, show: bool):
    """One live line at the bottom of the terminal (commands/progress.py), counting cases."""
    if not show:
        return None
    from .progress import ProgressLine, count_cases

    return ProgressLine(sys.stderr, count_cases(case_file))

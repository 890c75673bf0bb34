"""The `check` command: run every case of a case file and report pass, fail or error for each."""

from __future__ import annotations

import contextlib
import sys

import click

from .common import CONTEXT, report_errors


@click.command("check", context_settings={**CONTEXT, "ignore_unknown_options": False})
@click.argument("case_file", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(["auto", "text", "jsonl"]), default="auto",
              show_default=True, help="Case format; auto reads a line starting with '{' as JSON.")
@click.option("-j", "--jobs", type=click.IntRange(0), default=0,
              help="Worker processes (default 0: one per core; 1: this process only).")
@click.option("--timeout", type=click.FloatRange(0), default=None, metavar="SECONDS",
              help="Time limit per case; a case over it is reported as a timeout "
                   "[default: 300; 0: no limit].")
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
              show_default=True, metavar="BYTES",
              help="Longest line read; a longer one is that line's error, never held in memory.")
@report_errors
def check_cmd(case_file, fmt, jobs, timeout, no_check, no_sympy, no_numeric, as_json, as_jsonl,
              junit, report, quiet, plain, precision, dask, line_limit):
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
      "(x+y)*z" x=-2 y=5 z=-4 expect: value=-12 x=-4 y=-4 z=3
      {"id": "q1", "expr": "x*y", "at": {"x": 2, "y": 3}, "expect": {"value": 6}}
    """
    import os

    from ..batch import cases, pool, run, stream
    from ..batch.report import RunLost, Tally
    from ..errors import PATH_SHOWN, shown
    from ..render import batch_report as out

    if dask and jobs:
        raise click.UsageError("--dask and --jobs do not mix: the cluster decides the workers")
    if as_json and as_jsonl:
        raise click.UsageError("--json and --jsonl do not mix: choose one output")
    settings = run.Settings(
        origin="<stdin>" if case_file == "-" else shown(case_file, PATH_SHOWN),
        sympy=not (no_check or no_sympy), numeric=not (no_check or no_numeric),
        timeout=run.DEFAULT_TIMEOUT if timeout is None else (timeout or None))
    origin = settings.origin
    # Relative @file paths in the case file are the case file's own: its folder.
    folder = "" if case_file == "-" else os.path.dirname(case_file)
    source = stream.open_cases(case_file)
    sinks = _sinks(report, junit, as_json, as_jsonl)
    machine = as_json or as_jsonl
    rich = not plain and not machine and _terminal(sys.stdout)
    show_progress = not quiet and _terminal(sys.stderr)

    tally = Tally()
    results = pool.run_cases(cases.read_cases(stream.bounded_lines(source, line_limit), fmt,
                                              folder, line_limit), settings,
                             jobs=jobs or pool.default_jobs() if not dask else 1, dask=dask)
    console = None
    if rich:
        from rich.console import Console

        console = Console(highlight=False)
    interrupted = False
    lost = None
    progress = _progress(case_file, show_progress)
    try:
        with progress or contextlib.nullcontext():
            for r in results:
                tally.add(r)
                for sink in sinks:
                    sink.add(r, origin)
                if not machine and r.status != "pass":
                    if progress:  # the block goes above the live line, never glued to it
                        progress.clear()
                    if rich:
                        console.print(out.case_view(r, origin, precision))
                    else:
                        click.echo("\n".join(out.case_lines(r, origin, precision)))
                    sys.stdout.flush()
                if progress:
                    progress.update(sum(tally.counts.values()), _counts(tally))
                    if not progress.drawn:  # cleared for a block: back at the bottom at once
                        progress.draw()
    except KeyboardInterrupt:
        interrupted = True
    except RunLost as exc:  # the cluster went away: what finished is counted, the rest not run
        lost = exc
    finally:
        results.close()
        if source is not sys.stdin.buffer:
            source.close()
    summary = tally.report(interrupted, lost.not_run if lost else 0)
    for sink in sinks:
        sink.close(summary, origin)
    if not machine:
        if rich:
            console.print(out.summary_view(summary))
        else:
            click.echo(("\n" if summary.total - summary.passed else "")
                       + out.summary_text(summary))
    sys.stdout.flush()  # a write that fails is reported before the summary line below
    _say_on_stderr(summary, origin, interrupted, lost)
    sys.exit(summary.exit_code)


def _sinks(report, junit, as_json: bool, as_jsonl: bool) -> list:
    """Where each finished case is written as it arrives (and then forgotten)."""
    from ..render import batch_report as out

    sinks = []
    if report:
        sinks.append(_open(out.ReportFile, report))
    if junit:
        sinks.append(_open(out.JUnitFile, junit))
    if as_json:
        sinks.append(out.JsonStream(sys.stdout))
    elif as_jsonl:
        sinks.append(out.JsonLines(sys.stdout, "standard output"))
    return sinks


def _say_on_stderr(summary, origin: str, interrupted: bool, lost=None) -> None:
    """One line on stderr whenever the run did not simply pass, whatever the output format."""
    from ..render import batch_report as out

    if lost is not None:
        done = f"{summary.total:,} case{'s' * (summary.total != 1)}"
        click.echo(f"error: {lost.message}: {done} finished and reported, "
                   f"{lost.not_run:,} not run", err=True)
    elif interrupted:
        click.echo("interrupted: the summary counts the cases that finished", err=True)
    elif summary.total == 0:
        click.echo(f"warning: {origin} holds no cases", err=True)
    elif summary.exit_code:
        click.echo(f"{origin}: {out.stderr_summary(summary)}", err=True)


def _terminal(stream) -> bool:
    import os

    return stream.isatty() and os.environ.get("TERM") != "dumb"


def _open(kind, path: str):
    from ..errors import PATH_SHOWN, output_error, shown

    try:
        return kind(path)
    except OSError as exc:
        raise output_error(shown(path, PATH_SHOWN), exc) from None


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

"""Batch results -> plain lines, a rich summary table, JSON, JSON Lines and JUnit XML.

The JSON field names are an interface (docs/batch.md). The writers here stream: each takes one
case at a time and keeps nothing per case in memory, so a million-line run stays small.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import IO, Any

from ..batch.report import BatchReport
from ..batch.run import CaseResult
from ..checks.verdict import exit_code
from ..errors import output_error, shown
from . import numbers

METHOD_WORDS = {"sympy": "sympy", "finite-difference": "finite differences",
                "expected": "expected"}


def case_dict(r: CaseResult) -> dict[str, Any]:
    """One case as JSON: the same object in --json's "cases" and each --report line. A case
    that ran is eval's record for it (record.py), with the case's place in the file added
    (`index`, `line`, `id`), its `seconds` and `error` null; one that did not run keeps the
    fields with empty values and says why in `error`."""
    head = {"index": r.index, "line": r.line, "id": r.id, "program": r.program,
            "status": r.status, "seconds": round(r.seconds, 6)}
    if r.record is not None:
        return {**head, **r.record, "program": r.program, "status": r.status,
                "error": None}
    return {**head, "value": r.value, "gradients": dict(r.gradients), "checks": {},
            "check_statuses": {}, "mismatches": [], "verdicts": {}, "unchecked": {},
            "exit_code": exit_code(r.status),
            "error": {"kind": r.kind, "message": r.message, "detail": list(r.detail)},
            "warnings": list(r.warnings)}


def case_json(r: CaseResult) -> str:
    """The case's JSON text, one line (--json's case, a --jsonl or --report line)."""
    if r.rendered and "json" in r.rendered:
        return r.rendered["json"]
    return _dumps(case_dict(r))


@dataclass(frozen=True)
class Outputs:
    """What a run writes of each case: enough for a pool worker to render a case where it ran
    (`rendered`), so that the command, which reads and writes for every worker, only writes."""

    origin: str
    precision: int = 10
    json: bool = False  # --json, --jsonl or --report: the case's JSON text
    junit: bool = False  # --junit: its <testcase> element
    lines: bool = False  # the text report: its block, for a case that did not simply pass


def rendered(r: CaseResult, outputs: Outputs) -> CaseResult:
    """`r` with what the outputs write of it rendered, and its record left out: the same
    texts the outputs would make of `r` themselves, sent back instead of the record."""
    texts: dict[str, Any] = {}
    if outputs.json:
        texts["json"] = case_json(r)
    if outputs.junit:
        texts["junit"] = junit_case(r, outputs.origin)
    if outputs.lines and (r.status != "pass" or r.warnings):
        texts["lines"] = case_lines(r, outputs.origin, outputs.precision)
    return CaseResult(r.index, r.line, r.id, r.program, r.status, r.seconds,
                      warnings=r.warnings, rendered=texts)


def summary_dict(report: BatchReport, origin: str) -> dict[str, Any]:
    return {
        "file": origin,
        "total": report.total,
        "passed": report.passed,
        "unchecked": report.unchecked,
        "failed": report.failed,
        "errors": report.errors,
        "timeouts": report.timeouts,
        "seconds": round(report.seconds, 6),
        "cases_per_second": round(report.cases_per_second, 3),
        "interrupted": report.interrupted,
        "not_run": report.not_run,
        "exit_code": report.exit_code,
    }


def _dumps(data: Any, indent: int | None = None) -> str:
    # json.dumps with these arguments builds this same encoder for every call (a case each)
    encode = _ONE_LINE.encode if indent is None else \
        json.JSONEncoder(indent=indent, allow_nan=False).encode
    try:
        return encode(data)
    except ValueError:  # a non-finite value or gradient is written as null: JSON has no inf
        return encode(_finite(data))


# json.dumps(data, allow_nan=False)'s encoder, without its look for cycles (a record has none):
# the same text.
_ONE_LINE = json.JSONEncoder(allow_nan=False, check_circular=False)


def _finite(x: Any) -> Any:
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x


class JsonStream:
    """`{"cases": [...], "summary": {...}}` on a stream, each case written (and flushed) as it
    finishes, so a reader sees progress and nothing is held per case."""

    def __init__(self, out: IO[str]):
        self.out = out
        self.first = True
        out.write('{\n  "cases": [')

    def add(self, r: CaseResult, origin: str = "") -> None:
        self.out.write(("\n    " if self.first else ",\n    ") + case_json(r))
        self.out.flush()
        self.first = False

    def close(self, report: BatchReport, origin: str) -> None:
        body = _dumps(summary_dict(report, origin), indent=2).replace("\n", "\n  ")
        self.out.write(("\n  ],\n" if not self.first else "],\n") + f'  "summary": {body}\n}}\n')
        self.out.flush()


class JsonLines:
    """JSON Lines: one case object a line as it finishes (flushed, so an interrupted or killed
    run keeps every case it finished), then one line `{"summary": {...}}`. `what` names the
    stream in the one-line message when a write fails."""

    def __init__(self, out: IO[str], what: str):
        self.out = out
        self.what = what

    def add(self, r: CaseResult, origin: str = "") -> None:
        self._write(case_json(r) + "\n")

    def close(self, report: BatchReport, origin: str) -> None:
        self._write(_dumps({"summary": summary_dict(report, origin)}) + "\n")

    def _write(self, text: str) -> None:
        try:
            self.out.write(text)
            self.out.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise output_error(self.what, exc) from None


# XML 1.0 allows neither most control characters nor lone surrogates.
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# Text that XML writes as it is: nothing to escape, nothing to replace (most of a run's).
_XML_PLAIN = re.compile('[^&<>"\n\r\t\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]*\\Z')


def _xml(text: str) -> str:
    if _XML_PLAIN.match(text):
        return text  # what escape() gives it: a test holds the two equal
    from xml.sax.saxutils import escape

    return escape(_XML_BAD.sub("\ufffd", text))


def _attr(text: str) -> str:
    if _XML_PLAIN.match(text):
        return f'"{text}"'  # what quoteattr() gives it
    from xml.sax.saxutils import quoteattr

    return quoteattr(_XML_BAD.sub("\ufffd", text))


class JUnitFile:
    """--junit FILE: one <testsuite> for the case file, one <testcase> per case.

    fail -> <failure>, error and timeout -> <error> (type says which), unchecked -> <skipped>
    with why no check confirmed the gradients. The test cases go to `spool` (a temporary file)
    as they finish; `close` writes the header, whose counts are only known at the end, then the
    test cases, to `out`. `what` names FILE when a write fails."""

    def __init__(self, out: IO[str], what: str, spool: IO[str]):
        self.out = out
        self.what = what
        self.body = spool

    def add(self, r: CaseResult, origin: str) -> None:
        try:
            self._add(r, origin)
        except OSError as exc:
            raise output_error(self.what, exc) from None

    def _add(self, r: CaseResult, origin: str) -> None:
        if r.rendered and "junit" in r.rendered:
            self.body.write(r.rendered["junit"])
        else:
            self.body.write(junit_case(r, origin))

    def close(self, report: BatchReport, origin: str) -> None:
        try:
            self._write(self.out, report, origin)
            self.out.flush()
        except OSError as exc:
            raise output_error(self.what, exc) from None
        finally:
            self.body.close()

    def _write(self, out: IO[str], report: BatchReport, origin: str) -> None:
        counts = (f'tests="{report.total}" failures="{report.failed}" '
                  f'errors="{report.errors + report.timeouts}" skipped="{report.unchecked}" '
                  f'time="{report.seconds:.3f}"')
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(f'<testsuites name="backprop check" {counts}>\n')
        out.write(f"  <testsuite name={_attr(origin)} {counts}>\n")
        if report.interrupted:
            out.write('    <properties><property name="interrupted" value="true"/>'
                      "</properties>\n")
        self.body.seek(0)
        while chunk := self.body.read(1 << 20):
            out.write(chunk)
        out.write("  </testsuite>\n</testsuites>\n")


def junit_case(r: CaseResult, origin: str) -> str:
    """One <testcase> element (and its line end), as --junit writes it."""
    name = f"{shown(r.id, 60)}: {_short(r.program)}" if r.program else shown(r.id, 60)
    out = [(f"    <testcase classname={_attr(origin)} name={_attr(name)} "
            f'time="{r.seconds:.6f}">')]
    if r.status == "fail":
        first = mismatch_text(r.mismatches[0]) if r.mismatches else "a check disagreed"
        kinds = ",".join(dict.fromkeys(m.method for m in r.mismatches)) or "check"
        text = "\n".join(mismatch_text(m) for m in r.mismatches)
        out.append(f"      <failure message={_attr(first)} type={_attr(kinds)}>"
                   f"{_xml(text)}</failure>")
    elif r.status == "unchecked":
        why = "; ".join(unchecked_lines(r))
        out.append(f"      <skipped message={_attr(why)}/>")
    elif r.status in ("error", "timeout"):
        text = "\n".join([r.message, *r.detail])
        out.append(f"      <error message={_attr(r.message)} type={_attr(r.kind)}>"
                   f"{_xml(text)}</error>")
    out.append("    </testcase>\n")
    return "\n".join(out)


def _short(text: str, width: int = 80) -> str:
    """User text on one line, safe to echo: whitespace runs as one space, then `shown`."""
    return shown(" ".join(text.split()), width)


# --- text ---------------------------------------------------------------------------------


def mismatch_text(m, precision: int = 10) -> str:
    """'x: backprop -4, expected -5 (relative error 2.0e-01)'."""
    return (f"{m.name}: backprop {numbers.number(m.ours, precision)}, "
            f"{METHOD_WORDS.get(m.method, m.method)} {numbers.number(m.reference, precision)} "
            f"(relative error {m.rel_error:.1e})")


def case_lines(r: CaseResult, origin: str, precision: int = 10) -> list[str]:
    """A failed, erroneous or timed-out case in detail; a pass only when it carries a warning
    (a quiet mistake), else nothing."""
    if r.rendered is not None:  # rendered where it ran: its block, if it has one
        return list(r.rendered.get("lines", ()))
    label = f" ({shown(r.id, 60)})" if not r.id.startswith("line ") else ""
    if r.status == "fail":
        lines = [f"FAIL {origin}:{r.line}{label}: {_short(r.program, 200)}"]
        for m in r.mismatches:
            lines.append("  " + mismatch_text(m, precision))
            # An expectation's diagnosis, as eval's table says it after "you wrote A, backprop
            # gets B: " (the numbers are on the line above already).
            diagnosis = (m.reason or "").partition(": ")[2] if m.method == "expected" else ""
            if diagnosis:
                lines.append("    " + shown(diagnosis, 200))
        lines += [f"  warning: {shown(w, 200)}" for w in r.warnings]
        return lines
    if r.status == "unchecked":
        return [f"UNCHECKED {origin}:{r.line}{label}: {_short(r.program, 200)}",
                *("  " + shown(line, 300) for line in unchecked_lines(r))]
    if r.status in ("error", "timeout"):
        word = "ERROR" if r.status == "error" else "TIMEOUT"
        message = r.message
        if r.kind == r.status:  # `ERROR big.txt:1: the line is ...`, not `ERROR ...: error: `
            message = message.replace(f": {r.kind}: ", ": ", 1)
        where = message.find(": ", len(f"{origin}:{r.line}"))
        if label and message.startswith(f"{origin}:{r.line}") and where > 0:
            message = message[:where] + label + message[where:]  # the case's own id, as FAIL
        return [f"{word} {message}", *r.detail]
    if r.warnings:  # it passed, but probably not as meant (a quiet mistake)
        return [f"WARNING {origin}:{r.line}{label}: {_short(r.program, 200)}",
                *(f"  warning: {shown(w, 200)}" for w in r.warnings)]
    return []


def unchecked_lines(r: CaseResult) -> list[str]:
    """Why no check confirmed the case: eval's unchecked reason per gradient, the gradients
    that share one reason named together ('y, z: no check ran')."""
    groups: dict[str, list[str]] = {}
    for name, why in ((r.record or {}).get("unchecked") or {}).items():
        groups.setdefault(why, []).append(name)
    lines = [f"{', '.join(names)}: {why}" for why, names in groups.items()]
    return lines or ["no check confirmed every gradient"]


def summary_rows(report: BatchReport) -> list[tuple[str, str]]:
    rows = [("passed", f"{report.passed:,}")]
    if report.unchecked:
        rows.append(("unchecked", f"{report.unchecked:,}"))
    rows += [("failed", f"{report.failed:,}"), ("errors", f"{report.errors:,}")]
    if report.timeouts:
        rows.append(("timeouts", f"{report.timeouts:,}"))
    if report.not_run:
        rows.append(("not run", f"{report.not_run:,}"))
    rows += [("total", f"{report.total:,}"), ("time", f"{report.seconds:.2f} s"),
             ("cases per second", f"{report.cases_per_second:,.1f}")]
    return rows


def verdict(report: BatchReport) -> str:
    if report.interrupted:
        return f"INTERRUPTED after {report.total:,} case{'s' * (report.total != 1)}"
    if report.not_run:
        return (f"STOPPED after {report.total:,} case{'s' * (report.total != 1)}: "
                f"{report.not_run:,} not run")
    if report.total == 0:
        return "no cases found"
    bad = report.failed + report.errors + report.timeouts
    if report.total == 1:
        if report.unchecked:
            return "the case is unchecked: no check confirmed every gradient"
        return "FAILED: the case did not pass" if bad else "the case passed"
    if not bad and not report.unchecked:
        return f"all {report.total:,} cases passed"
    if not bad:
        return (f"no case failed; {report.unchecked:,} of {report.total:,} unchecked (no "
                "check confirmed every gradient)")
    # An unchecked case did not pass either: named too, so the counts add up to the total.
    more = f"; {report.unchecked:,} more unchecked" if report.unchecked else ""
    return f"FAILED: {bad:,} of {report.total:,} cases did not pass{more}"


def stderr_summary(report: BatchReport) -> str:
    """The one line on stderr when a run did not pass: "2 of 300 cases could not run, 30
    failed" (whatever the output format, a script reading only stderr learns why)."""
    bad = report.errors + report.timeouts
    total = f"{report.total:,} case{'s' * (report.total != 1)}"
    if bad and report.failed:
        return f"{bad:,} of {total} could not run, {report.failed:,} failed"
    if bad:
        return f"{bad:,} of {total} could not run"
    return f"{report.failed:,} of {total} failed"


def summary_text(report: BatchReport) -> str:
    rows = summary_rows(report)
    width = max(len(k) for k, _ in rows)
    return "\n".join([*(f"{k.ljust(width)}  {v}" for k, v in rows), verdict(report)])


def summary_view(report: BatchReport):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from .wrap import Hanging

    table = Table(title="backprop check", show_header=False, header_style="bold")
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    styles = {"passed": "green", "failed": "bold red" if report.failed else "",
              "errors": "bold red" if report.errors else "", "timeouts": "bold yellow",
              "unchecked": "yellow"}
    for k, v in summary_rows(report):
        table.add_row(k, Text(v, style=styles.get(k, "")))
    ok = report.exit_code == 0
    return Group(table, Hanging(Text(verdict(report), style="green" if ok else "bold red")))


def case_view(r: CaseResult, origin: str, precision: int = 10):
    """A FAIL, ERROR, TIMEOUT or UNCHECKED block for a terminal: each line wider than the
    window goes on indented (never at column 0); a source line and its caret are cut to the
    window together, so the caret stays under its column."""
    from .wrap import HangingLines

    style = {"fail": "bold red", "error": "bold red", "timeout": "bold yellow",
             "unchecked": "yellow", "pass": "yellow"}[r.status]
    return HangingLines(case_lines(r, origin, precision), style)

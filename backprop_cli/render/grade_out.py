"""A graded backward file -> a table for the terminal (whole at 80 columns), Markdown, or JSON.

Each view is a value (a string or a dict); the command prints it.
"""

from __future__ import annotations

import textwrap

from ..errors import shown
from ..grade.grading import GradeReport, LineGrade
from .numbers import number

WIDTH = 80
NAME_SHOWN = 18  # a gradient's name is cut past this (its two ends), so the table stays whole
HEADER = ["line", "gradient", "status", "max diff", "note"]


def _note(g: LineGrade, first: LineGrade | None) -> str:
    if g.status in ("exact", "approx"):
        return ""
    if g.follows_from is not None:
        return f"follows from line {g.follows_from}"
    if first is not None and g.line == first.line:
        return "first wrong line"
    if g.own not in ("exact", "approx"):
        return "its own rule is wrong"
    return "its own rule is right"


def _diff(g: LineGrade, precision: int) -> str:
    return "-" if g.max_diff is None else number(g.max_diff, precision)


def rows(report: GradeReport, precision: int = 3) -> list[list[str]]:
    return [[str(g.line), shown(g.name, NAME_SHOWN), g.status, _diff(g, precision),
             _note(g, report.first_wrong)] for g in report.lines]


def _columns(header: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(r[k]) for r in [header, *body]) for k in range(len(header))]
    out = []
    for r in [header, *body]:
        cells = [r[0].rjust(widths[0])] + [c.ljust(w) for c, w in zip(r[1:-1], widths[1:])]
        out.append(shown("  ".join([*cells, r[-1]]).rstrip(), WIDTH))
    return out


def _wrapped(text: str, indent: str = "  ", width: int = WIDTH, more: str = "") -> list[str]:
    return textwrap.wrap(shown(text, 2000), width, initial_indent=indent,
                         subsequent_indent=indent + more, break_on_hyphens=False,
                         break_long_words=False)


def summary(report: GradeReport) -> str:
    n = len(report.lines)
    right = sum(g.status in ("exact", "approx") for g in report.lines)
    if right == n:
        exact = sum(g.status == "exact" for g in report.lines)
        how = "all exact" if exact == n else f"{exact} exact, {n - exact} approx"
        return f"all {n} lines right ({how})"
    counts: dict[str, int] = {}
    for g in report.lines:
        if g.status not in ("exact", "approx"):
            counts[g.status] = counts.get(g.status, 0) + 1
    parts = ", ".join(f"{v} {k}" for k, v in counts.items())
    follow = sum(g.follows_from is not None for g in report.lines)
    tail = f"; {follow} only follow from an earlier wrong line" if follow else ""
    return f"FAILED: {right} of {n} lines right; {parts}{tail}"


def _details(report: GradeReport) -> list[tuple[LineGrade, str]]:
    """(line, sentence) for every line that is not right, the first wrong one first."""
    first = report.first_wrong
    out = []
    if first is not None and first.why:
        out.append((first, first.why))
    for g in report.lines:
        if g is first or g.status in ("exact", "approx") or not g.why:
            continue
        out.append((g, g.why))
    return out


def _grouped(report: GradeReport) -> list[tuple[str, str, tuple[str, str] | None]]:
    """(heading, sentence, caret) blocks: the first wrong line first, then every other line
    that is not right; lines that only follow from the same wrong line share one block."""
    first = report.first_wrong
    blocks: list[tuple[str, str, tuple[str, str] | None]] = []
    followers: dict[int, list[int]] = {}
    for g, why in _details(report):
        if g.follows_from is not None:
            if g.follows_from not in followers:
                followers[g.follows_from] = []
                blocks.append((f"@{g.follows_from}", why, None))
            followers[g.follows_from].append(g.line)
            continue
        lead = "first wrong: " if g is first else ""
        blocks.append((f"{lead}line {g.line}: {g.text}", why, g.caret))
    out = []
    for head, why, caret in blocks:
        if head.startswith("@"):
            nums = followers[int(head[1:])]
            word = "line" if len(nums) == 1 else "lines"
            head = f"{word} {_runs(nums)}:"
        out.append((head, why, caret))
    return out


def _runs(numbers: list[int]) -> str:
    """1, 2, 3, 5 -> '1-3, 5': a long list of lines stays one short heading."""
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else
                     f"{start}, {prev}" if prev == start + 1 else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(parts)


def grade_text(report: GradeReport, precision: int = 3, width: int = WIDTH) -> str:
    """The table, then each wrong line's diagnosis; prose lines are broken at spaces to
    `width` (a terminal narrower than 80 columns passes its own), indented, never at column 0."""
    lines = _columns(HEADER, rows(report, precision))
    lines.append("")
    for head, why, caret in _grouped(report):
        lines.extend(_wrapped(head, "", width, "    ") if width < WIDTH else
                     [shown(head, WIDTH)])
        lines.extend(_wrapped(why, width=width))
        if caret is not None:
            lines.extend(shown("  " + part, WIDTH) for part in caret)
    if report.missing:
        lines.extend(textwrap.wrap("not written (information, not a failure): "
                                   + ", ".join(report.missing), width,
                                   subsequent_indent="  "))
    lines.extend(_wrapped(f"exact: bit for bit; approx: |line - gradient| <= {report.atol:g} + "
                          f"{report.rtol:g} |gradient|", "", width, "    "))
    lines.append(summary(report))
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def grade_markdown(report: GradeReport, precision: int = 3) -> str:
    out = ["| line | gradient | status | max difference | note |",
           "| ---: | --- | --- | ---: | --- |"]
    for r, g in zip(rows(report, precision), report.lines):
        out.append(f"| {r[0]} | `{_cell(g.name)}` | {r[2]} | {r[3]} | {_cell(r[4])} |")
    out.append("")
    first = report.first_wrong
    for g, why in _details(report):
        lead = "**First wrong line**" if g is first else "Line"
        out.append(f"{lead} {g.line}: `{_cell(g.text)}`: {why}")
        out.append("")
    if report.missing:
        out.append("Not written (information, not a failure): "
                   + ", ".join(f"`{n}`" for n in report.missing))
        out.append("")
    out.append(f"exact: bit for bit; approx: \\|line - gradient\\| <= {report.atol:g} + "
               f"{report.rtol:g} \\|gradient\\|. **{summary(report)}**")
    return "\n".join(out)


def grade_json(report: GradeReport) -> dict:
    first = report.first_wrong
    return {
        "status": report.status,
        "lines": [{"line": g.line, "name": g.name, "status": g.status,
                   "max_diff": g.max_diff, "why": g.why, "follows_from": g.follows_from,
                   "own": g.own, "text": g.text} for g in report.lines],
        "first_wrong": None if first is None else
        {"line": first.line, "name": first.name, "why": first.why},
        "missing": list(report.missing),
        "rtol": report.rtol,
        "atol": report.atol,
        "exit_code": report.exit_code,
    }

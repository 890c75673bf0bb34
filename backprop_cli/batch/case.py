"""A case as read from its line, and how a line's problem is worded: the data every stage of
batch/ passes along."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import HEADLINE_LIMIT, BackpropError, shown


@dataclass(frozen=True)
class Case:
    """One line of a case file, read but not yet run."""

    index: int  # 0-based position among the file's cases (comments and blanks do not count)
    line: int  # 1-based line number in the file
    id: str  # the JSON "id", else "line N"
    program: str = ""
    bindings: tuple[tuple[str, Any], ...] = ()
    expect: tuple[tuple[str, str], ...] = ()  # ("value" or a variable, number as written)
    column: int | None = None  # 1-based column of the program's first character in the line
    claims: tuple[str, ...] = ()  # derivative formulas, "dx=2*x" (checks/claims.py)
    problem: tuple[str, str, tuple[str, ...]] | None = None  # unreadable: (kind, message, caret)
    form: str = "text"  # "text" or "json": how the line was written, for messages



def error_text(err: BackpropError, hint: str | None = None) -> str:
    hint = hint or err.hint
    return err.message + (f" ({hint})" if hint else "")


def problem_of(line: int, col: int | None, kind: str, message: str,
               detail: tuple[str, ...] = ()) -> tuple[str, str, tuple[str, ...]]:
    """(kind, 'line[:col]: kind: message' made safe to echo, caret lines)."""
    where = f"{line}:{col}" if col is not None else f"{line}"
    return kind, shown(f"{where}: {kind}: {message}", HEADLINE_LIMIT), detail

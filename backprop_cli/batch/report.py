"""Results -> counts: the running tally and the frozen report that owns the exit code."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .. import exits
from ..errors import BackpropError
from .run import STATUSES, CaseResult


class RunLost(BackpropError):
    """The machines a run ran on went away (a Dask scheduler): every case that finished was
    handed over before this was raised; `not_run` more were never run."""

    def __init__(self, message: str, not_run: int):
        super().__init__(message)
        self.not_run = not_run


@dataclass
class Tally:
    """Running counts while results arrive; `report()` freezes them."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    started: float = field(default_factory=time.perf_counter)
    case_seconds: float = 0.0

    def add(self, result: CaseResult) -> None:
        self.counts[result.status] += 1
        self.case_seconds += result.seconds

    def report(self, interrupted: bool = False, not_run: int = 0,
               stopped: bool = False) -> BatchReport:
        return BatchReport(self.counts["pass"], self.counts["fail"], self.counts["error"],
                           self.counts["timeout"], time.perf_counter() - self.started,
                           interrupted or stopped, self.counts["unchecked"], not_run, stopped)


EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = (
    exits.OK, exits.CHECK_FAILED, exits.BAD_INPUT, exits.INTERRUPTED)


@dataclass(frozen=True)
class BatchReport:
    """The outcome of a run. Exit code: 2 when an error stopped the run early (no worker process
    could be started), else 130 when interrupted, else eval's policy over the cases
    (checks/verdict.py): 2 when any case was an error, timed out or was not run (it could not be
    checked), else 1 when any check disagreed, else 0 (unchecked cases included). `not_run`
    cases are not in `total`: the run lost its machines first. A run stopped either way is
    `interrupted`: its counts are those of the cases that finished."""

    passed: int
    failed: int
    errors: int
    timeouts: int
    seconds: float
    interrupted: bool = False
    unchecked: int = 0  # cases no check disproved, where some gradient no check confirmed
    not_run: int = 0
    stopped: bool = False  # by an error, not by Ctrl-C

    @property
    def total(self) -> int:
        return self.passed + self.unchecked + self.failed + self.errors + self.timeouts

    @property
    def cases_per_second(self) -> float:
        return self.total / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.stopped:
            return EXIT_ERROR
        if self.interrupted:
            return EXIT_INTERRUPTED
        from ..checks.verdict import exit_code

        if self.not_run:
            return EXIT_ERROR
        return exit_code(*(status for status, n in (("fail", self.failed), ("error", self.errors),
                                                    ("timeout", self.timeouts)) if n))

"""Results -> counts: the running tally and the frozen report that owns the exit code."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .. import exits
from .run import STATUSES, CaseResult


@dataclass
class Tally:
    """Running counts while results arrive; `report()` freezes them."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    started: float = field(default_factory=time.perf_counter)
    case_seconds: float = 0.0

    def add(self, result: CaseResult) -> None:
        self.counts[result.status] += 1
        self.case_seconds += result.seconds

    def report(self, interrupted: bool = False, stopped: bool = False) -> BatchReport:
        return BatchReport(self.counts["pass"], self.counts["fail"], self.counts["error"],
                           self.counts["timeout"], time.perf_counter() - self.started,
                           interrupted or stopped, stopped)


EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = (
    exits.OK, exits.CHECK_FAILED, exits.BAD_INPUT, exits.INTERRUPTED)


@dataclass(frozen=True)
class BatchReport:
    """The outcome of a run. Exit code policy: 2 when an error stopped the run early (no worker
    process could be started), else 130 when interrupted, else 2 when any case was an error or
    timed out (it could not be checked), else 1 when any check disagreed, else 0. A run
    stopped either way is `interrupted`: its counts are those of the cases that finished."""

    passed: int
    failed: int
    errors: int
    timeouts: int
    seconds: float
    interrupted: bool = False
    stopped: bool = False  # by an error, not by Ctrl-C

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors + self.timeouts

    @property
    def cases_per_second(self) -> float:
        return self.total / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.stopped:
            return EXIT_ERROR
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.errors or self.timeouts:
            return EXIT_ERROR
        return EXIT_FAILED if self.failed else EXIT_OK

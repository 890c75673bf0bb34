"""Cases on a Dask cluster, results in file order, the time limit kept by the client."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator

from ..errors import BackpropError, shown
from .case import Case
from .run import CaseResult, Settings, run_case

WINDOW_PER_WORKER = 64  # tasks in flight per worker ahead of the oldest unfinished one


def run_dask(cases: Iterable[Case], settings: Settings, address: str,
             window: int | None = None) -> Iterator[CaseResult]:
    """Run the cases on the Dask cluster at `address`, results in file order.

    Dask runs tasks in worker threads, where no alarm can interrupt Python, so the time limit
    is kept here: a case that has been the oldest unfinished one for `timeout` seconds is
    reported as a timeout and its task cancelled (the thread finishes in its own time).
    """
    try:
        from distributed import Client
    except ImportError:
        raise BackpropError("--dask needs the optional Dask extra",
                            hint="pip install 'backprop-cli[dask]'") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise BackpropError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        workers = len(client.scheduler_info().get("workers", {})) or 1
        window = window or max(32, workers * WINDOW_PER_WORKER)
        limit = settings.timeout or 0
        pending: deque = deque()
        source = iter(cases)
        exhausted = False
        head_since = time.monotonic()
        while True:
            while not exhausted and len(pending) < window:
                case = next(source, None)
                if case is None:
                    exhausted = True
                elif case.problem is not None:
                    pending.append((case, run_case(case, settings)))
                else:
                    pending.append((case, client.submit(run_case, case, settings,
                                                        pure=False)))
            if not pending:
                return
            case, fut = pending.popleft()
            if isinstance(fut, CaseResult):
                yield fut
                head_since = time.monotonic()
                continue
            try:
                wait_for = max(0.0, head_since + limit - time.monotonic()) if limit else None
                res = fut.result(timeout=wait_for)
            except TimeoutError:
                fut.cancel()
                res = CaseResult(case.index, case.line, case.id, case.program, "timeout",
                                 seconds=float(limit), kind="timeout",
                                 message=f"{settings.origin}:{case.line}: timeout: no result "
                                         f"from the Dask cluster within {limit:g} s")
            except Exception as exc:  # noqa: BLE001 - a worker lost, a task erred: report, go on
                res = CaseResult(case.index, case.line, case.id, case.program, "error",
                                 kind="error",
                                 message=f"{settings.origin}:{case.line}: error: the Dask "
                                         f"task failed: {type(exc).__name__}: {shown(str(exc))}")
            head_since = time.monotonic()
            yield res
    finally:
        for _case, fut in pending:
            if not isinstance(fut, CaseResult):
                fut.cancel()
        client.close()


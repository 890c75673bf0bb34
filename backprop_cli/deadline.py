"""A time limit for the main thread, by SIGALRM, that the code it interrupts cannot swallow.

sympy catches exceptions broadly, and a raise that lands in a garbage-collector callback is only
printed, so the limit raises a BaseException subclass the caller names, and keeps re-firing
every `repeat` seconds past the deadline until it gets through. Limits nest: leaving an inner
one hands an outer one (a batch case's limit around sympy's) what is left of its time.
Off the main thread, or without setitimer, there is no limit.
"""

from __future__ import annotations

import signal
import threading
import time

# signal.signal without the wrapper that turns handlers into enums (a failed enum look-up per
# call: a tenth of a small batch case's time); what it returns goes straight back to it.
from _signal import signal as _set_handler


class Deadline:
    def __init__(self, seconds: float, exc: type[BaseException], repeat: float = 0.1):
        self.seconds = seconds
        self.exc = exc
        self.repeat = repeat
        self.armed = False

    def __enter__(self) -> Deadline:
        if (self.seconds and hasattr(signal, "setitimer")
                and threading.current_thread() is threading.main_thread()):
            exc = self.exc

            def on_alarm(signum, frame):
                raise exc()

            self.previous = _set_handler(signal.SIGALRM, on_alarm)
            self.outer = signal.setitimer(signal.ITIMER_REAL, self.seconds, self.repeat)
            self.started = time.monotonic()
            self.armed = True
        return self

    def __exit__(self, *exc_info) -> bool:
        if not self.armed:
            return False
        try:
            self.armed = False  # a last alarm may still land here: the finally disarms anyway
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            _set_handler(signal.SIGALRM, self.previous)
            outer, interval = self.outer
            if outer:
                left = outer - (time.monotonic() - self.started)
                signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), interval)
        return False

"""The resident memory of a command and every process it starts, read from /proc (Linux).

Shared by benchmarks/bench_batch.py and the memory tests: the figure is the peak of the sum
over the whole process tree (a pool's workers included), sampled while the command runs.
"""

from __future__ import annotations

import os
import subprocess
import time


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its descendants, read from /proc now."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields start after the last ')'
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    total = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
    return total


def peak_tree_rss(cmd: list[str], every: float = 0.02,
                  **popen) -> tuple[int, float, int, list[int], str]:
    """(peak resident bytes of the whole process tree, wall seconds, exit code, samples,
    stderr)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                            **popen)
    peak = 0
    samples = []
    while proc.poll() is None:
        rss = tree_rss(proc.pid)
        peak = max(peak, rss)
        samples.append(rss)
        time.sleep(every)
    err = proc.stderr.read().decode("utf-8", "replace")
    return peak, time.perf_counter() - start, proc.returncode, samples, err



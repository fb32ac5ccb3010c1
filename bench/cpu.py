"""Where the CPU went during a run: server, PostgreSQL, wrk, and anything else on the machine.

On a 2-core machine a busy neighbour (a test suite, a build) skews every figure; the `other`
share tells whether a run was disturbed, and `server` shows whether the worker was saturated.
"""

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds spent not idle by all cores since boot (/proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def child_pids(pid: int) -> list[int]:
    """The live children of a process (none if it has just exited)."""
    children: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            children += [
                int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()
            ]
    except OSError:
        pass
    return children


def descendants(pid: int) -> list[int]:
    """A process and all its live descendants."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending += child_pids(current)
    return found


def tree_cpu_seconds(pid: int | None) -> float:
    """CPU seconds used by a process tree (live processes, plus reaped children of each)."""
    if pid is None:
        return 0.0
    total = 0
    for member in descendants(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / CLOCK_TICKS


def children_cpu_seconds() -> float:
    """CPU seconds of this process's reaped children (wrk runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu_seconds() -> float:
    """CPU seconds of the harness itself."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuMeter:
    """Started before a run, read after it: cores used by each party on average."""

    server_pid: int
    postgres_pid: int | None

    def start(self) -> "CpuMeter":
        """Take the starting readings."""
        self._wall = time.monotonic()
        self._machine = machine_busy_seconds()
        self._server = tree_cpu_seconds(self.server_pid)
        self._postgres = tree_cpu_seconds(self.postgres_pid)
        self._children = children_cpu_seconds()
        self._own = own_cpu_seconds()
        return self

    def cores(self) -> dict[str, float]:
        """Average cores used since start: server, postgres, wrk, harness and other."""
        wall = time.monotonic() - self._wall
        server = tree_cpu_seconds(self.server_pid) - self._server
        postgres = tree_cpu_seconds(self.postgres_pid) - self._postgres
        wrk = children_cpu_seconds() - self._children
        harness = own_cpu_seconds() - self._own
        machine = machine_busy_seconds() - self._machine
        other = machine - server - postgres - wrk - harness
        shares = {"server": server, "postgres": postgres, "wrk": wrk, "other": other}
        return {name: round(max(0.0, value) / wall, 2) for name, value in shares.items()}


def wait_for_quiet_machine(max_seconds: float, busy_limit_cores: float = 0.3) -> float:
    """Wait (at most `max_seconds`) for a second in which the machine is nearly idle; returns
    the busy cores of the last second measured."""
    deadline = time.monotonic() + max_seconds
    while True:
        before = machine_busy_seconds()
        time.sleep(1)
        busy = machine_busy_seconds() - before
        if busy <= busy_limit_cores or time.monotonic() >= deadline:
            return round(busy, 2)

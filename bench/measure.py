"""Measuring one run: wall time and CPU time (minus the time spent building input pages), peak RSS,
and on PostgreSQL the CPU the server's backends spent for us (the box is shared: CPU time says how
much work a path did even when other processes steal cores)."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Stopwatch:
    """Wall and process CPU seconds between `start` and `stop`."""

    wall: float = 0.0
    cpu: float = 0.0
    _t: tuple[float, float] = field(default=(0.0, 0.0), repr=False)

    def start(self) -> Stopwatch:
        self._t = (time.perf_counter(), time.process_time())
        return self

    def stop(self) -> Stopwatch:
        self.wall = time.perf_counter() - self._t[0]
        self.cpu = time.process_time() - self._t[1]
        return self


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def process_cpu_s(pid: int) -> float | None:
    """utime + stime of a process on this host, or None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return None


def pg_server_cpu_s(conn: Any) -> float | None:
    """CPU spent so far by the server backends connected to this database, this one included (they
    are ours: each run is a fresh process with fresh connections). `conn` is a DB-API connection. None if the server
    is not on this host."""
    rows = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    ).fetchall()
    total = 0.0
    for (pid,) in rows:
        spent = process_cpu_s(pid)
        if spent is None:
            return None
        total += spent
    return total


def rates(records: int, seconds: float) -> dict[str, float]:
    return {
        "records_per_s": round(records / seconds, 1) if seconds > 0 else 0.0,
        "us_per_record": round(seconds / records * 1e6, 2) if records else 0.0,
    }

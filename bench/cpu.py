"""CPU accounting from /proc: what the app, PostgreSQL, the client and the whole machine used.

Shared by the Python load generator (drive.py) and the wrk runs (wrk.py), so
both report CPU per request the same way.
"""

from __future__ import annotations

import os
import resource

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, command, utime+stime ticks) of a process, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            raw = file.read().decode()
    except OSError:
        return None
    command = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), command, int(fields[11]) + int(fields[12])


def cpu_snapshot(gunicorn_pid: int, worker_pid: int = 0) -> dict[str, dict[int, int]]:
    """CPU ticks used so far by the app (gunicorn's master and workers, the db_worker) and by PostgreSQL."""
    app, database = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _proc_stat(int(entry))
        if stat is None:
            continue
        parent, command, ticks = stat
        if int(entry) in (gunicorn_pid, worker_pid) or parent == gunicorn_pid:
            app[int(entry)] = ticks
        elif command.startswith("postgres"):
            database[int(entry)] = ticks
    return {"app": app, "db": database}


def cpu_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU seconds the processes of snapshot `after` used since `before` (one started since counts whole)."""
    return sum(ticks - before.get(pid, 0) for pid, ticks in after.items()) / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent not idle (all cores), from /proc/stat."""
    with open("/proc/stat") as file:
        values = [int(value) for value in file.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def children_cpu_seconds() -> float:
    """CPU time of this process's children that have exited (a wrk run, once it is done)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime

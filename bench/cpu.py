"""CPU accounting from /proc: what the app, PostgreSQL, the client and the whole machine used.

Shared by the Python load generator (drive.py), the wrk runs (wrk.py) and the
email benchmark (mail.py), so all report CPU the same way.
"""

from __future__ import annotations

import os
import re
import resource

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The database a PostgreSQL process works for, from its title: a backend's "postgres: [cluster: ]user
# database host(port) activity", an autovacuum worker's "... autovacuum worker database".
DATABASE_IN_TITLE = re.compile(rb"^postgres: (?:\S+: )?(?:\S+ (\S+) (?:\S+\(\d+\)|\[local\])|autovacuum worker (\S+))")
PARALLEL_WORKER = re.compile(rb"parallel worker for PID (\d+)")  # works for its leader's database


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


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (all threads, user + system) a process has used since it started; 0 once it is gone."""
    stat = _proc_stat(pid)
    return stat[2] / CLOCK_TICKS if stat else 0.0


def _title(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read()
    except OSError:
        return b""


def _other_database(pid: int, database: str) -> bool:
    """Whether PostgreSQL process `pid` works for another database than `database` (someone else's work)."""
    title = _title(pid)
    if leader := PARALLEL_WORKER.search(title):
        title = _title(int(leader.group(1)))
    found = DATABASE_IN_TITLE.match(title)
    return found is not None and (found.group(1) or found.group(2)).decode() != database


def cpu_snapshot(*app_pids: int, database: str | None = None) -> dict[str, dict[int, int]]:
    """CPU ticks used so far by the app (the processes `app_pids` and their children) and by PostgreSQL.

    With `database`, PostgreSQL's backends serving other databases are left out (on a shared
    machine they are other people's tests); its own processes (WAL writer, checkpointer...) count.
    """
    app_pids = tuple(pid for pid in app_pids if pid)
    app, postgres = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _proc_stat(int(entry))
        if stat is None:
            continue
        parent, command, ticks = stat
        if int(entry) in app_pids or parent in app_pids:
            app[int(entry)] = ticks
        elif command.startswith("postgres") and not (database and _other_database(int(entry), database)):
            postgres[int(entry)] = ticks
    return {"app": app, "db": postgres}


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

"""Driving the app: threads sending pre-built requests for a while, and the rows they add up to.

`drive` sends one slice of a scenario from `concurrency` clients and measures
it (latencies, statuses, CPU from /proc); `Phase.of` sums a scenario's slices
at one concurrency into one row of the report.
"""

from __future__ import annotations

import itertools
import resource
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from cpu import cpu_seconds, cpu_snapshot, machine_busy_seconds
from rawhttp import Connection


@dataclass
class Slice:
    """What one stretch of driving a scenario measured."""

    latencies: list[float]
    statuses: Counter
    seconds: float
    connections: int
    cpu: dict[str, float]  # seconds: client, app, db, and the whole machine ("busy")
    exhausted: bool  # stopped by the request bound, not the time bound
    answers: list[int]  # without cycling: the status of each request (0 transport error, -1 not sent)


def drive(
    spec: dict, concurrency: int, requests: list[bytes], *, cycle: bool, duration: float, max_requests: int
) -> Slice:
    """Send `requests` from `concurrency` clients for `duration` seconds or `max_requests` requests.

    With `cycle` the list is sent round and round; without it each request is sent at most once.
    """
    address = ("127.0.0.1", spec["port"])
    limit = max_requests if cycle else min(max_requests, len(requests))
    counter = itertools.count()
    answers = [-1] * (0 if cycle else len(requests))
    barrier = threading.Barrier(concurrency + 1)
    clocks: list[list[float]] = [[] for _ in range(concurrency)]
    status_counts: list[Counter] = [Counter() for _ in range(concurrency)]
    connections = [Connection(address) for _ in range(concurrency)]
    deadline = [0.0]

    def client(number: int) -> None:
        connection, latencies, statuses = connections[number], clocks[number], status_counts[number]
        size = len(requests)
        barrier.wait()
        stop = deadline[0]
        while (index := next(counter)) < limit:
            started = time.perf_counter()
            if started >= stop:
                break
            try:
                status, _ = connection.request(requests[index % size])
            except OSError:
                status = 0
                connection.close()
            latencies.append(time.perf_counter() - started)
            statuses[status] += 1
            if not cycle:
                answers[index] = status
        connection.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    app_pids, database = (spec["gunicorn_pid"], spec.get("worker_pid", 0)), spec["db_name"]
    processes_before = cpu_snapshot(*app_pids, database=database)
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    busy_before = machine_busy_seconds()
    started = time.perf_counter()
    deadline[0] = started + duration
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    busy_after = machine_busy_seconds()
    usage_after = resource.getrusage(resource.RUSAGE_SELF)
    processes_after = cpu_snapshot(*app_pids, database=database)

    latencies = list(itertools.chain.from_iterable(clocks))
    cpu = {
        "client": (usage_after.ru_utime - usage_before.ru_utime) + (usage_after.ru_stime - usage_before.ru_stime),
        "app": cpu_seconds(processes_before["app"], processes_after["app"]),
        "db": cpu_seconds(processes_before["db"], processes_after["db"]),
        "busy": busy_after - busy_before,
    }
    return Slice(
        latencies=latencies,
        statuses=sum(status_counts, Counter()),
        seconds=elapsed,
        connections=sum(connection.opened for connection in connections),
        cpu=cpu,
        exhausted=len(latencies) >= limit,
        answers=answers,
    )


@dataclass
class Phase:
    """A scenario at one concurrency, summed over its slices: one row of the report."""

    scenario: str
    concurrency: int
    requests: int = 0
    errors: int = 0  # answers other than the expected status, transport errors included
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    connections: int = 0
    client_cpu_ms: float = 0.0  # per request: the load generator
    app_cpu_ms: float = 0.0  # per request: gunicorn's workers and the db_worker
    db_cpu_ms: float = 0.0  # per request: PostgreSQL's processes
    other_cores: float = 0.0  # cores kept busy by everything else on the machine meanwhile
    exhausted: bool = False

    @classmethod
    def of(cls, scenario: str, concurrency: int, expected: int, slices: list[Slice]) -> Phase:
        latencies = sorted(itertools.chain.from_iterable(part.latencies for part in slices))
        statuses = sum((part.statuses for part in slices), Counter())
        seconds = sum(part.seconds for part in slices)
        cpu = {name: sum(part.cpu[name] for part in slices) for name in ("client", "app", "db", "busy")}
        count = len(latencies)
        phase = cls(scenario, concurrency, requests=count, seconds=round(seconds, 3))
        phase.statuses = {str(status): number for status, number in sorted(statuses.items())}
        phase.errors = count - statuses.get(expected, 0)
        phase.connections = sum(part.connections for part in slices)
        phase.exhausted = any(part.exhausted for part in slices)
        phase.other_cores = round(max(0.0, cpu["busy"] - cpu["client"] - cpu["app"] - cpu["db"]) / seconds, 2)
        if count:
            phase.rps = round(count / seconds, 1)
            phase.p50_ms = round(latencies[(count - 1) // 2] * 1000, 2)
            phase.p99_ms = round(latencies[int((count - 1) * 0.99)] * 1000, 2)
            phase.client_cpu_ms = round(cpu["client"] * 1000 / count, 3)
            phase.app_cpu_ms = round(cpu["app"] * 1000 / count, 3)
            phase.db_cpu_ms = round(cpu["db"] * 1000 / count, 3)
        return phase

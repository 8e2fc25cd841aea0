"""The load generator: a process of its own, driving the app over HTTP on 127.0.0.1.

Run by run.py as `python bench/load.py SPEC.json RESULTS.json`. Every request
is built as raw HTTP bytes before its phase starts (bodies serialised, Svix
signatures and session tokens made), so a timed request costs the client only
a connect, a send and a read. One thread per concurrent client, each with its
own connection; HTTP/1.1 keep-alive is used whenever the server allows it
(gunicorn's sync workers answer `Connection: close`, so each request opens a
new TCP connection, which is also what a client of such a server pays).

At each concurrency the four scenarios take turns in short slices (round
robin), so a neighbour's burst of CPU on a shared machine weighs on /healthz
and the others alike and the shares of /healthz stay comparable. Each row
reports requests, unexpected answers, throughput, p50/p99 latency, the CPU
time per request of the client itself, of the gunicorn workers and of
PostgreSQL (from /proc), and how many cores everything else on the machine
kept busy meanwhile: client overhead and noise are measured, not guessed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import resource
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from payloads import new_msg_id, seed_clerk_id, session_token, svix_headers, user_created_body

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- HTTP ------------------------------------------------------------------------------------


class Connection:
    """One client's HTTP/1.1 connection; reopened when the server closes it."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.sock: socket.socket | None = None
        self.opened = 0

    def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send one pre-built request; return (status, body)."""
        reused = self.sock is not None
        if not reused:
            self._open()
        try:
            return self._exchange(raw)
        except (ConnectionError, EOFError):
            self.close()
            if not reused:
                raise
            self._open()  # a kept-alive connection the server had closed: retry once on a new one
            return self._exchange(raw)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _open(self) -> None:
        self.sock = socket.create_connection(self.address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.opened += 1

    def _exchange(self, raw: bytes) -> tuple[int, bytes]:
        sock = self.sock
        sock.sendall(raw)
        buffer = b""
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed before the response headers")
            buffer += chunk
        head, body = buffer[:end], buffer[end + 4 :]
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, close = None, lines[0].startswith(b"HTTP/1.0")
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if length is None:  # no length: the body runs until the server closes
            close = True
            while chunk := sock.recv(65536):
                body += chunk
        else:
            while len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    raise EOFError("connection closed mid-body")
                body += chunk
        if close:
            self.close()
        return status, body


def http_get(host: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "User-Agent: clerk-sync-bench"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def http_post(host: str, path: str, body: str, headers: dict[str, str]) -> bytes:
    data = body.encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "User-Agent: clerk-sync-bench",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


# --- CPU accounting --------------------------------------------------------------------------


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


def _cpu_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    return sum(ticks - before.get(pid, 0) for pid, ticks in after.items()) / CLOCK_TICKS


# --- Phases ----------------------------------------------------------------------------------


def _machine_busy_seconds() -> float:
    """CPU time the whole machine spent not idle (all cores), from /proc/stat."""
    with open("/proc/stat") as file:
        values = [int(value) for value in file.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


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


def drive(spec: dict, concurrency: int, requests: list[bytes], *, cycle: bool, duration: float, max_requests: int) -> Slice:
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
    app_pids = spec["gunicorn_pid"], spec.get("worker_pid", 0)
    processes_before, usage_before = cpu_snapshot(*app_pids), resource.getrusage(resource.RUSAGE_SELF)
    busy_before = _machine_busy_seconds()
    started = time.perf_counter()
    deadline[0] = started + duration
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    busy_after = _machine_busy_seconds()
    usage_after, processes_after = resource.getrusage(resource.RUSAGE_SELF), cpu_snapshot(*app_pids)

    latencies = list(itertools.chain.from_iterable(clocks))
    cpu = {
        "client": (usage_after.ru_utime - usage_before.ru_utime) + (usage_after.ru_stime - usage_before.ru_stime),
        "app": _cpu_seconds(processes_before["app"], processes_after["app"]),
        "db": _cpu_seconds(processes_before["db"], processes_after["db"]),
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


class Scenarios:
    """Builds each scenario's requests just before they are sent (signatures are valid 5 minutes)."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.host = f"127.0.0.1:{spec['port']}"
        self.secret = spec["webhook_secret"]
        self.private_key = load_pem_private_key(spec["private_key_pem"].encode(), password=None)
        self.delivered: list[tuple[str, str]] = []  # (msg id, body) of events answered 200
        self.tokens = [
            session_token(self.private_key, seed_clerk_id(number)) for number in range(spec["seeded_users"])
        ]

    def healthz(self) -> list[bytes]:
        return [http_get(self.host, "/healthz")]

    def me(self) -> list[bytes]:
        return [http_get(self.host, "/api/me/", {"Authorization": f"Bearer {token}"}) for token in self.tokens]

    def new_events(self, tag: str, count: int) -> tuple[list[bytes], list[tuple[str, str]]]:
        """`count` signed user.created deliveries of users never seen, each with its own svix-id."""
        now = dt.datetime.now(dt.UTC)
        events, raw = [], []
        for number in range(count):
            clerk_id = f"user_bench{tag}{number:0{22 - len(tag)}d}"
            body, msg_id = user_created_body(clerk_id, number), new_msg_id()
            events.append((msg_id, body))
            raw.append(self._delivery(msg_id, body, now))
        return raw, events

    def duplicates(self) -> list[bytes]:
        """Every event delivered so far, redelivered as Svix does: same id and body, a new signature."""
        now = dt.datetime.now(dt.UTC)
        return [self._delivery(msg_id, body, now) for msg_id, body in self.delivered]

    def _delivery(self, msg_id: str, body: str, when: dt.datetime) -> bytes:
        return http_post(self.host, "/webhooks/clerk/", body, svix_headers(body, secret=self.secret, msg_id=msg_id, timestamp=when))


SCENARIOS = {  # name: expected status
    "/healthz": 200,
    "new user.created": 200,
    "duplicate delivery": 202,
    "/api/me/ known user": 200,
}


def main(spec_path: str, results_path: str) -> int:
    """Per concurrency, the scenarios take turns in short slices, so that whatever else the
    machine does meanwhile weighs on each of them alike; each row sums its slices."""
    spec = json.loads(Path(spec_path).read_text())
    rounds = spec["rounds"]
    max_requests = max(1, spec["max_requests"] // rounds)  # per slice
    seconds = spec["duration"] / rounds
    new_per_slice = spec["max_new_events"] // rounds
    scenarios = Scenarios(spec)
    healthz, me = scenarios.healthz(), scenarios.me()
    new_users: dict[str, dict] = {}

    def new_user_slice(tag: str, concurrency: int, count: int, duration: float, key: str) -> Slice:
        raw, events = scenarios.new_events(tag, count)
        part = drive(spec, concurrency, raw, cycle=False, duration=duration, max_requests=count)
        scenarios.delivered += [events[index] for index, status in enumerate(part.answers) if status == 200]
        tally = new_users.setdefault(key, {"prefix": f"user_bench{key}", "ok": 0, "sent": 0})
        tally["ok"] += sum(status == 200 for status in part.answers)
        tally["sent"] += sum(status != -1 for status in part.answers)
        return part

    # Warm-up, not reported: every worker connects to the database and imports what each path needs.
    warm, bound = max(spec["concurrencies"]), 40 * spec["workers"]
    drive(spec, warm, healthz, cycle=True, duration=1, max_requests=bound)
    drive(spec, warm, me, cycle=True, duration=1, max_requests=bound)
    new_user_slice("warm", warm, bound, 2, "warm")
    drive(spec, warm, scenarios.duplicates(), cycle=True, duration=1, max_requests=bound)

    results = []
    for concurrency in spec["concurrencies"]:
        slices: dict[str, list[Slice]] = {name: [] for name in SCENARIOS}
        key = f"c{concurrency}x"
        for round_number in range(rounds):
            slices["/healthz"].append(
                drive(spec, concurrency, healthz, cycle=True, duration=seconds, max_requests=max_requests)
            )
            slices["new user.created"].append(
                new_user_slice(f"{key}{round_number}r", concurrency, new_per_slice, seconds, key)
            )
            slices["duplicate delivery"].append(
                drive(spec, concurrency, scenarios.duplicates(), cycle=True, duration=seconds, max_requests=max_requests)
            )
            slices["/api/me/ known user"].append(
                drive(spec, concurrency, me, cycle=True, duration=seconds, max_requests=max_requests)
            )
        for name, expected in SCENARIOS.items():
            phase = Phase.of(name, concurrency, expected, slices[name])
            results.append(asdict(phase))
            print(
                f"  {phase.scenario:<20} c={phase.concurrency:<3} {phase.requests:>6} requests "
                f"{phase.rps:>8.1f} req/s  p50 {phase.p50_ms:>6.2f} ms  p99 {phase.p99_ms:>7.2f} ms",
                flush=True,
            )
    Path(results_path).write_text(json.dumps({"phases": results, "new_users": new_users}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(*sys.argv[1:3]))
    except KeyboardInterrupt:
        sys.exit(130)

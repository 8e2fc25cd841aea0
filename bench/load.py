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
The requests are sent by drive.py (over rawhttp.py's sockets, CPU from cpu.py).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import asdict
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from drive import Phase, Slice, drive
from payloads import new_msg_id, seed_clerk_id, session_token, svix_headers, user_created_body
from rawhttp import http_get, http_post


class Scenarios:
    """Builds each scenario's requests just before they are sent (signatures are valid 5 minutes)."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.host = f"127.0.0.1:{spec['port']}"
        self.secret = spec["webhook_secret"]
        self.private_key = load_pem_private_key(spec["private_key_pem"].encode(), password=None)
        self.delivered: list[tuple[str, str]] = []  # (msg id, body) of events answered 200
        self.tokens = [session_token(self.private_key, seed_clerk_id(number)) for number in range(spec["seeded_users"])]

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
        headers = svix_headers(body, secret=self.secret, msg_id=msg_id, timestamp=when)
        return http_post(self.host, "/webhooks/clerk/", body, headers)


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
            duplicates = scenarios.duplicates()
            slices["duplicate delivery"].append(
                drive(spec, concurrency, duplicates, cycle=True, duration=seconds, max_requests=max_requests)
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

"""The load generator: a process of its own, driving the app over HTTP on 127.0.0.1.

Run by run.py as `python bench/load.py SPEC.json RESULTS.json`. At each
concurrency every scenario takes its turn in each round, in short slices (new
users, then the others in an order rotated each round: `round_order`), while
the db_worker runs: the welcome emails a new-user slice creates are sent while
the next slices are measured, as in production, and a neighbour's burst
of CPU on a shared machine weighs on /healthz and the others alike, so the
shares of /healthz stay comparable. The GET slices are wrk runs when wrk is
installed (wrk.py); the webhook slices, and every slice with `--client
python`, are sent by drive.py: requests built as raw HTTP bytes before their
slice starts (bodies serialised, Svix signatures and session tokens made), one
thread per concurrent client over rawhttp.py's sockets.

Each row reports requests, unexpected answers, throughput, p50/p99 latency,
the CPU time per request of the client, of the app (gunicorn's processes and
the db_worker) and of PostgreSQL (from /proc, cpu.py), and how many cores
everything else on the machine kept busy meanwhile: client overhead and noise
are measured, not guessed.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from drive import Phase, Slice, drive
from payloads import (
    MEMBER_PERMISSIONS,
    delivery_request,
    new_user_events,
    seed_clerk_id,
    seed_membership,
    seed_organization_clerk_id,
    session_token,
)
from rawhttp import Connection, http_get
from wrk import Wrk, phase

# The GET scenarios: name -> (path, the tokens sent: none, the seeded users' or their organization tokens).
GETS = {
    "/healthz": ("/healthz", None),
    "/api/me/ known user": ("/api/me/", "user"),
    "/api/me/ with organization": ("/api/me/", "organization"),
    "/api/orgs/current/members/": ("/api/orgs/current/members/", "organization"),
}
# Every scenario, in the order they take turns, with the status expected.
SCENARIOS = {
    "/healthz": 200,
    "new user.created": 200,
    "duplicate delivery": 202,
    "/api/me/ known user": 200,
    "/api/me/ with organization": 200,
    "/api/orgs/current/members/": 200,
}


class Scenarios:
    """Each scenario's slices, driven by wrk or by drive.py; webhook requests built just before their slice
    (signatures are valid 5 minutes)."""

    def __init__(self, spec: dict, wrk: Wrk | None, tokens: dict[str, list[str]]) -> None:
        self.spec, self.wrk = spec, wrk
        self.host = f"127.0.0.1:{spec['port']}"
        self.gets = {
            name: [http_get(self.host, path, {"Authorization": f"Bearer {token}"}) for token in tokens[kind]]
            if kind
            else [http_get(self.host, path)]
            for name, (path, kind) in GETS.items()
        }
        self.delivered: list[tuple[str, str]] = []  # (msg id, body) of events answered 200
        self.new_users: dict[str, dict] = {}  # per concurrency: the Clerk id prefix, 200s and requests sent

    def run(self, name: str, concurrency: int, seconds: float, max_requests: int, key: str) -> Slice | dict:
        """One slice of scenario `name`; a new-user slice's users are counted under `key`, their ids start with it."""
        if name in GETS and self.wrk is not None:
            path, tokens = GETS[name]
            return self.wrk.slice(path, tokens, concurrency, seconds)
        if name in GETS:
            requests = self.gets[name]
            return drive(self.spec, concurrency, requests, cycle=True, duration=seconds, max_requests=max_requests)
        if name == "new user.created":
            return self._new_users(key, concurrency, seconds, min(max_requests, self.spec["new_per_slice"]))
        duplicates = [delivery_request(self.host, self.spec["webhook_secret"], *event) for event in self.delivered]
        return drive(self.spec, concurrency, duplicates, cycle=True, duration=seconds, max_requests=max_requests)

    def phase(self, name: str, concurrency: int, parts: list) -> dict:
        if name in GETS and self.wrk is not None:
            return phase(name, concurrency, parts)
        return asdict(Phase.of(name, concurrency, SCENARIOS[name], parts))

    def _new_users(self, key: str, concurrency: int, seconds: float, count: int) -> Slice:
        """Signed user.created deliveries of users never seen, each sent once; the 200s become duplicates."""
        tally = self.new_users.setdefault(key, {"prefix": f"user_bench{key}", "ok": 0, "sent": 0, "slices": 0})
        events = new_user_events(f"{tally['prefix']}{tally['slices']}r", count)
        tally["slices"] += 1
        raw = [delivery_request(self.host, self.spec["webhook_secret"], *event) for event in events]
        part = drive(self.spec, concurrency, raw, cycle=False, duration=seconds, max_requests=count)
        self.delivered += [events[index] for index, status in enumerate(part.answers) if status == 200]
        tally["ok"] += sum(status == 200 for status in part.answers)
        tally["sent"] += sum(status != -1 for status in part.answers)
        return part


def tokens_made(spec: dict) -> dict[str, list[str]]:
    """Session tokens of the seeded users: without an organization, and naming the one each is a member of."""
    key = load_pem_private_key(spec["private_key_pem"].encode(), password=None)
    users, organizations = range(spec["seeded_users"]), spec["seeded_organizations"]
    return {
        "user": [session_token(key, seed_clerk_id(number)) for number in users],
        "organization": [
            session_token(key, seed_clerk_id(number), organization=seed_membership(number, organizations))
            for number in users
        ],
    }


def organization_check(spec: dict, tokens: dict[str, list[str]]) -> str:
    """The check line: seeded user 0's organization token makes /api/me/ name organization 0 with the token's
    role and permissions, and lists its members (else the organization scenarios would measure another path)."""
    connection, host = Connection(("127.0.0.1", spec["port"])), f"127.0.0.1:{spec['port']}"
    authorization = {"Authorization": f"Bearer {tokens['organization'][0]}"}
    _, me = connection.request(http_get(host, "/api/me/", authorization))
    _, members = connection.request(http_get(host, "/api/orgs/current/members/", authorization))
    connection.close()
    organization, members = json.loads(me).get("organization"), json.loads(members)
    expected = {
        "clerk_id": seed_organization_clerk_id(0),
        "role": "org:admin",
        "permissions": MEMBER_PERMISSIONS["admin"],
        "members": len(range(0, spec["seeded_users"], spec["seeded_organizations"])),
    }
    answered = {name: (organization or {}).get(name) for name in ("clerk_id", "role", "permissions")}
    answered["members"] = len(members) if isinstance(members, list) else None
    return f"{'ok  ' if answered == expected else 'FAIL'} an organization token's /api/me/ and member list: {answered}"


def round_order(names: list[str], round_number: int) -> list[str]:
    """The turns of one round: the new users first, then the others rotated one place per round.

    Only the new users' slice leaves the worker emails to send, and it sends them during the next
    slices: in a fixed order the scenario right after it would always pay most and /healthz, last,
    least. Rotated, over len(others) rounds (5, the default) each one follows it at every distance once.
    """
    new = [name for name in names if name == "new user.created"]
    others = [name for name in names if name not in new]
    shift = round_number % len(others)
    return new + others[shift:] + others[:shift]


def main(spec_path: str, results_path: str) -> int:
    """Per concurrency, the scenarios take turns in short slices; each row sums a scenario's slices."""
    spec = json.loads(Path(spec_path).read_text())
    rounds = spec["rounds"]
    max_requests = max(1, spec["max_requests"] // rounds)  # per slice
    seconds = spec["duration"] / rounds
    spec["new_per_slice"] = spec["max_new_events"] // rounds
    names = [name for name in SCENARIOS if name in GETS or not spec["only_get"]]
    tokens = tokens_made(spec)
    checks = [organization_check(spec, tokens)]
    with tempfile.TemporaryDirectory(prefix="clerk-sync-wrk-") as work:
        scenarios = Scenarios(spec, Wrk(spec, Path(work), tokens) if spec["wrk"] else None, tokens)
        # Warm-up, not reported: every worker connects to the database and imports what each path needs.
        warm, bound = max(spec["concurrencies"]), 40 * spec["workers"]
        for name in names:
            scenarios.run(name, warm, 1, bound, "warm")
        results = []
        for concurrency in spec["concurrencies"]:
            slices: dict[str, list] = {name: [] for name in names}
            for round_number in range(rounds):
                for name in round_order(names, round_number):
                    slices[name].append(scenarios.run(name, concurrency, seconds, max_requests, f"c{concurrency}x"))
            for name in names:
                row = scenarios.phase(name, concurrency, slices[name])
                results.append(row)
                print(
                    f"  {name:<26} c={concurrency:<3} {row['requests']:>6} requests {row['rps']:>8.1f} req/s  "
                    f"p50 {row['p50_ms']:>6.2f} ms  p99 {row['p99_ms']:>7.2f} ms",
                    flush=True,
                )
    Path(results_path).write_text(json.dumps({"phases": results, "new_users": scenarios.new_users, "checks": checks}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(*sys.argv[1:3]))
    except KeyboardInterrupt:
        sys.exit(130)

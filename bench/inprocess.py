"""The app's side of the benchmark, run in a subprocess with the app's environment (run.py sets it).

    python bench/inprocess.py seed N M     create N known Clerk users (the /api/me/ scenarios') and M
                                           organizations; each user is a member of one (payloads.seed_membership)
    python bench/inprocess.py statements   per request of each scenario: SQL statements, database
                                           round trips, in-process time and CPU time, through the WSGI app

`statements` calls the same WSGI application gunicorn serves (config.wsgi),
with request_started/finished firing as under gunicorn, so the per-request
connection health check is counted too. Statements are what Django sends
(what the test suite's query budgets count: execute_wrapper sees them whatever
DEBUG is); round trips add what psycopg sends on its own: BEGIN, COMMIT and the
connection health check's `SELECT 1` (CONN_HEALTH_CHECKS, once per request).
"""

from __future__ import annotations

import gc
import io
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def seed(count: int, organizations: int) -> None:
    """Users, organizations and memberships as the webhooks would have stored them, in a few bulk INSERTs."""
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone
    from payloads import MEMBER_PERMISSIONS, seed_clerk_id, seed_membership, seed_organization_clerk_id

    from accounts.models import Organization, OrganizationMembership, User

    now = timezone.now()
    password = make_password(None)
    users = [
        User(
            clerk_id=seed_clerk_id(number),
            username=f"seed{number}",
            email=f"seed{number}@example.org",
            first_name="Seed",
            last_name=f"User {number}",
            image_url=f"https://img.clerk.com/{seed_clerk_id(number)}",
            clerk_updated_at=now,
            created_via=User.CreatedVia.WEBHOOK,
            password=password,
        )
        for number in range(count)
    ]
    User.objects.bulk_create(users, batch_size=1000)
    tenants = Organization.objects.bulk_create(
        Organization(
            clerk_id=seed_organization_clerk_id(number),
            name=f"Bench organization {number}",
            slug=f"bench-{number}",
            image_url=f"https://img.clerk.com/{seed_organization_clerk_id(number)}",
            created_via=Organization.CreatedVia.WEBHOOK,
            clerk_updated_at=now,
        )
        for number in range(organizations)
    )
    memberships = []
    for number, user in enumerate(users):
        organization, role = seed_membership(number, organizations)
        memberships.append(
            OrganizationMembership(
                clerk_id=f"orgmem_benchseed{number:017d}",
                organization=tenants[organization],
                user_clerk_id=user.clerk_id,
                user=user,
                role=f"org:{role}",
                permissions=MEMBER_PERMISSIONS[role],
                clerk_updated_at=now,
            )
        )
    OrganizationMembership.objects.bulk_create(memberships, batch_size=1000)


@contextmanager
def round_trips_recorded():
    """Yield a list that receives every command psycopg sends to the server while the block runs."""
    import psycopg
    from psycopg._connection_base import BaseConnection

    sent: list[str] = []
    execute, exec_command = psycopg.Cursor.execute, BaseConnection._exec_command

    def counted_execute(self, query, *args, **kwargs):
        try:
            return execute(self, query, *args, **kwargs)
        finally:  # after the BEGIN psycopg sends first when a transaction starts
            sent.append(query if isinstance(query, str) else str(query))

    def counted_command(self, command, *args, **kwargs):
        sent.append(command.decode() if isinstance(command, bytes) else str(command))
        return exec_command(self, command, *args, **kwargs)

    psycopg.Cursor.execute, BaseConnection._exec_command = counted_execute, counted_command
    try:
        yield sent
    finally:
        psycopg.Cursor.execute, BaseConnection._exec_command = execute, exec_command


def statements() -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from django.db import connection
    from payloads import new_msg_id, seed_clerk_id, session_token, svix_headers, user_created_body

    from config.wsgi import application

    private_key = load_pem_private_key(os.environ["BENCH_PRIVATE_KEY"].encode(), password=None)
    token = session_token(private_key, seed_clerk_id(0))
    # User 0 is organization 0's admin (payloads.seed_membership).
    organization_token = session_token(private_key, seed_clerk_id(0), organization=(0, "admin"))
    made: list[tuple[str, str]] = []

    def call(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> int:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_LENGTH": str(len(body)) if body else "",
            "CONTENT_TYPE": "application/json" if body else "",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        for name, value in (headers or {}).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        answer = {}
        response = application(environ, lambda status, _headers, exc_info=None: answer.setdefault("status", status))
        try:
            b"".join(response)
        finally:
            response.close()  # request_finished: what gunicorn does after each response
        return int(answer["status"].split()[0])

    def healthz() -> int:
        return call("GET", "/healthz")

    def me() -> int:
        return call("GET", "/api/me/", headers={"Authorization": f"Bearer {token}"})

    def me_organization() -> int:
        return call("GET", "/api/me/", headers={"Authorization": f"Bearer {organization_token}"})

    def members() -> int:
        return call("GET", "/api/orgs/current/members/", headers={"Authorization": f"Bearer {organization_token}"})

    def new_user() -> int:
        number = len(made)
        body, msg_id = user_created_body(f"user_benchinproc{number:016d}", number), new_msg_id()
        made.append((msg_id, body))
        return _deliver(msg_id, body)

    def duplicate() -> int:
        msg_id, body = made[len(made) // 2]
        return _deliver(msg_id, body)

    def _deliver(msg_id: str, body: str) -> int:
        headers = svix_headers(body, secret=os.environ["CLERK_WEBHOOK_SECRET"], msg_id=msg_id)
        return call("POST", "/webhooks/clerk/", body.encode(), headers)

    scenarios = {
        "/healthz": (healthz, 200),
        "new user.created": (new_user, 200),
        "duplicate delivery": (duplicate, 202),
        "/api/me/ known user": (me, 200),
        "/api/me/ with organization": (me_organization, 200),
        "/api/orgs/current/members/": (members, 200),
    }
    report = {}
    for name, (send, expected) in scenarios.items():
        for _ in range(20):  # warm: imports, template compilation, the connection
            send()
        django_sent: list[str] = []

        def logged(execute, sql, *rest, into=django_sent):
            into.append(sql)
            return execute(sql, *rest)

        with connection.execute_wrapper(logged), round_trips_recorded() as sent:
            status = send()
        assert status == expected, f"{name}: {status}"
        rounds = 200
        # A full garbage collection (40-60 ms with the app loaded) landing in one scenario's 200 requests
        # added 0.3 ms to each: every scenario starts from a collected heap instead.
        gc.collect()
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(rounds):
            send()
        cpu = time.process_time() - cpu_started
        report[name] = {
            "status": status,
            "statements": len(django_sent),
            "round_trips": len(sent),
            "sent": [" ".join(command.split()) for command in sent],
            "inprocess_ms": round((time.perf_counter() - started) * 1000 / rounds, 3),
            "inprocess_cpu_ms": round(cpu * 1000 / rounds, 3),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "seed":
        seed(int(sys.argv[2]), int(sys.argv[3]))
    elif command == "statements":
        statements()
    else:
        sys.exit(__doc__)

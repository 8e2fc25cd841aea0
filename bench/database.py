"""The benchmark's own PostgreSQL database: created, checked after the load, dropped.

`verify` reads what the load left behind (every `200` to a new user.created
made one user, one provisioning row and one processed ledger event; no user,
organization or membership was created just in time) beside what the load
heard (no 5xx, every answer as expected, no traceback logged);
`welcome_emails` counts the welcome emails by state and `emails_drained`
waits for the db_worker to send every one.
"""

from __future__ import annotations

import sys
import time

import psycopg

ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def database_url(name: str) -> str:
    """The URL of database `name` on the local server, as the app and the checks connect to it."""
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def recreate(name: str) -> None:
    """A new, empty database `name`."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # left over by an interrupted run
        admin.execute(f'CREATE DATABASE "{name}"')


def drop(name: str) -> None:
    """Drop database `name` if it exists, even with connections open; a failure is only reported."""
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error as exc:
        print(f"could not drop database {name}: {exc}", file=sys.stderr)


def verify(name: str, results: dict, gunicorn_log: str, seeded: dict[str, int]) -> list[str]:
    """Correctness after the load: every 200 created exactly one user, nothing answered 5xx, and the
    organizations and memberships are the `seeded` ones (counts), none added just in time."""
    checks = []
    with psycopg.connect(database_url(name)) as db:
        for tag, sent in results["new_users"].items():
            users, provisioned, processed = db.execute(
                """
                SELECT count(*), count(p.id), count(*) FILTER (WHERE e.status = 'processed')
                FROM accounts_user u
                LEFT JOIN accounts_userprovisioning p ON p.user_id = u.id
                LEFT JOIN webhooks_webhookevent e ON e.subject_id = u.clerk_id
                WHERE u.clerk_id LIKE %s
                """,
                [sent["prefix"] + "%"],
            ).fetchone()
            ok = users == sent["ok"] == provisioned == processed
            checks.append(
                f"{'ok  ' if ok else 'FAIL'} new users {tag}: {sent['ok']} answered 200, {users} users created, "
                f"{provisioned} provisioned, {processed} events processed"
            )
        jit = db.execute("SELECT count(*) FROM accounts_user WHERE created_via = 'jit'").fetchone()[0]
        checks.append(f"{'ok  ' if jit == 0 else 'FAIL'} users created just in time (a call to Clerk): {jit}")
        organizations, jit = db.execute(
            "SELECT count(*), count(*) FILTER (WHERE created_via = 'jit') FROM accounts_organization"
        ).fetchone()
        memberships = db.execute("SELECT count(*) FROM accounts_organizationmembership").fetchone()[0]
        ok = (organizations, jit, memberships) == (seeded["organizations"], 0, seeded["memberships"])
        checks.append(
            f"{'ok  ' if ok else 'FAIL'} organizations: {organizations} ({seeded['organizations']} seeded, {jit} "
            f"created just in time), memberships: {memberships} ({seeded['memberships']} seeded)"
        )
    server_errors = {
        f"{phase['scenario']} c={phase['concurrency']}": phase["statuses"]
        for phase in results["phases"]
        if any(status == "0" or status.startswith("5") for status in phase["statuses"])
    }
    checks.append(f"{'ok  ' if not server_errors else 'FAIL'} no 5xx or transport errors {server_errors or ''}")
    unexpected = {
        f"{phase['scenario']} c={phase['concurrency']}": phase["statuses"]
        for phase in results["phases"]
        if phase["errors"]
    }
    checks.append(f"{'ok  ' if not unexpected else 'FAIL'} every answer as expected {unexpected or ''}")
    tracebacks = gunicorn_log.count("Traceback")
    checks.append(f"{'ok  ' if not tracebacks else 'FAIL'} gunicorn log: {tracebacks} tracebacks")
    return checks


def welcome_emails(db: psycopg.Connection) -> dict[str, int]:
    """How many welcome emails are in each state (UserProvisioning.welcome_email: pending, sent, ...)."""
    rows = db.execute("SELECT welcome_email, count(*) FROM accounts_userprovisioning GROUP BY 1").fetchall()
    return dict(rows)


def emails_drained(name: str, timeout: float = 300) -> str:
    """Wait for the worker to send every pending welcome email; the check line for the report."""
    started = time.monotonic()
    with psycopg.connect(database_url(name), autocommit=True) as db:
        while True:
            states = welcome_emails(db)
            pending, sent = states.get("pending", 0), states.get("sent", 0)
            waited = time.monotonic() - started
            if pending == 0 or waited > timeout:
                break
            time.sleep(0.5)
    return (
        f"{'ok  ' if pending == 0 else 'FAIL'} welcome emails: {sent} sent by the worker, {pending} pending "
        f"{waited:.0f}s after the load ended"
    )

"""The reconciliation figure: passes over 100,000 users against a local stand-in for Clerk's API.

    .venv/bin/python bench/reconcile.py [--users 100000] [--rate 50]

Creates the database `clerk_sync_bench_reconcile` and migrates it, serves
`--users` Clerk users (plus 100 organizations with 1,000 memberships) from
the test suite's Clerk stand-in (accounts/tests/clerk_stand_in.py, a real
HTTP server in this process), seeds the local tables with the very same
users (so nothing has drifted), then runs in a child process, one after the
other, a full pass and an incremental pass, each with nothing to repair. For
each it prints the wall time, the pass's own CPU time (the stand-in's is not
in it), the calls to Clerk, the SQL statements the pass sent and the child's
peak memory (VmHWM). `--rate` is CLERK_RECONCILE_RATE
(requests per 10 s; default 50, the app's). Drops the database after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

DATABASE = "clerk_sync_bench_reconcile"
EPOCH_MS = 1_700_000_000_000  # every seeded object's created_at and updated_at: long before any pass


def clerk_users(count: int):
    from accounts.clerk.payloads import user_object

    for n in range(count):
        yield user_object(
            clerk_id=f"user_bench{n:07d}",
            email=f"bench{n}@example.org",
            email_id=f"idn_bench{n:07d}",
            created_at=EPOCH_MS + n,
            first_name="Bench",
            last_name=f"User {n}",
        )


def clerk_organizations():
    from accounts.clerk.payloads import membership_data, organization_data

    organizations = [
        organization_data(id=f"org_bench{n:04d}", name=f"Bench {n}", created_at=EPOCH_MS, updated_at=EPOCH_MS)
        for n in range(100)
    ]
    memberships = [
        membership_data(
            id=f"orgmem_bench{n:05d}",
            organization=organizations[n % 100],
            user_id=f"user_bench{n:07d}",
            created_at=EPOCH_MS,
            updated_at=EPOCH_MS,
        )
        for n in range(1000)
    ]
    return organizations, memberships


def seed(count: int) -> None:
    """Child: the local tables as the webhooks would have left them, in bulk."""
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password

    from accounts.clerk.data import ClerkUser
    from accounts.models import Organization, User
    from accounts.sync.organizations import membership_upsert_from_clerk, organization_upsert_from_clerk

    password = make_password(None)
    rows = []
    for data in clerk_users(count):
        user = ClerkUser.from_payload(data)
        rows.append(
            User(
                clerk_id=user.clerk_id, username=f"bench{user.clerk_id[10:]}", email=user.email,
                first_name=user.first_name, last_name=user.last_name, image_url=user.image_url,
                clerk_updated_at=user.updated_at, created_via=User.CreatedVia.WEBHOOK, password=password,
            )
        )  # fmt: skip
    User.objects.bulk_create(rows, batch_size=2000)
    organizations, memberships = clerk_organizations()
    for data in organizations:
        organization_upsert_from_clerk(data, created_via=Organization.CreatedVia.WEBHOOK)
    for data in memberships:
        membership_upsert_from_clerk(data, created_via=Organization.CreatedVia.WEBHOOK)


def one_pass(full: bool) -> None:
    """Child: one pass; prints its figures as JSON."""
    import django

    django.setup()
    from django.db import connection

    from accounts.reconcile.passes import reconcile_pass

    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    started, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(count):
        record = reconcile_pass(full=full, trigger="command")
    figures = {
        "pass": "full" if full else "incremental",
        "outcome": record.outcome,
        "error": record.error,
        "repaired": record.repaired,
        "wall_s": round(time.perf_counter() - started, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
        "clerk_calls": record.clerk_calls,
        "statements": statements,
        "peak_rss_mb": _peak_rss_mb(),
    }
    print(json.dumps(figures))


def _peak_rss_mb() -> int:
    """This process's peak resident memory (VmHWM: reset by exec, unlike getrusage's ru_maxrss on Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=50, help="CLERK_RECONCILE_RATE (default 50, the app's)")
    args = parser.parse_args()

    from database import database_url, drop, recreate

    from accounts.tests.clerk_stand_in import ClerkStandIn

    clerk = ClerkStandIn().start()
    for data in clerk_users(args.users):
        clerk.add_user(data)
    organizations, memberships = clerk_organizations()
    for data in organizations:
        clerk.add_organization(data)
    for data in memberships:
        clerk.add_membership(data)
    env = os.environ | {
        "DATABASE_URL": database_url(DATABASE),
        "CLERK_API_URL": clerk.url,
        "CLERK_SECRET_KEY": clerk.secret_key,
        "CLERK_RECONCILE_RATE": str(args.rate),
        "LOG_LEVEL": "WARNING",
    }
    child = [sys.executable, __file__]
    recreate(DATABASE)
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=PROJECT, env=env, check=True)
        subprocess.run([*child, "seed", str(args.users)], env=env, check=True)
        print(f"{args.users} users, 100 organizations, 1000 memberships, in Clerk and locally; rate {args.rate}/10 s")
        print(
            f"{'pass':<12} {'outcome':<10} {'repaired':>8} {'wall s':>7} {'CPU s':>6} {'Clerk calls':>12} {'SQL':>6} "
            f"{'peak MB':>8}   calls by route"
        )
        for full in (True, False):
            clerk.calls.clear()
            out = subprocess.run([*child, "pass", "full" if full else "incremental"], env=env, check=True,
                                 capture_output=True, text=True).stdout  # fmt: skip
            f = json.loads(out.strip().splitlines()[-1])
            print(
                f"{f['pass']:<12} {f['outcome']:<10} {f['repaired']:>8} {f['wall_s']:>7} {f['cpu_s']:>6} "
                f"{f['clerk_calls']:>12} {f['statements']:>6} {f['peak_rss_mb']:>8}   {dict(clerk.calls)} {f['error']}"
            )
    finally:
        drop(DATABASE)
        clerk.stop()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "seed":
        seed(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "pass":
        one_pass(sys.argv[2] == "full")
    else:
        sys.exit(main())

"""The admin at scale: every admin page staff use, timed on a million webhook events (from the project root):

    .venv/bin/python bench/admin.py [--keep] [--strict] [--only TEXT] [--json FILE] [--compare FILE ...] [--markdown]

Creates the PostgreSQL database `clerk_sync_bench_admin`, migrates it and
seeds it in set-based SQL (bench/admin_seed.py: 1,000,000 Clerk events with
their attempts, 200,000 users with their welcome emails, 20,000 organizations,
200,000 memberships; a few minutes), then, in this process with the app's
settings (DEBUG=0), logs in a superuser through Django's test client and
times every page of the admin site (bench/admin_pages.py): the median of
`--repeat` loads after one to warm, the SQL statements of that load and the
slowest of them. Prints a table, slowest first, flagging pages over 500 ms;
`--strict` exits 1 if there is one (or a page did not answer 200).

`--keep` keeps the database afterwards and reuses it if it exists: seeded
once, migrated on every run (an index added since is built), timed as often
as needed. Drop it with `--drop`. `--json FILE` saves the results,
`--compare FILE ...` adds a column per saved run (named by its file), and
`--markdown` prints the table in Markdown as well.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import sys
import time
import warnings
from pathlib import Path

import psycopg

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))  # run as `python bench/admin.py`: the app's packages are beside bench/

from admin_seed import Sizes, seed  # noqa: E402 (after the path above: it uses the app's payload builder)
from database import ADMIN_URL, database_url, drop, recreate  # noqa: E402
from report import machine_and_software  # noqa: E402

DATABASE = "clerk_sync_bench_admin"
LIMIT_MS = 500


def database_ready(sizes: Sizes, *, keep: bool) -> None:
    """The benchmark's database, migrated and seeded: reused as it is with `keep` when it holds events."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as server:
        exists = server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
    if not (keep and exists):
        recreate(DATABASE)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    with psycopg.connect(database_url(DATABASE), autocommit=True) as db:
        if db.execute("SELECT EXISTS (SELECT 1 FROM webhooks_webhookevent)").fetchone()[0]:
            db.execute("ANALYZE")  # what a migration since the seed added
            return
        print(f"seeding {DATABASE}:")
        started = time.perf_counter()
        seed(db, sizes, dt.datetime.now(dt.UTC))
        print(f"seeded in {time.perf_counter() - started:.0f} s")


def staff_ready():
    """The superuser the pages are opened as, and a group for the groups' pages."""
    from django.contrib.auth.models import Group, Permission

    from accounts.models import User

    user = User.objects.filter(username="bench-admin").first()
    if user is None:
        user = User.objects.create_superuser("bench-admin", "bench-admin@example.com", None)
    group, _ = Group.objects.get_or_create(name="Support")
    group.permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


def page_timed(client, url: str, repeat: int) -> dict:
    """The median of `repeat` loads of `url` after one to warm: ms, status, statements, the slowest statement."""
    from django.db import connection

    client.get(url)
    runs = []
    for _ in range(repeat):
        statements: list[tuple[float, str]] = []

        def timed(execute, sql, params, many, context, statements=statements):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                statements.append(((time.perf_counter() - started) * 1000, sql))

        with connection.execute_wrapper(timed):
            started = time.perf_counter()
            status = client.get(url).status_code
            runs.append(((time.perf_counter() - started) * 1000, status, statements))
    ms, status, statements = sorted(runs, key=lambda run: run[0])[len(runs) // 2]
    slowest_ms, slowest_sql = max(statements, default=(0.0, ""))
    return {"ms": round(ms, 1), "status": status, "statements": len(statements),
            "slowest_ms": round(slowest_ms, 1), "slowest_sql": " ".join(slowest_sql.split())}  # fmt: skip


def scale() -> str:
    """The rows of the tables that matter, as seeded (or as kept)."""
    tables = {"events": "webhooks_webhookevent", "attempts": "webhooks_webhookattempt", "users": "accounts_user",
              "welcome emails": "accounts_userprovisioning", "organizations": "accounts_organization",
              "memberships": "accounts_organizationmembership"}  # fmt: skip
    with psycopg.connect(database_url(DATABASE)) as db:
        counts = {name: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for name, table in tables.items()}
    return "scale     : " + ", ".join(f"{count:,} {name}" for name, count in counts.items())


def table(results: list[dict], saved: dict[str, dict[str, float]]) -> str:
    """This run's pages, slowest first: ms, then each saved run's ms (by file name), statements, the slowest."""
    lines = [f"{'ms':>8} " + "".join(f"{name[:8]:>9}" for name in saved) + f" {'SQL':>4} {'slowest':>8}  page"]
    for row in sorted(results, key=lambda row: -row["ms"]):
        flag = " SLOW" if row["ms"] > LIMIT_MS else ""
        flag += f" status {row['status']}" if row["status"] != 200 else ""
        was = "".join(f"{run.get(row['label'], float('nan')):>9.1f}" for run in saved.values())
        lines.append(
            f"{row['ms']:>8.1f} {was} {row['statements']:>4} {row['slowest_ms']:>8.1f}  {row['label']}{flag}"
            f"  {row['url']}"
        )
    for row in results:
        if row["ms"] > LIMIT_MS:
            lines.append(f"\n{row['label']} ({row['ms']:.0f} ms), its slowest statement ({row['slowest_ms']:.0f} ms):")
            lines.append(f"  {row['slowest_sql'][:600]}")
    return "\n".join(lines)


def markdown(results: list[dict], saved: dict[str, dict[str, float]]) -> str:
    """The same table in Markdown (docs/admin.md), the saved runs first, slowest first by this run."""
    head = ["page", *(f"{name} (ms)" for name in saved), "this run (ms)", "statements"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in sorted(results, key=lambda row: -row["ms"]):
        was = [f"{run[row['label']]:.0f}" if row["label"] in run else "" for run in saved.values()]
        label = row["label"].replace("<wbr>", "")
        lines.append("| " + " | ".join([label, *was, f"{row['ms']:.0f}", str(row["statements"])]) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the database, and reuse it if it exists")
    parser.add_argument("--drop", action="store_true", help="drop the kept database and exit")
    parser.add_argument("--strict", action="store_true", help=f"exit 1 if a page takes over {LIMIT_MS} ms")
    parser.add_argument("--only", default="", help="time only the pages whose label contains this")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="save the results here")
    parser.add_argument("--compare", nargs="*", default=[], help="saved runs (--json) to show beside this one")
    parser.add_argument("--markdown", action="store_true", help="print the table in Markdown too")
    for name, default in vars(Sizes()).items():
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    if args.drop:
        drop(DATABASE)
        return 0
    os.environ.update(
        DATABASE_URL=database_url(DATABASE), DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="testserver", LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="config.settings",
    )  # fmt: skip
    import django

    warnings.filterwarnings("ignore", "No directory at")  # WhiteNoise: collectstatic was not run, it serves the apps'
    django.setup()
    from admin_pages import admin_pages
    from django.contrib import admin
    from django.db import connections
    from django.test import Client

    try:
        database_ready(Sizes(args.events, args.users, args.organizations, args.memberships), keep=args.keep)
        client, user = Client(), staff_ready()
        client.force_login(user)
        pages = [page for page in admin_pages(admin.site, user) if args.only in page.label]
        print("\n".join(["clerk-sync admin benchmark", *machine_and_software(), scale()]))
        print(f"setup     : Django's test client in one process, DEBUG=0, median of {args.repeat} after one to warm\n")
        results = [{"label": page.label, "url": page.url, **page_timed(client, page.url, args.repeat)}
                   for page in pages]  # fmt: skip
    finally:
        connections.close_all()
        if not args.keep:
            drop(DATABASE)
    saved = {Path(name).stem: {row["label"]: row["ms"] for row in json.loads(Path(name).read_text())}
             for name in args.compare}  # fmt: skip
    print(table(results, saved))
    if args.markdown:
        print("\n" + markdown(results, saved))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    slow = [row for row in results if row["ms"] > LIMIT_MS]
    failed = [row for row in results if row["status"] != 200]
    print(f"\n{len(results)} pages, {len(slow)} over {LIMIT_MS} ms, {len(failed)} not answering 200")
    return 1 if failed or (args.strict and slow) else 0


if __name__ == "__main__":
    sys.exit(main())

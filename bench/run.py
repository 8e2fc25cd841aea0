"""The benchmark, in one command (from the project root):

    .venv/bin/python bench/run.py

Creates its own PostgreSQL database, migrates it, seeds known Clerk users,
their organizations and memberships, starts `gunicorn config.wsgi` (the
project's gunicorn.conf.py, DEBUG=0) on 127.0.0.1 and one `manage.py
db_worker` (TASKS_BACKEND=database: the welcome emails), and drives it from a
separate process (load.py) at several concurrencies, every scenario taking its
turn in short slices while the worker runs: /healthz (the framework's floor),
signed Svix deliveries (new user.created events and duplicates), /api/me/ with
session tokens without and with an active organization, and the organization's
member list; the GET slices are wrk runs when wrk is installed (wrk.py). Then
waits for the worker to send every welcome email, stops both and drops the
database. Prints the machine, a row per scenario and concurrency, the SQL each
request sends, and whether the throughput targets are met. See bench/README.md
for what each column means; bench/mail.py measures the worker's emails per second.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import database
import processes
import report
import wrk

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent


def main() -> int:
    options = _arguments()
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="clerk-sync-bench-"))
    private_pem, public_pem, webhook_secret = processes.credentials()
    env = processes.app_env(database.database_url(options.db_name), webhook_secret, public_pem)

    print(report.machine(report.setup(options)), flush=True)
    gunicorn = worker = None
    try:
        database.recreate(options.db_name)
        processes.step("migrate", [sys.executable, "manage.py", "migrate", "--verbosity", "0"], env)
        seed = [sys.executable, str(BENCH / "inprocess.py"), "seed", str(options.users), str(options.organizations)]
        processes.step("seed", seed, env)
        port = options.port or processes.free_port()
        gunicorn = processes.gunicorn_start(
            env, port, work / "gunicorn.log", workers=options.workers, worker_class=options.worker_class
        )
        worker = processes.worker_start(env, work / "worker.log")
        print(
            f"setup done in {time.monotonic() - started:.1f}s: database {options.db_name}, "
            f"{options.users} seeded users in {options.organizations} organizations, gunicorn pid {gunicorn.pid} "
            f"on 127.0.0.1:{port} ({processes.gunicorn_shape(options)})",
            flush=True,
        )
        use_wrk = options.client == "auto" and wrk.wrk_path() is not None
        if options.client == "auto" and not use_wrk:
            print("wrk is not installed: the Python client drives every scenario (apt-get install wrk)", flush=True)

        spec = {
            "port": port,
            "gunicorn_pid": gunicorn.pid,
            "worker_pid": worker.pid,
            "db_name": options.db_name,
            "workers": options.workers or 2 * len(os.sched_getaffinity(0)),
            "webhook_secret": webhook_secret,
            "private_key_pem": private_pem,
            "seeded_users": options.users,
            "seeded_organizations": options.organizations,
            "wrk": use_wrk,
            "only_get": options.only_get,
            "concurrencies": options.concurrency,
            "duration": options.duration,
            "rounds": options.rounds,
            "max_requests": options.max_requests,
            "max_new_events": options.max_new_events,
        }
        (work / "spec.json").write_text(json.dumps(spec))
        # A process of its own, started fresh (not forked), so it shares nothing with this one.
        load = subprocess.run(
            [sys.executable, str(BENCH / "load.py"), str(work / "spec.json"), str(work / "results.json")],
            cwd=PROJECT,
            check=False,
        )
        if load.returncode != 0:
            raise RuntimeError(f"the load generator failed (exit {load.returncode})")
        results = json.loads((work / "results.json").read_text())
        processes.process_stop(gunicorn)
        gunicorn_log, gunicorn = (work / "gunicorn.log").read_text(), None
        drained = database.emails_drained(options.db_name)
        processes.process_stop(worker)
        worker_log, worker = (work / "worker.log").read_text(), None

        statements_env = env | {"BENCH_PRIVATE_KEY": private_pem}
        statements = json.loads(
            processes.step("statements", [sys.executable, str(BENCH / "inprocess.py"), "statements"], statements_env)
        )
        seeded = {"organizations": options.organizations, "memberships": options.users}
        checks = results["checks"] + database.verify(options.db_name, results, gunicorn_log + worker_log, seeded)
        checks.append(drained)
        print()
        print(report.table(results["phases"]))
        print()
        print(report.statements_table(statements))
        print()
        print("\n".join(checks))
        print()
        verdict = report.targets(results["phases"])
        print("\n".join(verdict))
        print(f"\nwall time {time.monotonic() - started:.1f}s")
        if any(line.startswith("FAIL") for line in checks):
            return 1
        return 2 if options.strict and any("NOT met" in line for line in verdict) else 0
    finally:
        for process in (gunicorn, worker):
            if process is not None:
                processes.process_stop(process)
        database.drop(options.db_name)
        shutil.rmtree(work, ignore_errors=True)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cores = len(os.sched_getaffinity(0))
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"gunicorn workers (default: gunicorn.conf.py's, 2 per core = {2 * cores} here; see bench/README.md)",
    )
    parser.add_argument(
        "--worker-class", default=None, help="gunicorn worker class, e.g. sync (default: gunicorn.conf.py's, gthread)"
    )
    parser.add_argument(
        "--client",
        choices=["auto", "python"],
        default="auto",
        help="auto: wrk drives the GET scenarios when installed (apt-get install wrk), load.py the webhooks; "
        "python: load.py drives everything",
    )
    parser.add_argument("--only-get", action="store_true", help="measure only the GET scenarios, not the webhooks")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 16], help="client concurrencies")
    parser.add_argument(
        "--duration", type=float, default=5.0, help="seconds per scenario and concurrency (default %(default)s)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="slices each scenario's time is cut into, taking turns (default %(default)s)",
    )
    parser.add_argument("--max-requests", type=int, default=50_000, help="request bound per scenario and concurrency")
    parser.add_argument(
        "--max-new-events", type=int, default=8_000, help="new user.created deliveries pre-built per phase"
    )
    parser.add_argument("--users", type=int, default=300, help="known Clerk users seeded (default %(default)s)")
    parser.add_argument(
        "--organizations",
        type=int,
        default=30,
        help="organizations seeded; every seeded user is a member of one (default %(default)s)",
    )
    parser.add_argument("--db-name", default="clerk_sync_bench", help="database created and dropped")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 2 when a throughput target is not met (exit 1: a correctness check failed)",
    )
    options = parser.parse_args()
    if not 1 <= options.organizations <= options.users:
        parser.error("--organizations must be between 1 and --users")
    return options


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # gunicorn was stopped and the database dropped on the way out
        sys.exit("interrupted")

"""The benchmark, in one command (from the project root):

    .venv/bin/python bench/run.py

Creates its own PostgreSQL database, migrates it, seeds known Clerk users,
starts `gunicorn config.wsgi` (the project's gunicorn.conf.py, DEBUG=0) on
127.0.0.1 and one `manage.py db_worker` (TASKS_BACKEND=database: the welcome
emails), drives it from a separate process (load.py) with signed Svix
deliveries (new user.created events and duplicates), and with wrk when it is
installed (wrk.py; else load.py) with authenticated /api/me/ calls, at
several concurrencies, next to /healthz as the framework's floor, waits for the
worker to send every welcome email, then stops both and drops the database. Prints the machine, a table per phase, the
SQL each request sends, and whether the throughput targets are met.
See bench/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from base64 import b64encode
from pathlib import Path

import database
import processes
import report
import wrk
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from payloads import seed_clerk_id, session_token

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent


def main() -> int:
    options = _arguments()
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="clerk-sync-bench-"))
    database_url = database.database_url(options.db_name)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    webhook_secret = "whsec_" + b64encode(secrets.token_bytes(24)).decode()
    env = processes.app_env(database_url, webhook_secret, public_pem)

    print(report.machine(options), flush=True)
    gunicorn = worker = None
    try:
        database.recreate(options.db_name)
        processes.step("migrate", [sys.executable, "manage.py", "migrate", "--verbosity", "0"], env)
        processes.step("seed", [sys.executable, str(BENCH / "inprocess.py"), "seed", str(options.users)], env)
        port = options.port or processes.free_port()
        gunicorn = processes.gunicorn_start(env, port, options, work / "gunicorn.log")
        worker = processes.worker_start(env, work / "worker.log")
        print(
            f"setup done in {time.monotonic() - started:.1f}s: database {options.db_name}, "
            f"{options.users} seeded users, gunicorn pid {gunicorn.pid} on 127.0.0.1:{port} "
            f"({processes.gunicorn_shape(options)})",
            flush=True,
        )
        use_wrk = options.client == "auto" and wrk.wrk_path() is not None

        spec = {
            "port": port,
            "gunicorn_pid": gunicorn.pid,
            "worker_pid": worker.pid,
            "workers": options.workers or 2 * len(os.sched_getaffinity(0)),
            "webhook_secret": webhook_secret,
            "private_key_pem": private_pem,
            "seeded_users": options.users,
            "concurrencies": options.concurrency,
            "duration": options.duration,
            "rounds": options.rounds,
            "max_requests": options.max_requests,
            "max_new_events": options.max_new_events,
        }
        (work / "spec.json").write_text(json.dumps(spec))
        results: dict = {"phases": [], "new_users": {}}
        if not options.only_get:
            # A process of its own, started fresh (not forked), so it shares nothing with this one.
            load = subprocess.run(
                [sys.executable, str(BENCH / "load.py"), str(work / "spec.json"), str(work / "results.json")],
                cwd=PROJECT,
                check=False,
            )
            if load.returncode != 0:
                raise RuntimeError(f"the load generator failed (exit {load.returncode})")
            results = json.loads((work / "results.json").read_text())
        if use_wrk or options.only_get:
            results["phases"] = _get_phases(options, port, gunicorn.pid, private_pem, use_wrk) + [
                phase for phase in results["phases"] if phase["scenario"] not in wrk.WRK_SCENARIOS
            ]
        processes.process_stop(gunicorn)
        gunicorn_log, gunicorn = (work / "gunicorn.log").read_text(), None
        drained = database.emails_drained(options.db_name)
        processes.process_stop(worker)
        worker_log, worker = (work / "worker.log").read_text(), None

        statements_env = env | {"BENCH_PRIVATE_KEY": private_pem}
        statements = json.loads(
            processes.step("statements", [sys.executable, str(BENCH / "inprocess.py"), "statements"], statements_env)
        )
        checks = database.verify(options.db_name, results, gunicorn_log + worker_log) + [drained]
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


def _get_phases(
    options: argparse.Namespace, port: int, gunicorn_pid: int, private_pem: str, use_wrk: bool
) -> list[dict]:
    """/healthz and /api/me/ measured by wrk (or by load.py alone when wrk is missing and --only-get asks)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(private_pem.encode(), password=None)
    tokens = [session_token(key, seed_clerk_id(number)) for number in range(options.users)]
    if not use_wrk:
        raise SystemExit("--only-get needs wrk (apt-get install wrk)")
    print(f"wrk: {len(tokens)} tokens, {options.rounds} interleaved slices per scenario", flush=True)
    return wrk.run(port, gunicorn_pid, tokens, options.concurrency, options.duration, options.rounds)


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
        help="auto: wrk drives /healthz and /api/me/ when installed (apt-get install wrk), load.py the rest; "
        "python: load.py drives everything",
    )
    parser.add_argument(
        "--only-get", action="store_true", help="measure only /healthz and /api/me/ (with wrk), not the webhooks"
    )
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
    parser.add_argument("--db-name", default="clerk_sync_bench", help="database created and dropped")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 2 when a throughput target is not met (exit 1: a correctness check failed)",
    )
    return parser.parse_args()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # gunicorn was stopped and the database dropped on the way out
        sys.exit("interrupted")

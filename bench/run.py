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
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from base64 import b64encode
from pathlib import Path

import psycopg
import wrk
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from payloads import seed_clerk_id, session_token

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"

# At concurrency 8, as a share of /healthz's throughput in the same run (the targets).
TARGETS = {"new user.created": 0.2, "duplicate delivery": 0.4, "/api/me/ known user": 0.7}
TARGET_CONCURRENCY = 8


def main() -> int:
    options = _arguments()
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="clerk-sync-bench-"))
    database_url = f"postgres://postgres@127.0.0.1:5432/{options.db_name}"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    webhook_secret = "whsec_" + b64encode(secrets.token_bytes(24)).decode()
    env = _app_env(database_url, webhook_secret, public_pem)

    print(_machine(options), flush=True)
    gunicorn = worker = None
    try:
        _database_recreate(options.db_name)
        _step("migrate", [sys.executable, "manage.py", "migrate", "--verbosity", "0"], env)
        _step("seed", [sys.executable, str(BENCH / "inprocess.py"), "seed", str(options.users)], env)
        port = options.port or _free_port()
        gunicorn = _gunicorn_start(env, port, options, work / "gunicorn.log")
        worker = _worker_start(env, work / "worker.log")
        print(
            f"setup done in {time.monotonic() - started:.1f}s: database {options.db_name}, {options.users} seeded users, "
            f"gunicorn pid {gunicorn.pid} on 127.0.0.1:{port} ({_gunicorn_shape(options)})",
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
        _process_stop(gunicorn)
        gunicorn_log, gunicorn = (work / "gunicorn.log").read_text(), None
        drained = _emails_drained(options.db_name)
        _process_stop(worker)
        worker_log, worker = (work / "worker.log").read_text(), None

        statements_env = env | {"BENCH_PRIVATE_KEY": private_pem}
        statements = json.loads(
            _step("statements", [sys.executable, str(BENCH / "inprocess.py"), "statements"], statements_env)
        )
        checks = _verify(options.db_name, results, gunicorn_log + worker_log) + [drained]
        print()
        print(_table(results["phases"]))
        print()
        print(_statements_table(statements))
        print()
        print("\n".join(checks))
        print()
        verdict = _targets(results["phases"])
        print("\n".join(verdict))
        print(f"\nwall time {time.monotonic() - started:.1f}s")
        if any(line.startswith("FAIL") for line in checks):
            return 1
        return 2 if options.strict and any("NOT met" in line for line in verdict) else 0
    finally:
        for process in (gunicorn, worker):
            if process is not None:
                _process_stop(process)
        _database_drop(options.db_name)
        shutil.rmtree(work, ignore_errors=True)


def _get_phases(options: argparse.Namespace, port: int, gunicorn_pid: int, private_pem: str, use_wrk: bool) -> list[dict]:
    """/healthz and /api/me/ measured by wrk (or by load.py alone when wrk is missing and --only-get asks)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(private_pem.encode(), password=None)
    tokens = [session_token(key, seed_clerk_id(number)) for number in range(options.users)]
    if not use_wrk:
        raise SystemExit("--only-get needs wrk (apt-get install wrk)")
    print(f"wrk: {len(tokens)} tokens, {options.rounds} interleaved slices per scenario", flush=True)
    return wrk.run(port, gunicorn_pid, tokens, options.concurrency, options.duration, options.rounds)


def _gunicorn_shape(options: argparse.Namespace) -> str:
    if options.worker_class is None and options.workers is None:
        return "workers and threads from gunicorn.conf.py"
    return f"--worker-class {options.worker_class or '(conf)'} --workers {options.workers or '(conf)'}"


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
        "--rounds", type=int, default=5, help="slices each scenario's time is cut into, taking turns (default %(default)s)"
    )
    parser.add_argument(
        "--max-requests", type=int, default=50_000, help="request bound per scenario and concurrency"
    )
    parser.add_argument(
        "--max-new-events", type=int, default=8_000, help="new user.created deliveries pre-built per phase"
    )
    parser.add_argument("--users", type=int, default=300, help="known Clerk users seeded (default %(default)s)")
    parser.add_argument("--db-name", default="clerk_sync_bench", help="database created and dropped")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--strict", action="store_true", help="exit 2 when a throughput target is not met (exit 1: a correctness check failed)"
    )
    return parser.parse_args()


# --- The app ---------------------------------------------------------------------------------


def _app_env(database_url: str, webhook_secret: str, public_pem: str) -> dict[str, str]:
    """The app's environment: production-like, quiet, and unable to reach anything but 127.0.0.1.

    Every setting the app reads is given here, so neither the caller's environment nor a
    `.env` file (read by config/settings.py for what is not set) changes what is measured.
    """
    prefixes = ("CLERK_", "DJANGO_", "EMAIL_", "TASKS_", "WELCOME_EMAIL_")
    env = {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}
    return env | {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "CSRF_TRUSTED_ORIGINS": "",
        "SECURE_SSL_REDIRECT": "0",
        "USE_X_FORWARDED_PROTO": "0",
        "CONN_MAX_AGE": "60",  # the settings' default: persistent, health-checked connections
        "DATABASE_CONNECT_TIMEOUT": "5",
        "CLERK_WEBHOOK_SECRET": webhook_secret,
        "CLERK_JWT_KEY": public_pem,
        "CLERK_SECRET_KEY": "",  # a user not seeded would get 503, never a call out
        "CLERK_API_URL": "http://127.0.0.1:9",
        "CLERK_AUTHORIZED_PARTIES": "",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",  # builds each message, sends nothing
        "TASKS_BACKEND": "database",  # production's default: the email is a task row, sent by db_worker
        "DEFAULT_FROM_EMAIL": "webmaster@localhost",
        "WEBHOOKS_MAX_BODY_BYTES": "1048576",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def _step(name: str, command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _gunicorn_start(env: dict[str, str], port: int, options: argparse.Namespace, log: Path) -> subprocess.Popen:
    """gunicorn as deployed: the project's gunicorn.conf.py (read from the project root), flags overriding it."""
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi",
        "--bind", f"127.0.0.1:{port}",
        "--log-level", "warning",
        "--timeout", "30",
    ]  # fmt: skip
    if options.workers is not None:
        command += ["--workers", str(options.workers)]
    if options.worker_class is not None:
        command += ["--worker-class", options.worker_class]
        if options.worker_class == "sync":
            command += ["--threads", "1"]  # gunicorn turns sync into gthread when threads > 1 (the conf's 8)
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, cwd=PROJECT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
    _process_stop(process)
    raise RuntimeError(f"gunicorn did not answer /healthz within 30s:\n{log.read_text()}")


def _worker_start(env: dict[str, str], log: Path) -> subprocess.Popen:
    """One db_worker next to the web processes, at a lower CPU priority as the README advises:
    during a burst the requests go first and the emails wait, then catch up."""
    with open(log, "wb") as output:
        return subprocess.Popen(
            ["nice", "-n", "10", sys.executable, "manage.py", "db_worker", "--no-reload"],
            cwd=PROJECT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _emails_drained(name: str, timeout: float = 300) -> str:
    """Wait for the worker to send every pending welcome email; the check line for the report."""
    started = time.monotonic()
    with psycopg.connect(f"postgres://postgres@127.0.0.1:5432/{name}", autocommit=True) as db:
        while True:
            pending, sent = db.execute(
                "SELECT count(*) FILTER (WHERE welcome_email = 'pending'), count(*) FILTER (WHERE welcome_email = 'sent')"
                " FROM accounts_userprovisioning"
            ).fetchone()
            waited = time.monotonic() - started
            if pending == 0 or waited > timeout:
                break
            time.sleep(0.5)
    return (
        f"{'ok  ' if pending == 0 else 'FAIL'} welcome emails: {sent} sent by the worker, {pending} pending "
        f"{waited:.0f}s after the load ended"
    )


def _process_stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- The database ----------------------------------------------------------------------------


def _database_recreate(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # left over by an interrupted run
        admin.execute(f'CREATE DATABASE "{name}"')


def _database_drop(name: str) -> None:
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error as exc:
        print(f"could not drop database {name}: {exc}", file=sys.stderr)


def _verify(name: str, results: dict, gunicorn_log: str) -> list[str]:
    """Correctness after the load: every 200 created exactly one user, and nothing answered 5xx."""
    checks = []
    with psycopg.connect(f"postgres://postgres@127.0.0.1:5432/{name}") as db:
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


# --- The report ------------------------------------------------------------------------------


def _machine(options: argparse.Namespace) -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    memory = re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), re.MULTILINE)
    with psycopg.connect(ADMIN_URL) as admin:
        server = admin.execute("SHOW server_version").fetchone()[0]
    packages = {}
    for package in ("django", "gunicorn", "psycopg", "svix", "jwt"):
        packages[package] = __import__(package).__version__ if package != "django" else __import__(package).get_version()
    return "\n".join(
        [
            "clerk-sync benchmark",
            f"machine   : {len(os.sched_getaffinity(0))} cores (nproc), {model.group(1) if model else '?'}, "
            f"{int(memory.group(1)) // 1024 if memory else '?'} MiB, Linux {platform.release()}, "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            f"software  : Python {platform.python_version()}, PostgreSQL {server}, "
            + ", ".join(f"{name} {version}" for name, version in packages.items()),
            f"setup     : gunicorn {_gunicorn_shape(options)} and 1 db_worker, DEBUG=0, LOG_LEVEL=WARNING, locmem email, "
            f"{options.duration:g}s per scenario and concurrency in {options.rounds} interleaved slices, "
            f"concurrencies {' '.join(map(str, options.concurrency))}",
        ]
    )


def _table(phases: list[dict]) -> str:
    floor = {phase["concurrency"]: phase["rps"] for phase in phases if phase["scenario"] == "/healthz"}
    header = (
        f"{'scenario':<20} {'conc':>4} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'x healthz':>9}  {'CPU ms/request: app':>19} {'db':>5} {'client':>6}  {'other cores':>11}"
    )
    lines = [header, "-" * len(header)]
    for phase in phases:
        share = phase["rps"] / floor[phase["concurrency"]] if floor.get(phase["concurrency"]) else 0
        bound = "*" if phase["exhausted"] else ("w" if phase.get("client") == "wrk" else " ")
        lines.append(
            f"{phase['scenario']:<20} {phase['concurrency']:>4} {phase['requests']:>7}{bound} {phase['errors']:>6} "
            f"{phase['rps']:>8.1f} {phase['p50_ms']:>7.2f} {phase['p99_ms']:>7.2f} {share:>8.2f}x  "
            f"{_cpu(phase['app_cpu_ms'], 19)} {_cpu(phase['db_cpu_ms'], 5)} {_cpu(phase['client_cpu_ms'], 6)}  "
            f"{_cpu(phase['other_cores'], 11)}"
        )
    if any(phase["exhausted"] for phase in phases):
        lines.append("* stopped by the request bound before the time bound")
    if any(phase.get("client") == "wrk" for phase in phases):
        lines.append("w driven by wrk (client CPU: wrk's); the others by load.py")
    return "\n".join(lines)


def _cpu(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.2f}"


def _statements_table(report: dict) -> str:
    lines = [
        "per request, in process through config.wsgi (no HTTP, no gunicorn), one at a time:",
        f"{'scenario':<20} {'statements':>10} {'round trips':>11} {'ms':>6} {'CPU ms':>6}  what goes to PostgreSQL, in order",
    ]
    for name, row in report.items():
        sent = [_short(command) for command in row["sent"]]
        lines.append(
            f"{name:<20} {row['statements']:>10} {row['round_trips']:>11} {row['inprocess_ms']:>6.2f} "
            f"{row['inprocess_cpu_ms']:>6.2f}  {'; '.join(sent)}"
        )
    return "\n".join(lines)


def _short(sql: str) -> str:
    """'INSERT INTO "webhooks_webhookattempt" (...' -> 'INSERT webhooks_webhookattempt'."""
    sql = " ".join(sql.replace('"', "").split())
    if sql.startswith("SELECT 1"):
        return "SELECT 1"
    writes = re.findall(r"(?<!DO )\b(INSERT INTO|UPDATE|DELETE FROM) (\w+)", sql)  # not ON CONFLICT DO UPDATE
    if sql.startswith("WITH"):  # one statement doing several things
        return "WITH(" + ", ".join(f"{verb.split()[0]} {table}" for verb, table in writes) + ")"
    if writes:
        verb, table = writes[0]
        return f"{verb.split()[0]} {table}" + (" ON CONFLICT" if "ON CONFLICT" in sql else "")
    read = re.search(r"\bFROM (\w+)", sql)
    if sql.startswith("SELECT") and read:
        return f"SELECT {read.group(1)}" + (" FOR UPDATE" if "FOR UPDATE" in sql else "")
    return sql.split()[0] if sql else sql


def _targets(phases: list[dict]) -> list[str]:
    at = {phase["scenario"]: phase for phase in phases if phase["concurrency"] == TARGET_CONCURRENCY}
    if "/healthz" not in at:
        return [f"targets: not measured (no phase at concurrency {TARGET_CONCURRENCY})"]
    floor = at["/healthz"]["rps"]
    lines = [f"targets at concurrency {TARGET_CONCURRENCY}, as a share of /healthz ({floor:.0f} req/s):"]
    for scenario, target in TARGETS.items():
        if scenario not in at:
            lines.append(f"  not measured {scenario}")
            continue
        share = at[scenario]["rps"] / floor if scenario in at and floor else 0.0
        verdict = "met   " if share >= target else "NOT met"
        lines.append(f"  {verdict} {scenario:<20} {share:.2f}x (target {target:.1f}x, {at[scenario]['rps']:.0f} req/s)")
    return lines


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # gunicorn was stopped and the database dropped on the way out
        sys.exit("interrupted")

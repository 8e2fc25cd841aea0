"""Welcome emails per second: one db_worker sending N pending welcome emails to a local SMTP server.

    .venv/bin/python bench/mail.py [--emails 5000] [--db-name clerk_sync_bench_mail]

Creates its own PostgreSQL database and migrates it, starts an SMTP sink in a
process of its own (smtpsink.py: accepts and counts every message), then makes
N new users through the app's public path while no db_worker runs: N signed
user.created deliveries POSTed to gunicorn (started as run.py does), so each
leaves exactly what a real delivery leaves (the user, its pending welcome
email, whatever the app queues for it). gunicorn stops; ONE `manage.py
db_worker` starts (no `nice`: nothing competes with it), with Django's SMTP
backend pointed at the sink, and the run polls the welcome emails' states
until none is pending. Prints wall time, emails per second and CPU per email
of the worker, of PostgreSQL and of the sink, from the worker's start and from
its first email sent (leaving out its start-up); checks that every email ended
`sent` and that the sink received exactly N messages, one per user. Then
drops the database, also when interrupted. Exit status 1: a check failed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import database
import processes
import psycopg
import report
from cpu import cpu_seconds, cpu_snapshot, machine_busy_seconds, process_cpu_seconds
from drive import drive
from payloads import delivery_request, new_user_events

BENCH = Path(__file__).resolve().parent
CHUNK = 1000  # deliveries signed at a time: a Svix signature is valid 5 minutes
CONCURRENCY = 8  # clients creating the users


def main() -> int:
    options = _arguments()
    started, work = time.monotonic(), Path(tempfile.mkdtemp(prefix="clerk-sync-mail-"))
    _, public_pem, secret = processes.credentials()
    print(report.machine(f"{options.emails} welcome emails, 1 db_worker (no nice), SMTP sink on 127.0.0.1"))
    gunicorn = worker = sink = None
    try:
        sink = subprocess.Popen(
            [sys.executable, str(BENCH / "smtpsink.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        env = processes.app_env(database.database_url(options.db_name), secret, public_pem) | {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(json.loads(sink.stdout.readline())["port"]),
        }
        database.recreate(options.db_name)
        processes.step("migrate", [sys.executable, "manage.py", "migrate", "--verbosity", "0"], env)
        port = processes.free_port()
        gunicorn = processes.gunicorn_start(env, port, work / "gunicorn.log")
        answered = _users_created(options, port, gunicorn.pid, secret)
        processes.process_stop(gunicorn)
        gunicorn = None
        with psycopg.connect(database.database_url(options.db_name), autocommit=True) as db:
            before = database.welcome_emails(db)
            print(f"setup done in {time.monotonic() - started:.1f}s: {answered} deliveries answered 200", flush=True)
            start = _usage(options.db_name, 0, sink.pid)
            worker = processes.worker_start(env, work / "worker.log", nice=False)
            first, end, after = _drained(db, options, worker.pid, sink.pid)
        processes.process_stop(worker)
        worker_log, worker = (work / "worker.log").read_text(), None
        received = json.loads(sink.communicate(timeout=30)[0])
        rows = [("from worker start", start, end, options.emails)]
        if first is not None:
            rows.append(("from the first email", first[0], end, options.emails - first[1]))
        checks = [
            _check(answered == options.emails, f"deliveries answered 200: {answered} of {options.emails}"),
            _check(before == {"pending": options.emails}, f"welcome emails before the worker started: {before}"),
            _check(after == {"sent": options.emails}, f"welcome emails after: {after}"),
            _check(
                received == {"messages": options.emails, "recipients": options.emails},
                f"the SMTP sink received {received['messages']} messages for {received['recipients']} addresses",
            ),
            _check("Traceback" not in worker_log, f"worker log: {worker_log.count('Traceback')} tracebacks"),
        ]
        print()
        print(_table(rows))
        print()
        print("\n".join(checks))
        print(f"\nwall time {time.monotonic() - started:.1f}s")
        return 1 if any(line.startswith("FAIL") for line in checks) else 0
    finally:
        for process in (gunicorn, worker, sink):
            if process is not None and process.poll() is None:
                processes.process_stop(process)
        database.drop(options.db_name)
        shutil.rmtree(work, ignore_errors=True)


def _users_created(options: argparse.Namespace, port: int, gunicorn_pid: int, secret: str) -> int:
    """POST `options.emails` signed user.created deliveries of new users; how many were answered 200."""
    spec = {"port": port, "gunicorn_pid": gunicorn_pid, "db_name": options.db_name}
    answered = 0
    for chunk, offset in enumerate(range(0, options.emails, CHUNK)):
        events = new_user_events(f"user_benchmail{chunk}x", min(CHUNK, options.emails - offset))
        raw = [delivery_request(f"127.0.0.1:{port}", secret, *event) for event in events]
        part = drive(spec, CONCURRENCY, raw, cycle=False, duration=3600, max_requests=len(raw))
        answered += sum(status == 200 for status in part.answers)
    return answered


def _drained(db: psycopg.Connection, options: argparse.Namespace, worker_pid: int, sink_pid: int):
    """Poll until no welcome email is pending (or the timeout): (the usage when the first email was seen sent
    and how many were, or None), the usage at the end, and the emails' states then."""
    first, deadline = None, time.monotonic() + options.timeout
    while True:
        states = database.welcome_emails(db)
        if first is None and states.get("sent"):
            first = (_usage(options.db_name, worker_pid, sink_pid), states["sent"])
        if not states.get("pending") or time.monotonic() > deadline:
            return first, _usage(options.db_name, worker_pid, sink_pid), states
        time.sleep(0.2)  # each poll is one count over the table: its PostgreSQL CPU is in the db column


def _usage(db_name: str, worker_pid: int, sink_pid: int) -> dict:
    """The clock and the CPU used so far: by the worker (0 before it starts), PostgreSQL, the sink, the machine."""
    snapshot = cpu_snapshot(sink_pid, database=db_name)
    return {
        "time": time.monotonic(),
        "worker": process_cpu_seconds(worker_pid) if worker_pid else 0.0,
        "db": snapshot["db"],
        "sink": snapshot["app"],
        "busy": machine_busy_seconds(),
    }


def _table(rows: list[tuple[str, dict, dict, int]]) -> str:
    header = (
        f"{'window':<20} {'emails':>6} {'seconds':>7} {'emails/s':>8}  {'CPU ms/email: worker':>20} "
        f"{'db':>5} {'smtp sink':>9}  {'other cores':>11}"
    )
    lines = [header, "-" * len(header)]
    for name, start, end, emails in rows:
        seconds = max(end["time"] - start["time"], 1e-9)
        worker, busy = end["worker"] - start["worker"], end["busy"] - start["busy"]
        db, sink = cpu_seconds(start["db"], end["db"]), cpu_seconds(start["sink"], end["sink"])
        ms = 1000 / max(emails, 1)  # per email
        lines.append(
            f"{name:<20} {emails:>6} {seconds:>7.1f} {emails / seconds:>8.1f}  {worker * ms:>20.2f} {db * ms:>5.2f} "
            f"{sink * ms:>9.2f}  {max(0.0, busy - worker - db - sink) / seconds:>11.2f}"
        )
    return "\n".join(lines)


def _check(ok: bool, line: str) -> str:
    return f"{'ok  ' if ok else 'FAIL'} {line}"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=5000, help="new users, so welcome emails (default %(default)s)")
    parser.add_argument("--db-name", default="clerk_sync_bench_mail", help="database created and dropped")
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds the worker gets to send them all (default %(default)s)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the processes were stopped and the database dropped on the way out
        sys.exit("interrupted")

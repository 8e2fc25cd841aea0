"""Running queued tasks in the tests: in process (the library's loop), or as real db_worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from django_tasks_db.management.commands import db_worker as library

from accounts.welcome.delivery import welcome_emails_send_due

PROJECT = Path(__file__).resolve().parents[2]
# Bounds for waits on a worker; they only trip when something is broken, not when the machine is slow.
WAIT_TIMEOUT = 120


def run_queued_tasks() -> None:
    """Run the background work that is due, in this process and transaction, then return.

    Every due task (django-tasks-db's loop, --batch), then the welcome emails,
    a batch at a time as a db_worker's mailer sends them. The loop's
    close_old_connections() would close the test's transaction (its autocommit
    is off), so it is skipped here.
    """
    with mock.patch.object(library, "close_old_connections", lambda: None):
        _in_process_worker().run()
    while len(welcome_emails_send_due(limit=settings.WELCOME_EMAIL_BATCH_SIZE)) == settings.WELCOME_EMAIL_BATCH_SIZE:
        pass


def _in_process_worker() -> library.Worker:
    return library.Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-in-process",
        excluded_queue_names=[],
    )


class WorkerProcess:
    """`python manage.py db_worker` in a process of its own, on the test database.

    `env` adds settings (EMAIL_PORT, WELCOME_EMAIL_LEASE_SECONDS, ...); its
    output goes to a log file shown when the test fails.
    """

    def __init__(self, *, port: int | None = None, **env: object) -> None:
        params = connection.settings_dict
        host, db_port = params["HOST"] or "127.0.0.1", port or params["PORT"] or 5432
        user = quote(params["USER"]) + (f":{quote(params['PASSWORD'])}" if params["PASSWORD"] else "")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("CLERK_", "EMAIL_", "WELCOME_EMAIL_"))}
        self.env |= {
            "DATABASE_URL": f"postgres://{user}@{host}:{db_port}/{params['NAME']}",
            "TASKS_BACKEND": "database",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        self.env |= {name: str(value) for name, value in env.items()}
        self.log = Path(tempfile.mkstemp(prefix="db-worker-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.1"],
                cwd=PROJECT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as when the machine or the OOM killer takes it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=WAIT_TIMEOUT)

    def stop(self) -> None:
        """SIGTERM: the worker finishes its task and exits."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=WAIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def cleanup(self) -> None:
        self.stop()
        self.log.unlink(missing_ok=True)


@contextmanager
def worker_processes(**settings: object) -> Iterator[Callable[..., WorkerProcess]]:
    """`start(**more)` starts a db_worker with these settings and `more`; all stopped at the end, their output shown."""
    started: list[WorkerProcess] = []

    def start(**more: object) -> WorkerProcess:
        worker = WorkerProcess(**(settings | more)).start()
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()
            print(f"--- db_worker pid {worker.process.pid} ---\n{worker.output()}")  # shown when the test fails
            worker.cleanup()

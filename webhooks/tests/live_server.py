"""The app served by a real server in a subprocess, on a SQLite file of its own.

Used where the test client is not enough: chunked request bodies, and real
concurrent requests against the embedded default. The database is SQLite
whatever DATABASE_URL the test run itself uses, so these tests run in CI too.
The server runs with webhooks/tests/live_settings.py: the project's settings
plus the ledger's stand-in source (/webhooks/things/), beside Clerk's.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from config.tests.processes import GUNICORN_SLOW_BOOT, ROOT, clean_env, free_port, wait_until_answering
from webhooks.tests.deliveries import TEST_WEBHOOK_SECRET

ADMIN_PASSWORD = "live-admin-password"


@dataclass
class LiveApp:
    url: str
    database: Path
    env: dict[str, str]

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Read the server's database directly (read-only; WAL lets this run beside its writers)."""
        with closing(sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30)) as db:
            return db.execute(sql, params).fetchall()

    def manage(self, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        command = [sys.executable, "manage.py", *args]
        return subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)


@contextmanager
def live_app(tmp_path: Path, server: str, **env: str) -> Iterator[LiveApp]:
    """Migrate a SQLite file, make a superuser `admin`, and serve the app with `server`
    (`runserver`: Django's threaded development server; `gunicorn`: one gthread worker)."""
    database = tmp_path / "live.sqlite3"
    full_env = {
        **clean_env(),
        "DJANGO_SETTINGS_MODULE": "webhooks.tests.live_settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "CLERK_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
        "CLERK_API_URL": "http://127.0.0.1:9",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "TASKS_BACKEND": "immediate",
        "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
        "LOG_LEVEL": "WARNING",
        **env,
    }
    app = LiveApp(url="", database=database, env=full_env)
    for command in (["migrate", "-v0"], ["createsuperuser", "--noinput", "--username", "admin", "--email", "a@x.test"]):
        result = app.manage(*command)
        assert result.returncode == 0, result.stderr
    port = free_port()
    if server == "runserver":
        command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    else:
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        command = [
            gunicorn,
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "6",
            *GUNICORN_SLOW_BOOT,
        ]
    log = (tmp_path / f"{server}.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    app.url = f"http://127.0.0.1:{port}"
    try:
        try:
            health = wait_until_answering(f"{app.url}/healthz", process)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{(tmp_path / f'{server}.log').read_text()}") from None
        assert health.status_code == 200, health.text
        yield app
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def admin_session(app: LiveApp) -> requests.Session:
    """A requests session logged in to the admin as `admin`, with its CSRF token at hand."""
    session = requests.Session()
    session.get(f"{app.url}/admin/login/", timeout=30)
    token = session.cookies["csrftoken"]
    response = session.post(
        f"{app.url}/admin/login/",
        data={"username": "admin", "password": ADMIN_PASSWORD, "csrfmiddlewaretoken": token, "next": "/admin/"},
        timeout=30,
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text[:500]
    session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
    return session

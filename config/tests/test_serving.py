"""Production serving: gunicorn with DEBUG=0 serves the admin and its static files (WhiteNoise)."""

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from config.tests.processes import GUNICORN_SLOW_BOOT, ROOT, clean_env, free_port, wait_until_answering


@pytest.fixture
def gunicorn_server(tmp_path):
    """`gunicorn config.wsgi` as production runs it, on a migrated SQLite file of its own."""
    env = clean_env(
        DEBUG="0",
        SECRET_KEY="test-secret-key-for-serving",
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'serving.sqlite3'}",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as stderr:
        server = subprocess.Popen(
            [str(gunicorn), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1", *GUNICORN_SLOW_BOOT],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_answering(f"{url}/healthz", server)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log.read_text()}") from None
        yield url
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_admin_and_static_files_are_served_with_debug_off(gunicorn_server):
    login = requests.get(f"{gunicorn_server}/admin/login/", timeout=60)
    assert login.status_code == 200
    assert "/static/admin/css/base.css" in login.text

    css = requests.get(f"{gunicorn_server}/static/admin/css/base.css", timeout=60)
    assert css.status_code == 200
    assert "text/css" in css.headers["Content-Type"]

    missing = requests.get(f"{gunicorn_server}/no-such-page/", timeout=60)
    assert missing.status_code == 404
    assert "Traceback" not in missing.text  # DEBUG is really off

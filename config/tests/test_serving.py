"""Production serving: gunicorn with DEBUG=0 serves the admin and its static files (WhiteNoise)."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn_server(tmp_path):
    """`gunicorn config.wsgi` as production runs it, on a migrated SQLite file of its own."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")},
        "DEBUG": "0",
        "SECRET_KEY": "test-secret-key-for-serving",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serving.sqlite3'}",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(url, timeout=1)
                break
            except requests.RequestException:  # not up yet, or still booting its workers: retry until the deadline
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "gunicorn did not start within 30 s"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_admin_and_static_files_are_served_with_debug_off(gunicorn_server):
    login = requests.get(f"{gunicorn_server}/admin/login/", timeout=5)
    assert login.status_code == 200
    assert "/static/admin/css/base.css" in login.text

    css = requests.get(f"{gunicorn_server}/static/admin/css/base.css", timeout=5)
    assert css.status_code == 200
    assert "text/css" in css.headers["Content-Type"]

    missing = requests.get(f"{gunicorn_server}/no-such-page/", timeout=5)
    assert missing.status_code == 404
    assert "Traceback" not in missing.text  # DEBUG is really off

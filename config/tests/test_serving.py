"""Production serving: gunicorn with DEBUG=0 serves the admin and its static files (WhiteNoise), and probes by IP."""

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from config.tests.processes import GUNICORN_SLOW_BOOT, ROOT, clean_env, free_port, wait_until_answering


@contextmanager
def gunicorn_serving(tmp_path: Path, *, allowed_hosts: str) -> Iterator[tuple[str, Path]]:
    """`gunicorn config.wsgi` as production runs it, on a migrated SQLite file of its own: its URL and its log."""
    env = clean_env(
        DEBUG="0",
        SECRET_KEY="test-secret-key-for-serving",
        ALLOWED_HOSTS=allowed_hosts,
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
        yield url, log
    finally:
        server.terminate()
        server.wait(timeout=60)


@pytest.fixture
def gunicorn_server(tmp_path):
    with gunicorn_serving(tmp_path, allowed_hosts="127.0.0.1") as (url, _):
        yield url


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


def test_probes_answer_by_ip_and_localhost_under_production_hosts_and_nothing_else_does(tmp_path):
    """docs/admin.md's ALLOWED_HOSTS=app.example.com: probes by IP or localhost get 200; a refusal is one line."""
    with gunicorn_serving(tmp_path, allowed_hosts="app.example.com") as (url, log):
        probes = [
            requests.get(f"{url}/healthz", headers={"Host": host}, timeout=60).status_code
            for host in ("10.0.3.7", "10.0.3.7:8000", "localhost", "app.example.com")
        ]
        by_ip = requests.get(f"{url}/healthz", timeout=60)  # Host: 127.0.0.1:<port>, as requests sends it
        refused = [
            requests.get(f"{url}{path}", headers={"Host": "10.0.3.7"}, timeout=60)
            for path in ("/", "/admin/login/", "/healthz/", "/api/me/")
        ]
        named = requests.get(f"{url}/admin/login/", headers={"Host": "app.example.com"}, timeout=60)

    assert probes == [200, 200, 200, 200] and by_ip.json() == {"status": "ok"}
    assert [response.status_code for response in refused] == [400, 400, 400, 400]  # host validation elsewhere holds
    assert named.status_code == 200
    text = log.read_text()
    refusals = [line for line in text.splitlines() if "Invalid HTTP_HOST header" in line]
    assert len(refusals) == 4, text
    assert all(
        " WARNING django.security.DisallowedHost Invalid HTTP_HOST header: '10.0.3.7'" in line for line in refusals
    )
    assert "Traceback" not in text and " ERROR " not in text, text

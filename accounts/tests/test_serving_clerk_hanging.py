"""Under gunicorn with the project's gunicorn.conf.py (real processes): a hanging Clerk stalls only new users.

Clerk's user endpoint (the stand-in) holds every request until the test lets
go. Six new users' first requests go in and are held; while all six are still
held and unanswered, /healthz and a known user's /api/me/ must be answered,
which proves they did not wait behind them (no timing involved). Then the six
must get 503 with Retry-After from the app's own deadline, while Clerk still
holds their calls. The latencies are printed for the record, never asserted.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.db import connection

from accounts.tests.factories import UserFactory
from config.tests.processes import ROOT, clean_env, free_port, wait_until, wait_until_answering

NEW_USERS = 6
KNOWN_ROUNDS = 20
DEADLINE_SECONDS = 10  # CLERK_API_TIMEOUT for the server: generous, so the proof above has time on a loaded machine
WAIT = 60  # request and join bounds: generous


@pytest.fixture
def gunicorn(clerk_api, tmp_path):
    """`gunicorn` started from the project root with no flags but --bind: gunicorn.conf.py decides the rest."""
    db = connection.settings_dict
    env = clean_env(
        DEBUG="0",
        SECRET_KEY="test-secret-key-for-gunicorn",
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        CLERK_API_URL=clerk_api.url,
        CLERK_SECRET_KEY=clerk_api.secret_key,
        CLERK_API_TIMEOUT=str(DEADLINE_SECONDS),
        LOG_LEVEL="WARNING",
    )
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_answering(f"{url}/healthz", server).status_code == 200
        yield url, log
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.postgres(
    reason="the gunicorn processes share the test database with the test, which only PostgreSQL allows"
)
@pytest.mark.django_db(transaction=True)
def test_a_hanging_clerk_stalls_only_the_new_users(gunicorn, clerk_api, make_token):
    url, log = gunicorn
    assert "Using worker: gthread" in log.read_text(), "gunicorn.conf.py was not read"
    UserFactory(clerk_id="user_known_served")
    known = {"Authorization": f"Bearer {make_token('user_known_served')}"}
    assert requests.get(f"{url}/api/me/", headers=known, timeout=WAIT).status_code == 200
    release = clerk_api.hold("/v1/users/")
    answers: dict[int, requests.Response] = {}

    def first_request(number: int) -> None:
        token = make_token(f"user_new_{number}")
        answers[number] = requests.get(f"{url}/api/me/", headers={"Authorization": f"Bearer {token}"}, timeout=WAIT)

    waiting = [threading.Thread(target=first_request, args=(number,), daemon=True) for number in range(NEW_USERS)]
    try:
        for thread in waiting:
            thread.start()
        wait_until(lambda: clerk_api.held == NEW_USERS, what=f"{NEW_USERS} user fetches held by Clerk")

        latencies = []
        for _ in range(KNOWN_ROUNDS):
            for path, headers in (("/healthz", {}), ("/api/me/", known)):
                started = time.perf_counter()
                response = requests.get(f"{url}{path}", headers=headers, timeout=WAIT)
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 200, (path, response.status_code, response.text[:200])

        # Served while all six were still held by Clerk and unanswered: nothing waited behind them.
        assert clerk_api.held == NEW_USERS and not answers, answers

        for thread in waiting:
            thread.join(timeout=WAIT)
        assert not any(thread.is_alive() for thread in waiting)
        # Answered by the app's deadline while Clerk still held every call.
        assert clerk_api.held == NEW_USERS
    finally:
        release.set()

    for number, response in answers.items():
        assert response.status_code == 503, (number, response.text[:200])
        assert int(response.headers["Retry-After"]) >= 1
        assert response.headers["Content-Type"] == "application/json"
    assert len(answers) == NEW_USERS
    latencies.sort()
    print(
        f"\nknown-user and /healthz requests while {NEW_USERS} new users waited: {len(latencies)}, "
        f"p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms"
    )

"""A slow, trickling or failing Clerk, and an unreachable database: bounded waits, 503s, never a 500.

Servers here are real local sockets the test controls; no sleep is used to
synchronise, and no wall-clock duration is asserted: a deadline is shown to
work by the call returning while the server is provably still sending.
"""

from __future__ import annotations

import socket
import threading

import pytest

from accounts.clerk import breaker as circuit_breaker
from accounts.clerk.api import ClerkAPIError, clerk_client, request_path_breaker
from accounts.clerk.errors import Unavailable
from accounts.tests.factories import ClerkUserDataFactory, UserFactory

pytestmark = pytest.mark.django_db


class SlowServer:
    """Accepts HTTP requests and answers as told: `trickle_body`, `trickle_headers` (a byte per tick) or `big_body`.

    A trickle sends a byte per `tick` and would take 100,000 ticks (over an
    hour) to finish, so `finished` (set when a whole answer went out) proves
    a client that returned did not wait for the answer.
    """

    def __init__(self, mode: str, *, tick: float = 0.05) -> None:
        self.mode, self.tick = mode, tick
        self.stopped = threading.Event()
        self.finished = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        self.stopped.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            if self.mode == "big_body":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
                conn.sendall(b'{"keys": [' + b" " * (2 * 1024 * 1024) + b"]}")
                self.finished.set()
                return
            if self.mode == "trickle_body":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
                stream = b'{"keys": [' + b" " * 100_000
            else:
                stream = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000
            for byte in stream:
                if self.stopped.wait(self.tick):
                    return
                conn.sendall(bytes([byte]))
            self.finished.set()
        except OSError:
            pass
        finally:
            conn.close()


@pytest.fixture
def slow_clerk(settings):
    servers = []

    def _start(mode: str) -> SlowServer:
        server = SlowServer(mode)
        servers.append(server)
        settings.CLERK_API_URL = server.url
        settings.CLERK_SECRET_KEY = "sk_test_slow"
        settings.CLERK_API_TIMEOUT = 1.0
        return server

    yield _start
    for server in servers:
        server.stop()


def outcome_within(call, seconds: float = 60) -> BaseException | object:
    """What `call()` returned or raised; fails (instead of hanging) if it takes longer than a generous bound."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the call waited for the trickle instead of stopping at its deadline"
    return outcome[0]


@pytest.mark.parametrize("mode", ["trickle_body", "trickle_headers"])
def test_a_trickling_clerk_is_cut_at_the_deadline(slow_clerk, mode):
    server = slow_clerk(mode)

    outcome = outcome_within(lambda: clerk_client().jwks_get())

    assert isinstance(outcome, Unavailable) and "deadline" in str(outcome), outcome
    assert not server.finished.is_set(), "the call returned before the answer was complete: the deadline cut it"


def test_a_body_over_the_size_bound_is_refused(slow_clerk):
    slow_clerk("big_body")

    with pytest.raises(ClerkAPIError, match="more than"):
        clerk_client().jwks_get()


def test_trickling_jwks_with_nothing_cached_is_503_for_the_request(client, slow_clerk, make_token):
    server = slow_clerk("trickle_body")

    response = outcome_within(
        lambda: client.get("/api/me/", headers={"Authorization": f"Bearer {make_token('user_anyone')}"})
    )

    assert response.status_code == 503 and "Retry-After" in response
    assert not server.finished.is_set()


class TestCircuitBreaker:
    @pytest.fixture
    def clock(self, monkeypatch):
        class Clock:
            now = 1000.0

            def __call__(self) -> float:
                return self.now

        fake = Clock()
        monkeypatch.setattr(request_path_breaker, "clock", fake)
        return fake

    def test_opens_after_consecutive_failures_and_answers_at_once(self, client, clerk_api, make_token, clock):
        clerk_api.fail("/v1/users/", 503, {"Retry-After": "0"})

        def first_request(number: int):
            token = make_token(f"user_new{number}")
            return client.get("/api/me/", headers={"Authorization": f"Bearer {token}"})

        for number in range(circuit_breaker.FAILURES_TO_OPEN):
            assert first_request(number).status_code == 503
        calls = clerk_api.calls["/v1/users/{id}"]

        refused = first_request(99)

        assert refused.status_code == 503
        assert int(refused["Retry-After"]) >= 1
        assert "keeps failing" in refused.json()["detail"]
        assert clerk_api.calls["/v1/users/{id}"] == calls  # Clerk was not called

    def test_closes_after_a_successful_trial(self, client, clerk_api, make_token, clock):
        clerk_api.fail("/v1/users/", 503, {"Retry-After": "0"})
        for number in range(circuit_breaker.FAILURES_TO_OPEN):
            client.get("/api/me/", headers={"Authorization": f"Bearer {make_token(f'user_down{number}')}"})
        clerk_api.failures.clear()
        data = clerk_api.add_user(ClerkUserDataFactory())
        token = make_token(data["id"])
        assert client.get("/api/me/", headers={"Authorization": f"Bearer {token}"}).status_code == 503  # still open

        clock.now += circuit_breaker.OPEN_SECONDS

        assert client.get("/api/me/", headers={"Authorization": f"Bearer {token}"}).status_code == 200  # the trial
        assert client.get("/api/me/", headers={"Authorization": f"Bearer {make_token('user_gone')}"}).status_code == 401

    def test_known_users_are_served_while_it_is_open(self, client, clerk_api, make_token, clock):
        UserFactory(clerk_id="user_known")
        clerk_api.fail("/v1/users/", 503, {"Retry-After": "0"})
        for number in range(circuit_breaker.FAILURES_TO_OPEN + 1):
            client.get("/api/me/", headers={"Authorization": f"Bearer {make_token(f'user_down{number}')}"})

        response = client.get("/api/me/", headers={"Authorization": f"Bearer {make_token('user_known')}"})

        assert response.status_code == 200


class TestAdminKeepsDjangosLogin:
    @pytest.fixture
    def staff(self, clerk_api):
        return UserFactory(clerk_id="user_staff", is_staff=True, is_superuser=True)

    def test_a_bearer_token_alone_is_sent_to_the_login_page(self, client, staff, make_token):
        token = make_token(staff.clerk_id)
        assert client.get("/api/me/", headers={"Authorization": f"Bearer {token}"}).status_code == 200  # a good token

        response = client.get("/admin/", headers={"Authorization": f"Bearer {token}"})

        assert response.status_code == 302
        assert response["Location"] == "/admin/login/?next=/admin/"

    def test_the_session_cookie_alone_is_sent_to_the_login_page(self, client, staff, make_token):
        client.cookies["__session"] = make_token(staff.clerk_id)

        response = client.get("/admin/accounts/user/")

        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")

    def test_djangos_own_login_still_opens_it(self, client, staff, make_token):
        client.force_login(staff)

        response = client.get("/admin/", headers={"Authorization": f"Bearer {make_token(staff.clerk_id)}"})

        assert response.status_code == 200


@pytest.mark.postgres(
    reason="the outage is a cut TCP proxy in front of the PostgreSQL server (the db_behind_proxy fixture)"
)
@pytest.mark.django_db(transaction=True)
def test_api_me_while_the_database_is_down_is_503_json_and_recovers(db_behind_proxy, clerk_api, make_token):
    from django.test import Client

    UserFactory(clerk_id="user_db")
    client = Client()
    known, new = make_token("user_db"), make_token("user_not_local")
    assert client.get("/api/me/", headers={"Authorization": f"Bearer {known}"}).status_code == 200

    db_behind_proxy.stop()
    answers = [client.get("/api/me/", headers={"Authorization": f"Bearer {token}"}) for token in (known, new, known)]

    for response in answers:
        assert response.status_code == 503, response.content
        assert response["Content-Type"] == "application/json"
        assert int(response["Retry-After"]) > 0
        assert "database" in response.json()["detail"]

    db_behind_proxy.start(db_behind_proxy.port)
    response = client.get("/api/me/", headers={"Authorization": f"Bearer {known}"})
    assert response.status_code == 200, response.content


@pytest.mark.postgres(
    reason="a database restart is a TCP proxy in front of the PostgreSQL server cut and restored (db_behind_proxy); "
    "CONN_MAX_AGE/CONN_HEALTH_CHECKS are set for PostgreSQL only"
)
@pytest.mark.django_db(transaction=True)
def test_api_me_after_a_database_restart_between_requests_replaces_the_dead_connection(
    db_behind_proxy, clerk_api, make_token
):
    """The prepared lookups check a persistent connection before its first use in a request, as Django's cursors do."""
    from django.db import connection

    from accounts.models import Organization
    from webhooks.tests.outage import ServerLikeClient

    UserFactory(clerk_id="user_db")
    Organization.objects.create(clerk_id="org_db", name="Acme", slug="acme", created_via="webhook")
    client = ServerLikeClient()
    with_organization = make_token(
        "user_db", org_id="org_db", org_slug="acme", org_role="org:admin", org_permissions=[]
    )
    for token in (make_token("user_db"), with_organization):
        assert client.get("/api/me/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        dead = connection.connection

        db_behind_proxy.stop()  # the database restarts while the app is idle
        db_behind_proxy.start(db_behind_proxy.port)

        response = client.get("/api/me/", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.content
        assert connection.connection is not dead

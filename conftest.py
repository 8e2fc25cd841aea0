"""Shared test fixtures: signed Svix deliveries as Clerk makes them, and PostgreSQL gating.

Only fixtures and hooks live here; the plain helpers they use (and tests import)
are in config/tests/helpers.py (Clerk's) and webhooks/tests/deliveries.py (any source's).

Tests marked `postgres` need PostgreSQL's row locks and real concurrent
transactions. On SQLite they are skipped with their reason; with
REQUIRE_POSTGRES=1 (CI) any skip is a failure, so CI cannot pass by skipping.
"""

import os
import threading
import time
import uuid
from contextlib import ExitStack
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import connection

# The shared helpers assert; have pytest explain their failures as in a test module.
pytest.register_assert_rewrite(
    "config.tests.helpers",
    "accounts.tests.concurrency",
    "webhooks.tests.concurrency",
    "webhooks.tests.deliveries",
    "webhooks.tests.ledger_source",
    "webhooks.tests.live_server",
    "webhooks.tests.live_traffic",
    "webhooks.tests.outage",
    "webhooks.tests.browser",
    "webhooks.tests.admin_pages",
)

from config.tests.helpers import CLERK_KID, connected, deliver_to, jwk_of  # noqa: E402
from webhooks.tests.deliveries import TEST_WEBHOOK_SECRET  # noqa: E402

# The admin's browser fixtures (`browser`, `browser_signed_out`), for the ledger's tests and Clerk's.
pytest_plugins = ["webhooks.tests.browser"]

REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES", "") not in ("", "0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if connection.vendor == "postgresql":
        return
    if REQUIRE_POSTGRES:
        raise pytest.UsageError("REQUIRE_POSTGRES is set but DATABASE_URL does not point at PostgreSQL.")
    for item in items:
        marker = item.get_closest_marker("postgres")
        if marker is not None:
            why = marker.kwargs.get("reason", "needs PostgreSQL")
            item.add_marker(pytest.mark.skip(reason=f"{why}; set DATABASE_URL=postgres://… to run it"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if REQUIRE_POSTGRES and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped while REQUIRE_POSTGRES is set: {report.longrepr}"
    return report


@pytest.fixture(autouse=True)
def _clerk_settings(settings):
    settings.CLERK_WEBHOOK_SECRET = TEST_WEBHOOK_SECRET
    # No test reaches the real Clerk: anything not pointed at the stand-in fails fast.
    settings.CLERK_API_URL = "http://127.0.0.1:9"
    settings.CLERK_SECRET_KEY = ""
    settings.CLERK_JWT_KEY = ""
    settings.CLERK_AUTHORIZED_PARTIES = []


@pytest.fixture(autouse=True)
def _signing_keys_forgotten():
    """The JWKS cache, the verified-token cache and the Clerk circuit breaker live for the process.

    Each test starts without them.
    """
    from accounts.clerk.api import request_path_breaker
    from accounts.clerk.tokens import signing_keys, verified_tokens

    for reset in (signing_keys.reset, verified_tokens.clear, request_path_breaker.reset):
        reset()
    yield
    for reset in (signing_keys.reset, verified_tokens.clear, request_path_breaker.reset):
        reset()


@pytest.fixture
def deliver(client):
    """deliver(payload, msg_id=…, secret=…, timestamp=…, headers=…) -> response."""

    def _deliver(payload: Any, **kwargs):
        return deliver_to(client, payload, **kwargs)

    return _deliver


@pytest.fixture
def webhook_source():
    """webhook_source(handlers, name="flaky", secret_setting="CLERK_WEBHOOK_SECRET", **hooks) -> WebhookSource.

    A throwaway source for this test, registered through the registry's public API and
    unregistered afterwards (any source it replaced comes back). By default its deliveries,
    POSTed to /webhooks/<name>/, are signed with the test secret like Clerk's.
    """
    from webhooks.registry import WebhookSource, source_registered

    with ExitStack() as registered:

        def register(handlers, *, name="flaky", secret_setting="CLERK_WEBHOOK_SECRET", **hooks) -> WebhookSource:
            source = WebhookSource(name=name, secret_setting=secret_setting, handlers=handlers, **hooks)
            return registered.enter_context(source_registered(source))

        yield register


@pytest.fixture
def db_behind_proxy():
    """Point this thread's default connection at a TcpProxy in front of the real server; restore after.

    Cutting the proxy (`stop()`) simulates a database outage; `start(port)` brings it back on the same address.
    """
    from webhooks.tests.tcp_proxy import TcpProxy

    settings_dict = connection.settings_dict
    original = {key: settings_dict[key] for key in ("HOST", "PORT")}
    upstream = (original["HOST"] or "127.0.0.1", int(original["PORT"] or 5432))
    proxy = TcpProxy(upstream)
    proxy.start()
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", proxy.port
    try:
        yield proxy
    finally:
        proxy.stop()
        connection.close()
        settings_dict.update(original)


@pytest.fixture
def provisioned():
    """Every `user_provisioned` sent during the test, in order, as (clerk_id, created_via); thread-safe."""
    from accounts.signals import user_provisioned

    calls: list[tuple[str, str]] = []
    lock = threading.Lock()

    def receiver(sender, user, created_via, **kwargs):
        with lock:
            calls.append((user.clerk_id, created_via))

    with connected(user_provisioned, receiver):
        yield calls


# --- Clerk session tokens and the Backend API stand-in ----------------------------------------


@pytest.fixture(scope="session")
def rsa_private_key():
    """The instance's signing key, made for the test run."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def foreign_private_key():
    """A key that is not Clerk's."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def make_token(rsa_private_key):
    """make_token(sub, version=1|2, key=…, kid=…, **claims overriding the defaults) -> a session token."""

    def _make(sub: str, *, version: int = 1, key=None, kid: str | None = CLERK_KID, **claims) -> str:
        now = int(time.time())
        payload = {
            "sub": sub,
            "sid": "sess_test",
            "iss": "https://clerk.example.test",
            "azp": "http://localhost:3000",
            "iat": now,
            "nbf": now - 5,
            "exp": now + 60,
            "jti": uuid.uuid4().hex[:20],
        }
        if version == 2:
            payload |= {"v": 2, "fva": [0, -1], "pla": "u:free", "fea": "", "sts": "active"}
        payload |= claims
        payload = {name: value for name, value in payload.items() if value is not None}
        headers = {"kid": kid, "typ": "JWT", "cat": "cl_B7d4PD111AAA"} if kid else {"typ": "JWT"}
        return jwt.encode(payload, key or rsa_private_key, algorithm="RS256", headers=headers)

    return _make


@pytest.fixture(scope="session")
def _clerk_server():
    from accounts.tests.clerk_stand_in import ClerkStandIn

    server = ClerkStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def clerk_api(_clerk_server, settings, rsa_private_key):
    """Clerk's Backend API as a local HTTP server, with the instance's JWKS; settings point at it."""
    _clerk_server.reset()
    _clerk_server.jwks = {"keys": [jwk_of(rsa_private_key)]}
    settings.CLERK_API_URL = _clerk_server.url
    settings.CLERK_SECRET_KEY = _clerk_server.secret_key
    yield _clerk_server
    _clerk_server.reset()

"""What the tests of every app share, beside the fixtures: playing Clerk and counting SQL.

The webhook secrets the tests sign with (conftest.py sets the first), signed
Svix deliveries, recorded Clerk payloads, the JWK of a signing key, a signal
receiver connected for a block, and statement budgets. The fixtures built on
these live in the root conftest.py; tests import from here, never from a conftest.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import jwt
from cryptography.hazmat.primitives import serialization
from django.db import connection
from django.dispatch import Signal
from django.test.utils import CaptureQueriesContext

from accounts.clerk import payloads as clerk_payloads

# Made for the tests: whsec_ + base64 of 24 fixed bytes each.
TEST_WEBHOOK_SECRET = "whsec_dGVzdC1zZWNyZXQtZm9yLWNsZXJrLXN5bmMh"
ROTATED_WEBHOOK_SECRET = "whsec_cm90YXRlZC1zZWNyZXQtZm9yLWNsZXJrLXN5bmM="
UNKNOWN_WEBHOOK_SECRET = "whsec_bm90LW91ci1zZWNyZXQtYXQtYWxsLWNsZXJrISE="

# The `kid` of the session tokens the tests sign (Clerk's kids are instance ids).
CLERK_KID = "ins_test_key_1"

FIXTURES = Path(__file__).resolve().parents[2] / "accounts" / "tests" / "fixtures"


def load_fixture(name: str) -> dict[str, Any]:
    """A recorded Clerk payload from accounts/tests/fixtures/<name>.json."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def svix_headers(
    body: str,
    *,
    msg_id: str | None = None,
    secret: str = TEST_WEBHOOK_SECRET,
    timestamp: dt.datetime | None = None,
) -> dict[str, str]:
    """The three headers Svix sends, signed by the svix library itself (a new svix-id unless given)."""
    msg_id = msg_id or clerk_payloads.new_id("msg")
    return clerk_payloads.svix_headers(body, secret=secret, msg_id=msg_id, timestamp=timestamp)


def deliver_to(client, payload: Any, *, path: str = "/webhooks/clerk/", headers: dict | None = None, **sign):
    """POST `payload` (a dict, or the raw body) as a signed Svix delivery; `sign` goes to svix_headers."""
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    signed = svix_headers(text, **sign) if headers is None else headers
    return client.post(path, data=body, content_type="application/json", headers=signed)


@contextmanager
def statements_at_most(limit: int) -> Iterator[list[str]]:
    """Assert the block sends at most `limit` SQL statements; yields the list of them.

    Transaction control (BEGIN [IMMEDIATE]/COMMIT, which Django logs on SQLite but not
    on PostgreSQL) is left out, so a budget means the same on both backends.
    """
    statements: list[str] = []
    with CaptureQueriesContext(connection) as context:
        yield statements
    statements.extend(
        query["sql"]
        for query in context.captured_queries
        if query["sql"].strip().upper() not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
    )
    assert len(statements) <= limit, f"{len(statements)} statements, budget {limit}:\n" + "\n".join(statements)


@contextmanager
def connected(signal: Signal, receiver: Callable[..., Any]) -> Iterator[None]:
    """`receiver` connected to `signal` while the block runs (held strongly, under a uid of its own)."""
    uid = f"test-receiver-{uuid4().hex}"
    signal.connect(receiver, weak=False, dispatch_uid=uid)
    try:
        yield
    finally:
        signal.disconnect(dispatch_uid=uid)


def public_pem(private_key) -> str:
    """The PEM of `private_key`'s public half, as `CLERK_JWT_KEY` takes it."""
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def jwk_of(private_key, kid: str = CLERK_KID) -> dict:
    """A JWK as Clerk's /v1/jwks lists it: {use, kty, kid, alg, n, e}."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    return {"use": "sig", "kty": "RSA", "kid": kid, "alg": "RS256", "n": jwk["n"], "e": jwk["e"]}

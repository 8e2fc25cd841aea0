"""What the tests of every app share about Clerk, beside the fixtures: playing Clerk.

Signed deliveries to Clerk's endpoint, recorded Clerk payloads, the JWK of a
signing key, and a signal receiver connected for a block. The generic parts
(the test secrets, Svix signing, statement budgets) are in
webhooks/tests/deliveries.py, which the ledger's own tests use without Clerk.
The fixtures built on these live in the root conftest.py; tests import from
here, never from a conftest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import jwt
from cryptography.hazmat.primitives import serialization
from django.dispatch import Signal

from webhooks.tests import deliveries

CLERK_WEBHOOK_PATH = "/webhooks/clerk/"

# The `kid` of the session tokens the tests sign (Clerk's kids are instance ids).
CLERK_KID = "ins_test_key_1"

FIXTURES = Path(__file__).resolve().parents[2] / "accounts" / "tests" / "fixtures"


def load_fixture(name: str) -> dict[str, Any]:
    """A recorded Clerk payload from accounts/tests/fixtures/<name>.json."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def deliver_to(client, payload: Any, *, path: str = CLERK_WEBHOOK_PATH, **kwargs):
    """POST `payload` as a signed Svix delivery to Clerk's endpoint: `webhooks.tests.deliveries.deliver_to`."""
    return deliveries.deliver_to(client, payload, path=path, **kwargs)


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

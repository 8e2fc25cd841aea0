"""Every kind of token /api/me/ may receive, with its decision and the rule's source, on both key paths.

Each token is signed for real (RS256 with the instance's key unless the case
says otherwise), so a refusal is the classification's or the verification's,
never a bad signature by accident. Both paths run every case: keys from the
JWKS (the Clerk stand-in) and from CLERK_JWT_KEY. Sources: `@clerk/backend`
(packages/backend/src/...), or "stricter" for rules of this app beyond it.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from accounts.tests.factories import UserFactory
from config.tests.helpers import CLERK_KID, public_pem

pytestmark = pytest.mark.django_db

KNOWN = "user_2NNEqL2nrIRdJ194ndJqAHwEfxC"  # shaped like a real Clerk user id
SESSION_CAT = "cl_B7d4PD111AAA"


@dataclass(frozen=True)
class Case:
    name: str
    status: int  # on both paths unless `status_with_pem_key` says otherwise
    source: str
    header: dict = field(default_factory=dict)  # merged into {"alg": "RS256", "typ": "JWT", "kid": …, "cat": session}
    claims: dict = field(default_factory=dict)  # merged into a fresh session token's claims; None removes
    raw: str | None = None  # the whole token, for the malformed ones
    raw_payload: str | None = None  # the payload's JSON text, for values json.dumps cannot write
    foreign_key: bool = False
    detail: str = ""
    status_with_pem_key: int | None = None


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


CASES = [
    # --- accepted ---
    Case("session token", 200, "tokens/jwtCategories.ts: JWT_CATEGORY_SESSION_TOKEN"),
    Case("legacy session token without cat", 200, "jwtCategories.ts: isNonSessionJwtCategory, absent cat accepted",
         header={"cat": None}),
    Case("ignore category", 200, "jwtCategories.ts: JWT_CATEGORY_IGNORE", header={"cat": "cl_I7d4PD111III"}),
    Case("no typ header", 200, "jwt/assertions.ts: assertHeaderType, undefined typ allowed", header={"typ": None}),
    Case("v2 claims", 200, "CLERK-FACTS: version 2 session tokens", claims={"v": 2, "sts": "active", "fva": [0, -1]}),
    Case("unknown header fields ignored", 200, "CLERK-FACTS: Clerk may add header fields",
         header={"x-future": {"a": 1}}),
    Case("readable test user id", 200, "stricter: user_ and letters, digits, _", claims={"sub": "user_known_1"}),
    # --- not a session token (request.ts refuses these before verifying) ---
    Case("OAuth access token typ at+jwt", 401, "jwt/assertions.ts: assertHeaderType; tokens/machine.ts: isOAuthJwt",
         header={"typ": "at+jwt"}, detail="type"),
    Case("OAuth typ application/at+jwt", 401, "tokens/machine.ts: OAUTH_ACCESS_TOKEN_TYPES",
         header={"typ": "application/at+jwt"}, detail="type"),
    Case("typ JWS", 401, "jwt/assertions.ts: assertHeaderType (expected JWT)", header={"typ": "JWS"}, detail="type"),
    Case("typ lowercase jwt", 401, "jwt/assertions.ts: assertHeaderType compares exactly", header={"typ": "jwt"},
         detail="type"),
    Case("JWT template (cat 222, no sid, an hour)", 401, "tokens/jwtCategories.ts: JWT_CATEGORY_JWT_TEMPLATE",
         header={"cat": "cl_B7d4PD222AAA"}, claims={"sid": None, "exp": "+3600"}, detail="category"),
    Case("machine token category (cat 333)", 401, "tokens/jwtCategories.ts: JWT_CATEGORY_M2M_TOKEN; tokens/verify.ts",
         header={"cat": "cl_B7d4PD333AAA"}, detail="category"),
    Case("cat not a string", 401, "jwtCategories.ts: isNonSessionJwtCategory", header={"cat": 111}, detail="category"),
    Case("cat null", 401, "jwtCategories.ts: isNonSessionJwtCategory (null is not undefined)", header={"cat": "null"},
         detail="category"),
    Case("machine subject mch_", 401, "tokens/machine.ts: isM2MJwt (M2M_SUBJECT_PREFIX)",
         claims={"sub": "mch_2xhFjEI5X2qWRvtV13BzSj8H6Dk"}, detail="machine"),
    # --- subject (stricter: only a Clerk user id reaches the database or Clerk) ---
    Case("sub of 65 characters", 401, "stricter: bounded by the clerk_id column (64)",
         claims={"sub": "user_" + "a" * 60}, detail="Clerk user id"),
    Case("sub of 10,000 characters", 401, "stricter", claims={"sub": "user_" + "a" * 10_000}, detail="Clerk user id"),
    Case("sub with NUL", 401, "stricter", claims={"sub": "user_ab\x00cd"}, detail="Clerk user id"),
    Case("sub with a slash", 401, "stricter: it becomes a URL path", claims={"sub": "user_ab/../x"},
         detail="Clerk user id"),
    Case("sub with non-ASCII digits", 401, "stricter", claims={"sub": "user_١٢٣"}, detail="Clerk user id"),
    Case("sub of another object", 401, "stricter", claims={"sub": "org_2NNEqL2nrIRdJ194ndJqAHwEfxC"},
         detail="Clerk user id"),
    Case("sub empty", 401, "stricter", claims={"sub": ""}, detail="Clerk user id"),
    Case("sub bare prefix", 401, "stricter", claims={"sub": "user_"}, detail="Clerk user id"),
    Case("sub a list", 401, "jwt/assertions.ts: assertSubClaim (a string)", claims={"sub": [KNOWN]},
         detail="not a string"),
    Case("sub a number", 401, "jwt/assertions.ts: assertSubClaim", claims={"sub": 42}, detail="not a string"),
    Case("no sub", 401, "jwt/assertions.ts: assertSubClaim", claims={"sub": None}, detail="'sub'"),
    # --- key id ---
    Case("no kid", 401, "tokens/verify.ts: loadClerkJWKFromRemote({ kid }); tokens/keys.ts",
         header={"kid": None}, detail="key id", status_with_pem_key=200),
    Case("kid a list", 401, "tokens/keys.ts (kid is a string); PyJWT refuses it reading the header",
         header={"kid": [CLERK_KID]}, detail="malformed"),
    Case("kid a number", 401, "tokens/keys.ts", header={"kid": 7}, detail="malformed"),
    # --- algorithm and signature ---
    Case("alg none", 401, "jwt/assertions.ts: assertHeaderAlgorithm; stricter: RS256 only",
         raw="none", detail="algorithm"),
    Case("alg HS256", 401, "jwt/assertions.ts: assertHeaderAlgorithm; stricter: RS256 only",
         header={"alg": "HS256"}, detail="algorithm"),
    Case("alg RS512", 401, "stricter: Clerk signs with RS256", header={"alg": "RS512"}, detail="algorithm"),
    Case("signed by a foreign key", 401, "jwt/verifyJwt.ts: signature", foreign_key=True, detail="signature"),
    # --- time claims ---
    Case("expired", 401, "jwt/assertions.ts: assertExpirationClaim (5 s skew)", claims={"exp": "-60"},
         detail="expired"),
    Case("not yet valid", 401, "jwt/assertions.ts: assertActivationClaim", claims={"nbf": "+60", "exp": "+120"},
         detail="not yet valid"),
    Case("no exp", 401, "stricter: a session token always expires", claims={"exp": None}, detail="'exp'"),
    Case("exp 1e999", 401, "stricter", raw_payload=f'{{"sub": "{KNOWN}", "exp": 1e999}}'),
    Case("exp a string", 401, "stricter", claims={"exp": "soon"}),
    Case("nbf a list", 401, "stricter", claims={"nbf": [1]}),
    # --- malformed ---
    Case("garbage", 401, "jwt/verifyJwt.ts: decodeJwt", raw="abc", detail="malformed"),
    Case("four parts", 401, "jwt/verifyJwt.ts: decodeJwt", raw="a.b.c.d", detail="malformed"),
    Case("header not JSON", 401, "jwt/verifyJwt.ts: decodeJwt", raw=f"{b64(b'{nope')}.{b64(b'{}')}.sig",
         detail="malformed"),
    Case("payload a JSON list", 401, "jwt/verifyJwt.ts: decodeJwt", raw_payload='["user_x"]', detail="malformed"),
    Case("payload not base64", 401, "jwt/verifyJwt.ts: decodeJwt", raw="payload-not-base64", detail="malformed"),
    Case("deeply nested payload", 401, "stricter", raw_payload="[" * 100_000 + "]" * 100_000, detail="malformed"),
    Case("token of 20 KB", 401, "stricter: a cookie holds 4 KB", claims={"pad": "x" * 20_000}, detail="malformed"),
]  # fmt: skip


@pytest.fixture(params=["jwks", "pem"], ids=["jwks", "CLERK_JWT_KEY"])
def key_path(request, clerk_api, settings, rsa_private_key):
    """Keys from the stand-in's JWKS, or from CLERK_JWT_KEY; Clerk's Backend API is the stand-in either way."""
    if request.param == "pem":
        settings.CLERK_JWT_KEY = public_pem(rsa_private_key)
    return request.param


def token_for(case: Case, private_key) -> str:
    now = int(time.time())
    if case.raw == "none":
        header, payload = {"alg": "none", "typ": "JWT"}, {"sub": KNOWN, "exp": now + 60}
        return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}."
    if case.raw == "payload-not-base64":
        return f"{b64(json.dumps({'alg': 'RS256', 'kid': CLERK_KID}).encode())}.!!!.sig"
    if case.raw is not None:
        return case.raw
    header = {"alg": "RS256", "typ": "JWT", "kid": CLERK_KID, "cat": SESSION_CAT}
    header.update({name: None if value == "null" else value for name, value in case.header.items()})
    header = {name: value for name, value in header.items() if value is not None or case.header.get(name) == "null"}
    claims = {
        "sub": KNOWN,
        "sid": "sess_2NNEqL2nrIRdJ194ndJqAHwEfxC",
        "azp": "http://localhost:3000",
        "iss": "https://clerk.example.test",
        "iat": now,
        "nbf": now - 5,
        "exp": now + 60,
        "jti": uuid.uuid4().hex[:20],
    }
    for name, value in case.claims.items():
        if isinstance(value, str) and value[:1] in "+-" and value[1:].isdigit():
            value = now + int(value)
        claims[name] = value
    claims = {name: value for name, value in claims.items() if value is not None}
    payload = case.raw_payload if case.raw_payload is not None else json.dumps(claims)
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(payload.encode())}"
    signature = private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
@pytest.mark.parametrize("transport", ["header", "cookie"])
def test_token_decision(case, transport, key_path, client, clerk_api, rsa_private_key, foreign_private_key):
    assert case.source, "every rule names its source"
    UserFactory(clerk_id=KNOWN)
    UserFactory(clerk_id="user_known_1")
    token = token_for(case, foreign_private_key if case.foreign_key else rsa_private_key)
    if transport == "header":
        response = client.get("/api/me/", headers={"Authorization": f"Bearer {token}"})
    else:
        client.cookies["__session"] = token
        response = client.get("/api/me/")

    expected = case.status_with_pem_key if key_path == "pem" and case.status_with_pem_key else case.status
    assert response.status_code == expected, (case.source, response.content[:300])
    assert response["Content-Type"] == "application/json"
    if expected == 401:
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'
        assert case.detail in response.json()["detail"], response.json()
    else:
        assert response.json()["clerk_id"] in (KNOWN, "user_known_1")
    # Refused or known: Clerk's user endpoint is never called.
    assert clerk_api.calls["/v1/users/{id}"] == 0

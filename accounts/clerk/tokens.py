"""Verifying Clerk session tokens: classified first as @clerk/backend does, then RS256-verified once per token.

Keys come from CLERK_JWT_KEY (a PEM public key: no network) or from Clerk's
JWKS (accounts/clerk/keys.py). Before any key is looked up, a token that is
not a session token is refused: the rules below follow `@clerk/backend`
(packages/backend/src/tokens/request.ts, tokens/jwtCategories.ts,
tokens/machine.ts, jwt/assertions.ts, jwt/verifyJwt.ts), and where they say
"stricter" they go beyond it. Then algorithm, signature, `exp`/`nbf` with a
few seconds of leeway. A verified token's claims are kept per process until
its `exp` (Clerk's frontend reuses a token for about 50 s), so its RS256
signature is checked once; `azp` and `sts` are checked on every request. `iss`
is not checked, like Clerk's own Python SDK. No token content is ever logged.
https://clerk.com/docs/guides/sessions/manual-jwt-verification
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings

from accounts.clerk.claims import ActiveOrganizationClaim, active_organization_from_claims
from accounts.clerk.errors import Refused
from accounts.clerk.keys import signing_keys

ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 5
# jwtCategories.ts: JWT_CATEGORY_SESSION_TOKEN and JWT_CATEGORY_IGNORE (instances with
# `use_ignore_jwt_cat` stamp it on every class). Templates are cl_B7d4PD222AAA, M2M cl_B7d4PD333AAA.
SESSION_CATEGORIES = frozenset({"cl_B7d4PD111AAA", "cl_I7d4PD111III"})
# Stricter: a Clerk user id is `user_` and a base62 id; letters, digits and `_` are allowed
# (test instances use readable ids), bounded by the column that stores it (64).
USER_ID = re.compile(r"user_[A-Za-z0-9_]{1,59}", re.ASCII)
# Stricter: a session token travels in a cookie (4 KB); anything far larger is not one.
MAX_TOKEN_LENGTH = 16 * 1024
VERIFIED_TOKENS_MAX = 10_000


@dataclass(frozen=True)
class SessionClaims:
    user_id: str
    authorized_party: str | None  # `azp`, checked against CLERK_AUTHORIZED_PARTIES on every use
    # The active organization (accounts/clerk/claims.py); None when the token names none or a malformed one.
    organization: ActiveOrganizationClaim | None
    claims: Mapping[str, Any]

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> SessionClaims:
        """Read v1 and v2 claims alike (v2 adds `v: 2` and nests the organization in `o`)."""
        return cls(
            user_id=claims["sub"],
            authorized_party=claims.get("azp"),
            organization=active_organization_from_claims(claims),
            claims=claims,
        )

    @property
    def organization_id(self) -> str | None:
        return self.organization.id if self.organization else None


def session_token_verify(token: str) -> SessionClaims:
    """The verified claims of a Clerk session token.

    Raises Refused (401), Unavailable (503: no signing keys can be fetched), or
    ImproperlyConfigured when neither CLERK_JWT_KEY nor CLERK_SECRET_KEY is set.
    """
    session = verified_tokens.get(token)
    if session is None:
        header = session_token_classify(token)
        session, key = _signature_verify(token, header.get("kid"))
        verified_tokens.put(token, session, kid=header.get("kid"), key=key)
    _authorized_party_check(session)
    if session.claims.get("sts") == "pending" and settings.CLERK_TREAT_PENDING_AS_SIGNED_OUT:
        # Clerk's SDKs treat a v2 token of a session with pending tasks as signed out.
        raise Refused("session is pending")
    return session


def session_token_classify(token: str) -> dict[str, Any]:
    """The token's header, once the unverified token looks like a Clerk session token; else Refused.

    Nothing here trusts the token: it only refuses, before any key lookup,
    JWKS refetch or call to Clerk, what cannot be a session token.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise Refused("malformed token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        # Includes a non-string `kid` (PyJWT refuses it while reading the header).
        raise Refused("malformed token") from None
    # verifyJwt.ts, assertHeaderAlgorithm; stricter: Clerk signs session tokens with RS256 only.
    if header.get("alg") not in ALGORITHMS:
        raise Refused("token algorithm not allowed")
    # assertions.ts, assertHeaderType: with no expected type given, a present `typ` must be "JWT".
    # OAuth access tokens carry `at+jwt` (machine.ts, OAUTH_ACCESS_TOKEN_TYPES).
    if "typ" in header and header["typ"] != "JWT":
        raise Refused("token type is not a session token")
    # jwtCategories.ts, isNonSessionJwtCategory (called by request.ts before verifying): a present
    # `cat` other than the session or ignore category is another JWT class (template, machine token).
    # A token without `cat` was minted before categories existed and is accepted.
    if "cat" in header and header["cat"] not in SESSION_CATEGORIES:
        raise Refused("token category is not a session token")
    # verify.ts, loadClerkJWKFromRemote({ kid }) and keys.ts: the JWKS key is found by the header's kid.
    if not settings.CLERK_JWT_KEY and not isinstance(header.get("kid"), str):
        raise Refused("token has no key id")
    sub = _unverified_claims(token).get("sub")
    if sub is None:
        raise Refused("token has no 'sub' claim")
    # assertions.ts, assertSubClaim: `sub` must be a string.
    if not isinstance(sub, str):
        raise Refused("token subject is not a string")
    # machine.ts, isM2MJwt (M2M_SUBJECT_PREFIX "mch_"), refused by request.ts via isMachineJwt.
    if sub.startswith("mch_"):
        raise Refused("token is a machine token, not a session token")
    # Stricter: only a Clerk user id reaches the database or Clerk's Backend API.
    if not USER_ID.fullmatch(sub):
        raise Refused("token subject is not a Clerk user id")
    return header


def _unverified_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise Refused("malformed token") from None
    if not isinstance(claims, dict):
        raise Refused("malformed token")
    return claims


def _signature_verify(token: str, kid: Any) -> tuple[SessionClaims, Any]:
    """(claims, the key that verified them). A signature failing under a cached key asks for one refetch."""
    key = signing_keys.get(kid)
    try:
        claims = _decode(token, key)
    except _SignatureMismatch:
        newer = signing_keys.after_signature_failure(kid, key)
        if newer is None:
            raise
        key, claims = newer, _decode(token, newer)
    return SessionClaims.from_claims(claims), key


class _SignatureMismatch(Refused):
    pass


def _decode(token: str, key: Any) -> dict[str, Any]:
    try:
        return jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "sub"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise Refused("token expired") from None
    except jwt.ImmatureSignatureError:
        raise Refused("token not yet valid") from None
    except jwt.InvalidSignatureError:
        raise _SignatureMismatch("token signature invalid") from None
    except jwt.InvalidAlgorithmError:
        raise Refused("token algorithm not allowed") from None
    except jwt.DecodeError:
        raise Refused("malformed token") from None
    except jwt.MissingRequiredClaimError as exc:
        raise Refused(f"token has no '{exc.claim}' claim") from None
    except (jwt.PyJWTError, TypeError, ValueError, OverflowError):  # e.g. an `exp` of 1e999
        raise Refused("invalid token") from None


def _authorized_party_check(session: SessionClaims) -> None:
    """With CLERK_AUTHORIZED_PARTIES set, `azp` must be one of them; absent is refused, as Clerk's SDKs do."""
    allowed = settings.CLERK_AUTHORIZED_PARTIES
    if allowed and session.authorized_party not in allowed:
        raise Refused("token authorized party not allowed")


class VerifiedTokens:
    """Claims of fully verified tokens, per process, keyed by the token string; thread-safe.

    An entry is used only before the token's `exp` and while the key that
    verified it is still the one its `kid` maps to (a key gone from the JWKS,
    or a changed CLERK_JWT_KEY, drops it). At most `max_entries`: expired
    entries go first, then the oldest.
    """

    def __init__(self, max_entries: int = VERIFIED_TOKENS_MAX, clock: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[SessionClaims, float, Any, Any]] = {}

    def get(self, token: str) -> SessionClaims | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        session, expires_at, kid, key = entry
        if self.clock() >= expires_at or signing_keys.current(kid) is not key:
            with self._lock:
                self._entries.pop(token, None)
            return None
        return session

    def put(self, token: str, session: SessionClaims, *, kid: Any, key: Any) -> None:
        expires_at = float(session.claims["exp"])
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._evict()
            self._entries[token] = (session, expires_at, kid, key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _evict(self) -> None:
        """Drop the expired entries; if that frees nothing, the oldest tenth. Call with the lock held."""
        now = self.clock()
        for token in [token for token, entry in self._entries.items() if entry[1] <= now]:
            del self._entries[token]
        if len(self._entries) >= self.max_entries:
            for token in list(self._entries)[: max(1, self.max_entries // 10)]:
                del self._entries[token]


verified_tokens = VerifiedTokens()

"""Verifying Clerk session tokens: RS256 JWTs signed with the instance's key.

Keys come from CLERK_JWT_KEY (a PEM public key: no network) or from
`{CLERK_API_URL}/v1/jwks`, cached in process: fetched once, refetched when a
token names an unknown `kid` (at most once every few seconds) or after an hour, and
kept when a refetch fails so known keys keep working through a Clerk outage.
Checks follow Clerk's guide: algorithm, signature, `exp`/`nbf` with a few
seconds of leeway, and `azp` against CLERK_AUTHORIZED_PARTIES. `iss` is not
checked, like Clerk's own Python SDK. No token content is ever logged.
https://clerk.com/docs/guides/sessions/manual-jwt-verification
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .clerk_api import ClerkAPIError, clerk_client

logger = logging.getLogger(__name__)

ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 5
JWKS_MAX_AGE_SECONDS = 3600
# At most one fetch per interval, whatever happens: tokens naming random kids
# cannot turn into a stream of requests to Clerk, and a rotated key is picked
# up within seconds.
JWKS_REFETCH_INTERVAL_SECONDS = 5


class InvalidSessionToken(Exception):
    """The token is missing a part, forged, expired, or not for us (answered 401)."""


class SigningKeysUnavailable(Exception):
    """The JWKS cannot be fetched and no cached key fits (answered 503)."""

    retry_after = 5


@dataclass(frozen=True)
class SessionClaims:
    user_id: str
    session_id: str | None
    authorized_party: str | None
    version: int
    organization_id: str | None
    claims: Mapping[str, Any]

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> SessionClaims:
        """Read v1 and v2 claims alike (v2 adds `v: 2` and nests the organization in `o`)."""
        version = claims.get("v") if isinstance(claims.get("v"), int) else 1
        organization = claims.get("o") if isinstance(claims.get("o"), Mapping) else {}
        return cls(
            user_id=claims["sub"],
            session_id=claims.get("sid"),
            authorized_party=claims.get("azp"),
            version=version,
            organization_id=organization.get("id") or claims.get("org_id"),
            claims=claims,
        )


def session_token_verify(token: str) -> SessionClaims:
    """The verified claims of a Clerk session token.

    Raises InvalidSessionToken (401), SigningKeysUnavailable (503), or
    ImproperlyConfigured when neither CLERK_JWT_KEY nor CLERK_SECRET_KEY is set.
    """
    if settings.CLERK_JWT_KEY:
        key = signing_keys.get(None)  # one static key: no need to read the header twice
    else:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidSessionToken("malformed token") from None
        if header.get("alg") not in ALGORITHMS:
            raise InvalidSessionToken("token algorithm not allowed")
        key = signing_keys.get(header.get("kid"))
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "sub"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidSessionToken("token expired") from None
    except jwt.ImmatureSignatureError:
        raise InvalidSessionToken("token not yet valid") from None
    except jwt.InvalidSignatureError:
        raise InvalidSessionToken("token signature invalid") from None
    except jwt.InvalidAlgorithmError:
        raise InvalidSessionToken("token algorithm not allowed") from None
    except jwt.DecodeError:
        raise InvalidSessionToken("malformed token") from None
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidSessionToken(f"token has no '{exc.claim}' claim") from None
    except jwt.PyJWTError:
        raise InvalidSessionToken("invalid token") from None
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise InvalidSessionToken("token has no user")
    _authorized_party_check(claims)
    if claims.get("sts") == "pending" and settings.CLERK_TREAT_PENDING_AS_SIGNED_OUT:
        raise InvalidSessionToken("session is pending")
    return SessionClaims.from_claims(claims)


def _authorized_party_check(claims: Mapping[str, Any]) -> None:
    """With CLERK_AUTHORIZED_PARTIES set, `azp` must be one of them; absent is refused, as Clerk's SDKs do."""
    allowed = settings.CLERK_AUTHORIZED_PARTIES
    if allowed and claims.get("azp") not in allowed:
        raise InvalidSessionToken("token authorized party not allowed")


class SigningKeys:
    """The keys session tokens are checked against, cached for the process.

    A request whose key is cached never waits for the network: a fresh key is
    returned at once, and a stale one (older than an hour) is refreshed by
    whichever request gets the lock first while the others keep using it.
    Only a token naming a key we do not have waits for a fetch, and fetches
    happen at most once per JWKS_REFETCH_INTERVAL_SECONDS, counted from the
    end of the previous one, so a hanging Clerk cannot be hit back to back.
    """

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}  # replaced whole, never mutated: safe to read without the lock
        self._fetched_at: float | None = None
        self._next_fetch_at = 0.0

    def get(self, kid: Any) -> Any:
        if settings.CLERK_JWT_KEY:
            return _pem_public_key(settings.CLERK_JWT_KEY)
        key = self._find(kid)
        if key is not None:
            if not self._is_fresh() and self._lock.acquire(blocking=False):
                try:
                    self._fetch_if_due()
                finally:
                    self._lock.release()
            return self._find(kid) or key
        with self._lock:  # an unknown key: wait for the fetch (one at a time)
            key = self._find(kid)
            if key is None:
                self._fetch_if_due()
                key = self._find(kid)
            if key is None and not self._keys:
                raise SigningKeysUnavailable("Clerk's signing keys cannot be fetched")
        if key is None:
            raise InvalidSessionToken("token signed with an unknown key")
        return key

    def reset(self) -> None:
        """Forget every key (tests; a process never needs it)."""
        with self._lock:
            self._keys, self._fetched_at, self._next_fetch_at = {}, None, 0.0

    def _is_fresh(self) -> bool:
        return self._fetched_at is not None and self.clock() - self._fetched_at < JWKS_MAX_AGE_SECONDS

    def _find(self, kid: Any) -> Any:
        keys = self._keys
        if kid is None and len(keys) == 1:
            return next(iter(keys.values()))
        return keys.get(kid) if isinstance(kid, str) else None

    def _fetch_if_due(self) -> None:
        """Fetch the JWKS unless one was tried too recently. Call with the lock held."""
        if self.clock() < self._next_fetch_at:
            return
        try:
            jwks = clerk_client().jwks_get()
        except ImproperlyConfigured:
            raise ImproperlyConfigured(
                "Set CLERK_JWT_KEY or CLERK_SECRET_KEY: session tokens cannot be verified without a key."
            ) from None
        except ClerkAPIError as exc:
            logger.warning("Clerk JWKS could not be fetched (%s); keeping %d cached keys", exc, len(self._keys))
            return
        finally:
            self._next_fetch_at = self.clock() + JWKS_REFETCH_INTERVAL_SECONDS
        keys = {}
        for jwk in jwks["keys"]:
            try:
                if isinstance(jwk, dict) and jwk.get("kty") == "RSA" and jwk.get("use", "sig") == "sig":
                    keys[jwk.get("kid")] = jwt.PyJWK(jwk, algorithm="RS256").key
            except jwt.PyJWTError:
                logger.warning("ignoring an unusable key in Clerk's JWKS (kid=%s)", jwk.get("kid"))
        self._keys, self._fetched_at = keys, self.clock()
        logger.info("Clerk JWKS fetched: %d keys", len(keys))


signing_keys = SigningKeys()


@lru_cache(maxsize=4)
def _pem_public_key(pem: str) -> Any:
    try:
        return load_pem_public_key(pem.replace("\\n", "\n").strip().encode())
    except ValueError:
        raise ImproperlyConfigured("CLERK_JWT_KEY is not a PEM public key.") from None

"""The keys Clerk session tokens are verified with: CLERK_JWT_KEY, or Clerk's JWKS cached per process."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from accounts.clerk.api import ClerkAPIError, clerk_client
from accounts.clerk.errors import Refused, Unavailable
from accounts.clerk.metrics import key_cache_lookups_total

logger = logging.getLogger(__name__)

# @clerk/backend refreshes its JWKS cache after 5 minutes
# (packages/backend/src/constants.ts, MAX_CACHE_LAST_UPDATED_AT_SECONDS = 5 * 60).
KEYS_MAX_AGE_SECONDS = 300
# At most one fetch per interval, counted from the end of the previous one: tokens naming
# random kids cannot turn into a stream of requests to Clerk, and a new key is picked up
# within this many seconds even right after such a token.
REFETCH_INTERVAL_SECONDS = 2


class SigningKeys:
    """Clerk's JWKS for this process, keyed by `kid`; thread-safe.

    - A cached key is returned at once. Keys older than KEYS_MAX_AGE_SECONDS
      are refreshed by a background thread while requests keep using them.
    - A token naming an unknown `kid`, or failing its signature under the
      cached key of its `kid` (Clerk's kids are instance ids, so a new key can
      keep its kid), waits for one refetch; refetches happen at most once per
      REFETCH_INTERVAL_SECONDS, one at a time.
    - A refetch answering a usable key set replaces the cache whole, so a key
      gone from Clerk stops verifying. One that fails, or answers no usable
      key, keeps the cached keys: a Clerk outage or a bad answer never locks
      known users out.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()  # held for a fetch
        self._keys: dict[str, Any] = {}  # replaced whole, never mutated: safe to read without the lock
        self._fetched_at: float | None = None
        self._next_fetch_at = 0.0
        self._refreshing = False
        self._flag_lock = threading.Lock()

    def get(self, kid: Any) -> Any:
        """The key for a token's `kid`. Raises Refused (no or unknown kid) or Unavailable (no keys fetched yet)."""
        if settings.CLERK_JWT_KEY:
            return pem_public_key(settings.CLERK_JWT_KEY)
        if not isinstance(kid, str):
            raise Refused("token has no key id")
        key = self._keys.get(kid)
        key_cache_lookups_total.labels(result="miss" if key is None else "hit").inc()
        if key is None:
            return self._refetched(kid, stale_key=None)
        if self._fetched_at is not None and self.clock() - self._fetched_at >= KEYS_MAX_AGE_SECONDS:
            self._refresh_in_background()
        return key

    def after_signature_failure(self, kid: Any, key: Any) -> Any | None:
        """A different key for `kid` after a refetch, or None when `key` is still Clerk's (or is the PEM key)."""
        if settings.CLERK_JWT_KEY or not isinstance(kid, str):
            return None
        newer = self._refetched(kid, stale_key=key)
        return None if newer is key else newer

    def current(self, kid: Any) -> Any | None:
        """The key a token with this `kid` would be verified with now, without fetching."""
        if settings.CLERK_JWT_KEY:
            return pem_public_key(settings.CLERK_JWT_KEY)
        return self._keys.get(kid) if isinstance(kid, str) else None

    def reset(self) -> None:
        """Forget every key (tests; a process never needs it)."""
        with self._lock:
            self._keys, self._fetched_at, self._next_fetch_at = {}, None, 0.0

    def _refetched(self, kid: str, *, stale_key: Any) -> Any:
        """The key for `kid` after at most one due refetch; another request's fetch counts."""
        with self._lock:
            key = self._keys.get(kid)
            if key is None or key is stale_key:
                self._fetch_if_due()
                key = self._keys.get(kid)
            if key is None and not self._keys:
                raise Unavailable("Clerk's signing keys cannot be fetched")
        if key is None:
            raise Refused("token signed with an unknown key")
        return key

    def _refresh_in_background(self) -> None:
        with self._flag_lock:  # not self._lock: a fetch may hold that one, and no request waits for it
            if self._refreshing:
                return
            self._refreshing = True
        threading.Thread(target=self._refresh, name="clerk-jwks-refresh", daemon=True).start()

    def _refresh(self) -> None:
        try:
            with self._lock:
                # Still stale (another fetch may have run meanwhile); nothing cached: reset, requests will fetch.
                if self._fetched_at is not None and self.clock() - self._fetched_at >= KEYS_MAX_AGE_SECONDS:
                    self._fetch_if_due()
        except Exception:  # a background thread has nobody to answer to: log and keep the keys
            logger.exception("Clerk JWKS refresh failed; keeping the cached keys")
        finally:
            self._refreshing = False

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
        except (ClerkAPIError, Unavailable) as exc:
            logger.warning("Clerk JWKS could not be fetched (%s); keeping %d cached keys", exc, len(self._keys))
            return
        finally:
            self._next_fetch_at = self.clock() + REFETCH_INTERVAL_SECONDS
        keys = usable_keys(jwks["keys"])
        if not keys:
            logger.warning("Clerk's JWKS has no usable key; keeping %d cached keys", len(self._keys))
            return
        self._keys, self._fetched_at = keys, self.clock()
        logger.info("Clerk JWKS fetched: %d keys", len(keys))


def usable_keys(jwks_keys: list[Any]) -> dict[str, Any]:
    """RS256 signing keys by kid; anything else (no string kid, another type or use, bad numbers) is skipped."""
    keys = {}
    for jwk in jwks_keys:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") != "RS256":
            continue
        try:
            keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="RS256").key
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            logger.warning("ignoring an unusable key in Clerk's JWKS (kid=%s)", jwk["kid"][:64])
    return keys


@lru_cache(maxsize=4)
def pem_public_key(pem: str) -> Any:
    try:
        return load_pem_public_key(pem.replace("\\n", "\n").strip().encode())
    except ValueError:
        raise ImproperlyConfigured("CLERK_JWT_KEY is not a PEM public key.") from None


signing_keys = SigningKeys()

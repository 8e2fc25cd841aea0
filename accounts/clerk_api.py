"""A small client for Clerk's Backend API: one user, the user list, the JWKS.

One pooled `requests.Session` per process, `Authorization: Bearer
CLERK_SECRET_KEY`, connect and read timeouts, and bounded retries on 429 and
5xx that honour `Retry-After`. Errors are split by what the caller does next:
`ClerkUserNotFound` (404: the user does not exist) and `ClerkUnavailable`
(unreachable, timing out, rate limited or failing: try again later).
https://clerk.com/docs/reference/backend-api
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from requests.adapters import HTTPAdapter

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 3600  # a longer or nonsensical Retry-After is read as this
USER_LIST_MAX_LIMIT = 500  # Clerk's maximum page size


class ClerkAPIError(Exception):
    """Clerk answered something this client cannot use."""


class ClerkNotFound(ClerkAPIError):
    """Clerk answered 404."""


class ClerkUserNotFound(ClerkNotFound):
    """Clerk has no such user (it was never created, or was deleted)."""


class ClerkUnavailable(ClerkAPIError):
    """Clerk cannot be reached, is rate limiting, or is failing. `retry_after` is in seconds."""

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ClerkClient:
    def __init__(
        self,
        *,
        max_retries: int = 2,
        max_wait: float = 2.0,
        timeout: tuple[float, float] = (3.05, 10.0),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`max_retries` retries of a 429/5xx, each waiting at most `max_wait` seconds.

        A `Retry-After` longer than `max_wait` is not slept through: the call
        fails with ClerkUnavailable carrying it, so a web request can answer
        503 at once while a batch job can allow longer waits.
        """
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.timeout = timeout
        self.sleep = sleep

    def user_get(self, user_id: str) -> dict[str, Any]:
        """The Clerk User object. Raises ClerkUserNotFound or ClerkUnavailable."""
        try:
            user = self._get(f"/v1/users/{requests.utils.quote(user_id, safe='')}")
        except ClerkNotFound:
            raise ClerkUserNotFound(user_id) from None
        if not isinstance(user, dict):
            raise ClerkAPIError("Clerk answered a user that is not a JSON object")
        return user

    def user_list(self, *, limit: int = USER_LIST_MAX_LIMIT, starting_after: str | None = None) -> list[dict[str, Any]]:
        """One page of users, oldest first, after the user id `starting_after` (Clerk's cursor)."""
        params: dict[str, Any] = {"limit": limit, "order_by": "created_at"}
        if starting_after:
            params["starting_after"] = starting_after
        page = self._get("/v1/users", params=params)
        if not isinstance(page, list):
            raise ClerkAPIError("Clerk answered a user list that is not a JSON array")
        return page

    def user_iter(self, *, page_size: int = USER_LIST_MAX_LIMIT) -> Iterator[dict[str, Any]]:
        """Every user, page by page with the `starting_after` cursor; stops at a short page."""
        cursor = None
        while True:
            page = self.user_list(limit=page_size, starting_after=cursor)
            yield from page
            if len(page) < page_size:
                return
            last = page[-1]
            if not isinstance(last, dict) or not isinstance(last.get("id"), str):
                raise ClerkAPIError("Clerk answered a user list whose last entry has no id")
            cursor = last["id"]

    def jwks_get(self) -> dict[str, Any]:
        """The instance's JSON Web Key Set."""
        jwks = self._get("/v1/jwks")
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise ClerkAPIError("Clerk answered a JWKS without keys")
        return jwks

    def _get(self, path: str, *, params: dict[str, Any] | None = None) -> Any:
        secret_key = settings.CLERK_SECRET_KEY
        if not secret_key:
            raise ImproperlyConfigured("CLERK_SECRET_KEY is not set: Clerk's Backend API cannot be called.")
        url = f"{settings.CLERK_API_URL.rstrip('/')}{path}"
        headers = {"Authorization": f"Bearer {secret_key}", "Accept": "application/json"}
        for attempt in range(self.max_retries + 1):
            try:
                response = _session().get(url, params=params, headers=headers, timeout=self.timeout)
            except requests.RequestException as exc:
                # Not retried here: a timeout already cost its full wait.
                raise ClerkUnavailable(f"Clerk's API cannot be reached: {type(exc).__name__}") from exc
            if response.status_code == 404:
                raise ClerkNotFound(path)
            if response.status_code not in RETRY_STATUSES:
                break
            wait = _retry_after(response, default=0.5 * 2**attempt)
            if attempt == self.max_retries or wait > self.max_wait:
                raise ClerkUnavailable(f"Clerk's API answered {response.status_code}", retry_after=max(1, round(wait)))
            logger.info("Clerk API %s answered %s, retrying in %.1fs", path, response.status_code, wait)
            self.sleep(wait)
        if response.status_code >= 400:
            raise ClerkAPIError(f"Clerk's API answered {response.status_code} for {path}: {_error_message(response)}")
        try:
            return response.json()
        except ValueError:
            raise ClerkAPIError(f"Clerk's API answered non-JSON for {path}") from None


def clerk_client() -> ClerkClient:
    """The client for calls made while a web request waits: one quick retry at most."""
    return ClerkClient(max_retries=1, max_wait=1.0)


_local = threading.local()


def _session() -> requests.Session:
    """One pooled session per thread (requests.Session is not documented as thread-safe)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=16))
        session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=16))
        _local.session = session
    return session


def _retry_after(response: requests.Response, *, default: float) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return default  # absent, or an HTTP date: back off as usual
    if math.isnan(seconds):
        return default
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def _error_message(response: requests.Response) -> str:
    """Clerk's `{"errors": [{"message", "long_message", "code"}]}`, shortened."""
    try:
        errors = response.json().get("errors") or []
        return "; ".join(str(error.get("long_message") or error.get("message")) for error in errors)[:300]
    except (ValueError, AttributeError):
        return response.text[:300]

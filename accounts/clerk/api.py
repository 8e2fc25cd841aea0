"""Clerk's Backend API endpoints: users, organizations, memberships and the JWKS, as `ClerkClient` methods.

The transport (retries, deadline, body cap, circuit breaker) is
accounts/clerk/http.py; `ClerkClient.get` is its one generic GET. Two
factories name the call policies: `clerk_client()` for a web request waiting
on the answer, `clerk_batch_client()` for the sync commands.
The user list is paged by the `starting_after` cursor; the organization and
membership lists answer `{"data": [...], "total_count": N}`, paged with
`limit` (1-500) and `offset`.
https://clerk.com/docs/reference/backend-api
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import requests
from django.conf import settings

from accounts.clerk.breaker import CircuitBreaker
from accounts.clerk.http import ClerkAPIError, ClerkHTTP, ClerkNotFound
from accounts.clerk.throttle import RateLimiter

LIST_MAX_LIMIT = 500  # Clerk's maximum page size, for users, organizations and memberships alike
LIST_MAX_BODY_BYTES = 64 * 1024 * 1024  # a page of 500 users (or organizations) with their metadata
RECONCILE_RATE_PERIOD = 10.0  # CLERK_RECONCILE_RATE counts requests per this many seconds, as Clerk's limits do
RECONCILE_WAIT_BUDGET = 120.0  # seconds of rate limiting or failures one call of a pass may wait out
REQUEST_PATH_TIMEOUT = (2.0, 5.0)  # connect, read: each also cut to what is left of the deadline


class ClerkUserNotFound(ClerkNotFound):
    """Clerk has no such user (it was never created, or was deleted)."""


class ClerkPage(NamedTuple):
    """One page of an organization or membership list, and how many the whole list holds."""

    data: list[Any]
    total_count: int


class ClerkClient(ClerkHTTP):
    """Clerk's endpoints over the transport; see ClerkHTTP for the call policy (retries, deadline, breaker)."""

    def user_get(self, user_id: str) -> dict[str, Any]:
        """The Clerk User object. Raises ClerkUserNotFound, Unavailable or ClerkAPIError."""
        try:
            user = self.get(f"/v1/users/{requests.utils.quote(user_id, safe='')}")
        except ClerkNotFound:
            raise ClerkUserNotFound(user_id) from None
        if not isinstance(user, dict):
            raise ClerkAPIError("Clerk answered a user that is not a JSON object")
        return user

    def user_list(self, *, limit: int = LIST_MAX_LIMIT, starting_after: str | None = None) -> list[dict[str, Any]]:
        """One page of users, oldest first, after the user id `starting_after` (Clerk's cursor)."""
        params: dict[str, Any] = {"limit": limit, "order_by": "created_at"}
        if starting_after:
            params["starting_after"] = starting_after
        page = self.get("/v1/users", params=params, max_bytes=LIST_MAX_BODY_BYTES)
        if not isinstance(page, list):
            raise ClerkAPIError("Clerk answered a user list that is not a JSON array")
        return page

    def user_iter(self, *, page_size: int = LIST_MAX_LIMIT) -> Iterator[dict[str, Any]]:
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

    def user_list_recently_updated(self, *, offset: int, limit: int = LIST_MAX_LIMIT) -> list[dict[str, Any]]:
        """One page of users, most recently updated first (`order_by=-updated_at`), by `limit` and `offset`."""
        params = {"limit": limit, "offset": offset, "order_by": "-updated_at"}
        page = self.get("/v1/users", params=params, max_bytes=LIST_MAX_BODY_BYTES)
        if not isinstance(page, list):
            raise ClerkAPIError("Clerk answered a user list that is not a JSON array")
        return page

    def organization_get(self, org_id: str) -> dict[str, Any] | None:
        """The Clerk Organization object, or None when Clerk answers 404. Raises Unavailable, ClerkAPIError."""
        try:
            organization = self.get(f"/v1/organizations/{requests.utils.quote(org_id, safe='')}")
        except ClerkNotFound:
            return None
        if not isinstance(organization, dict):
            raise ClerkAPIError("Clerk answered an organization that is not a JSON object")
        return organization

    def organization_list(self, *, offset: int, limit: int = LIST_MAX_LIMIT) -> ClerkPage:
        """One page of organizations."""
        return self._page("/v1/organizations", offset=offset, limit=limit)

    def organization_membership_list(self, *, offset: int, limit: int = LIST_MAX_LIMIT) -> ClerkPage:
        """One page of the instance's organization memberships, every organization's."""
        return self._page("/v1/organization_memberships", offset=offset, limit=limit)

    def organization_memberships_of(self, org_id: str, *, offset: int, limit: int = LIST_MAX_LIMIT) -> ClerkPage:
        """One page of one organization's memberships. Raises ClerkNotFound when the organization is gone."""
        return self._page(
            f"/v1/organizations/{requests.utils.quote(org_id, safe='')}/memberships", offset=offset, limit=limit
        )

    def jwks_get(self) -> dict[str, Any]:
        """The instance's JSON Web Key Set."""
        jwks = self.get("/v1/jwks")
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise ClerkAPIError("Clerk answered a JWKS without keys")
        return jwks

    def _page(self, path: str, *, offset: int, limit: int) -> ClerkPage:
        body = self.get(path, params={"limit": limit, "offset": offset}, max_bytes=LIST_MAX_BODY_BYTES)
        data = body.get("data") if isinstance(body, dict) else None
        total_count = body.get("total_count") if isinstance(body, dict) else None
        if not isinstance(data, list) or isinstance(total_count, bool) or not isinstance(total_count, int):
            raise ClerkAPIError(f"Clerk answered {path} without a data list and a total_count")
        return ClerkPage(data, total_count)


def svix_dashboard_url(client: ClerkClient) -> str:
    """A one-time link into Svix's dashboard for this instance's endpoints (`POST /v1/webhooks/svix_url`).

    Raises Unavailable, ClerkAPIError (including an answer without an http(s) `svix_url`) or ImproperlyConfigured.
    """
    answer = client.post("/v1/webhooks/svix_url")
    url = answer.get("svix_url") if isinstance(answer, dict) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ClerkAPIError("Clerk answered no usable svix_url")
    return url


def clerk_client() -> ClerkClient:
    """The client for calls made while a web request waits.

    One quick retry at most, a total deadline of CLERK_API_TIMEOUT seconds
    (5 by default), and the process's circuit breaker.
    """
    return ClerkClient(
        max_retries=1,
        max_wait=1.0,
        timeout=REQUEST_PATH_TIMEOUT,
        deadline=settings.CLERK_API_TIMEOUT,
        breaker=request_path_breaker,
    )


def clerk_batch_client() -> ClerkClient:
    """The client for batch jobs (sync_clerk_users, sync_clerk_organizations), which no web request waits on.

    They can afford to wait out Clerk's rate limit (Retry-After) a few times:
    five retries of up to 60 seconds each, no total deadline and no circuit breaker.
    """
    return ClerkClient(max_retries=5, max_wait=60.0)


def clerk_reconcile_client(
    rate: int, *, sleep: Callable[[float], None] | None = None, clock: Callable[[], float] = time.monotonic
) -> ClerkClient:
    """The client for a reconciliation pass: at most `rate` requests per 10 seconds (CLERK_RECONCILE_RATE).

    Clerk's 429 and 5xx are retried as long as their waits add up to 2 minutes
    at most for one call; past that the pass fails, to be run again. The
    process's circuit breaker is consulted: while it is open the pass fails at once.
    `sleep` (default: time.sleep as it is when called) waits for both.
    """
    sleep = sleep or time.sleep
    return ClerkClient(
        max_retries=20,
        max_wait=RECONCILE_WAIT_BUDGET,
        wait_budget=RECONCILE_WAIT_BUDGET,
        breaker=request_path_breaker,
        throttle=RateLimiter(rate, RECONCILE_RATE_PERIOD, clock=clock, sleep=sleep),
        sleep=sleep,
    )


# Shared by every request of the process: while Clerk keeps failing, requests that need it
# are answered 503 at once instead of each waiting for its own timeout.
request_path_breaker = CircuitBreaker()

"""Clerk's Backend API for organizations: one organization, and the organization and membership lists.

The calls go through `ClerkClient.get` (its authentication, timeouts,
retries on 429/5xx honouring Retry-After, deadline and circuit breaker).
The lists answer `{"data": [...], "total_count": N}`, paged with `limit`
(1-500) and `offset`.
https://clerk.com/docs/reference/backend-api/tag/Organizations
"""

from __future__ import annotations

from typing import Any, NamedTuple

import requests

from accounts.clerk.api import LIST_MAX_BODY_BYTES, LIST_MAX_LIMIT, ClerkAPIError, ClerkClient, ClerkNotFound


class ClerkPage(NamedTuple):
    data: list[Any]
    total_count: int


def organization_get(client: ClerkClient, org_id: str) -> dict[str, Any] | None:
    """The Clerk Organization object, or None when Clerk answers 404. Raises Unavailable, ClerkAPIError."""
    try:
        organization = client.get(f"/v1/organizations/{requests.utils.quote(org_id, safe='')}")
    except ClerkNotFound:
        return None
    if not isinstance(organization, dict):
        raise ClerkAPIError("Clerk answered an organization that is not a JSON object")
    return organization


def organization_list(client: ClerkClient, *, offset: int, limit: int = LIST_MAX_LIMIT) -> ClerkPage:
    """One page of organizations."""
    return _page(client, "/v1/organizations", offset=offset, limit=limit)


def organization_membership_list(client: ClerkClient, *, offset: int, limit: int = LIST_MAX_LIMIT) -> ClerkPage:
    """One page of the instance's organization memberships, every organization's."""
    return _page(client, "/v1/organization_memberships", offset=offset, limit=limit)


def _page(client: ClerkClient, path: str, *, offset: int, limit: int) -> ClerkPage:
    body = client.get(path, params={"limit": limit, "offset": offset}, max_bytes=LIST_MAX_BODY_BYTES)
    data = body.get("data") if isinstance(body, dict) else None
    total_count = body.get("total_count") if isinstance(body, dict) else None
    if not isinstance(data, list) or isinstance(total_count, bool) or not isinstance(total_count, int):
        raise ClerkAPIError(f"Clerk answered {path} without a data list and a total_count")
    return ClerkPage(data, total_count)

"""The local organization a session token names, created just in time when Clerk's webhook has not arrived yet.

Like the user (`accounts.sync.users.get_or_create_from_clerk`): a known organization
costs one indexed lookup and no call to Clerk; an unknown one is fetched from
`{CLERK_API_URL}/v1/organizations/{id}` within the request path's deadline,
once at a time per organization and process, and stored through the same
upsert as the webhook path (`created_via='jit'`). A tombstoned organization,
or one Clerk answers 404 for, is no active organization: it authorizes nothing.
"""

from __future__ import annotations

import logging
import time

from django.core.exceptions import ImproperlyConfigured
from django.db import InterfaceError, OperationalError

from accounts.api.authentication import ServiceUnavailable, database_unreachable
from accounts.clerk.api import ClerkAPIError, clerk_client
from accounts.clerk.claims import ActiveOrganizationClaim
from accounts.clerk.data import ClerkDataError
from accounts.clerk.errors import Unavailable
from accounts.clerk.tokens import SessionClaims
from accounts.db import organization_by_clerk_id
from accounts.models import Organization
from accounts.sync.organizations import organization_upsert_from_clerk
from accounts.sync.single_flight import SingleFlight
from accounts.sync.users import jit_logged

logger = logging.getLogger(__name__)

_UNRESOLVED = object()


def active_organization(request) -> Organization | None:
    """The live local organization of the request's token (DRF request), resolved once per request.

    None when the request is not authenticated by a Clerk session token, the
    token names no organization (or a malformed one), or the organization is
    deleted (locally or in Clerk). Raises ServiceUnavailable (503 with
    Retry-After) when it must be fetched and Clerk or the database cannot be reached.
    """
    django_request = getattr(request, "_request", request)
    organization = getattr(django_request, "_active_organization", _UNRESOLVED)
    if organization is _UNRESOLVED:
        claims = getattr(request, "auth", None)
        claim = claims.organization if isinstance(claims, SessionClaims) else None
        clerk_auth = getattr(django_request, "clerk_auth", None)
        read = None if clerk_auth is None else clerk_auth.organization  # read with the user, when local
        organization = None if claim is None else _organization_for_request(claim, read)
        django_request._active_organization = organization
    return organization


def organization_for_claim(claim: ActiveOrganizationClaim, read: Organization | None = None) -> Organization | None:
    """The live local organization a token's claim names, created just in time when it is not local yet.

    `read`: the organization's row when the caller already read it (with the
    user: accounts.api.authentication), so it is not read again.
    None when it is tombstoned locally or Clerk answers 404. Raises
    Unavailable/ClerkAPIError, ClerkDataError (Clerk answered an
    organization that cannot be stored), or ImproperlyConfigured when
    CLERK_SECRET_KEY is not set.
    """
    if read is not None and read.clerk_id == claim.id:
        organization = read
    else:
        # Concurrent first requests naming one organization wait for one fetch.
        find, create = organization_by_clerk_id, _organization_create_from_clerk
        organization = _organization_fetches.find_or_create(claim.id, find, create)
    if organization is None or organization.is_deleted_in_clerk:
        return None
    return organization


_organization_fetches: SingleFlight[Organization | None] = SingleFlight()


def _organization_create_from_clerk(clerk_id: str) -> Organization | None:
    clock = time.perf_counter()
    data = clerk_client().organization_get(clerk_id)
    if data is None:
        logger.info("jit organization clerk_id=%s outcome=not_found_in_clerk", clerk_id)
        return None
    if data.get("id") != clerk_id:
        raise ClerkAPIError("Clerk answered a different organization than the one asked for")
    result = organization_upsert_from_clerk(data, created_via=Organization.CreatedVia.JIT)
    jit_logged("organization", clerk_id, result.outcome, clock)
    return result.organization


def _organization_for_request(claim: ActiveOrganizationClaim, read: Organization | None) -> Organization | None:
    """organization_for_claim, with what cannot be resolved now turned into the 503 the user fetch answers."""
    try:
        return organization_for_claim(claim, read)
    except Unavailable as exc:
        raise ServiceUnavailable(Unavailable(f"Clerk cannot be reached: {exc}", retry_after=exc.retry_after)) from None
    except (ClerkAPIError, ClerkDataError, ImproperlyConfigured) as exc:
        logger.error("the active organization could not be fetched from Clerk: %s", exc)
        raise ServiceUnavailable(Unavailable("The active organization could not be fetched from Clerk")) from None
    except (OperationalError, InterfaceError) as exc:
        raise ServiceUnavailable(database_unreachable(exc, Organization)) from None

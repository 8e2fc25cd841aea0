"""Clerk session tokens as request authentication: a Django middleware and a DRF class sharing one decision.

Both read the token from `Authorization: Bearer …` (cross-origin) or the
`__session` cookie (same origin), verify it, and find the local user, creating
it just in time when Clerk's webhook has not arrived yet. The decision is a
`ClerkAuth`: the user and the token's claims, or why the token was refused
(401). A user that must be fetched while Clerk cannot be reached, or any
request while the database cannot be, is `Unavailable` (503 with
Retry-After). When the middleware authenticates a request it leaves its
`ClerkAuth` on `request.clerk_auth`, and the DRF class reads it rather than
verifying again; it decides itself only for a request the middleware left
alone (one Django's own session logged in), and leaves its decision there
too (`accounts.api.organization` reads the organization it read). The admin is left to Django's
own login.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import InterfaceError, OperationalError, connections, router
from django.http import HttpRequest, JsonResponse
from django.urls import NoReverseMatch, get_urlconf, reverse
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication

from accounts.clerk.api import ClerkAPIError, ClerkUserNotFound
from accounts.clerk.errors import Refused, Unavailable
from accounts.clerk.tokens import SessionClaims, session_token_verify
from accounts.db import user_and_organization_by_clerk_ids
from accounts.models import Organization, User
from accounts.sync.users import ProvisioningFailed, get_or_create_from_clerk

logger = logging.getLogger(__name__)

SESSION_COOKIE = "__session"
BANNED = "user is banned"
TokenSource = Literal["header", "cookie"]


@dataclass(frozen=True)
class ClerkAuth:
    """What a request's Clerk session token came to: `user` and `claims`, or the `refusal` (why it is a 401)."""

    source: TokenSource
    user: User | None = None
    claims: SessionClaims | None = None
    refusal: str | None = None
    banned: bool = False  # a valid token of a banned user: 403 from the DRF class, not 401
    # The token's active organization as read with the user, in the same statement; None when the
    # token names none or it is not local yet (accounts.api.organization then resolves it).
    organization: Organization | None = None


def session_token_from_request(request: HttpRequest) -> tuple[str, TokenSource] | None:
    """(token, "header" or "cookie"), or None when the request carries no Clerk token.

    A `Bearer` header with nothing after it is returned as an empty token, so
    it is refused as malformed rather than treated as anonymous.
    """
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer":
        return token.strip(), "header"
    cookie = request.COOKIES.get(SESSION_COOKIE)
    if cookie:
        return cookie, "cookie"
    return None


def clerk_auth_for_token(token: str, source: TokenSource) -> ClerkAuth:
    """The decision on a Clerk session token: its active local user, or the refusal. Raises Unavailable (503)."""
    try:
        user, claims, organization = user_from_session_token(token)
    except Refused as exc:
        return ClerkAuth(source, refusal=exc.reason, banned=exc.reason == BANNED)
    return ClerkAuth(source, user=user, claims=claims, organization=organization)


def user_from_session_token(token: str) -> tuple[User, SessionClaims, Organization | None]:
    """The active local user a Clerk session token belongs to, the token's claims, and its active organization.

    The organization is the local row read in the same statement as the user,
    when the token names one; None otherwise (see ClerkAuth.organization).
    Raises Refused (401) or Unavailable (503), whose message is what the client is told.
    """
    try:
        claims = session_token_verify(token)
        user, organization = _user_and_organization(claims)
    except ClerkUserNotFound:
        raise Refused("user does not exist in Clerk") from None
    except Unavailable as exc:
        raise Unavailable(f"Clerk cannot be reached: {exc}", retry_after=exc.retry_after) from None
    except ClerkAPIError as exc:
        logger.error("Clerk API error while authenticating: %s", exc)
        raise Unavailable("Clerk's API answered an error") from None
    except ImproperlyConfigured as exc:
        logger.error("Clerk authentication is not configured: %s", exc)
        raise Unavailable(str(exc)) from None
    except ProvisioningFailed as exc:
        # Nothing was kept (the creation rolled back); the client retries and it runs again.
        logger.error("just-in-time creation failed: %s", exc, exc_info=exc)
        raise Unavailable("the new user could not be set up; retry shortly") from None
    except (OperationalError, InterfaceError) as exc:
        raise database_unreachable(exc, User) from None
    if user.banned and not user.is_deleted_in_clerk:
        raise Refused(BANNED)
    if user.is_deleted_in_clerk or not user.is_active:
        raise Refused("user is deleted or inactive")
    return user, claims, organization


def _user_and_organization(claims: SessionClaims) -> tuple[User, Organization | None]:
    """The token's local user (created just in time if need be) and, read with it, its active organization."""
    if claims.organization is not None:
        # One statement for both rows: what every request of a member acting in an organization costs.
        user, organization = user_and_organization_by_clerk_ids(claims.user_id, claims.organization.id)
        if user is not None:
            return user, organization
    return get_or_create_from_clerk(claims.user_id), None


def database_unreachable(exc: Exception, model: type) -> Unavailable:
    """The 503 for a database that cannot be reached; its connections are closed so the next request connects afresh."""
    logger.warning("database unreachable while authenticating: %s", type(exc).__name__)
    for alias in {router.db_for_read(model), router.db_for_write(model)}:
        connections[alias].close()
    return Unavailable("The database cannot be reached")


class ServiceUnavailable(exceptions.APIException):
    """`Unavailable` for DRF: its exception handler answers 503 with the detail and `Retry-After: wait`."""

    status_code = 503
    default_detail = "Clerk cannot be reached to authenticate this request; retry later."
    default_code = "clerk_unavailable"

    def __init__(self, unavailable: Unavailable) -> None:
        super().__init__(str(unavailable))
        self.wait = unavailable.retry_after


class ClerkSessionAuthentication(BaseAuthentication):
    """DRF authentication with Clerk session tokens.

    Returns None without a token (other classes may try), raises
    AuthenticationFailed (401, with WWW-Authenticate) for a refused one, and
    ServiceUnavailable (503 + Retry-After) when Clerk or the database is
    needed and cannot be reached. `request.auth` is the token's SessionClaims.
    A token from the cookie is CSRF-checked on unsafe methods, as DRF's
    SessionAuthentication does for the session cookie.
    """

    enforce_csrf = SessionAuthentication.enforce_csrf

    def authenticate(self, request) -> tuple[User, SessionClaims] | None:
        auth = getattr(request._request, "clerk_auth", None)  # the middleware's decision, when it made one
        if auth is None:
            found = session_token_from_request(request._request)
            if found is None:
                return None
            try:
                auth = request._request.clerk_auth = clerk_auth_for_token(*found)
            except Unavailable as exc:
                raise ServiceUnavailable(exc) from None
        if auth.banned:
            raise exceptions.PermissionDenied({"error": auth.refusal, "reason": "banned"})
        if auth.refusal is not None:
            raise exceptions.AuthenticationFailed(auth.refusal)
        if auth.source == "cookie":
            self.enforce_csrf(request)
        return auth.user, auth.claims

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ClerkAuthenticationMiddleware:
    """Sets `request.user` from a Clerk session token for plain Django views, and `request.clerk_auth`.

    Goes after AuthenticationMiddleware and leaves a user logged in by
    Django's own session (staff in the admin) alone. A refused token leaves
    the request anonymous, so views decide (login_required and friends); a
    user that must be fetched while Clerk is down is answered 503. Requests
    to the admin are never authenticated by a Clerk token: a Clerk user made
    staff still signs in through Django's login (the contract's rule).
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        found = session_token_from_request(request)
        if found is not None and not _is_admin_path(request.path) and not _logged_in_by_django(request):
            try:
                request.clerk_auth = clerk_auth_for_token(*found)
            except Unavailable as exc:
                return JsonResponse({"detail": str(exc)}, status=503, headers={"Retry-After": str(exc.retry_after)})
            if request.clerk_auth.user is not None:
                request.user = request.clerk_auth.user
            else:
                logger.info("Clerk session token refused: %s", request.clerk_auth.refusal)
        return self.get_response(request)


def _logged_in_by_django(request: HttpRequest) -> bool:
    """Whether Django's own session logged this request in; without its cookie the session is not even loaded."""
    return settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated


def _is_admin_path(path: str) -> bool:
    prefix = _admin_prefix(get_urlconf() or settings.ROOT_URLCONF)
    return prefix is not None and path.startswith(prefix)


@functools.lru_cache(maxsize=8)
def _admin_prefix(urlconf: str) -> str | None:
    """Where the admin is mounted in this URLconf ("/admin/"), or None when it is not."""
    try:
        return reverse("admin:index", urlconf=urlconf)
    except NoReverseMatch:
        return None

"""Clerk session tokens as request authentication: a DRF class and a Django middleware.

Both read the token from `Authorization: Bearer …` (cross-origin) or the
`__session` cookie (same origin), verify it, and find the local user, creating
it just in time when Clerk's webhook has not arrived yet. A bad token or a
user Clerk does not know is a 401; a user that must be fetched while Clerk
cannot be reached, or any request while the database cannot be, is a 503
with Retry-After. The admin is left to Django's own login.
"""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import InterfaceError, OperationalError, connections, router
from django.http import HttpRequest, JsonResponse
from django.urls import NoReverseMatch, get_urlconf, reverse
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, CSRFCheck

from .clerk_api import ClerkAPIError, ClerkUnavailable, ClerkUserNotFound
from .models import User
from .services import ProvisioningFailed, get_or_create_from_clerk
from .tokens import InvalidSessionToken, SessionClaims, SigningKeysUnavailable, session_token_verify

logger = logging.getLogger(__name__)

SESSION_COOKIE = "__session"
DEFAULT_RETRY_AFTER = 5
DATABASE_RETRY_AFTER = 5


class AuthenticationUnavailable(Exception):
    """The token may be fine but cannot be checked or its user fetched right now (503)."""

    def __init__(self, message: str, *, retry_after: int = DEFAULT_RETRY_AFTER) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def session_token_from_request(request: HttpRequest) -> tuple[str, str] | None:
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


def user_from_session_token(token: str) -> tuple[User, SessionClaims]:
    """The active local user a Clerk session token belongs to.

    Raises InvalidSessionToken (401) or AuthenticationUnavailable (503).
    """
    try:
        claims = session_token_verify(token)
        user = get_or_create_from_clerk(claims.user_id)
    except ClerkUserNotFound:
        raise InvalidSessionToken("user does not exist in Clerk") from None
    except (ClerkUnavailable, SigningKeysUnavailable) as exc:
        raise AuthenticationUnavailable(f"Clerk cannot be reached: {exc}", retry_after=exc.retry_after) from None
    except ClerkAPIError as exc:
        logger.error("Clerk API error while authenticating: %s", exc)
        raise AuthenticationUnavailable("Clerk's API answered an error") from None
    except ImproperlyConfigured as exc:
        logger.error("Clerk authentication is not configured: %s", exc)
        raise AuthenticationUnavailable(str(exc)) from None
    except ProvisioningFailed as exc:
        # Nothing was kept (the creation rolled back); the client retries and it runs again.
        logger.error("just-in-time creation failed: %s", exc, exc_info=exc)
        raise AuthenticationUnavailable("the new user could not be set up; retry shortly") from None
    except (OperationalError, InterfaceError) as exc:
        logger.warning("database unreachable while authenticating: %s", type(exc).__name__)
        connections[router.db_for_read(User)].close()  # the next request connects afresh
        raise AuthenticationUnavailable("The database cannot be reached", retry_after=DATABASE_RETRY_AFTER) from None
    if user.deleted_at is not None or not user.is_active:
        raise InvalidSessionToken("user is deleted or inactive")
    return user, claims


class ClerkUnavailableError(exceptions.APIException):
    status_code = 503
    default_detail = "Clerk cannot be reached to authenticate this request; retry later."
    default_code = "clerk_unavailable"

    def __init__(self, detail: str | None = None, *, wait: int = DEFAULT_RETRY_AFTER) -> None:
        super().__init__(detail)
        self.wait = wait  # DRF's exception handler turns this into Retry-After


class ClerkSessionAuthentication(BaseAuthentication):
    """DRF authentication with Clerk session tokens.

    Returns None without a token (other classes may try), raises
    AuthenticationFailed (401, with WWW-Authenticate) for a bad one, and
    ClerkUnavailableError (503 + Retry-After) when Clerk is needed and down.
    A token from the cookie is CSRF-checked on unsafe methods, as DRF's
    SessionAuthentication does for the session cookie.
    """

    def authenticate(self, request) -> tuple[User, SessionClaims] | None:
        django_request = request._request
        found = session_token_from_request(django_request)
        if found is None:
            return None
        token, source = found
        try:
            # The middleware may have decided already, either way: don't verify (or call Clerk) twice.
            outcome = getattr(django_request, "clerk_auth", None) or user_from_session_token(token)
            if isinstance(outcome, InvalidSessionToken):
                raise outcome
            user, claims = outcome
        except InvalidSessionToken as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        except AuthenticationUnavailable as exc:
            raise ClerkUnavailableError(str(exc), wait=exc.retry_after) from None
        if source == "cookie":
            _csrf_enforce(django_request)
        return user, claims

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


def _csrf_enforce(request: HttpRequest) -> None:
    check = CSRFCheck(lambda request: None)
    check.process_request(request)
    reason = check.process_view(request, None, (), {})
    if reason:
        raise exceptions.PermissionDenied(f"CSRF Failed: {reason}")


class ClerkAuthenticationMiddleware:
    """Sets `request.user` from a Clerk session token for plain Django views.

    Goes after AuthenticationMiddleware and leaves a user logged in by
    Django's own session (staff in the admin) alone. An invalid token leaves
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
                request.clerk_auth = user_from_session_token(found[0])
                request.user = request.clerk_auth[0]
            except InvalidSessionToken as exc:
                logger.info("Clerk session token refused: %s", exc)
                request.clerk_auth = exc  # the DRF class answers 401 with it, without a second try
            except AuthenticationUnavailable as exc:
                return JsonResponse({"detail": str(exc)}, status=503, headers={"Retry-After": str(exc.retry_after)})
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

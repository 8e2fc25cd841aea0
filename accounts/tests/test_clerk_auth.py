"""The middleware and the DRF class share one decision per request (ClerkAuth): a token is verified once."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from rest_framework.request import Request

from accounts.api import authentication
from accounts.api.authentication import ClerkAuth, ClerkSessionAuthentication
from accounts.clerk.tokens import SessionClaims
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def verifications(monkeypatch) -> list[str]:
    """Every session token verified during the test."""
    seen: list[str] = []
    real = authentication.session_token_verify

    def counting(token: str) -> SessionClaims:
        seen.append(token)
        return real(token)

    monkeypatch.setattr(authentication, "session_token_verify", counting)
    return seen


def test_a_known_users_token_is_verified_once_for_middleware_and_drf(client, clerk_api, make_token, verifications):
    UserFactory(clerk_id="user_once", username="once")

    response = client.get("/api/me/", headers={"Authorization": f"Bearer {make_token('user_once')}"})

    assert response.status_code == 200 and response.json()["username"] == "once"
    assert len(verifications) == 1


def test_a_refused_token_is_verified_once_and_answered_401_with_its_reason(
    client, clerk_api, make_token, foreign_private_key, verifications
):
    UserFactory(clerk_id="user_forged")
    token = make_token("user_forged", key=foreign_private_key)

    response = client.get("/api/me/", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.json() == {"detail": "token signature invalid"}
    assert len(verifications) == 1


def test_drf_decides_itself_when_the_middleware_left_the_request_to_djangos_session(
    client, clerk_api, make_token, verifications
):
    """A request Django's session logged in is left alone by the middleware; the DRF class reads its token."""
    client.force_login(UserFactory(clerk_id=None, username="staff", is_staff=True))
    UserFactory(clerk_id="user_token_owner", username="token-owner")

    response = client.get("/api/me/", headers={"Authorization": f"Bearer {make_token('user_token_owner')}"})

    assert response.status_code == 200 and response.json()["username"] == "token-owner"
    assert len(verifications) == 1


def test_drf_answers_unavailable_as_503_with_its_retry_after(client, clerk_api, make_token):
    client.force_login(UserFactory(clerk_id=None, username="staff", is_staff=True))
    clerk_api.fail("/v1/users/", 503, {"Retry-After": "7"})

    response = client.get("/api/me/", headers={"Authorization": f"Bearer {make_token('user_not_local_yet')}"})

    assert response.status_code == 503
    assert response["Retry-After"] == "7"
    assert response.json() == {"detail": "Clerk cannot be reached: Clerk's API answered 503"}


def test_authenticate_returns_the_user_and_the_tokens_session_claims(clerk_api, make_token):
    user = UserFactory(clerk_id="user_claims")
    request = Request(RequestFactory().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {make_token('user_claims')}"))

    authenticated_user, auth = ClerkSessionAuthentication().authenticate(request)

    assert authenticated_user == user
    assert isinstance(auth, SessionClaims) and auth.user_id == "user_claims"


def test_the_middlewares_decision_is_what_drf_returns(clerk_api):
    user = UserFactory(clerk_id="user_decided")
    claims = SessionClaims.from_claims({"sub": "user_decided", "sid": "sess_1"})
    django_request = RequestFactory().get("/api/me/", HTTP_AUTHORIZATION="Bearer not-even-a-token")
    django_request.clerk_auth = ClerkAuth("header", user=user, claims=claims)

    assert ClerkSessionAuthentication().authenticate(Request(django_request)) == (user, claims)

"""ClerkAuthenticationMiddleware: request.user for plain Django views."""

import pytest

from accounts.tests.factories import ClerkUserDataFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("accounts.tests.urls")]


def test_bearer_token_sets_request_user(client, clerk_api, make_token):
    UserFactory(clerk_id="user_plain", username="plain")

    response = client.get("/whoami/", headers={"Authorization": f"Bearer {make_token('user_plain')}"})

    assert response.content == b"plain"


def test_session_cookie_sets_request_user_and_creates_just_in_time(client, clerk_api, make_token):
    data = clerk_api.add_user(ClerkUserDataFactory(username="cookie_user"))
    client.cookies["__session"] = make_token(data["id"], version=2)

    response = client.get("/private/")

    assert response.status_code == 200 and response.content == b"cookie_user"


def test_invalid_token_leaves_the_request_anonymous(client, clerk_api, make_token, foreign_private_key):
    UserFactory(clerk_id="user_plain")
    headers = {"Authorization": f"Bearer {make_token('user_plain', key=foreign_private_key)}"}

    assert client.get("/whoami/", headers=headers).content == b"anonymous"
    assert client.get("/private/", headers=headers).status_code == 302  # login_required decides


def test_no_token_is_anonymous(client):
    assert client.get("/whoami/").content == b"anonymous"


def test_clerk_down_when_the_user_must_be_fetched_is_503(client, clerk_api, make_token):
    clerk_api.fail("/v1/users/", 503, {"Retry-After": "7"})

    response = client.get("/whoami/", headers={"Authorization": f"Bearer {make_token('user_new')}"})

    assert response.status_code == 503
    assert response["Retry-After"] == "7"


def test_a_django_session_login_is_left_alone(client, clerk_api, make_token):
    staff = UserFactory(clerk_id=None, username="staff", is_staff=True)
    UserFactory(clerk_id="user_other", username="other")
    client.force_login(staff)

    response = client.get("/whoami/", headers={"Authorization": f"Bearer {make_token('user_other')}"})

    assert response.content == b"staff"

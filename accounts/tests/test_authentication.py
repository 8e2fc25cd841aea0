"""GET /api/me/ with Clerk session tokens, against the Clerk API stand-in (a real local HTTP server).

One behavioural suite, parametrised over how the token travels (header or
cookie) and Clerk's token versions (v1, v2).
"""

import base64
import hashlib
import hmac
import json
import logging
import socket
import time

import jwt
import pytest

from accounts.models import User, UserProvisioning
from accounts.tests.factories import ClerkUserDataFactory, UserFactory, user_deleted_event
from config.tests.helpers import CLERK_KID, deliver_to, jwk_of, public_pem
from config.tests.processes import wait_until
from webhooks.tests.deliveries import statements_at_most

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["header", "cookie"])
def transport(request):
    return request.param


@pytest.fixture(params=[1, 2], ids=["v1", "v2"])
def version(request):
    return request.param


@pytest.fixture
def get_me(client, transport, django_capture_on_commit_callbacks):
    """get_me(token) -> response, sending the token the way the parametrised transport says.

    On-commit callbacks (signal, welcome email) run as a real commit would run them.
    """

    def _get(token: str | None):
        with django_capture_on_commit_callbacks(execute=True):
            if token is None:
                return client.get("/api/me/")
            if transport == "header":
                return client.get("/api/me/", headers={"Authorization": f"Bearer {token}"})
            client.cookies["__session"] = token
            try:
                return client.get("/api/me/")
            finally:
                del client.cookies["__session"]

    return _get


@pytest.fixture
def clock(monkeypatch):
    """The JWKS cache's clock, moved by hand: `clock.advance(seconds)`."""
    from accounts.clerk.tokens import signing_keys

    class Clock:
        now = 1000.0

        def __call__(self) -> float:
            return self.now

        def advance(self, seconds: float) -> None:
            self.now += seconds

    fake = Clock()
    monkeypatch.setattr(signing_keys, "clock", fake)
    return fake


def closed_port_url() -> str:
    """A local URL where nothing listens: Clerk unreachable."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def assert_401(response, detail_contains: str) -> None:
    assert response.status_code == 401, response.content
    assert detail_contains in response.json()["detail"]
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


class TestKnownUser:
    def test_served_from_the_database_without_calling_clerk(self, get_me, clerk_api, make_token, version):
        user = UserFactory(clerk_id="user_known", first_name="Ada", image_url="https://img.clerk.com/ada")

        response = get_me(make_token("user_known", version=version))

        assert response.status_code == 200
        body = response.json()
        assert body["clerk_id"] == "user_known"
        assert {key: body[key] for key in ("email", "username", "first_name", "last_name", "image_url")} == {
            "email": user.email,
            "username": user.username,
            "first_name": "Ada",
            "last_name": "",
            "image_url": "https://img.clerk.com/ada",
        }
        assert clerk_api.calls["/v1/users/{id}"] == 0

    def test_authentication_costs_one_query_and_no_clerk_call(self, client, clerk_api, make_token):
        UserFactory(clerk_id="user_budget")
        token = make_token("user_budget")
        client.get("/api/me/", headers={"Authorization": f"Bearer {token}"})  # warms the JWKS cache

        with statements_at_most(1):
            response = client.get("/api/me/", headers={"Authorization": f"Bearer {token}"})

        assert response.status_code == 200
        assert clerk_api.calls == {"/v1/jwks": 1}

    def test_jwks_is_fetched_once_for_many_requests(self, get_me, clerk_api, make_token):
        UserFactory(clerk_id="user_many")

        for _ in range(5):
            assert get_me(make_token("user_many")).status_code == 200

        assert clerk_api.calls["/v1/jwks"] == 1
        assert clerk_api.authorizations == [f"Bearer {clerk_api.secret_key}"]

    def test_known_user_is_served_during_a_clerk_outage(self, get_me, clerk_api, make_token, settings):
        UserFactory(clerk_id="user_outage")
        assert get_me(make_token("user_outage")).status_code == 200  # keys cached

        settings.CLERK_API_URL = closed_port_url()

        assert get_me(make_token("user_outage")).status_code == 200

    def test_networkless_with_clerk_jwt_key(self, get_me, make_token, settings, rsa_private_key):
        UserFactory(clerk_id="user_pem")
        settings.CLERK_JWT_KEY = public_pem(rsa_private_key)

        assert get_me(make_token("user_pem")).status_code == 200

    def test_clerk_jwt_key_with_escaped_newlines_from_an_env_file(self, get_me, make_token, settings, rsa_private_key):
        UserFactory(clerk_id="user_pem2")
        settings.CLERK_JWT_KEY = public_pem(rsa_private_key).replace("\n", "\\n")

        assert get_me(make_token("user_pem2")).status_code == 200


class TestJustInTime:
    def test_unknown_user_is_fetched_and_created_once(
        self, get_me, clerk_api, make_token, version, mailoutbox, provisioned, caplog
    ):
        data = clerk_api.add_user(ClerkUserDataFactory(email="new@example.com", first_name="Nova"))
        token = make_token(data["id"], version=version)

        with caplog.at_level(logging.INFO):
            first = get_me(token)
            second = get_me(token)

        assert (first.status_code, second.status_code) == (200, 200)
        assert first.json()["clerk_id"] == data["id"] and first.json()["email"] == "new@example.com"
        user = User.objects.get(clerk_id=data["id"])
        assert (user.created_via, user.first_name) == ("jit", "Nova")
        assert clerk_api.calls["/v1/users/{id}"] == 1
        assert provisioned == [(data["id"], "jit")]
        assert [m.to for m in mailoutbox] == [["new@example.com"]]
        assert UserProvisioning.objects.get(user=user).created_via == "jit"
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "jit user" in r.getMessage()]
        assert len(warnings) == 1 and data["id"] in warnings[0].getMessage()

    def test_webhook_after_jit_provisions_nothing_more(
        self, client, get_me, clerk_api, make_token, mailoutbox, provisioned
    ):
        data = clerk_api.add_user(ClerkUserDataFactory(email="later@example.com"))
        get_me(make_token(data["id"]))

        response = deliver_to(client, {"type": "user.created", "object": "event", "data": data})

        assert response.status_code == 200
        assert User.objects.filter(clerk_id=data["id"]).count() == 1
        assert len(mailoutbox) == 1 and provisioned == [(data["id"], "jit")]

    def test_user_clerk_does_not_know_is_401(self, get_me, clerk_api, make_token):
        assert_401(get_me(make_token("user_ghost")), "does not exist in Clerk")
        assert not User.objects.exists()

    def test_user_deleted_locally_is_401_without_calling_clerk(self, client, get_me, clerk_api, make_token):
        data = clerk_api.add_user(ClerkUserDataFactory())
        deliver_to(client, user_deleted_event(data["id"]))

        assert_401(get_me(make_token(data["id"])), "deleted")
        assert clerk_api.calls["/v1/users/{id}"] == 0

    def test_clerk_unreachable_is_503_with_retry_after(self, get_me, clerk_api, make_token, settings):
        get_me(make_token("user_warmup"))  # caches the keys
        settings.CLERK_API_URL = closed_port_url()

        response = get_me(make_token("user_not_local"))

        assert response.status_code == 503
        assert int(response["Retry-After"]) > 0
        assert "Clerk cannot be reached" in response.json()["detail"]
        assert not User.objects.exists()

    def test_clerk_rate_limiting_is_503_with_its_retry_after(self, get_me, clerk_api, make_token):
        clerk_api.fail("/v1/users/", 429, {"Retry-After": "30"})

        response = get_me(make_token("user_limited"))

        assert response.status_code == 503
        assert response["Retry-After"] == "30"

    def test_clerk_failing_is_retried_once_then_503(self, get_me, clerk_api, make_token):
        clerk_api.fail("/v1/users/", 502, {"Retry-After": "0"})

        response = get_me(make_token("user_bad_gateway"))

        assert response.status_code == 503
        assert clerk_api.calls["/v1/users/{id}"] == 2

    def test_wrong_secret_key_is_503_not_401(self, get_me, clerk_api, make_token, settings, rsa_private_key):
        settings.CLERK_JWT_KEY = public_pem(rsa_private_key)
        settings.CLERK_SECRET_KEY = "sk_test_wrong"

        response = get_me(make_token("user_any"))

        assert response.status_code == 503
        assert "Retry-After" in response

    def test_no_secret_key_makes_jit_unavailable_with_a_clear_error(
        self, get_me, make_token, settings, rsa_private_key
    ):
        settings.CLERK_JWT_KEY = public_pem(rsa_private_key)

        response = get_me(make_token("user_unknown"))

        assert response.status_code == 503
        assert "CLERK_SECRET_KEY" in response.json()["detail"]

    def test_no_key_at_all_is_a_clear_503(self, get_me, make_token):
        response = get_me(make_token("user_unknown"))

        assert response.status_code == 503
        assert "CLERK_JWT_KEY or CLERK_SECRET_KEY" in response.json()["detail"]


class TestRefusedTokens:
    def test_no_token(self, get_me):
        response = get_me(None)

        assert_401(response, "not provided")

    @pytest.mark.parametrize("token", ["abc", "a.b.c", "", "Bearer"], ids=["garbage", "three-parts", "empty", "word"])
    def test_malformed(self, get_me, clerk_api, token):
        assert get_me(token).status_code == 401

    def test_tampered_payload_fails_the_signature(self, get_me, clerk_api, make_token):
        UserFactory(clerk_id="user_victim")
        header, payload, signature = make_token("user_attacker").split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["sub"] = "user_victim"
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

        assert_401(get_me(f"{header}.{forged}.{signature}"), "signature")

    def test_signed_by_a_key_that_is_not_clerks(self, get_me, clerk_api, make_token, foreign_private_key):
        UserFactory(clerk_id="user_x")

        assert_401(get_me(make_token("user_x", key=foreign_private_key)), "signature")

    def test_unknown_kids_refetch_the_jwks_at_most_once_per_interval(
        self, get_me, clerk_api, make_token, foreign_private_key, clock
    ):
        UserFactory(clerk_id="user_x")
        get_me(make_token("user_x"))
        clock.advance(6)

        for n in range(3):
            assert_401(get_me(make_token("user_x", key=foreign_private_key, kid=f"ins_rogue_{n}")), "unknown key")

        assert clerk_api.calls["/v1/jwks"] == 2  # the first fetch, and one refetch for the unknown kids

    def test_rotated_key_is_picked_up_by_refetching(
        self, get_me, clerk_api, make_token, rsa_private_key, foreign_private_key, clock
    ):
        UserFactory(clerk_id="user_rot")
        assert get_me(make_token("user_rot")).status_code == 200
        clerk_api.jwks = {"keys": [jwk_of(rsa_private_key), jwk_of(foreign_private_key, kid="ins_new_key")]}
        clock.advance(6)

        assert get_me(make_token("user_rot", key=foreign_private_key, kid="ins_new_key")).status_code == 200

    def test_keys_are_refreshed_in_the_background_after_five_minutes_and_kept_if_clerk_is_down(
        self, get_me, clerk_api, make_token, clock, settings
    ):
        from accounts.clerk.tokens import signing_keys

        UserFactory(clerk_id="user_stale")
        get_me(make_token("user_stale"))
        clock.advance(301)
        settings.CLERK_API_URL = closed_port_url()

        assert get_me(make_token("user_stale")).status_code == 200  # the stale keys still serve
        wait_until(lambda: not signing_keys._refreshing, what="the background refresh to end")

        settings.CLERK_API_URL = clerk_api.url
        clock.advance(6)
        assert get_me(make_token("user_stale")).status_code == 200
        wait_until(lambda: clerk_api.calls["/v1/jwks"] == 2, what="a background refresh reaching Clerk")
        wait_until(lambda: not signing_keys._refreshing, what="the background refresh to end")

    def test_jwks_unreachable_with_nothing_cached_is_503(self, get_me, clerk_api, make_token, settings):
        settings.CLERK_API_URL = closed_port_url()

        first = get_me(make_token("user_any"))
        again = get_me(make_token("user_any"))  # within the refetch interval: still 503, not 401

        assert (first.status_code, again.status_code) == (503, 503)
        assert "Retry-After" in first

    def test_alg_none(self, get_me, clerk_api):
        UserFactory(clerk_id="user_none")
        token = jwt.encode({"sub": "user_none", "exp": int(time.time()) + 60}, None, algorithm="none")

        assert_401(get_me(token), "algorithm")

    def test_hs256_signed_with_the_public_key_as_secret(self, get_me, make_token, settings, rsa_private_key):
        """The classic algorithm-confusion attack: the public key is no HMAC secret."""
        UserFactory(clerk_id="user_confused")
        pem = public_pem(rsa_private_key)
        settings.CLERK_JWT_KEY = pem

        def part(value: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

        header = part({"alg": "HS256", "typ": "JWT", "kid": CLERK_KID})
        claims = part({"sub": "user_confused", "exp": int(time.time()) + 60})
        signing_input = f"{header}.{claims}"
        mac = hmac.new(pem.encode(), signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"

        assert_401(get_me(token), "algorithm")

    def test_expired(self, get_me, clerk_api, make_token):
        UserFactory(clerk_id="user_old")
        now = int(time.time())

        assert_401(get_me(make_token("user_old", iat=now - 120, nbf=now - 120, exp=now - 30)), "expired")

    def test_expired_within_the_leeway_is_accepted(self, get_me, clerk_api, make_token):
        UserFactory(clerk_id="user_skew")

        assert get_me(make_token("user_skew", exp=int(time.time()) - 2)).status_code == 200

    def test_not_yet_valid(self, get_me, clerk_api, make_token):
        UserFactory(clerk_id="user_future")
        now = int(time.time())

        assert_401(get_me(make_token("user_future", iat=now, nbf=now + 60, exp=now + 120)), "not yet valid")

    def test_without_exp(self, get_me, clerk_api, make_token):
        UserFactory(clerk_id="user_forever")

        assert_401(get_me(make_token("user_forever", exp=None)), "'exp'")

    def test_without_sub(self, get_me, clerk_api, make_token):
        assert_401(get_me(make_token(None)), "'sub'")

    def test_pending_v2_session_is_signed_out(self, get_me, clerk_api, make_token):
        UserFactory(clerk_id="user_pending")

        assert_401(get_me(make_token("user_pending", version=2, sts="pending")), "pending")

    def test_token_content_is_never_logged(self, get_me, clerk_api, make_token, caplog, foreign_private_key):
        tokens = [make_token("user_ghost"), make_token("user_ghost", key=foreign_private_key), "abc.def.ghi"]

        with caplog.at_level(logging.DEBUG):
            for token in tokens:
                get_me(token)

        logged = "\n".join(record.getMessage() for record in caplog.records)
        for token in tokens:
            assert token not in logged
            assert token.split(".")[1] not in logged


class TestAuthorizedParties:
    @pytest.fixture(autouse=True)
    def known_user(self, settings):
        settings.CLERK_AUTHORIZED_PARTIES = ["https://app.example.com", "https://admin.example.com"]
        return UserFactory(clerk_id="user_azp")

    def test_allowed_party(self, get_me, clerk_api, make_token):
        assert get_me(make_token("user_azp", azp="https://admin.example.com")).status_code == 200

    def test_party_not_allowed(self, get_me, clerk_api, make_token):
        assert_401(get_me(make_token("user_azp", azp="https://evil.example.com")), "authorized party")

    def test_absent_azp_is_refused_while_parties_are_set(self, get_me, clerk_api, make_token):
        assert_401(get_me(make_token("user_azp", azp=None)), "authorized party")

    def test_azp_not_checked_when_no_parties_are_set(self, get_me, clerk_api, make_token, settings):
        settings.CLERK_AUTHORIZED_PARTIES = []

        assert get_me(make_token("user_azp", azp=None)).status_code == 200
        assert get_me(make_token("user_azp", azp="https://anything.example")).status_code == 200


class TestCookieOnUnsafeMethods:
    def test_cookie_token_on_post_needs_csrf(self, clerk_api, make_token):
        from django.test import Client

        UserFactory(clerk_id="user_csrf")
        client = Client(enforce_csrf_checks=True)
        client.cookies["__session"] = make_token("user_csrf")

        response = client.post("/api/me/")

        assert response.status_code == 403
        assert "CSRF" in response.json()["detail"]


def test_openapi_schema_is_served(client):
    response = client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert "/api/me/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["clerkSession"]["scheme"] == "bearer"
    assert {"clerk_id", "email", "username", "first_name", "last_name", "image_url"} <= set(
        schema["components"]["schemas"]["User"]["properties"]
    )


def test_a_refused_token_is_checked_once_per_request(client, clerk_api, make_token):
    """The middleware and the DRF class share one verdict: one call to Clerk, not one each."""
    response = client.get("/api/me/", headers={"Authorization": f"Bearer {make_token('user_ghost')}"})

    assert response.status_code == 401
    assert clerk_api.calls["/v1/users/{id}"] == 1

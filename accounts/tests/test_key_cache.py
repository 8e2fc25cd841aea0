"""The key cache and the verified-token cache against a local JWKS server (the Clerk stand-in).

A fake clock moves the caches' time by hand; Clerk's JWKS answers what each
test sets. Rotation under the same kid, bad JWKS answers, and tokens whose
key leaves the JWKS.
"""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from accounts.clerk import keys as signing_keys_module
from accounts.clerk import tokens
from accounts.tests.factories import UserFactory
from config.tests.helpers import CLERK_KID, jwk_of, public_pem
from config.tests.processes import wait_until

pytestmark = pytest.mark.django_db

INTERVAL = signing_keys_module.REFETCH_INTERVAL_SECONDS


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    """One clock for the JWKS cache (monotonic) and the verified-token cache (wall time, for `exp`)."""
    fake = Clock(time.time())
    monkeypatch.setattr(tokens.signing_keys, "clock", fake)
    monkeypatch.setattr(tokens.verified_tokens, "clock", fake)
    return fake


@pytest.fixture(scope="module")
def new_private_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def me(client, clerk_api):
    def _me(token: str) -> int:
        return client.get("/api/me/", headers={"Authorization": f"Bearer {token}"}).status_code

    return _me


@pytest.fixture
def known(clerk_api):
    return UserFactory(clerk_id="user_rotation")


def test_new_key_under_the_same_kid_is_accepted_within_one_interval_and_the_old_one_refused_after(
    me, known, clerk_api, make_token, rsa_private_key, new_private_key, clock
):
    old_token = make_token(known.clerk_id)
    assert me(old_token) == 200
    clerk_api.jwks = {"keys": [jwk_of(new_private_key, kid=CLERK_KID)]}  # rotated, same kid
    new_token = make_token(known.clerk_id, key=new_private_key)

    clock.advance(INTERVAL)
    assert me(new_token) == 200  # its signature failed under the cached key: one refetch found the new one
    assert clerk_api.calls["/v1/jwks"] == 2

    assert me(make_token(known.clerk_id)) == 401  # the old key is gone from the JWKS the refetch saw
    assert me(old_token) == 401  # and its verified token with it
    assert me(new_token) == 200


def test_a_failed_signature_refetches_at_most_once_per_interval(
    me, known, clerk_api, make_token, foreign_private_key, clock
):
    assert me(make_token(known.clerk_id)) == 200
    clock.advance(INTERVAL)

    for _ in range(5):
        assert me(make_token(known.clerk_id, key=foreign_private_key)) == 401

    assert clerk_api.calls["/v1/jwks"] == 2


@pytest.mark.parametrize(
    "answer",
    [
        {"keys": []},
        {"keys": [{"kty": "EC", "kid": "ins_ec", "crv": "P-256", "x": "AA", "y": "AA"}]},
        {"keys": [{"kty": "RSA", "kid": ["ins_list"], "n": "AQAB", "e": "AQAB"}]},
        {"keys": [{"kty": "RSA", "kid": CLERK_KID, "n": "not base64!", "e": "AQAB"}]},
        {"keys": [{"kty": "RSA", "use": "enc", "kid": CLERK_KID, "n": "AQAB", "e": "AQAB"}]},
        {"keys": ["not a key", None, 7]},
    ],
    ids=["empty", "only-ec", "list-kid", "bad-modulus", "encryption-key", "not-objects"],
)
def test_a_jwks_answer_without_usable_keys_keeps_the_cached_ones(me, known, clerk_api, make_token, clock, answer):
    assert me(make_token(known.clerk_id)) == 200
    clerk_api.jwks = answer
    clock.advance(INTERVAL)

    assert me(make_token(known.clerk_id, kid="ins_random")) == 401  # an unknown kid forces a refetch
    assert clerk_api.calls["/v1/jwks"] == 2
    assert me(make_token(known.clerk_id)) == 200  # the cached key still serves

    clock.advance(signing_keys_module.KEYS_MAX_AGE_SECONDS)  # and a stale-key refresh changes nothing either
    assert me(make_token(known.clerk_id)) == 200
    wait_until(
        lambda: clerk_api.calls["/v1/jwks"] == 3 and not tokens.signing_keys._refreshing,
        what="the background refresh to end",
    )
    assert me(make_token(known.clerk_id)) == 200


def test_a_key_with_a_list_valued_kid_is_skipped_and_the_others_used(me, known, clerk_api, make_token, rsa_private_key):
    listed = jwk_of(rsa_private_key) | {"kid": [CLERK_KID]}
    clerk_api.jwks = {"keys": [listed, jwk_of(rsa_private_key)]}

    assert me(make_token(known.clerk_id)) == 200


def test_the_first_fetch_answering_no_usable_key_is_503(me, known, clerk_api, make_token):
    clerk_api.jwks = {"keys": []}

    assert me(make_token(known.clerk_id)) == 503


def test_a_brand_new_kid_is_accepted_at_once_after_the_interval(
    me, known, clerk_api, make_token, rsa_private_key, new_private_key, clock
):
    assert me(make_token(known.clerk_id)) == 200
    clerk_api.jwks = {"keys": [jwk_of(rsa_private_key), jwk_of(new_private_key, kid="ins_brand_new")]}
    clock.advance(INTERVAL)

    assert me(make_token(known.clerk_id, key=new_private_key, kid="ins_brand_new")) == 200


class TestVerifiedTokens:
    def test_a_token_is_verified_once_then_served_from_the_cache(self, me, known, make_token, monkeypatch):
        decoded = []
        real_decode = tokens._decode
        monkeypatch.setattr(tokens, "_decode", lambda token, key: decoded.append(token) or real_decode(token, key))
        token = make_token(known.clerk_id)

        assert [me(token) for _ in range(5)] == [200] * 5
        assert len(decoded) == 1

    def test_never_served_past_its_exp(self, me, known, make_token, clock):
        token = make_token(known.clerk_id, exp=int(clock.now) + 60)
        assert me(token) == 200

        clock.advance(60 + tokens.LEEWAY_SECONDS + 1)  # jwt.decode reads the real clock: use the real exp
        assert tokens.verified_tokens.get(token) is None

    def test_dropped_when_its_key_leaves_the_jwks(
        self, me, known, clerk_api, make_token, rsa_private_key, new_private_key, clock
    ):
        token = make_token(known.clerk_id)
        assert me(token) == 200
        clerk_api.jwks = {"keys": [jwk_of(new_private_key, kid="ins_other")]}
        clock.advance(INTERVAL)
        assert me(make_token(known.clerk_id, key=new_private_key, kid="ins_other")) == 200  # refetch: old key gone

        assert me(token) == 401

    def test_azp_and_pending_are_checked_on_every_request(self, me, known, make_token, settings):
        token = make_token(known.clerk_id, azp="https://app.example.com")
        pending = make_token(known.clerk_id, version=2, sts="pending")
        assert me(token) == 200

        settings.CLERK_AUTHORIZED_PARTIES = ["https://other.example.com"]
        assert me(token) == 401
        settings.CLERK_AUTHORIZED_PARTIES = []
        settings.CLERK_TREAT_PENDING_AS_SIGNED_OUT = False
        assert me(pending) == 200
        settings.CLERK_TREAT_PENDING_AS_SIGNED_OUT = True
        assert me(pending) == 401

    def test_a_user_tombstoned_after_the_token_was_cached_is_refused(self, me, known, make_token):
        token = make_token(known.clerk_id)
        assert me(token) == 200
        known.deleted_at, known.is_active = known.date_joined, False
        known.save()

        assert me(token) == 401

    def test_a_changed_clerk_jwt_key_drops_cached_tokens(
        self, me, known, make_token, settings, new_private_key, foreign_private_key
    ):
        settings.CLERK_JWT_KEY = public_pem(new_private_key)
        token = make_token(known.clerk_id, key=new_private_key)
        assert me(token) == 200

        settings.CLERK_JWT_KEY = public_pem(foreign_private_key)
        assert me(token) == 401

    def test_bounded(self, clock):
        cache = tokens.VerifiedTokens(max_entries=10, clock=clock)
        session = tokens.SessionClaims.from_claims({"sub": "user_x", "exp": clock.now + 60})
        for number in range(25):
            cache.put(f"token-{number}", session, kid=None, key=None)
            assert len(cache) <= 10
        clock.advance(61)
        cache.put(
            "fresh", tokens.SessionClaims.from_claims({"sub": "user_y", "exp": clock.now + 60}), kid=None, key=None
        )
        assert len(cache) == 1  # the expired ones went first


def test_the_fast_user_representation_equals_drfs(known):
    from rest_framework import serializers

    from accounts.api.serializers import UserSerializer

    class Reference(serializers.ModelSerializer):
        class Meta:
            model = UserSerializer.Meta.model
            fields = UserSerializer.Meta.fields

    assert UserSerializer(known).data == Reference(known).data

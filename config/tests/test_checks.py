"""The startup checks on Clerk's settings, as `manage.py check` prints them."""

import io

import pytest
from django.core.management import call_command

from accounts.tests.factories import ClerkEventFactory
from webhooks.tests.deliveries import ROTATED_WEBHOOK_SECRET, TEST_WEBHOOK_SECRET

VALID_KEY = "sk_test_0123456789abcdefghijklmnopqrstuvwxyz"


def check_output() -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("check", stdout=out, stderr=err)
    return err.getvalue() + out.getvalue()


def clerk_lines(output: str) -> list[str]:
    """The Clerk settings' warnings (W00N); config's own (W01N, e.g. the test run's locmem mail) are tested below."""
    return [line for line in output.splitlines() if "clerk_sync.W00" in line]


@pytest.mark.parametrize(
    "webhook_secret, key",
    [
        (TEST_WEBHOOK_SECRET, VALID_KEY),
        (f"{TEST_WEBHOOK_SECRET}, {ROTATED_WEBHOOK_SECRET}", VALID_KEY),
        ("whsec_dGVzdC1zZWNyZXQ", VALID_KEY),  # unpadded base64, as the svix library accepts it
    ],
)
def test_well_formed_settings_pass_quietly(settings, webhook_secret, key):
    settings.CLERK_WEBHOOK_SECRET, settings.CLERK_SECRET_KEY = webhook_secret, key

    assert clerk_lines(check_output()) == []


@pytest.mark.parametrize(
    "webhook_secret, expected",
    [
        ("", "(clerk_sync.W001) CLERK_WEBHOOK_SECRET is not set: webhook deliveries are refused with 503"),
        (VALID_KEY, "(clerk_sync.W002) CLERK_WEBHOOK_SECRET entry 1 of 1 is not a whsec_… signing secret"),
        (f"{TEST_WEBHOOK_SECRET} whsec_not*base64", "(clerk_sync.W002) CLERK_WEBHOOK_SECRET entry 2 of 2 is not"),
        ("whsec_", "(clerk_sync.W002) CLERK_WEBHOOK_SECRET entry 1 of 1 is not"),
    ],
)
def test_webhook_secret_missing_or_malformed_is_one_warning(settings, webhook_secret, expected):
    settings.CLERK_WEBHOOK_SECRET, settings.CLERK_SECRET_KEY = webhook_secret, VALID_KEY

    [line] = clerk_lines(check_output())

    assert expected in line
    assert "0123456789abcdef" not in line and "not*base64" not in line  # secrets are never echoed


def test_a_pasted_api_key_is_named_as_such(settings):
    settings.CLERK_WEBHOOK_SECRET, settings.CLERK_SECRET_KEY = VALID_KEY, VALID_KEY

    [line] = clerk_lines(check_output())

    assert "it looks like a Clerk API key, sk_…" in line


@pytest.mark.django_db
def test_a_secret_warned_about_that_the_svix_library_takes_still_verifies_deliveries(settings, deliver):
    """The check warns about any secret not of the whsec_ shape; a delivery is answered 503 only
    when the library refuses the secret. It decodes a pasted API key, skipping the underscores."""
    settings.CLERK_WEBHOOK_SECRET = VALID_KEY

    response = deliver(ClerkEventFactory())

    assert clerk_lines(check_output()) != []
    assert (response.status_code, response.json()["reason"]) == (400, "bad_signature")


@pytest.mark.parametrize(
    "key, expected",
    [
        ("", "(clerk_sync.W003) CLERK_SECRET_KEY is not set"),
        ("pk_test_publishable", "(clerk_sync.W004) CLERK_SECRET_KEY is not an sk_… secret key"),
        (TEST_WEBHOOK_SECRET, "(clerk_sync.W004) CLERK_SECRET_KEY is not an sk_… secret key"),
    ],
)
def test_secret_key_missing_or_malformed_is_one_warning(settings, key, expected):
    settings.CLERK_WEBHOOK_SECRET, settings.CLERK_SECRET_KEY = TEST_WEBHOOK_SECRET, key

    [line] = clerk_lines(check_output())

    assert expected in line

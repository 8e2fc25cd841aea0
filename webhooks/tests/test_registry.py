"""Registering and unregistering a source through the registry's public API."""

import pytest

from webhooks.models import WebhookEvent
from webhooks.registry import WebhookSource, get_source, register_source, source_registered, unregister_source

pytestmark = pytest.mark.django_db


def source(name: str = "second", **fields) -> WebhookSource:
    return WebhookSource(name=name, secret_setting="CLERK_WEBHOOK_SECRET", handlers={}, **fields)


def test_a_registered_source_takes_deliveries_and_an_unregistered_one_is_404(deliver):
    register_source(source())
    try:
        assert deliver({"type": "thing.happened", "data": {}}, path="/webhooks/second/").status_code == 200
    finally:
        removed = unregister_source("second")

    assert removed.name == "second" and get_source("second") is None
    assert deliver({"type": "thing.happened", "data": {}}, path="/webhooks/second/").status_code == 404
    assert WebhookEvent.objects.get().source == "second"  # its events stay in the ledger


def test_unregistering_an_unknown_source_raises_lookup_error():
    with pytest.raises(LookupError, match="'nobody' is not registered"):
        unregister_source("nobody")


def test_source_registered_restores_the_source_it_replaced(things):
    stand_in = source(things.name, ignored_types=frozenset({"thing.happened"}))

    with source_registered(stand_in) as registered:
        assert registered is stand_in and get_source(things.name) is stand_in

    assert get_source(things.name) is things


@pytest.fixture
def throwaway_gone_afterwards():
    """Set up before webhook_source, so torn down after it: checks what the fixture left behind."""
    yield
    assert get_source("throwaway") is None, "the webhook_source fixture left its source registered"


def test_the_webhook_source_fixture_registers_for_the_test_only(throwaway_gone_afterwards, webhook_source):
    registered = webhook_source({"thing.happened": lambda event: None}, name="throwaway")

    assert get_source("throwaway") is registered


def test_strings_a_source_names_as_identifiers_are_never_stored_altered(deliver, webhook_source):
    """The ledger drops NUL (which jsonb cannot hold) from free text, but refuses what would change an identifier."""
    handled = []
    webhook_source(
        {"thing.happened": lambda event: handled.append(event.payload["data"])},
        name="exacting",
        identifiers=lambda payload: {"data.key": payload["data"].get("key")},
    )

    refused = deliver({"type": "thing.happened", "data": {"key": "k\u0000ey", "note": "n"}}, path="/webhooks/exacting/")
    accepted = deliver(
        {"type": "thing.happened", "data": {"key": "key", "note": "n\u0000ote"}}, path="/webhooks/exacting/"
    )

    assert (refused.status_code, refused.json()["reason"]) == (400, "bad_data")
    assert "data.key" in refused.json()["error"]
    assert accepted.status_code == 200
    assert handled == [{"key": "key", "note": "note"}]
    assert list(WebhookEvent.objects.values_list("payload", flat=True)) == [
        {"type": "thing.happened", "data": {"key": "key", "note": "note"}}
    ]

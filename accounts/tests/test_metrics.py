"""GET /metrics in one process: the token, the contract's series, exact counts, and what a scrape costs.

Across gunicorn's worker processes: config/tests/test_metrics_gunicorn.py.
"""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from accounts.alarms.registry import ALARMS
from accounts.ops import exposition
from accounts.reconcile.metrics import reconcile_pass_observe, reconcile_repairs_count
from accounts.tests.factories import ClerkLedgerEventFactory
from config.tests.helpers import load_fixture
from webhooks.models import WebhookEvent
from webhooks.tests.deliveries import UNKNOWN_WEBHOOK_SECRET, new_msg_id

pytestmark = pytest.mark.django_db

TOKEN = "metrics-test-token"
CONTRACT_SERIES = {
    "clerk_sync_webhook_deliveries": "counter",
    "clerk_sync_webhook_rejections": "counter",
    "clerk_sync_webhook_processing_seconds": "histogram",
    "clerk_sync_jit_creations": "counter",
    "clerk_sync_clerk_api_requests": "counter",
    "clerk_sync_welcome_emails": "gauge",
    "clerk_sync_reconcile_repairs": "counter",
    "clerk_sync_last_delivery_age_seconds": "gauge",
    "clerk_sync_alarm": "gauge",
}


@pytest.fixture
def scrape(client, settings, monkeypatch):
    """scrape() -> {family name: family}, fresh from the database (no cache), with the token."""
    settings.METRICS_TOKEN = TOKEN
    monkeypatch.setattr(exposition, "CACHE_SECONDS", 0)

    def _scrape():
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        return {family.name: family for family in text_string_to_metric_families(response.content.decode())}

    return _scrape


def value(families, name: str, sample: str | None = None, **labels) -> float:
    family = families[name]
    return sum(
        s.value
        for s in family.samples
        if s.name == (sample or name) and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_is_404_without_a_token_configured(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x"])
def test_metrics_is_401_without_the_right_bearer_token(client, settings, authorization):
    settings.METRICS_TOKEN = TOKEN
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = client.get("/metrics", **headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN not in response.content.decode()


def test_every_contract_series_is_exported_with_its_type_and_every_alarm_listed(scrape):
    families = scrape()

    assert {name: families[name].type for name in CONTRACT_SERIES} == CONTRACT_SERIES
    assert {s.labels["alarm"]: s.value for s in families["clerk_sync_alarm"].samples} == dict.fromkeys(ALARMS, 0)


def test_deliveries_and_refusals_are_counted_exactly(scrape, deliver):
    before = scrape()
    payload = load_fixture("user__created")
    msg_id = new_msg_id()
    for _ in range(2):
        deliver(payload, msg_id=msg_id)  # processed, then duplicate
    deliver(payload, secret=UNKNOWN_WEBHOOK_SECRET)
    after = scrape()

    def delta(name, sample=None, **labels):
        return value(after, name, sample, **labels) - value(before, name, sample, **labels)

    deliveries = "clerk_sync_webhook_deliveries"
    assert delta(deliveries, f"{deliveries}_total", source="clerk", type="user.created", outcome="processed") == 1
    assert delta(deliveries, f"{deliveries}_total", source="clerk", type="user.created", outcome="duplicate") == 1
    rejections = "clerk_sync_webhook_rejections"
    assert delta(rejections, f"{rejections}_total", source="clerk", reason="bad_signature") == 1
    seconds = "clerk_sync_webhook_processing_seconds"
    assert delta(seconds, f"{seconds}_count", source="clerk") == 2
    assert 0 <= value(after, "clerk_sync_last_delivery_age_seconds", source="clerk") < 60


def test_gauges_come_from_the_database(scrape):
    ClerkLedgerEventFactory(status=WebhookEvent.Status.FAILED)
    from accounts.alarms.evaluate import alarms_evaluate

    alarms_evaluate()
    families = scrape()

    assert value(families, "clerk_sync_alarm", alarm="events_failed") == 1
    assert value(families, "clerk_sync_welcome_emails", state="pending") == 0


def test_reconciliation_repairs_and_pass_durations_are_counted_by_the_functions_the_pass_calls(scrape):
    before = scrape()
    reconcile_repairs_count("users", "tombstoned", 3)
    reconcile_repairs_count("users", "created", 0)
    reconcile_pass_observe("full", "completed", 42.0)
    after = scrape()

    repairs = "clerk_sync_reconcile_repairs"
    tombstoned = {"kind": "users", "action": "tombstoned"}
    assert (
        value(after, repairs, f"{repairs}_total", **tombstoned)
        - value(before, repairs, f"{repairs}_total", **tombstoned)
        == 3
    )
    passes = "clerk_sync_reconcile_pass_seconds"
    full = {"kind": "full", "outcome": "completed"}
    assert value(after, passes, f"{passes}_sum", **full) - value(before, passes, f"{passes}_sum", **full) == 42.0


def test_a_scrape_reads_the_database_in_a_few_statements_and_not_at_all_while_cached(
    client, settings, django_assert_max_num_queries, django_assert_num_queries
):
    settings.METRICS_TOKEN = TOKEN
    exposition._cache = None
    with django_assert_max_num_queries(8):
        assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    with django_assert_num_queries(0):
        assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200

"""A source's own admin hooks (what an event concerns, search, health figures), shown by the source-agnostic admin."""

import re

import pytest
from django.utils.html import format_html

from webhooks.registry import HealthBlock, HealthRow, SubjectLink
from webhooks.tests.factories import WebhookEventFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/webhooks/webhookevent/"
HEALTH = "/admin/webhooks/webhookevent/health/"


def ledger_event(event_id: str, subject_id: str, *, source: str = "shop"):
    return WebhookEventFactory(
        source=source,
        event_id=event_id,
        subject_id=subject_id,
        payload={"type": "order.paid", "data": {"id": subject_id}},
    )


def test_subject_links_are_asked_once_per_page_with_that_sources_events(admin_client, webhook_source):
    calls = []

    def subject_links(events):
        calls.append(sorted(event.event_id for event in events))
        return {event.pk: SubjectLink(f"Order {event.subject_id}", f"/orders/{event.subject_id}/") for event in events}

    webhook_source({}, name="shop", subject_links=subject_links)
    for n in range(3):
        ledger_event(f"msg_order_{n}", f"ord_{n}")
    WebhookEventFactory(event_id="msg_things")  # another source's event is not passed to this hook

    html = admin_client.get(CHANGELIST).content.decode()

    assert calls == [["msg_order_0", "msg_order_1", "msg_order_2"]]
    for n in range(3):
        assert f'<a href="/orders/ord_{n}/">Order ord_{n}</a>' in html


def test_an_event_page_asks_the_hook_for_its_one_event(admin_client, webhook_source):
    webhook_source({}, name="shop", subject_links=lambda events: {e.pk: SubjectLink("Order 7") for e in events})
    event = ledger_event("msg_order_7", "ord_7")

    html = admin_client.get(f"/admin/webhooks/webhookevent/{event.pk}/change/").content.decode()

    assert re.search(r'field-subject\b.*?<div class="readonly">Order 7</div>', html, re.S)


def test_a_source_without_hooks_shows_the_subject_id_as_it_is(admin_client, webhook_source):
    webhook_source({}, name="shop")
    ledger_event("msg_plain", "ord_plain")

    html = admin_client.get(CHANGELIST).content.decode()

    assert '<small class="subject">ord_plain</small>' in html


def test_subject_search_matches_the_sources_own_terms_within_that_source(admin_client, webhook_source):
    webhook_source({}, name="shop", subject_search=lambda term: ["ord_1"] if term == "#1" else None)
    ledger_event("msg_mine", "ord_1")
    ledger_event("msg_other_source", "ord_1", source="warehouse")

    response = admin_client.get(CHANGELIST, {"q": "#1"})

    assert [event.event_id for event in response.context["cl"].result_list] == ["msg_mine"]


def test_each_sources_health_blocks_are_rendered_with_warnings_and_notes(admin_client, webhook_source):
    def health():
        return [
            HealthBlock(
                title="Shop orders",
                rows=[
                    HealthRow("Orders unpaid", "3", warning=True, detail="oldest 2 days", key="unpaid"),
                    HealthRow("Orders paid", "40", url="/orders/"),
                ],
                note=format_html("<strong>{}</strong>", "Chase the unpaid ones."),
                key="shop-orders",
            ),
            HealthBlock(title="Shop refunds", rows=[], key="shop-refunds"),
        ]

    webhook_source({}, name="shop", health=health)

    html = admin_client.get(HEALTH).content.decode()

    orders = html[html.index('id="shop-orders"') : html.index('id="shop-refunds"')]
    assert "<h2>Shop orders</h2>" in orders
    assert re.search(r'class="health-card warning" id="unpaid">.*?class="figure">3<.*?oldest 2 days', orders, re.S)
    assert '<a href="/orders/">Orders paid</a>' in orders
    assert "<strong>Chase the unpaid ones.</strong>" in orders
    refunds = html[html.index('id="shop-refunds"') :]
    assert re.search(r"<h2>Shop refunds</h2>\s*<p>None.</p>", refunds)
    assert "<title>Sync health" in html and "Clerk sync health" not in html

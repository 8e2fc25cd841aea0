"""The ledger admin through the Django test client: list, filter, search, read, replay, health.

Events are the ledger's stand-in source's (webhooks/tests/ledger_source.py); what the admin
shows of Clerk through its hooks is in accounts/tests/test_clerk_ledger_admin.py.
"""

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from webhooks.models import WebhookAttempt, WebhookEvent
from webhooks.tests.admin_pages import (
    CHANGELIST,
    HEALTH,
    assert_a_hundred_thousand_events_render_in_a_bounded_number_of_queries,
    listed_event_ids,
    replay_url,
)
from webhooks.tests.deliveries import deliver_to, statements_at_most
from webhooks.tests.factories import WebhookEventFactory
from webhooks.tests.ledger_source import PATH, thing_event, things_recorded

pytestmark = pytest.mark.django_db


def detail_url(event: WebhookEvent) -> str:
    return f"/admin/webhooks/webhookevent/{event.pk}/change/"


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def staff_client(db):
    """A staff member who may view the ledger but not replay."""
    user = get_user_model().objects.create_user("viewer", "viewer@example.com", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_webhookevent"))
    client = Client()
    client.force_login(user)
    return client


def downstream_is_down(event: WebhookEvent) -> None:
    """The handler of the throwaway source "flaky": it always fails."""
    raise RuntimeError("downstream is down")


class TestAccess:
    @pytest.mark.parametrize("url", [CHANGELIST, HEALTH, "/admin/webhooks/webhookevent/1/change/"])
    def test_anonymous_visitor_is_sent_to_login(self, client, url):
        response = client.get(url)

        assert response.status_code == 302
        assert response.url.startswith("/admin/login/")

    def test_anonymous_replay_post_is_sent_to_login(self, client):
        event = WebhookEventFactory()

        response = client.post(replay_url(event))

        assert response.status_code == 302 and response.url.startswith("/admin/login/")
        event.refresh_from_db()
        assert event.attempts == 1

    def test_ledger_is_read_only(self, admin_client):
        event = WebhookEventFactory()

        assert admin_client.get("/admin/webhooks/webhookevent/add/").status_code == 403
        response = admin_client.get(detail_url(event))
        assert 'name="_save"' not in response.content.decode()
        assert admin_client.post(f"/admin/webhooks/webhookevent/{event.pk}/delete/").status_code == 403


class TestChangelist:
    def test_lists_newest_first_with_ids_badges_attempts_and_the_subject_each_concerns(self, admin_client):
        old = WebhookEventFactory(event_id="msg_old", received_at=timezone.now() - dt.timedelta(hours=2))
        WebhookEventFactory(event_id="msg_new", status="failed", attempts=3, payload=thing_event(id="thing_known"))

        response = admin_client.get(CHANGELIST)

        html = response.content.decode()
        assert listed_event_ids(response) == ["msg_new", "msg_old"]
        assert 'class="status-badge"' in html and ">Failed<" in html
        assert '<small class="subject">thing_known</small>' in html  # no hook links it: shown as it is
        assert old.subject_id in html
        assert re.findall(r'<td class="field-attempts">(\d+)</td>', html) == ["3", "1"]

    @pytest.mark.parametrize(
        "query, expected",
        [
            ("status__exact=failed", ["msg_failed"]),
            ("type=thing.changed", ["msg_changed"]),
            ("type=__other__", ["msg_ignored"]),
            ("source=things", ["msg_ignored", "msg_changed", "msg_failed"]),
        ],
    )
    def test_filters(self, admin_client, query, expected):
        now = timezone.now()
        WebhookEventFactory(event_id="msg_failed", status="failed", received_at=now - dt.timedelta(minutes=3))
        WebhookEventFactory(
            event_id="msg_changed", payload=thing_event("thing.changed"), received_at=now - dt.timedelta(minutes=2)
        )
        WebhookEventFactory(
            event_id="msg_ignored",
            payload=thing_event("thing.ignored"),
            status="ignored",
            received_at=now - dt.timedelta(minutes=1),
        )

        assert listed_event_ids(admin_client.get(f"{CHANGELIST}?{query}")) == expected

    def test_date_hierarchy_narrows_to_a_day(self, admin_client):
        WebhookEventFactory(event_id="msg_2025", received_at=dt.datetime(2025, 3, 4, 12, tzinfo=dt.UTC))
        WebhookEventFactory(event_id="msg_2026", received_at=dt.datetime(2026, 1, 2, 12, tzinfo=dt.UTC))

        response = admin_client.get(f"{CHANGELIST}?received_at__year=2025&received_at__month=3&received_at__day=4")

        assert listed_event_ids(response) == ["msg_2025"]

    @pytest.mark.parametrize("term", ["msg_target", "thing_target", "  msg_target  "])
    def test_search_by_event_id_or_subject_id(self, admin_client, term):
        WebhookEventFactory(event_id="msg_target", subject_id="thing_target")
        WebhookEventFactory(event_id="msg_other", subject_id="thing_other")

        assert listed_event_ids(admin_client.get(CHANGELIST, {"q": term})) == ["msg_target"]

    def test_search_matches_exactly_not_substrings(self, admin_client):
        WebhookEventFactory(event_id="msg_target")

        assert listed_event_ids(admin_client.get(CHANGELIST, {"q": "msg_tar"})) == []

    def test_a_hundred_thousand_events_render_in_a_bounded_number_of_queries(self, admin_client):
        """Seeded with bulk inserts; the page must not count or look up per row."""
        assert_a_hundred_thousand_events_render_in_a_bounded_number_of_queries(
            admin_client, source="things", event_type="thing.changed", subject_id="thing_seeded"
        )


class TestDetail:
    def test_payload_pretty_printed_and_attempts_in_order(self, admin_client, client):
        payload = thing_event(first_name="Zoë <script>")
        deliver_to(client, payload, msg_id="msg_detail", path=PATH)
        deliver_to(client, payload, msg_id="msg_detail", path=PATH)
        event = WebhookEvent.objects.get(event_id="msg_detail")

        html = admin_client.get(detail_url(event)).content.decode()

        assert '<pre class="json">' in html
        assert '<span class="json-key">&quot;first_name&quot;</span>' in html
        assert "Zoë &lt;script&gt;" in html and '<script>"' not in html
        outcomes = re.findall(r'class="field-outcome_badge">\s*<p><span class="status-badge"[^>]*>([^<]+)</span>', html)
        assert outcomes == ["Processed", "Duplicate (already done, nothing ran)"]
        assert 'id="replay-button"' in html
        assert html.index('id="attempt_log-group"') < html.index('id="payload"')  # the long payload comes last

    def test_no_external_assets(self, admin_client):
        html = admin_client.get(detail_url(WebhookEventFactory())).content.decode()

        assert not re.search(r'(src|href)="https?://', html)


class TestReplay:
    def test_button_replays_through_the_service_and_says_what_happened(self, admin_client, client):
        payload = thing_event()
        deliver_to(client, payload, msg_id="msg_replay", path=PATH)
        event = WebhookEvent.objects.get(event_id="msg_replay")

        response = admin_client.post(replay_url(event), follow=True)

        assert response.status_code == 200
        assert any("replayed, processed" in message for message in messages_of(response))
        event.refresh_from_db()
        assert event.attempts == 2
        replay = event.attempt_log.get(kind="replay")
        assert (replay.outcome, replay.http_status) == ("processed", None)
        assert things_recorded() == [payload["data"]["id"]]

    def test_replay_is_post_only(self, admin_client):
        event = WebhookEventFactory()

        assert admin_client.get(replay_url(event)).status_code == 405

    def test_replay_is_csrf_protected(self, admin_user):
        client = Client(enforce_csrf_checks=True)
        client.force_login(admin_user)
        event = WebhookEventFactory()

        assert client.post(replay_url(event)).status_code == 403
        event.refresh_from_db()
        assert event.attempts == 1

    def test_failing_replay_marks_the_event_failed_and_the_page_says_so(self, admin_client, webhook_source):
        webhook_source({"thing.done": downstream_is_down})
        event = WebhookEventFactory(source="flaky", payload={"type": "thing.done", "data": {}}, status="processed")

        response = admin_client.post(replay_url(event), follow=True)

        assert response.status_code == 200
        assert any("replay failed: RuntimeError: downstream is down" in m for m in messages_of(response))
        event.refresh_from_db()
        assert (event.status, event.last_error) == ("failed", "RuntimeError: downstream is down")
        assert event.attempts == 2  # the failed replay counted

    def test_bulk_action_replays_each_and_reports_each(self, admin_client, webhook_source):
        webhook_source({"thing.done": downstream_is_down})
        good = WebhookEventFactory(event_id="msg_good", status="failed")
        bad = WebhookEventFactory(event_id="msg_bad", source="flaky", payload={"type": "thing.done", "data": {}})

        response = admin_client.post(
            CHANGELIST, {"action": "replay_events", "_selected_action": [good.pk, bad.pk]}, follow=True
        )

        reported = messages_of(response)
        assert any("msg_good: replayed, processed" in m for m in reported)
        assert any("msg_bad: replay failed" in m for m in reported)
        assert WebhookAttempt.objects.filter(kind="replay").count() == 2
        for event in (good, bad):
            event.refresh_from_db()
        assert (good.attempts, bad.attempts) == (2, 2)

    def test_staff_without_replay_permission_sees_no_button_and_gets_403(self, staff_client):
        event = WebhookEventFactory()

        page = staff_client.get(detail_url(event))
        assert page.status_code == 200
        assert 'id="replay-button"' not in page.content.decode()
        assert staff_client.post(replay_url(event)).status_code == 403
        listing = staff_client.get(CHANGELIST).content.decode()
        assert "replay_events" not in listing
        staff_client.post(CHANGELIST, {"action": "replay_events", "_selected_action": [event.pk]})
        event.refresh_from_db()
        assert event.attempts == 1


class TestHealth:
    def test_health_page_shows_chart_failures_and_last_delivery(self, admin_client, client, webhook_source):
        webhook_source({"thing.done": downstream_is_down})
        for _ in range(3):
            deliver_to(client, thing_event(), path=PATH)
        deliver_to(client, {"type": "thing.done", "data": {}}, path="/webhooks/flaky/")

        response = admin_client.get(HEALTH)

        html = response.content.decode()
        assert response.status_code == 200
        assert "<svg" in html and html.count("<rect") >= 2
        assert re.search(r'id="failed-last-hour">.*?class="figure">1<', html, re.S)
        assert re.search(r'id="last-delivery">.*?class="figure">0\xa0minutes ago<', html, re.S)

    def test_health_page_is_linked_from_the_index(self, admin_client):
        assert HEALTH in admin_client.get("/admin/").content.decode()

    def test_health_page_cost_does_not_grow_with_the_ledger(self, admin_client):
        WebhookEventFactory.create_batch(30)
        # 13 for the figures, and up to 8 for the installed source's blocks: the alarms the page evaluates
        # as it opens (at most one statement per condition, the stored states, the banners), the live
        # workers, the last reconciliation pass, the scheduled jobs, the users awaiting erasure.
        with statements_at_most(21) as few:
            admin_client.get(HEALTH)
        WebhookEventFactory.create_batch(300)
        with statements_at_most(21) as many:
            admin_client.get(HEALTH)

        assert len(few) == len(many)

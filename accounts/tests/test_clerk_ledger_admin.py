"""What the ledger's admin shows of Clerk, through Clerk's admin hooks: the user each event concerns,
search by Clerk id and email, the just-in-time share on the health page; and a replay of a Clerk event
sends nothing twice. The admin itself is tested with the ledger's stand-in source in webhooks/tests/test_admin.py.
"""

import datetime as dt
import re

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import (
    ClerkEventFactory,
    ClerkLedgerEventFactory,
    ClerkUserDataFactory,
    UserFactory,
    user_event,
)
from config.tests.helpers import deliver_to
from webhooks.models import WebhookEvent
from webhooks.tests.admin_pages import (
    CHANGELIST,
    HEALTH,
    assert_a_hundred_thousand_events_render_in_a_bounded_number_of_queries,
    listed_event_ids,
    replay_url,
)
from webhooks.tests.ledger_source import break_down

pytestmark = pytest.mark.django_db


class TestChangelist:
    def test_lists_newest_first_with_ids_badges_attempts_and_the_user_each_concerns(self, admin_client):
        known = UserFactory(clerk_id="user_known")
        old = ClerkLedgerEventFactory(event_id="msg_old", received_at=timezone.now() - dt.timedelta(hours=2))
        ClerkLedgerEventFactory(
            event_id="msg_new",
            subject_id="user_known",
            status="failed",
            attempts=3,
            payload=ClerkEventFactory(data=ClerkUserDataFactory(id="user_known")),
        )

        response = admin_client.get(CHANGELIST)

        html = response.content.decode()
        assert listed_event_ids(response) == ["msg_new", "msg_old"]
        assert 'class="status-badge"' in html and ">Failed<" in html
        # The Clerk id, then who it is: the name and the email.
        name = f"{known.first_name} {known.last_name}".strip()
        who = ", ".join(part for part in (name, known.email) if part)
        assert f'href="/admin/accounts/user/{known.pk}/change/">user_known {who}</a>' in html
        assert old.subject_id in html  # shown, unlinked: no local user
        assert re.findall(r'<td class="field-attempts">(\d+)</td>', html) == ["3", "1"]

    @pytest.mark.parametrize("term", ["msg_target", "user_target", "Target@Example.com", "  msg_target  "])
    def test_search_by_event_id_clerk_id_or_email(self, admin_client, term):
        UserFactory(clerk_id="user_target", email="target@example.com")
        ClerkLedgerEventFactory(event_id="msg_target", subject_id="user_target")
        ClerkLedgerEventFactory(event_id="msg_other", subject_id="user_other")

        assert listed_event_ids(admin_client.get(CHANGELIST, {"q": term})) == ["msg_target"]

    def test_a_hundred_thousand_events_render_in_a_bounded_number_of_queries(self, admin_client):
        """Clerk's subject links and search included: one query per page, never one per row."""
        UserFactory(clerk_id="user_seeded")
        assert_a_hundred_thousand_events_render_in_a_bounded_number_of_queries(
            admin_client, source="clerk", event_type="user.updated", subject_id="user_seeded"
        )


class TestReplay:
    def test_replaying_a_processed_event_sends_nothing_twice(
        self, admin_client, client, mailoutbox, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            deliver_to(client, user_event("user.created", ClerkUserDataFactory()), msg_id="msg_once")
        event = WebhookEvent.objects.get(event_id="msg_once")

        with django_capture_on_commit_callbacks(execute=True):
            admin_client.post(CHANGELIST, {"action": "replay_events", "_selected_action": [event.pk]})
            admin_client.post(replay_url(event))

        assert len(mailoutbox) == 1
        assert User.objects.filter(clerk_id__isnull=False).count() == 1


class TestHealth:
    def test_health_page_shows_chart_failures_last_delivery_and_jit_share(self, admin_client, client, webhook_source):
        webhook_source({"thing.done": break_down})
        for _ in range(3):
            deliver_to(client, ClerkEventFactory())
        deliver_to(client, {"type": "thing.done", "data": {"id": "thing_1"}}, path="/webhooks/flaky/")
        # Usernames of their own: the Clerk users above derive theirs from person<n>@example.com.
        for n in range(2):
            UserFactory(username=f"jit-person-{n}", created_via="jit")

        response = admin_client.get(HEALTH)

        html = response.content.decode()
        assert response.status_code == 200
        assert "<svg" in html and html.count("<rect") >= 2
        assert re.search(r'id="failed-last-hour">.*?class="figure">1<', html, re.S)
        assert re.search(r'id="last-delivery">.*?class="figure">0\xa0minutes ago<', html, re.S)
        assert re.search(r'id="jit-share">.*?class="figure">40%<', html, re.S)
        assert "webhooks are probably not reaching this app" in html

    def test_low_jit_share_is_not_flagged(self, admin_client):
        UserFactory.create_batch(19, created_via="webhook")
        UserFactory(created_via="jit")

        html = admin_client.get(HEALTH).content.decode()

        assert re.search(r'id="jit-share">.*?class="figure">5%<', html, re.S)
        assert "probably not reaching" not in html

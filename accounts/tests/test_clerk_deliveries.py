"""Clerk deliveries end to end through POST /webhooks/clerk/: what each does to the users, once.

The recorded Clerk payloads create, update and tombstone users; a redelivery
sends nothing twice; user data Clerk's handlers cannot use is refused; messy
Clerk data is stored and synced; a new user costs a fixed number of queries.
The ledger's own contract (every status code, signatures, limits) is tested
with a stand-in source in webhooks/tests/test_receive.py.
"""

import datetime as dt
import json

import pytest

from accounts.models import User
from accounts.tests.factories import ClerkEventFactory, ClerkUserDataFactory, user_event
from config.tests.helpers import deliver_to, load_fixture
from webhooks.models import WebhookEvent, WebhookRejection
from webhooks.tests.deliveries import redelivered, statements_at_most

pytestmark = pytest.mark.django_db


class TestFirstDelivery:
    def test_recorded_user_created_fixture_creates_the_user(
        self, deliver, mailoutbox, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = deliver(load_fixture("user__created"), msg_id="msg_created_1")

        assert response.status_code == 200
        assert response.json() == {"event_id": "msg_created_1", "outcome": "processed"}
        user = User.objects.get(clerk_id="user_29w83sxmDNGwOuEthce5gg56FcC")
        assert (user.email, user.first_name, user.last_name) == ("example@example.org", "Example", "Example")
        assert user.image_url == "https://img.clerk.com/xxxxxx"
        assert user.clerk_updated_at == dt.datetime(2022, 5, 31, 15, 56, 31, 835000, tzinfo=dt.UTC)
        assert user.created_via == User.CreatedVia.WEBHOOK
        assert user.is_active and user.deleted_at is None
        assert not user.has_usable_password()
        event = WebhookEvent.objects.get()
        assert (event.source, event.event_id, event.event_type) == ("clerk", "msg_created_1", "user.created")
        assert (event.status, event.attempts, event.last_error) == ("processed", 1, "")
        assert event.subject_id == user.clerk_id
        assert event.payload == load_fixture("user__created")
        assert event.processed_at is not None
        attempt = event.attempt_log.get()
        assert (attempt.kind, attempt.outcome, attempt.http_status) == ("delivery", "processed", 200)
        assert [m.to for m in mailoutbox] == [["example@example.org"]]
        assert "Welcome" in mailoutbox[0].subject

    def test_recorded_user_deleted_fixture_tombstones_an_unseen_user(self, deliver):
        response = deliver(load_fixture("user__deleted"))

        assert response.status_code == 200
        user = User.objects.get(clerk_id="user_2g7np7Hrk0SN6kj5EDMLDaKNL0S")
        assert user.deleted_at is not None and not user.is_active

    def test_primary_email_is_the_one_primary_email_address_id_points_to(self, deliver):
        deliver(load_fixture("user__updated__primary_not_first"))

        user = User.objects.get()
        assert user.email == "new@example.org"
        assert user.username == "example_user"


class TestRedelivery:
    def test_redelivery_of_processed_event_answers_202_and_runs_nothing(
        self, deliver, mailoutbox, django_capture_on_commit_callbacks
    ):
        callbacks = redelivered(deliver, ClerkEventFactory(), django_capture_on_commit_callbacks, msg_id="msg_twice")

        assert callbacks == []  # no signal, no email queued
        assert User.objects.count() == 1
        assert len(mailoutbox) == 1
        event = WebhookEvent.objects.get()
        assert event.attempts == 2
        assert list(event.attempt_log.values_list("outcome", "http_status")) == [("processed", 200), ("duplicate", 202)]


class TestUnusableUserData:
    """Bad user data: a clear 400 bad_data, counted for staff, and neither event nor user stored."""

    @pytest.mark.parametrize(
        "event_type, data",
        [
            ("user.created", {"first_name": "No id"}),
            ("user.updated", {"id": ""}),
            ("user.created", {"id": 42}),
            ("user.deleted", {"object": "user", "deleted": True}),
            ("user.created", ["user_1"]),
        ],
        ids=["created-no-id", "updated-empty-id", "created-numeric-id", "deleted-no-id", "data-not-object"],
    )
    def test_user_data_without_an_id(self, deliver, event_type, data):
        response = deliver({"type": event_type, "data": data})

        assert response.status_code == 400, response.content
        assert response.json()["reason"] == "bad_data" and response.json()["error"]
        assert not WebhookEvent.objects.exists()
        assert not User.objects.exists()
        assert {row.reason: row.count for row in WebhookRejection.objects.all()} == {"bad_data": 1}


class TestMessyClerkData:
    def test_nul_characters_and_lone_surrogates_do_not_break_storage(self, deliver):
        body = json.dumps(ClerkEventFactory(data=ClerkUserDataFactory(first_name="Ann\u0000a", last_name="\ud800x")))

        response = deliver(body)

        assert response.status_code == 200
        user = User.objects.get()
        assert user.first_name == "Anna"
        assert WebhookEvent.objects.get().status == "processed"

    def test_any_unicode_is_fine(self, deliver):
        data = ClerkUserDataFactory(first_name="Zoë 🚀", last_name="José-María 李", email="zoë@exämple.org")

        assert deliver(ClerkEventFactory(data=data)).status_code == 200
        user = User.objects.get()
        assert (user.first_name, user.last_name, user.email) == ("Zoë 🚀", "José-María 李", "zoë@exämple.org")

    def test_unknown_keys_ignored_and_missing_ones_tolerated(self, deliver):
        data = {"id": "user_minimal", "brand_new_field": {"nested": [1, 2]}}

        assert deliver({"type": "user.created", "data": data}).status_code == 200
        user = User.objects.get(clerk_id="user_minimal")
        assert (user.email, user.first_name, user.clerk_updated_at) == ("", "", None)


class TestQueryBudgets:
    """Measured in real transactions (transactional_db), so savepoints of a test wrapper don't count."""

    @pytest.mark.parametrize("existing_users", [1, 1000])
    def test_new_user_created_costs_a_fixed_number_of_queries(self, transactional_db, client, existing_users, settings):
        settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}  # production's default
        User.objects.bulk_create(
            User(clerk_id=f"user_bulk{n}", username=f"john-{n}", first_name="John") for n in range(existing_users)
        )
        payload = user_event("user.created", ClerkUserDataFactory(first_name="John", email="john@example.com"))

        # On PostgreSQL first the redelivery check (webhooks.db.duplicate_record: a done event with this id?), then:
        # event upsert, user insert (a user.created tries the insert first), the link of the user's
        # organization memberships (with its lock on PostgreSQL, in the same round trip), provisioning
        # insert (the welcome email pending on it: no task row, the workers' mailers find it), event status
        # and attempt (one statement on PostgreSQL)
        budget = 6
        with statements_at_most(budget) as statements:
            response = deliver_to(client, payload)
        assert response.status_code == 200
        assert len(statements) == budget

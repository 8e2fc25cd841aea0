"""POST /webhooks/clerk/: every status code of the contract, through real signed deliveries."""

import datetime as dt
import json
from pathlib import Path

import pytest
from django.db import connection

from accounts.models import User
from accounts.tests.factories import (
    ClerkEventFactory,
    ClerkUserDataFactory,
    UserFactory,
    user_event,
)
from config.tests.helpers import (
    ROTATED_WEBHOOK_SECRET,
    TEST_WEBHOOK_SECRET,
    UNKNOWN_WEBHOOK_SECRET,
    deliver_to,
    load_fixture,
    statements_at_most,
    svix_headers,
)
from webhooks.models import WebhookEvent, WebhookRejection

pytestmark = pytest.mark.django_db

SVIX_FIXTURES = Path(__file__).parent / "fixtures"


def rejections() -> dict[str, int]:
    return {row.reason: row.count for row in WebhookRejection.objects.all()}


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

    def test_event_type_without_handler_is_stored_ignored_and_answered_200(self, deliver):
        payload = {"type": "session.created", "object": "event", "data": {"id": "sess_1", "user_id": "user_1"}}

        response = deliver(payload, msg_id="msg_session")

        assert response.status_code == 200
        assert response.json()["outcome"] == "ignored"
        event = WebhookEvent.objects.get(event_id="msg_session")
        assert event.status == WebhookEvent.Status.IGNORED
        assert not User.objects.exists()

    def test_unknown_event_type_is_ignored_too(self, deliver):
        response = deliver({"type": "something.new", "data": {}})

        assert response.status_code == 200
        assert WebhookEvent.objects.get().status == "ignored"

    def test_webhook_id_headers_are_accepted_like_svix_id(self, deliver):
        body = json.dumps(ClerkEventFactory())
        signed = svix_headers(body, msg_id="msg_std")
        headers = {name.replace("svix-", "webhook-"): value for name, value in signed.items()}

        response = deliver(body, headers=headers)

        assert response.status_code == 200
        assert WebhookEvent.objects.get().event_id == "msg_std"


class TestRedelivery:
    def test_redelivery_of_processed_event_answers_202_and_runs_nothing(
        self, deliver, mailoutbox, django_capture_on_commit_callbacks
    ):
        payload = ClerkEventFactory()
        with django_capture_on_commit_callbacks(execute=True):
            first = deliver(payload, msg_id="msg_twice")
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            second = deliver(payload, msg_id="msg_twice")

        assert (first.status_code, second.status_code) == (200, 202)
        assert second.json()["outcome"] == "duplicate"
        assert callbacks == []  # no signal, no email queued
        assert User.objects.count() == 1
        assert len(mailoutbox) == 1
        event = WebhookEvent.objects.get()
        assert event.attempts == 2
        assert list(event.attempt_log.values_list("outcome", "http_status")) == [("processed", 200), ("duplicate", 202)]

    def test_redelivery_of_ignored_event_answers_202(self, deliver):
        payload = {"type": "email.created", "data": {"id": "ema_1"}}
        deliver(payload, msg_id="msg_ignored")

        response = deliver(payload, msg_id="msg_ignored")

        assert response.status_code == 202
        assert WebhookEvent.objects.get().attempts == 2

    def test_same_event_with_a_fresh_signature_is_still_a_duplicate(self, deliver):
        """Svix re-signs each retry with a new timestamp; the message id is what identifies it."""
        payload = ClerkEventFactory()
        deliver(payload, msg_id="msg_resigned", timestamp=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4))

        response = deliver(payload, msg_id="msg_resigned")

        assert response.status_code == 202


class TestHandlerFailure:
    def test_failure_answers_500_keeps_error_and_redelivery_processes_again(self, deliver, webhook_source):
        """A second Svix-signed source, registered without touching the ledger, whose handler can fail."""
        flaky_source = {"fail": True, "runs": 0}

        def handler(event):
            flaky_source["runs"] += 1
            UserFactory(clerk_id=f"user_{event.event_id}")  # a write that must roll back on failure
            if flaky_source["fail"]:
                raise RuntimeError("downstream is down")

        webhook_source({"thing.happened": handler})
        payload = {"type": "thing.happened", "data": {"id": "x"}}

        failed = deliver(payload, msg_id="msg_flaky", path="/webhooks/flaky/")

        assert failed.status_code == 500
        event = WebhookEvent.objects.get(source="flaky")
        assert event.status == WebhookEvent.Status.FAILED
        assert event.last_error == "RuntimeError: downstream is down"
        assert not User.objects.exists(), "the handler's writes roll back with it"
        attempt = event.attempt_log.get()
        assert (attempt.outcome, attempt.http_status) == ("failed", 500)
        assert "Traceback" in attempt.error and "downstream is down" in attempt.error

        flaky_source["fail"] = False
        retried = deliver(payload, msg_id="msg_flaky", path="/webhooks/flaky/")

        assert retried.status_code == 200
        event.refresh_from_db()
        assert (event.status, event.last_error, event.attempts) == ("processed", "", 2)
        assert User.objects.filter(clerk_id="user_msg_flaky").exists()
        assert flaky_source["runs"] == 2

    def test_unregistered_source_is_404(self, deliver):
        assert deliver({"type": "x", "data": {}}, path="/webhooks/nobody/").status_code == 404


class TestSecrets:
    def test_every_configured_secret_is_accepted(self, deliver, settings):
        settings.CLERK_WEBHOOK_SECRET = f"{TEST_WEBHOOK_SECRET}, {ROTATED_WEBHOOK_SECRET}"

        old = deliver(ClerkEventFactory(), secret=TEST_WEBHOOK_SECRET)
        new = deliver(ClerkEventFactory(), secret=ROTATED_WEBHOOK_SECRET)

        assert (old.status_code, new.status_code) == (200, 200)
        assert User.objects.count() == 2

    def test_secrets_may_be_separated_by_spaces(self, deliver, settings):
        settings.CLERK_WEBHOOK_SECRET = f"{ROTATED_WEBHOOK_SECRET}   {TEST_WEBHOOK_SECRET}"

        assert deliver(ClerkEventFactory(), secret=TEST_WEBHOOK_SECRET).status_code == 200

    def test_svix_signature_header_with_several_entries(self, deliver):
        """During rotation Svix sends one signature per secret, space-separated."""
        body = json.dumps(ClerkEventFactory())
        good = svix_headers(body, msg_id="msg_multi")
        other = svix_headers(body, msg_id="msg_multi", secret=UNKNOWN_WEBHOOK_SECRET)
        good["svix-signature"] = f"{other['svix-signature']} {good['svix-signature']}"

        assert deliver(body, headers=good).status_code == 200

    def test_test_deliveries_are_signed_like_svix_official_vector(self):
        """Svix's published vector: the helper that signs test deliveries produces exactly Svix's signature."""
        vector = json.loads((SVIX_FIXTURES / "svix__test_vector.json").read_text())
        when = dt.datetime.fromtimestamp(vector["timestamp"], tz=dt.UTC)

        headers = svix_headers(vector["payload"], msg_id=vector["msg_id"], secret=vector["secret"], timestamp=when)

        assert headers["svix-signature"] == vector["signature"]
        assert headers["svix-signature"] != vector["must_fail_signature"]

    @pytest.mark.parametrize("value", ["", "  ", ","])
    def test_no_secret_configured_is_503_and_nothing_stored(self, deliver, settings, value):
        settings.CLERK_WEBHOOK_SECRET = value

        response = deliver(ClerkEventFactory())

        assert response.status_code == 503
        assert "CLERK_WEBHOOK_SECRET" in response.json()["error"]
        assert not WebhookEvent.objects.exists()
        assert rejections() == {"not_configured": 1}

    def test_invalid_secret_configured_is_503(self, deliver, settings):
        settings.CLERK_WEBHOOK_SECRET = "whsec_%%%not-base64"

        assert deliver(ClerkEventFactory()).status_code == 503


class TestRejections:
    """Bad input: a clear 4xx, counted for staff, and nothing stored as an event."""

    def assert_rejected(self, response, status: int, reason: str) -> None:
        assert response.status_code == status, response.content
        assert response.json()["reason"] == reason
        assert response.json()["error"]
        assert not WebhookEvent.objects.exists()
        assert not User.objects.exists()
        assert rejections() == {reason: 1}

    def test_missing_signature_headers(self, deliver):
        self.assert_rejected(deliver(ClerkEventFactory(), headers={}), 400, "missing_signature")

    def test_signature_by_an_unknown_secret(self, deliver):
        self.assert_rejected(deliver(ClerkEventFactory(), secret=UNKNOWN_WEBHOOK_SECRET), 400, "bad_signature")

    def test_body_changed_after_signing(self, deliver):
        body = json.dumps(ClerkEventFactory())
        headers = svix_headers(body)

        self.assert_rejected(
            deliver(body.replace("user.created", "user.updated"), headers=headers), 400, "bad_signature"
        )

    @pytest.mark.parametrize(
        "signature",
        ["v1", "v1,not base64!!", "garbage", "v1,abc,def"],
        ids=["no-comma", "bad-base64", "no-version", "too-many-parts"],
    )
    def test_malformed_signature_header(self, deliver, signature):
        body = json.dumps(ClerkEventFactory())
        headers = svix_headers(body) | {"svix-signature": signature}

        self.assert_rejected(deliver(body, headers=headers), 400, "malformed_signature")

    @pytest.mark.parametrize("minutes", [-6, 6], ids=["stale", "future"])
    def test_timestamp_outside_tolerance(self, deliver, minutes):
        when = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)

        self.assert_rejected(deliver(ClerkEventFactory(), timestamp=when), 400, "bad_timestamp")

    def test_timestamp_not_a_number(self, deliver):
        body = json.dumps(ClerkEventFactory())
        headers = svix_headers(body) | {"svix-timestamp": "yesterday"}

        self.assert_rejected(deliver(body, headers=headers), 400, "bad_timestamp")

    @pytest.mark.parametrize(
        "body",
        ["not json", "", "[1, 2]", '"user.created"', "null", '{"type": "user.created", "data": NaN}'],
        ids=["text", "empty", "array", "string", "null", "nan"],
    )
    def test_body_not_a_json_object(self, deliver, body):
        self.assert_rejected(deliver(body), 400, "not_json")

    def test_body_not_utf8(self, deliver):
        body = b'{"type": "user.created", "data": {"first_name": "\xff"}}'
        headers = svix_headers(body.decode("latin-1"))

        response = deliver(body, headers=headers)

        assert response.status_code == 400
        assert not WebhookEvent.objects.exists()

    @pytest.mark.parametrize(
        "payload",
        [
            {"data": {"id": "user_1"}},
            {"type": "user.created"},
            {"type": "", "data": {}},
            {"type": 7, "data": {}},
            {"type": "user.created", "data": None},
        ],
        ids=["no-type", "no-data", "empty-type", "type-not-string", "data-null"],
    )
    def test_object_without_type_or_data(self, deliver, payload):
        self.assert_rejected(deliver(payload), 400, "bad_envelope")

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
        self.assert_rejected(deliver({"type": event_type, "data": data}), 400, "bad_data")

    def test_body_over_the_limit_is_413(self, deliver, settings):
        settings.WEBHOOKS_MAX_BODY_BYTES = 2048
        payload = ClerkEventFactory(data=ClerkUserDataFactory(first_name="x" * 3000))

        self.assert_rejected(deliver(payload), 413, "too_large")

    def test_body_at_the_limit_is_accepted(self, deliver, settings):
        body = json.dumps(ClerkEventFactory())
        settings.WEBHOOKS_MAX_BODY_BYTES = len(body.encode())

        assert deliver(body).status_code == 200

    def test_default_limit_is_one_mebibyte(self, deliver):
        payload = ClerkEventFactory()
        payload["padding"] = "x" * (1024 * 1024)

        assert deliver(payload).status_code == 413

    @pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
    def test_methods_other_than_post_are_405(self, client, method):
        response = getattr(client, method)("/webhooks/clerk/")

        assert response.status_code == 405
        assert response["Allow"] == "POST"

    def test_rejections_are_counted_per_reason(self, deliver):
        for _ in range(3):
            deliver(ClerkEventFactory(), secret=UNKNOWN_WEBHOOK_SECRET, msg_id="msg_wall")
        deliver(ClerkEventFactory(), headers={})

        assert rejections() == {"bad_signature": 3, "missing_signature": 1}
        row = WebhookRejection.objects.get(reason="bad_signature")
        assert row.last_event_id == "msg_wall"
        assert row.hour.minute == 0


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


@pytest.mark.postgres(reason="needs a PostgreSQL session switched to read-only")
def test_read_only_database_is_503_and_stores_nothing(transactional_db, client):
    """A reachable database that refuses writes (a standby during failover) is an outage too."""
    with connection.cursor() as cursor:
        cursor.execute("SET default_transaction_read_only = on")
    try:
        response = deliver_to(client, ClerkEventFactory(), msg_id="msg_read_only")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET default_transaction_read_only = off")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert not WebhookEvent.objects.filter(event_id="msg_read_only").exists()


class TestQueryBudgets:
    """Measured in real transactions (transactional_db), so savepoints of a test wrapper don't count."""

    def test_redelivery_of_processed_event_costs_at_most_2_queries(self, transactional_db, client):
        payload = ClerkEventFactory()
        deliver_to(client, payload, msg_id="msg_budget")

        with statements_at_most(2):
            response = deliver_to(client, payload, msg_id="msg_budget")
        assert response.status_code == 202

    @pytest.mark.parametrize("existing_users", [1, 1000])
    def test_new_user_created_costs_a_fixed_number_of_queries(self, transactional_db, client, existing_users, settings):
        settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}  # production's default
        User.objects.bulk_create(
            User(clerk_id=f"user_bulk{n}", username=f"john-{n}", first_name="John") for n in range(existing_users)
        )
        payload = user_event("user.created", ClerkUserDataFactory(first_name="John", email="john@example.com"))

        with statements_at_most(7) as statements:
            response = deliver_to(client, payload)
        assert response.status_code == 200
        # event upsert, user insert (a user.created tries the insert first), the link of the user's
        # organization memberships (with its lock on PostgreSQL, in the same round trip), provisioning
        # insert, the welcome email's task, event status, attempt
        assert len(statements) == 7


def test_every_delivery_is_logged_with_id_type_outcome_and_duration(deliver, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="webhooks.services"):
        deliver(ClerkEventFactory(), msg_id="msg_logged")
        deliver(ClerkEventFactory(), msg_id="msg_logged")

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("webhook delivery")]
    assert len(lines) == 2
    assert "event_id=msg_logged type=user.created outcome=processed status=200 duration_ms=" in lines[0]
    assert "outcome=duplicate status=202" in lines[1]


def test_endpoint_without_trailing_slash_is_served_not_redirected(deliver):
    response = deliver(ClerkEventFactory(), path="/webhooks/clerk")

    assert response.status_code == 200

"""POST /webhooks/<source>/: every status code of the contract, through real signed deliveries.

Deliveries go to the ledger's stand-in source (webhooks/tests/ledger_source.py);
what Clerk's deliveries do to users is in accounts/tests/test_clerk_deliveries.py.
"""

import datetime as dt
import json
import logging
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from webhooks.models import WebhookEvent, WebhookRejection
from webhooks.tests.deliveries import (
    ROTATED_WEBHOOK_SECRET,
    TEST_WEBHOOK_SECRET,
    UNKNOWN_WEBHOOK_SECRET,
    deliver_to,
    redelivered,
    statements_at_most,
    svix_headers,
)
from webhooks.tests.ledger_source import PATH, runs, thing_event, things_recorded

pytestmark = pytest.mark.django_db

SVIX_FIXTURES = Path(__file__).parent / "fixtures"


def rejections() -> dict[str, int]:
    return {row.reason: row.count for row in WebhookRejection.objects.all()}


class TestFirstDelivery:
    def test_a_handled_event_is_recorded_processed_once_with_its_attempt(self, deliver):
        payload = thing_event(colour="teal")

        response = deliver(payload, msg_id="msg_first_1")

        assert response.status_code == 200
        assert response.json() == {"event_id": "msg_first_1", "outcome": "processed"}
        thing = payload["data"]["id"]
        assert runs.event_ids == ["msg_first_1"]
        assert runs.data == [{"id": thing, "colour": "teal"}]
        assert things_recorded() == [thing]
        event = WebhookEvent.objects.get()
        assert (event.source, event.event_id, event.event_type) == ("things", "msg_first_1", "thing.happened")
        assert (event.status, event.attempts, event.last_error) == ("processed", 1, "")
        assert event.subject_id == thing
        assert event.payload == payload
        assert event.processed_at is not None
        attempt = event.attempt_log.get()
        assert (attempt.kind, attempt.outcome, attempt.http_status) == ("delivery", "processed", 200)

    def test_a_type_the_source_leaves_alone_is_stored_ignored_and_answered_200(self, deliver):
        response = deliver(thing_event("thing.ignored"), msg_id="msg_ignored_type")

        assert response.status_code == 200
        assert response.json()["outcome"] == "ignored"
        event = WebhookEvent.objects.get(event_id="msg_ignored_type")
        assert event.status == WebhookEvent.Status.IGNORED
        assert runs.event_ids == [] and things_recorded() == []

    def test_unknown_event_type_is_ignored_too(self, deliver):
        response = deliver({"type": "something.new", "data": {}})

        assert response.status_code == 200
        assert WebhookEvent.objects.get().status == "ignored"
        assert runs.event_ids == []

    def test_webhook_id_headers_are_accepted_like_svix_id(self, deliver):
        body = json.dumps(thing_event())
        signed = svix_headers(body, msg_id="msg_std")
        headers = {name.replace("svix-", "webhook-"): value for name, value in signed.items()}

        response = deliver(body, headers=headers)

        assert response.status_code == 200
        assert WebhookEvent.objects.get().event_id == "msg_std"


class TestRedelivery:
    def test_redelivery_of_processed_event_answers_202_and_runs_nothing(
        self, deliver, django_capture_on_commit_callbacks
    ):
        callbacks = redelivered(deliver, thing_event(), django_capture_on_commit_callbacks, msg_id="msg_twice")

        assert callbacks == []
        assert runs.event_ids == ["msg_twice"]
        event = WebhookEvent.objects.get()
        assert event.attempts == 2
        assert list(event.attempt_log.values_list("outcome", "http_status")) == [("processed", 200), ("duplicate", 202)]

    def test_redelivery_of_ignored_event_answers_202(self, deliver):
        payload = {"type": "thing.ignored", "data": {"id": "thing_1"}}
        deliver(payload, msg_id="msg_ignored")

        response = deliver(payload, msg_id="msg_ignored")

        assert response.status_code == 202
        assert WebhookEvent.objects.get().attempts == 2

    def test_same_event_with_a_fresh_signature_is_still_a_duplicate(self, deliver):
        """Svix re-signs each retry with a new timestamp; the message id is what identifies it."""
        payload = thing_event()
        deliver(payload, msg_id="msg_resigned", timestamp=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4))

        response = deliver(payload, msg_id="msg_resigned")

        assert response.status_code == 202
        assert runs.event_ids == ["msg_resigned"]


class TestHandlerFailure:
    def test_failure_answers_500_keeps_error_and_redelivery_processes_again(self, deliver, webhook_source):
        """A second Svix-signed source, registered without touching the ledger, whose handler can fail."""
        flaky_source = {"fail": True, "runs": 0}

        def handler(event):
            flaky_source["runs"] += 1
            Group.objects.create(name=f"flaky:{event.event_id}")  # a write that must roll back on failure
            if flaky_source["fail"]:
                raise RuntimeError("downstream is down")

        webhook_source({"thing.happened": handler})
        payload = {"type": "thing.happened", "data": {"id": "x"}}

        failed = deliver(payload, msg_id="msg_flaky", path="/webhooks/flaky/")

        assert failed.status_code == 500
        event = WebhookEvent.objects.get(source="flaky")
        assert event.status == WebhookEvent.Status.FAILED
        assert event.last_error == "RuntimeError: downstream is down"
        assert not Group.objects.exists(), "the handler's writes roll back with it"
        attempt = event.attempt_log.get()
        assert (attempt.outcome, attempt.http_status) == ("failed", 500)
        assert "Traceback" in attempt.error and "downstream is down" in attempt.error

        flaky_source["fail"] = False
        retried = deliver(payload, msg_id="msg_flaky", path="/webhooks/flaky/")

        assert retried.status_code == 200
        event.refresh_from_db()
        assert (event.status, event.last_error, event.attempts) == ("processed", "", 2)
        assert Group.objects.filter(name="flaky:msg_flaky").exists()
        assert flaky_source["runs"] == 2

    def test_the_stand_in_sources_broken_handler_answers_500_and_keeps_nothing_of_its_writes(self, deliver):
        response = deliver(thing_event("thing.broken"), msg_id="msg_broken")

        assert response.status_code == 500
        assert runs.event_ids == ["msg_broken"]
        assert things_recorded() == []
        event = WebhookEvent.objects.get()
        assert (event.status, event.last_error) == ("failed", "RuntimeError: downstream is down")

    def test_unregistered_source_is_404(self, deliver):
        assert deliver({"type": "x", "data": {}}, path="/webhooks/nobody/").status_code == 404


class TestSecrets:
    def test_every_configured_secret_is_accepted(self, deliver, settings):
        settings.THINGS_WEBHOOK_SECRET = f"{TEST_WEBHOOK_SECRET}, {ROTATED_WEBHOOK_SECRET}"

        old = deliver(thing_event(), secret=TEST_WEBHOOK_SECRET)
        new = deliver(thing_event(), secret=ROTATED_WEBHOOK_SECRET)

        assert (old.status_code, new.status_code) == (200, 200)
        assert len(things_recorded()) == 2

    def test_secrets_may_be_separated_by_spaces(self, deliver, settings):
        settings.THINGS_WEBHOOK_SECRET = f"{ROTATED_WEBHOOK_SECRET}   {TEST_WEBHOOK_SECRET}"

        assert deliver(thing_event(), secret=TEST_WEBHOOK_SECRET).status_code == 200

    def test_each_source_is_verified_with_its_own_setting(self, deliver, settings):
        settings.THINGS_WEBHOOK_SECRET = ROTATED_WEBHOOK_SECRET  # CLERK_WEBHOOK_SECRET still holds the test secret

        response = deliver(thing_event(), secret=TEST_WEBHOOK_SECRET)

        assert (response.status_code, response.json()["reason"]) == (400, "bad_signature")

    def test_svix_signature_header_with_several_entries(self, deliver):
        """During rotation Svix sends one signature per secret, space-separated."""
        body = json.dumps(thing_event())
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
        settings.THINGS_WEBHOOK_SECRET = value

        response = deliver(thing_event())

        assert response.status_code == 503
        assert "THINGS_WEBHOOK_SECRET" in response.json()["error"]
        assert not WebhookEvent.objects.exists()
        assert rejections() == {"not_configured": 1}

    def test_invalid_secret_configured_is_503(self, deliver, settings):
        settings.THINGS_WEBHOOK_SECRET = "whsec_%%%not-base64"

        assert deliver(thing_event()).status_code == 503


class TestRejections:
    """Bad input: a clear 4xx, counted for staff, and nothing stored as an event."""

    def assert_rejected(self, response, status: int, reason: str) -> None:
        assert response.status_code == status, response.content
        assert response.json()["reason"] == reason
        assert response.json()["error"]
        assert not WebhookEvent.objects.exists()
        assert things_recorded() == []
        assert rejections() == {reason: 1}

    def test_missing_signature_headers(self, deliver):
        self.assert_rejected(deliver(thing_event(), headers={}), 400, "missing_signature")

    def test_signature_by_an_unknown_secret(self, deliver):
        self.assert_rejected(deliver(thing_event(), secret=UNKNOWN_WEBHOOK_SECRET), 400, "bad_signature")

    def test_body_changed_after_signing(self, deliver):
        body = json.dumps(thing_event())
        headers = svix_headers(body)

        self.assert_rejected(
            deliver(body.replace("thing.happened", "thing.ignored"), headers=headers), 400, "bad_signature"
        )

    @pytest.mark.parametrize(
        "signature",
        ["v1", "v1,not base64!!", "garbage", "v1,abc,def"],
        ids=["no-comma", "bad-base64", "no-version", "too-many-parts"],
    )
    def test_malformed_signature_header(self, deliver, signature):
        body = json.dumps(thing_event())
        headers = svix_headers(body) | {"svix-signature": signature}

        self.assert_rejected(deliver(body, headers=headers), 400, "malformed_signature")

    @pytest.mark.parametrize("minutes", [-6, 6], ids=["stale", "future"])
    def test_timestamp_outside_tolerance(self, deliver, minutes):
        when = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)

        self.assert_rejected(deliver(thing_event(), timestamp=when), 400, "bad_timestamp")

    def test_timestamp_not_a_number(self, deliver):
        body = json.dumps(thing_event())
        headers = svix_headers(body) | {"svix-timestamp": "yesterday"}

        self.assert_rejected(deliver(body, headers=headers), 400, "bad_timestamp")

    @pytest.mark.parametrize(
        "body",
        ["not json", "", "[1, 2]", '"thing.happened"', "null", '{"type": "thing.happened", "data": NaN}'],
        ids=["text", "empty", "array", "string", "null", "nan"],
    )
    def test_body_not_a_json_object(self, deliver, body):
        self.assert_rejected(deliver(body), 400, "not_json")

    def test_body_not_utf8(self, deliver):
        body = b'{"type": "thing.happened", "data": {"note": "\xff"}}'
        headers = svix_headers(body.decode("latin-1"))

        response = deliver(body, headers=headers)

        assert response.status_code == 400
        assert not WebhookEvent.objects.exists()

    @pytest.mark.parametrize(
        "payload",
        [
            {"data": {"id": "thing_1"}},
            {"type": "thing.happened"},
            {"type": "", "data": {}},
            {"type": 7, "data": {}},
            {"type": "thing.happened", "data": None},
        ],
        ids=["no-type", "no-data", "empty-type", "type-not-string", "data-null"],
    )
    def test_object_without_type_or_data(self, deliver, payload):
        self.assert_rejected(deliver(payload), 400, "bad_envelope")

    @pytest.mark.parametrize(
        "data",
        [{"note": "No id"}, {"id": ""}, {"id": 42}, ["thing_1"]],
        ids=["no-id", "empty-id", "numeric-id", "data-not-object"],
    )
    def test_data_the_handler_refuses_is_400_bad_data_and_nothing_kept(self, deliver, data):
        """A handler's Refused(bad_data): its writes roll back and the ledger keeps no event."""
        self.assert_rejected(deliver({"type": "thing.happened", "data": data}), 400, "bad_data")

    def test_body_over_the_limit_is_413(self, deliver, settings):
        settings.WEBHOOKS_MAX_BODY_BYTES = 2048

        self.assert_rejected(deliver(thing_event(note="x" * 3000)), 413, "too_large")

    def test_body_at_the_limit_is_accepted(self, deliver, settings):
        body = json.dumps(thing_event())
        settings.WEBHOOKS_MAX_BODY_BYTES = len(body.encode())

        assert deliver(body).status_code == 200

    def test_default_limit_is_one_mebibyte(self, deliver):
        payload = thing_event()
        payload["padding"] = "x" * (1024 * 1024)

        assert deliver(payload).status_code == 413

    @pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
    def test_methods_other_than_post_are_405(self, client, method):
        response = getattr(client, method)(PATH)

        assert response.status_code == 405
        assert response["Allow"] == "POST"

    def test_rejections_are_counted_per_reason(self, deliver):
        for _ in range(3):
            deliver(thing_event(), secret=UNKNOWN_WEBHOOK_SECRET, msg_id="msg_wall")
        deliver(thing_event(), headers={})

        assert rejections() == {"bad_signature": 3, "missing_signature": 1}
        row = WebhookRejection.objects.get(reason="bad_signature")
        assert row.last_event_id == "msg_wall"
        assert row.hour.minute == 0
        assert row.source == "things"


class TestMessyData:
    def test_nul_characters_and_lone_surrogates_do_not_break_storage(self, deliver):
        body = json.dumps(thing_event(first_name="Ann\u0000a", last_name="\ud800x"))

        response = deliver(body)

        assert response.status_code == 200
        event = WebhookEvent.objects.get()
        assert event.status == "processed"
        assert event.payload["data"]["first_name"] == "Anna"
        assert runs.data[0]["first_name"] == "Anna"  # the handler sees what is stored

    def test_any_unicode_is_stored_as_sent(self, deliver):
        payload = thing_event(first_name="Zoë 🚀", last_name="José-María 李", email="zoë@exämple.org")

        assert deliver(payload).status_code == 200
        assert WebhookEvent.objects.get().payload == payload


@pytest.mark.postgres(reason="needs a PostgreSQL session switched to read-only")
def test_read_only_database_is_503_and_stores_nothing(transactional_db, client):
    """A reachable database that refuses writes (a standby during failover) is an outage too."""
    with connection.cursor() as cursor:
        cursor.execute("SET default_transaction_read_only = on")
    try:
        response = deliver_to(client, thing_event(), msg_id="msg_read_only", path=PATH)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET default_transaction_read_only = off")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert not WebhookEvent.objects.filter(event_id="msg_read_only").exists()


class TestQueryBudgets:
    """Measured in real transactions (transactional_db), so savepoints of a test wrapper don't count."""

    def test_redelivery_of_processed_event_costs_at_most_2_queries(self, transactional_db, client):
        payload = thing_event()
        deliver_to(client, payload, msg_id="msg_budget", path=PATH)

        with statements_at_most(2):
            response = deliver_to(client, payload, msg_id="msg_budget", path=PATH)
        assert response.status_code == 202


def test_every_delivery_is_logged_with_id_type_outcome_and_duration(deliver, caplog):
    with caplog.at_level(logging.INFO, logger="webhooks.services"):
        deliver(thing_event(), msg_id="msg_logged")
        deliver(thing_event(), msg_id="msg_logged")

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("webhook delivery")]
    assert len(lines) == 2
    assert "event_id=msg_logged type=thing.happened outcome=processed status=200 duration_ms=" in lines[0]
    assert "outcome=duplicate status=202" in lines[1]


def test_endpoint_without_trailing_slash_is_served_not_redirected(deliver):
    response = deliver(thing_event(), path=PATH.rstrip("/"))

    assert response.status_code == 200

"""A deleted user leaves no personal data behind: not on the row, not in any stored event (docs/privacy.md)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from accounts.clerk.payloads import user_object
from accounts.erasure.models import UserErasure
from accounts.models import OrganizationMembership, User
from accounts.sync.organizations import organization_current_members
from accounts.tests.factories import ClerkLedgerEventFactory, user_deleted_event
from accounts.tests.privacy import envelope, membership_of, personal_data_in, personal_user, session_data
from accounts.tests.workers import run_queued_tasks
from webhooks.models import ERASED_KEY, WebhookEvent
from webhooks.services import webhook_event_replay

pytestmark = pytest.mark.django_db

ADA, OTHER = "user_2ersd0000000000000001", "user_2ersd0000000000000002"


def deliver_history(deliver, clerk_id: str, *, prefix: str) -> None:
    """The events a user leaves: created, updated, a session, one signed out, a membership."""
    events = [
        envelope("user.created", personal_user(clerk_id, updated_at=1_000)),
        envelope("user.updated", personal_user(clerk_id, updated_at=2_000)),
        envelope("session.created", session_data(clerk_id, session_id=f"sess_{prefix}")),
        envelope("session.ended", session_data(clerk_id, session_id=f"sess_{prefix}")),
        envelope("organizationMembership.created", membership_of(clerk_id, membership_id=f"orgmem_{prefix}")),
    ]
    for number, payload in enumerate(events):
        assert deliver(payload, msg_id=f"msg_{prefix}_{number}").status_code == 200


def events_about(clerk_id: str, prefix: str) -> list[WebhookEvent]:
    return list(WebhookEvent.objects.filter(event_id__startswith=f"msg_{prefix}_").order_by("pk"))


def assert_erased(clerk_id: str, prefix: str, *, expected_events: int) -> None:
    user = User.objects.get(clerk_id=clerk_id)
    row = {f: getattr(user, f) for f in ("email", "first_name", "last_name", "image_url", "external_id")}
    assert row == dict.fromkeys(row, "")
    assert user.username == f"deleted-{user.pk}"
    assert (user.public_metadata, user.private_metadata, user.unsafe_metadata) == ({}, {}, {})
    assert (user.clerk_id, user.deleted_at is not None, user.is_active) == (clerk_id, True, False)
    events = events_about(clerk_id, prefix)
    assert len(events) == expected_events
    for event in events:
        assert personal_data_in(event.payload) == [], event.event_type
        assert event.payload["type"] == event.event_type and event.payload_erased_at
        assert {"object", "timestamp"} <= event.payload.keys() and event.payload["data"]["id"]
    assert UserErasure.objects.get(user=user).erased_at is not None


@pytest.fixture
def histories(deliver, database_tasks):
    deliver_history(deliver, ADA, prefix="ada")
    deliver_history(deliver, OTHER, prefix="other")
    return {event.pk: event.payload for event in events_about(OTHER, "other")}


def assert_untouched(histories) -> None:
    assert {event.pk: event.payload for event in events_about(OTHER, "other")} == histories
    assert User.objects.get(clerk_id=OTHER).email == "ada.lovelace@example.com"  # the other user shares the address


def test_user_deleted_webhook_erases_the_row_and_every_stored_event_of_the_user_only(deliver, histories):
    deleted = envelope("user.deleted", {"object": "user", "id": ADA, "deleted": True})
    assert deliver(deleted, msg_id="msg_ada_9").status_code == 200
    assert UserErasure.objects.get(user__clerk_id=ADA).erased_at is None  # queued: the ledger is erased after
    run_queued_tasks()

    assert_erased(ADA, "ada", expected_events=6)
    membership = WebhookEvent.objects.get(event_id="msg_ada_4").payload
    assert membership["data"]["public_user_data"] == {"user_id": ADA}
    assert membership["data"]["organization"]["id"].startswith("org_")  # the organization's part stays
    assert_untouched(histories)


def test_a_replayed_delete_erases_the_same(histories):
    stored = ClerkLedgerEventFactory(
        payload=user_deleted_event(ADA), event_id="msg_ada_9", subject_id=ADA, status="failed"
    )
    webhook_event_replay(stored.pk)
    run_queued_tasks()

    assert_erased(ADA, "ada", expected_events=6)
    assert_untouched(histories)


def test_a_tombstone_by_reconciliation_erases_the_same(histories, clerk_api, unthrottled):
    """A full pass tombstones the user Clerk answers 404 for, through user_tombstone: erased alike."""
    for user in User.objects.exclude(clerk_id=ADA).filter(clerk_id__isnull=False):
        clerk_api.add_user(user_object(clerk_id=user.clerk_id, created_at=1))  # older than what is stored

    out = io.StringIO()
    call_command("reconcile_clerk", "--full", stdout=out, stderr=io.StringIO())
    run_queued_tasks()

    assert "users_tombstoned=1 " in out.getvalue()

    assert_erased(ADA, "ada", expected_events=5)
    assert_untouched(histories)


def test_late_events_about_a_deleted_user_are_stored_erased(deliver, histories):
    deliver(envelope("user.deleted", {"object": "user", "id": ADA, "deleted": True}), msg_id="msg_ada_9")
    run_queued_tasks()
    late = [
        envelope("user.updated", personal_user(ADA, updated_at=9_000)),
        envelope("session.created", session_data(ADA, session_id="sess_late", created_at=1_800_000_000_000)),
        envelope("session.removed", session_data(ADA, session_id="sess_late")),
        envelope("organizationMembership.updated", membership_of(ADA, membership_id="orgmem_adalate")),
        envelope("user.deleted", {"object": "user", "id": ADA, "deleted": True}),
    ]
    for number, payload in enumerate(late):
        assert deliver(payload, msg_id=f"msg_ada_late{number}").status_code == 200

    assert_erased(ADA, "ada", expected_events=11)
    assert User.objects.get(clerk_id=ADA).last_login is not None  # from the session before the delete, kept
    assert_untouched(histories)


def test_a_late_event_whose_handler_fails_is_stored_failed_and_erased(deliver, histories, monkeypatch):
    deliver(envelope("user.deleted", {"object": "user", "id": ADA, "deleted": True}), msg_id="msg_ada_9")
    run_queued_tasks()

    def broken(data):
        raise RuntimeError("a bug")

    monkeypatch.setattr("accounts.clerk_source.handlers.user_signed_in", broken)
    response = deliver(envelope("session.created", session_data(ADA, session_id="sess_x")), msg_id="msg_ada_late")

    assert response.status_code == 500
    event = WebhookEvent.objects.get(event_id="msg_ada_late")
    assert event.status == WebhookEvent.Status.FAILED and event.payload_erased_at
    assert_erased(ADA, "ada", expected_events=7)


def test_erasure_off_keeps_everything(deliver, histories, settings):
    settings.CLERK_ERASE_DELETED_USERS = False
    deliver(envelope("user.deleted", {"object": "user", "id": ADA, "deleted": True}), msg_id="msg_ada_9")
    deliver(envelope("user.updated", personal_user(ADA, updated_at=9_000)), msg_id="msg_ada_late")
    run_queued_tasks()

    user = User.objects.get(clerk_id=ADA)
    assert (user.email, user.first_name, user.deleted_at is not None) == ("ada.lovelace@example.com", "Ada", True)
    assert all(personal_data_in(e.payload) for e in events_about(ADA, "ada") if e.event_type != "user.deleted")
    assert not UserErasure.objects.exists()


def test_a_deleted_users_memberships_end_without_a_membership_deleted_event(deliver, histories):
    membership = OrganizationMembership.objects.get(user_clerk_id=ADA)
    assert organization_current_members(membership.organization).filter(pk=membership.pk).exists()

    deliver(envelope("user.deleted", {"object": "user", "id": ADA, "deleted": True}), msg_id="msg_ada_9")

    assert not organization_current_members(membership.organization).filter(pk=membership.pk).exists()
    # A later membership event for that user does not bring it back.
    deliver(envelope("organizationMembership.created", membership_of(ADA, membership_id="orgmem_new")), msg_id="m")
    assert not organization_current_members(membership.organization).filter(user_clerk_id=ADA).exists()


def run_command(*args) -> str:
    out = io.StringIO()
    call_command("erase_deleted_users", *args, stdout=out)
    return out.getvalue()


def test_the_command_erases_users_tombstoned_before_erasure_existed_and_dry_run_changes_nothing(
    deliver, histories, settings, admin_client
):
    settings.CLERK_ERASE_DELETED_USERS = False  # as before erasure existed
    deliver(envelope("user.deleted", {"object": "user", "id": ADA, "deleted": True}), msg_id="msg_ada_9")
    settings.CLERK_ERASE_DELETED_USERS = True
    health = admin_client.get("/admin/webhooks/webhookevent/health/").content.decode()
    assert "Deleted users awaiting erasure" in health

    output = run_command("--dry-run")

    assert f"{ADA}: 6 stored events to check" in output and "Dry run: would erase 1 deleted users" in output
    assert User.objects.get(clerk_id=ADA).first_name == "Ada"
    assert all(personal_data_in(e.payload) for e in events_about(ADA, "ada") if e.event_type != "user.deleted")

    output = run_command("--batch-size", "2")

    assert "Erased 1 deleted users; 6 stored events rewritten." in output
    assert_erased(ADA, "ada", expected_events=6)
    assert_untouched(histories)
    assert "Erased 0 deleted users" in run_command()


def test_the_admin_shows_an_erased_payload_as_such(deliver, histories, admin_client):
    deliver(envelope("user.deleted", {"object": "user", "id": ADA, "deleted": True}), msg_id="msg_ada_9")
    run_queued_tasks()
    event = WebhookEvent.objects.get(event_id="msg_ada_0")

    page = admin_client.get(f"/admin/webhooks/webhookevent/{event.pk}/change/").content.decode()

    assert "Erased" in page and ERASED_KEY in page and personal_data_in(page) == []

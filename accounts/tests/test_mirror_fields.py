"""The mirror's fields from Clerk: banned and locked, metadata, last_sign_in_at and last_login, on every path."""

from __future__ import annotations

import datetime as dt
import io
import smtplib

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command

from accounts.clerk.payloads import event_envelope
from accounts.models import Organization, OrganizationMembership, User, UserProvisioning
from accounts.sync.sessions import user_signed_in
from accounts.tests.factories import ClerkUserDataFactory, user_event
from accounts.tests.organization_factories import new_membership, new_organization, org_event
from accounts.tests.privacy import session_data
from accounts.tests.workers import run_queued_tasks
from webhooks.tests.deliveries import statements_at_most

pytestmark = pytest.mark.django_db

META = {
    "public_metadata": {"plan": "pro"},
    "private_metadata": {"stripe": "cus_secret"},
    "unsafe_metadata": {"theme": "dark"},
}


def me(client, make_token, clerk_id: str):
    return client.get("/api/me/", headers={"Authorization": f"Bearer {make_token(clerk_id)}"})


def test_a_user_event_carries_every_field(deliver):
    data = ClerkUserDataFactory(
        **META, banned=False, locked=True, external_id="legacy-7", last_sign_in_at=1_700_000_000_000
    )
    deliver(user_event("user.created", data))

    user = User.objects.get(clerk_id=data["id"])
    assert (user.banned, user.locked, user.external_id, user.is_active) == (False, True, "legacy-7", True)
    assert (user.public_metadata, user.private_metadata, user.unsafe_metadata) == tuple(META.values())
    assert user.last_sign_in_at == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)


def test_just_in_time_creation_carries_them_too(client, clerk_api, make_token):
    data = clerk_api.add_user(ClerkUserDataFactory(**META, external_id="legacy-8", locked=True))

    assert me(client, make_token, data["id"]).status_code == 200

    user = User.objects.get(clerk_id=data["id"])
    assert (user.created_via, user.external_id, user.locked, user.private_metadata) == (
        "jit", "legacy-8", True, META["private_metadata"]
    )  # fmt: skip


def test_the_backfill_carries_them_too(clerk_api):
    data = clerk_api.add_user(ClerkUserDataFactory(**META, banned=True, external_id="legacy-9"))

    call_command("sync_clerk_users", stdout=io.StringIO(), stderr=io.StringIO())

    user = User.objects.get(clerk_id=data["id"])
    assert (user.created_via, user.banned, user.is_active, user.external_id) == ("sync", True, False, "legacy-9")
    assert (user.public_metadata, user.private_metadata, user.unsafe_metadata) == tuple(META.values())


def test_banned_is_403_unbanned_is_200_locked_is_200(client, clerk_api, make_token, deliver):
    data = ClerkUserDataFactory(banned=True, updated_at=1_000)
    deliver(user_event("user.created", data))

    response = me(client, make_token, data["id"])
    assert response.status_code == 403
    assert response.json() == {"error": "user is banned", "reason": "banned"}
    assert not User.objects.get(clerk_id=data["id"]).is_active

    deliver(user_event("user.updated", data | {"banned": False, "updated_at": 2_000}))
    assert me(client, make_token, data["id"]).status_code == 200
    assert User.objects.get(clerk_id=data["id"]).is_active

    deliver(user_event("user.updated", data | {"banned": False, "locked": True, "updated_at": 3_000}))
    assert me(client, make_token, data["id"]).status_code == 200
    assert User.objects.get(clerk_id=data["id"]).locked


def test_only_a_ban_or_an_unban_changes_is_active(deliver):
    data = ClerkUserDataFactory(updated_at=1_000)
    deliver(user_event("user.created", data))
    User.objects.filter(clerk_id=data["id"]).update(is_active=False)  # staff deactivated them here

    deliver(user_event("user.updated", data | {"first_name": "Renamed", "updated_at": 2_000}))

    assert not User.objects.get(clerk_id=data["id"]).is_active


def test_an_unbanned_tombstone_stays_inactive(deliver):
    data = ClerkUserDataFactory(banned=True, updated_at=1_000)
    deliver(user_event("user.created", data))
    deliver(event_envelope("user.deleted", {"object": "user", "id": data["id"], "deleted": True}))
    deliver(user_event("user.updated", data | {"banned": False, "updated_at": 2_000}))

    assert not User.objects.get(clerk_id=data["id"]).is_active


@pytest.mark.urls("accounts.tests.urls")
def test_the_middleware_leaves_a_banned_users_request_anonymous(client, clerk_api, make_token):
    User.objects.create(clerk_id="user_2banned", username="banned1", banned=True, is_active=False)

    headers = {"Authorization": f"Bearer {make_token('user_2banned')}"}
    assert client.get("/whoami/", headers=headers).content == b"anonymous"


def test_me_shows_public_and_unsafe_metadata_never_private(client, clerk_api, make_token, deliver):
    data = ClerkUserDataFactory(**META)
    deliver(user_event("user.created", data))

    body = me(client, make_token, data["id"]).json()

    assert (body["public_metadata"], body["unsafe_metadata"]) == (META["public_metadata"], META["unsafe_metadata"])
    assert "private_metadata" not in body and "cus_secret" not in str(body)


def test_the_schema_says_so(client):
    schema = client.get("/api/schema/", headers={"Accept": "application/json"}).content.decode()

    assert "public_metadata" in schema and "unsafe_metadata" in schema and "private_metadata" not in schema
    assert "banned" in schema


def test_session_created_moves_last_login_forward_only_in_one_statement(deliver):
    data = ClerkUserDataFactory()
    deliver(user_event("user.created", data))
    later, earlier = 1_800_000_000_000, 1_700_000_000_000

    deliver(event_envelope("session.created", session_data(data["id"], session_id="sess_2", created_at=later)))
    deliver(event_envelope("session.created", session_data(data["id"], session_id="sess_1", created_at=earlier)))

    user = User.objects.get(clerk_id=data["id"])
    assert user.last_login == dt.datetime.fromtimestamp(later / 1000, tz=dt.UTC)
    with statements_at_most(1):
        user_signed_in(session_data(data["id"], created_at=later + 1))


def test_other_session_types_stay_ignored(deliver):
    response = deliver(event_envelope("session.ended", session_data("user_2nobody")))
    assert response.json()["outcome"] == "ignored"


def test_organization_and_membership_fields(deliver):
    organization = new_organization(members_count=7) | {"public_metadata": {"tier": "gold"}}
    organization["private_metadata"] = {"crm": "acct_1"}
    deliver(org_event("organization.created", organization))
    membership = new_membership(organization=organization | {"updated_at": organization["updated_at"]})
    membership["public_metadata"] = {"team": "blue"}
    del membership["organization"]["members_count"]  # an embedded copy without the count keeps the stored one
    deliver(org_event("organizationMembership.created", membership))

    stored = Organization.objects.get(clerk_id=organization["id"])
    assert (stored.public_metadata, stored.private_metadata, stored.members_count) == (
        {"tier": "gold"}, {"crm": "acct_1"}, 7
    )  # fmt: skip
    assert OrganizationMembership.objects.get().public_metadata == {"team": "blue"}


def test_a_user_banned_at_sign_up_is_not_greeted(deliver, mailoutbox):
    deliver(user_event("user.created", ClerkUserDataFactory(banned=True)))

    assert UserProvisioning.objects.get().welcome_email == UserProvisioning.WelcomeEmail.NOT_WANTED
    assert mailoutbox == []


def test_a_user_banned_before_the_email_goes_out_is_not_greeted(deliver, database_tasks, smtp):
    data = ClerkUserDataFactory(updated_at=1_000)
    deliver(user_event("user.created", data))
    deliver(user_event("user.updated", data | {"banned": True, "updated_at": 2_000}))

    run_queued_tasks()

    provisioning = UserProvisioning.objects.get()
    assert provisioning.welcome_email == UserProvisioning.WelcomeEmail.SKIPPED
    assert "banned" in provisioning.welcome_email_last_error and smtp.messages == []


class RefusingBackend(BaseEmailBackend):
    """A mail server refusing the recipient, as smtplib reports it: the address is in the exception's text."""

    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused(
            {messages[0].to[0]: (550, b"5.1.1 <%s>: unknown" % messages[0].to[0].encode())}
        )


def test_a_refused_recipient_leaves_no_address_in_the_error_or_the_log(deliver, database_tasks, settings, caplog):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    deliver(user_event("user.created", ClerkUserDataFactory(email="refused.person@example.com")))

    run_queued_tasks()

    provisioning = UserProvisioning.objects.get()
    assert "SMTPRecipientsRefused" in provisioning.welcome_email_last_error
    assert "refused.person" not in provisioning.welcome_email_last_error
    assert "refused.person" not in caplog.text and "SMTPRecipientsRefused" in caplog.text


def test_the_admin_filters_and_shows_banned_and_locked(admin_client):
    User.objects.create(clerk_id="user_2ban", username="banned_one", banned=True, is_active=False)
    User.objects.create(clerk_id="user_2lock", username="locked_one", locked=True)

    banned = admin_client.get("/admin/accounts/user/?banned__exact=1").content.decode()
    locked = admin_client.get("/admin/accounts/user/?locked__exact=1").content.decode()

    assert "banned_one" in banned and "locked_one" not in banned and "inactive, banned" in banned
    assert "locked_one" in locked and "banned_one" not in locked and "active, locked" in locked

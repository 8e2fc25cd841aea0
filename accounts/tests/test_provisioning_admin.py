"""The welcome email queue in the admin: states per user, the retry action (posted), the health page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.models import User, UserProvisioning
from accounts.sync.users import user_upsert_from_clerk
from accounts.tests.factories import ClerkUserDataFactory, UserFactory

pytestmark = pytest.mark.django_db
Status = UserProvisioning.WelcomeEmail
CHANGELIST = "/admin/accounts/userprovisioning/"
HEALTH = "/admin/webhooks/webhookevent/health/"


def provisioned_user(email: str, **state) -> UserProvisioning:
    user = user_upsert_from_clerk(ClerkUserDataFactory(email=email), created_via=User.CreatedVia.WEBHOOK).user
    UserProvisioning.objects.filter(user=user).update(**state)
    return UserProvisioning.objects.get(user=user)


def failed(email: str = "failed@example.com") -> UserProvisioning:
    return provisioned_user(
        email,
        welcome_email=Status.FAILED,
        welcome_email_attempts=31,
        welcome_email_last_error="SMTPRecipientsRefused: 451 try again later",
    )


def retry_action(client, *provisionings: UserProvisioning):
    return client.post(
        CHANGELIST,
        {"action": "retry_welcome_emails", "_selected_action": [p.pk for p in provisionings]},
        follow=True,
    )


def test_changelist_shows_each_users_welcome_email_state_attempts_and_last_error(admin_client):
    failed()
    provisioned_user("pending@example.com", welcome_email_attempts=2, welcome_email_last_error="ConnectionRefusedError")

    html = admin_client.get(CHANGELIST).content.decode()
    only_failed = admin_client.get(f"{CHANGELIST}?welcome_email__exact=failed").content.decode()

    assert "Failed (retries exhausted)" in html and "Pending" in html
    assert "SMTPRecipientsRefused: 451 try again later" in html and "ConnectionRefusedError" in html
    assert "failed@example.com" in only_failed and "pending@example.com" not in only_failed


def test_retry_action_sends_a_failed_email_again(admin_client, mailoutbox, django_capture_on_commit_callbacks):
    provisioning = failed()

    with django_capture_on_commit_callbacks(execute=True):
        response = retry_action(admin_client, provisioning)

    assert response.status_code == 200
    assert "1 welcome email(s) queued to be sent again." in response.content.decode()
    provisioning.refresh_from_db()
    assert (provisioning.welcome_email, provisioning.welcome_email_attempts) == (Status.SENT, 1)
    assert [m.to for m in mailoutbox] == [["failed@example.com"]]


def test_retry_action_leaves_sent_emails_alone_and_says_so(
    admin_client, mailoutbox, django_capture_on_commit_callbacks
):
    sent = provisioned_user("sent@example.com", welcome_email=Status.SENT)

    with django_capture_on_commit_callbacks(execute=True):
        response = retry_action(admin_client, sent)

    assert "1 left alone: already sent" in response.content.decode()
    assert mailoutbox == []


def test_retry_action_needs_its_permission(client, mailoutbox, django_capture_on_commit_callbacks):
    staff = UserFactory(clerk_id=None, username="viewer", is_staff=True, created_via="local")
    staff.user_permissions.add(Permission.objects.get(codename="view_userprovisioning"))
    client.force_login(staff)
    provisioning = failed()

    assert "retry_welcome_emails" not in client.get(CHANGELIST).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        retry_action(client, provisioning)

    provisioning.refresh_from_db()
    assert provisioning.welcome_email == Status.FAILED and mailoutbox == []

    staff.user_permissions.add(Permission.objects.get(codename="retry_welcome_email"))
    staff = User.objects.get(pk=staff.pk)  # permissions are cached per instance
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        retry_action(client, provisioning)

    provisioning.refresh_from_db()
    assert provisioning.welcome_email == Status.SENT and len(mailoutbox) == 1


def test_user_page_shows_the_welcome_email_state(admin_client):
    provisioning = failed()

    html = admin_client.get(f"/admin/accounts/user/{provisioning.user_id}/change/").content.decode()

    assert "Failed (retries exhausted)" in html and "31 attempt(s)" in html and "451 try again later" in html


class TestHealthPage:
    def test_pending_count_and_a_long_wait_asks_whether_a_worker_runs(self, admin_client):
        provisioned_user("late@example.com", welcome_email_next_attempt_at=timezone.now() - dt.timedelta(minutes=6))
        provisioned_user("fresh@example.com")

        html = admin_client.get(HEALTH).content.decode()

        assert 'id="welcome-emails-pending"' in html
        assert "is a worker running?" in html
        pending_card = html[html.index('id="welcome-emails-pending"') :]
        assert '<div class="figure">2</div>' in pending_card[:400]

    def test_emails_due_for_less_than_five_minutes_are_not_flagged(self, admin_client):
        provisioned_user("fresh@example.com", welcome_email_next_attempt_at=timezone.now() - dt.timedelta(minutes=1))
        provisioned_user("later@example.com", welcome_email_next_attempt_at=timezone.now() + dt.timedelta(hours=1))

        html = admin_client.get(HEALTH).content.decode()

        assert "is a worker running?" not in html

    def test_failed_emails_are_listed_with_their_error(self, admin_client):
        failed("gave-up@example.com")

        html = admin_client.get(HEALTH).content.decode()

        table = html[html.index('id="welcome-emails-failed"') :]
        assert "gave-up@example.com" in table and "451 try again later" in table

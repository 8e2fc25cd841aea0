"""sync_clerk_users and send_clerk_webhook, against the Clerk stand-in and a live server."""

import io
import random
import time

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from accounts.management.commands.send_clerk_webhook import PEOPLE
from accounts.models import Organization, OrganizationMembership, User, UserProvisioning
from accounts.tests.factories import ClerkUserDataFactory, UserFactory
from webhooks.models import WebhookEvent

DAY_MS = 24 * 3600 * 1000


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
class TestSyncClerkUsers:
    @pytest.fixture
    def clerk_users(self, clerk_api):
        now = int(time.time() * 1000)
        old = [clerk_api.add_user(ClerkUserDataFactory(created_at=now - 400 * DAY_MS - n)) for n in range(3)]
        new = [clerk_api.add_user(ClerkUserDataFactory(created_at=now - DAY_MS + n)) for n in range(2)]
        return old, new

    def test_backfill_creates_everyone_and_greets_only_recent_sign_ups(
        self, clerk_api, clerk_users, mailoutbox, provisioned
    ):
        old, new = clerk_users

        output = run("sync_clerk_users", "--page-size", "2")

        assert "5 Clerk users: 5 created, 0 updated, 0 unchanged, 0 skipped" in output
        assert set(User.objects.values_list("clerk_id", flat=True)) == {u["id"] for u in old + new}
        assert set(User.objects.values_list("created_via", flat=True)) == {"sync"}
        assert sorted(m.to[0] for m in mailoutbox) == sorted(u["email_addresses"][0]["email_address"] for u in new)
        assert sorted(provisioned) == sorted((u["id"], "sync") for u in old + new)  # signal fires for all, once
        assert clerk_api.calls["/v1/users"] == 3  # 2 + 2 + 1, walked with starting_after

    def test_a_user_clerk_gives_no_created_at_is_created_but_not_greeted(self, clerk_api, mailoutbox, provisioned):
        undated = clerk_api.add_user(ClerkUserDataFactory())
        clerk_api.users[undated["id"]] = undated | {"created_at": None}

        output = run("sync_clerk_users")

        assert "1 Clerk users: 1 created" in output
        assert provisioned == [(undated["id"], "sync")]
        assert mailoutbox == []
        assert UserProvisioning.objects.get().welcome_email == UserProvisioning.WelcomeEmail.NOT_WANTED

    def test_second_run_changes_nothing(self, clerk_api, clerk_users, mailoutbox, provisioned):
        run("sync_clerk_users")
        before = list(User.objects.order_by("pk").values())
        sent, announced = len(mailoutbox), len(provisioned)

        output = run("sync_clerk_users")

        assert "5 Clerk users: 0 created, 0 updated, 5 unchanged, 0 skipped" in output
        assert list(User.objects.order_by("pk").values()) == before
        assert (len(mailoutbox), len(provisioned)) == (sent, announced)

    def test_updates_and_skips_are_reported(self, clerk_api, clerk_users):
        old, new = clerk_users
        run("sync_clerk_users")
        clerk_api.users[old[0]["id"]] = old[0] | {"first_name": "Renamed", "updated_at": old[0]["updated_at"] + 1}
        User.objects.filter(clerk_id=new[0]["id"]).update(deleted_at="2026-01-01T00:00:00Z", is_active=False)

        output = run("sync_clerk_users")

        assert "0 created, 1 updated, 3 unchanged, 1 skipped" in output
        assert User.objects.get(clerk_id=old[0]["id"]).first_name == "Renamed"

    def test_an_unusable_entry_is_skipped_and_the_rest_of_its_page_is_stored(self, clerk_api, clerk_users):
        old, new = clerk_users
        created_at = old[0]["created_at"] + 1  # in the middle of the first page
        clerk_api.add_user(ClerkUserDataFactory(id="user_" + "x" * 80, created_at=created_at))  # too long
        clerk_api.add_user(ClerkUserDataFactory(id="   ", created_at=created_at))  # blank

        output = run("sync_clerk_users", "--page-size", "3")

        assert "7 Clerk users: 5 created, 0 updated, 0 unchanged, 2 skipped" in output
        assert set(User.objects.values_list("clerk_id", flat=True)) == {u["id"] for u in old + new}
        assert User.objects.count() == UserProvisioning.objects.count() == 5

    def test_a_raising_receiver_stops_the_run_keeping_the_users_before_it_and_a_rerun_provisions_the_rest_once(
        self, clerk_api, clerk_users, provisioned
    ):
        from accounts.signals import user_provisioned

        def broken(sender, user, created_via, **kwargs):
            if len(provisioned) == 4:  # the second user of the second page
                raise RuntimeError("the workspace service is down")

        user_provisioned.connect(broken, dispatch_uid="test-broken-receiver")
        try:
            with pytest.raises(
                CommandError,
                match="user_provisioned receiver failed .*The user it was on was rolled back: .* run again",
            ):
                run("sync_clerk_users", "--page-size", "2")
        finally:
            user_provisioned.disconnect(dispatch_uid="test-broken-receiver")
        # Each user has its own transaction: the first of its page stays, the failing one is rolled back.
        assert User.objects.count() == UserProvisioning.objects.count() == 3

        assert "2 created, 0 updated, 3 unchanged" in run("sync_clerk_users", "--page-size", "2")
        assert User.objects.count() == UserProvisioning.objects.count() == 5
        assert UserProvisioning.objects.values("user").distinct().count() == 5

    def test_dry_run_writes_nothing_and_sends_nothing(self, clerk_api, clerk_users, mailoutbox, workspaces):
        output = run("sync_clerk_users", "--dry-run")

        assert "dry run, nothing written: 5 Clerk users: 5 created" in output
        assert not User.objects.exists() and not UserProvisioning.objects.exists()
        assert mailoutbox == []
        # The same code ran: user_provisioned's receivers too, and their writes were rolled back with it.
        assert len(workspaces) == 5 and not Group.objects.exists()

    def test_local_users_clerk_no_longer_has_are_reported_then_pruned_on_request(self, clerk_api, clerk_users):
        UserFactory(clerk_id="user_gone_from_clerk")
        UserFactory(clerk_id=None, username="staff", created_via="local")

        report = run("sync_clerk_users")
        assert "1 local users are not in Clerk (user_gone_from_clerk): run with --prune" in report
        assert User.objects.get(clerk_id="user_gone_from_clerk").deleted_at is None

        pruned = run("sync_clerk_users", "--prune")
        assert "tombstoned 1" in pruned
        assert User.objects.get(clerk_id="user_gone_from_clerk").deleted_at is not None
        assert User.objects.get(username="staff").is_active

    def test_rate_limit_is_waited_out(self, clerk_api, clerk_users):
        clerk_api.fail("/v1/users", 429, {"Retry-After": "0"}, times=2)

        assert "5 created" in run("sync_clerk_users")

    def test_clerk_unreachable_is_a_one_line_error(self, clerk_api, settings):
        settings.CLERK_API_URL = "http://127.0.0.1:9"

        with pytest.raises(CommandError, match="Clerk's API failed: .*run the command again"):
            run("sync_clerk_users")

    def test_no_secret_key_is_a_one_line_error(self, settings):
        with pytest.raises(CommandError, match="CLERK_SECRET_KEY is not set"):
            run("sync_clerk_users")

    @pytest.mark.parametrize("page_size", ["0", "501"])
    def test_page_size_is_checked_before_clerk_is_called(self, clerk_api, page_size):
        with pytest.raises(CommandError, match="^--page-size must be between 1 and 500$"):
            run("sync_clerk_users", "--page-size", page_size)
        assert not clerk_api.calls

    def test_interrupted_run_can_simply_be_run_again(self, clerk_api, clerk_users):
        clerk_api.fail("/v1/users", 503, {"Retry-After": "0"}, times=10)  # the first page fails, retries exhausted
        with pytest.raises(CommandError):
            run("sync_clerk_users", "--page-size", "2")
        clerk_api.failures.clear()

        assert "5 created" in run("sync_clerk_users", "--page-size", "2")


def user_last_name() -> str:
    return User.objects.get(clerk_id="user_simulated").last_name


@pytest.mark.django_db(transaction=True)
class TestSendClerkWebhook:
    def url(self, live_server) -> str:
        return f"{live_server.url}/webhooks/clerk/"

    def test_created_event_makes_a_user_appear(self, live_server, mailoutbox):
        output = run(
            "send_clerk_webhook",
            "user.created",
            "--url",
            self.url(live_server),
            "--user-id",
            "user_simulated",
            "--email",
            "sim@example.com",
            "--first-name",
            "Sim",
        )

        event = WebhookEvent.objects.get()
        assert output.splitlines() == [
            f"user.created user_simulated Sim {user_last_name()} <sim@example.com> svix-id={event.event_id}",
            f'200 {{"event_id": "{event.event_id}", "outcome": "processed"}}',
        ]
        user = User.objects.get(clerk_id="user_simulated")
        assert (user.email, user.first_name, user.created_via) == ("sim@example.com", "Sim", "webhook")
        assert WebhookEvent.objects.get().status == "processed"

    def test_repeat_sends_the_same_delivery_again(self, live_server):
        output = run("send_clerk_webhook", "user.created", "--url", self.url(live_server), "--repeat", "3")

        answers = [line.split(" ", 1)[0] for line in output.splitlines()[1:]]
        assert answers == ["200", "202", "202"]
        assert User.objects.count() == 1
        assert WebhookEvent.objects.get().attempts == 3

    def test_host_sets_the_host_header_for_an_app_that_allows_only_its_name(self, live_server, settings):
        settings.ALLOWED_HOSTS = ["app.example.com"]  # production's: the live server's 127.0.0.1 is not listed
        url = self.url(live_server)

        with pytest.raises(CommandError, match="did not accept"):
            run("send_clerk_webhook", "user.created", "--url", url, "--user-id", "user_h0")
        output = run(
            "send_clerk_webhook", "user.created", "--url", url, "--user-id", "user_h1", "--host", "app.example.com"
        )

        assert output.splitlines()[1].startswith('200 {"event_id": ')
        assert list(User.objects.values_list("clerk_id", flat=True)) == ["user_h1"]

    def test_banned_session_and_organization_events_can_be_tried_locally(self, live_server):
        url = self.url(live_server)
        run("send_clerk_webhook", "user.created", "--url", url, "--user-id", "user_b1")
        run("send_clerk_webhook", "user.updated", "--url", url, "--user-id", "user_b1", "--banned", "--locked")
        run("send_clerk_webhook", "session.created", "--url", url, "--user-id", "user_b1")
        user = User.objects.get(clerk_id="user_b1")
        assert (user.banned, user.locked, user.is_active, user.last_login is not None) == (True, True, False, True)
        run("send_clerk_webhook", "user.updated", "--url", url, "--user-id", "user_b1", "--no-banned")
        assert User.objects.get(clerk_id="user_b1").is_active

        run("send_clerk_webhook", "organization.created", "--url", url, "--org-id", "org_b1")
        for event_type in ("organizationMembership.created", "organizationMembership.updated"):
            args = ("--url", url, "--org-id", "org_b1", "--user-id", "user_b1", "--role", "org:admin")
            output = run("send_clerk_webhook", event_type, *args)
        assert "user_b1 in org_b1" in output
        membership = OrganizationMembership.objects.get()
        assert (membership.organization.clerk_id, membership.user.clerk_id, membership.role) == (
            "org_b1", "user_b1", "org:admin"
        )  # fmt: skip
        run(
            "send_clerk_webhook",
            "organizationMembership.deleted",
            "--url",
            url,
            "--org-id",
            "org_b1",
            "--user-id",
            "user_b1",
        )
        run("send_clerk_webhook", "organization.deleted", "--url", url, "--org-id", "org_b1")
        assert OrganizationMembership.objects.get().deleted_at and Organization.objects.get().deleted_at

    def test_updated_then_deleted(self, live_server):
        url = self.url(live_server)
        run("send_clerk_webhook", "user.created", "--url", url, "--user-id", "user_x1")
        run("send_clerk_webhook", "user.updated", "--url", url, "--user-id", "user_x1", "--first-name", "Grace")
        assert User.objects.get(clerk_id="user_x1").first_name == "Grace"
        run("send_clerk_webhook", "user.deleted", "--url", url, "--user-id", "user_x1")

        user = User.objects.get(clerk_id="user_x1")
        assert user.first_name == "" and user.deleted_at is not None  # the tombstone erased the name

    def test_update_of_a_local_user_changes_only_what_is_passed(self, live_server):
        url = self.url(live_server)
        run("send_clerk_webhook", "user.created", "--url", url, "--user-id", "user_k1", "--email", "mei@example.com")
        before = User.objects.get(clerk_id="user_k1")

        output = run("send_clerk_webhook", "user.updated", "--url", url, "--user-id", "user_k1", "--first-name", "May")

        after = User.objects.get(clerk_id="user_k1")
        assert (after.first_name, after.email) == ("May", "mei@example.com")
        unchanged = ("last_name", "username", "image_url")
        assert [getattr(after, name) for name in unchanged] == [getattr(before, name) for name in unchanged]
        assert output.startswith(f"user.updated user_k1 May {before.last_name} <mei@example.com> svix-id=msg_")

    def test_made_up_people_come_from_a_varied_list_with_matching_emails(self, live_server, monkeypatch):
        monkeypatch.setattr(random, "choice", lambda people: ("Sofía", "Martínez"))

        run("send_clerk_webhook", "user.created", "--url", self.url(live_server), "--user-id", "user_m1")

        user = User.objects.get(clerk_id="user_m1")
        assert (user.first_name, user.last_name, user.email) == ("Sofía", "Martínez", "sofia.martinez@example.com")
        assert len({last for _, last in PEOPLE}) >= 10

    def test_no_secret_is_a_one_line_error(self, settings):
        settings.CLERK_WEBHOOK_SECRET = ""

        with pytest.raises(CommandError, match="CLERK_WEBHOOK_SECRET is not set"):
            run("send_clerk_webhook", "user.created")

    def test_a_secret_the_svix_library_refuses_is_a_one_line_error(self, settings):
        settings.CLERK_WEBHOOK_SECRET = "whsec_%%%not-base64"

        with pytest.raises(CommandError, match="CLERK_WEBHOOK_SECRET is not a valid whsec_ secret"):
            run("send_clerk_webhook", "user.created", "--url", "http://127.0.0.1:9/webhooks/clerk/")

    def test_server_not_running_is_a_one_line_error(self):
        with pytest.raises(CommandError, match="cannot reach .*is the server running"):
            run("send_clerk_webhook", "user.created", "--url", "http://127.0.0.1:9/webhooks/clerk/")

    def test_refused_delivery_fails_the_command(self, live_server):
        with pytest.raises(CommandError, match="did not accept"):
            run("send_clerk_webhook", "user.created", "--url", f"{live_server.url}/webhooks/nobody/")

"""User sync over real deliveries: upsert by clerk_id, order, tombstones, usernames, provisioning once."""

import pytest

from accounts.models import User, UserProvisioning
from accounts.signals import user_provisioned
from accounts.sync.users import SyncOutcome, user_tombstone, user_upsert_from_clerk
from accounts.tests.factories import ClerkUserDataFactory, UserFactory, user_deleted_event, user_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver_now(deliver, django_capture_on_commit_callbacks):
    """Deliver and run on-commit side effects, as a real commit would."""

    def _deliver(payload, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            response = deliver(payload, **kwargs)
        assert response.status_code in (200, 202), response.content
        return response

    return _deliver


class TestUpsert:
    def test_update_changes_the_row_found_by_clerk_id(self, deliver_now):
        data = ClerkUserDataFactory(first_name="Ada", updated_at=1_000)
        deliver_now(user_event("user.created", data))

        deliver_now(user_event("user.updated", data | {"first_name": "Augusta", "updated_at": 2_000}))

        user = User.objects.get()
        assert user.first_name == "Augusta"
        assert user.clerk_updated_at.timestamp() == 2.0

    def test_never_matched_by_email(self, deliver_now):
        """An address can leave one Clerk account and come back on a new one: two users."""
        deliver_now(user_event("user.created", ClerkUserDataFactory(email="shared@example.com")))
        deliver_now(user_event("user.created", ClerkUserDataFactory(email="shared@example.com")))

        assert User.objects.filter(email="shared@example.com").count() == 2

    def test_local_staff_account_with_same_email_is_left_alone(self, deliver_now):
        staff = UserFactory(clerk_id=None, username="admin", email="ops@example.com", created_via="local")

        deliver_now(user_event("user.created", ClerkUserDataFactory(email="ops@example.com", username="admin")))

        staff.refresh_from_db()
        assert staff.clerk_id is None and staff.username == "admin"
        clerk_user = User.objects.exclude(pk=staff.pk).get()
        assert clerk_user.username != "admin" and clerk_user.username.startswith("admin-")

    def test_updated_before_created(self, deliver_now):
        data = ClerkUserDataFactory(first_name="Old", updated_at=1_000)
        newer = data | {"first_name": "New", "updated_at": 2_000}

        deliver_now(user_event("user.updated", newer))
        deliver_now(user_event("user.created", data))

        user = User.objects.get()
        assert user.first_name == "New"
        assert user.created_via == User.CreatedVia.WEBHOOK

    def test_older_update_after_a_newer_one_changes_nothing(self, deliver_now):
        data = ClerkUserDataFactory(updated_at=1_000)
        deliver_now(user_event("user.created", data))
        deliver_now(user_event("user.updated", data | {"last_name": "Newest", "updated_at": 3_000}))

        late = deliver_now(user_event("user.updated", data | {"last_name": "Stale", "updated_at": 2_000}))

        assert late.status_code == 200  # not an error: Svix must stop retrying it
        assert User.objects.get().last_name == "Newest"

    def test_equal_updated_at_is_applied(self):
        data = ClerkUserDataFactory(updated_at=5_000, first_name="A")
        user_upsert_from_clerk(data, created_via=User.CreatedVia.WEBHOOK)

        result = user_upsert_from_clerk(data | {"first_name": "B"}, created_via=User.CreatedVia.WEBHOOK)

        assert result.outcome == SyncOutcome.UPDATED
        assert User.objects.get().first_name == "B"

    def test_service_reports_outcomes(self):
        data = ClerkUserDataFactory(updated_at=1_000)
        via = User.CreatedVia.WEBHOOK

        outcomes = [
            user_upsert_from_clerk(data, created_via=via).outcome,
            user_upsert_from_clerk(data, created_via=via).outcome,
            user_upsert_from_clerk(data | {"first_name": "Z", "updated_at": 2_000}, created_via=via).outcome,
            user_upsert_from_clerk(data | {"updated_at": 1_500}, created_via=via).outcome,
            user_tombstone(data["id"], created_via=via).outcome,
            user_tombstone(data["id"], created_via=via).outcome,
        ]

        assert outcomes == ["created", "unchanged", "updated", "stale", "deleted", "already_deleted"]

    def test_no_email_is_fine(self, deliver_now, mailoutbox):
        deliver_now(user_event("user.created", ClerkUserDataFactory(email=None)))

        user = User.objects.get()
        assert user.email == ""
        assert mailoutbox == []

    def test_primary_email_id_pointing_nowhere_means_no_email(self, deliver_now):
        data = ClerkUserDataFactory(primary_email_address_id="idn_gone")

        deliver_now(user_event("user.created", data))

        assert User.objects.get().email == ""

    def test_changed_primary_email_is_followed(self, deliver_now):
        data = ClerkUserDataFactory(email="first@example.com", updated_at=1_000)
        deliver_now(user_event("user.created", data))
        second = {"id": "idn_second", "email_address": "second@example.com", "object": "email_address"}

        deliver_now(
            user_event(
                "user.updated",
                data
                | {
                    "email_addresses": data["email_addresses"] + [second],
                    "primary_email_address_id": "idn_second",
                    "updated_at": 2_000,
                },
            )
        )

        assert User.objects.get().email == "second@example.com"

    def test_invalid_image_url_is_dropped(self, deliver_now):
        deliver_now(user_event("user.created", ClerkUserDataFactory(image_url="javascript:alert(1)")))

        assert User.objects.get().image_url == ""


class TestUsernames:
    def test_two_johns_without_username_get_distinct_usernames(self, deliver_now):
        deliver_now(user_event("user.created", ClerkUserDataFactory(first_name="John", last_name="", email=None)))
        deliver_now(user_event("user.created", ClerkUserDataFactory(first_name="John", last_name="", email=None)))

        usernames = sorted(User.objects.values_list("username", flat=True))
        assert usernames[0] == "john"
        assert usernames[1].startswith("john-") and len(set(usernames)) == 2

    def test_derived_from_email_local_part_when_clerk_has_no_username(self, deliver_now):
        deliver_now(user_event("user.created", ClerkUserDataFactory(email="Grace.Hopper+x@example.com")))

        assert User.objects.get().username == "grace.hopper+x"

    def test_clerk_username_is_used_when_free(self, deliver_now):
        deliver_now(user_event("user.created", ClerkUserDataFactory(username="grace")))

        assert User.objects.get().username == "grace"

    def test_clerk_username_change_is_followed(self, deliver_now):
        data = ClerkUserDataFactory(username="before", updated_at=1_000)
        deliver_now(user_event("user.created", data))

        deliver_now(user_event("user.updated", data | {"username": "after", "updated_at": 2_000}))

        assert User.objects.get().username == "after"

    def test_clerk_username_taken_later_gets_a_unique_variant(self, deliver_now):
        UserFactory(username="taken")
        data = ClerkUserDataFactory(username="free", updated_at=1_000)
        deliver_now(user_event("user.created", data))

        deliver_now(user_event("user.updated", data | {"username": "taken", "updated_at": 2_000}))

        username = User.objects.get(clerk_id=data["id"]).username
        assert username.startswith("taken-")

    def test_username_removed_in_clerk_keeps_the_local_one(self, deliver_now):
        data = ClerkUserDataFactory(username="keepme", updated_at=1_000)
        deliver_now(user_event("user.created", data))

        deliver_now(user_event("user.updated", data | {"username": None, "updated_at": 2_000}))

        assert User.objects.get().username == "keepme"

    def test_nothing_usable_gives_user(self, deliver_now):
        deliver_now(user_event("user.created", ClerkUserDataFactory(email=None, first_name=None, last_name="")))

        assert User.objects.get().username == "user"


class TestLongAndOddValues:
    def test_names_longer_than_the_column_are_cut(self, deliver_now):
        deliver_now(user_event("user.created", ClerkUserDataFactory(first_name="A" * 500, username="u" * 400)))

        user = User.objects.get()
        assert user.first_name == "A" * 150
        assert len(user.username) <= 150

    def test_long_derived_username_made_unique_stays_within_the_column(self, deliver_now):
        for _ in range(2):
            deliver_now(user_event("user.created", ClerkUserDataFactory(username="n" * 150)))

        assert all(len(name) <= 150 for name in User.objects.values_list("username", flat=True))
        assert User.objects.values("username").distinct().count() == 2

    def test_non_string_fields_are_treated_as_absent(self, deliver_now):
        data = ClerkUserDataFactory(first_name=["x"], last_name=7, updated_at="yesterday", email_addresses="nope")

        deliver_now(user_event("user.created", data))

        user = User.objects.get()
        assert (user.first_name, user.last_name, user.email, user.clerk_updated_at) == ("", "", "", None)


class TestTombstones:
    def test_delete_tombstones_and_keeps_the_row(self, deliver_now):
        data = ClerkUserDataFactory()
        deliver_now(user_event("user.created", data))

        deliver_now(user_deleted_event(data["id"]))

        user = User.objects.get()
        assert user.deleted_at is not None and not user.is_active

    def test_delete_then_late_update_does_not_revive(self, deliver_now):
        data = ClerkUserDataFactory(first_name="Gone", updated_at=1_000)
        deliver_now(user_event("user.created", data))
        deliver_now(user_deleted_event(data["id"]))

        deliver_now(user_event("user.updated", data | {"first_name": "Zombie", "updated_at": 9_000}))

        user = User.objects.get()
        assert user.first_name == ""  # erased by the tombstone, and not revived
        assert not user.is_active and user.deleted_at is not None

    def test_delete_before_create_leaves_a_tombstone_and_provisions_nobody(self, deliver_now, provisioned, mailoutbox):
        data = ClerkUserDataFactory()

        deliver_now(user_deleted_event(data["id"]))
        deliver_now(user_event("user.created", data))

        user = User.objects.get()
        assert user.deleted_at is not None and not user.is_active
        assert provisioned == [] and mailoutbox == []

    def test_second_delete_keeps_the_first_deletion_time(self, deliver_now):
        data = ClerkUserDataFactory()
        deliver_now(user_deleted_event(data["id"]))
        first = User.objects.get().deleted_at

        deliver_now(user_deleted_event(data["id"]))

        assert User.objects.get().deleted_at == first


class TestProvisioning:
    def test_signal_and_welcome_email_once_across_created_updated_and_redelivery(
        self, deliver_now, provisioned, mailoutbox
    ):
        data = ClerkUserDataFactory(email="once@example.com", updated_at=1_000)
        created = user_event("user.created", data)

        deliver_now(created, msg_id="msg_a")
        deliver_now(created, msg_id="msg_a")
        deliver_now(created, msg_id="msg_b")  # the same event resent as a new message
        deliver_now(user_event("user.updated", data | {"first_name": "New", "updated_at": 2_000}))

        assert provisioned == [(data["id"], "webhook")]
        assert [m.to for m in mailoutbox] == [["once@example.com"]]
        provisioning = UserProvisioning.objects.get()
        assert provisioning.created_via == "webhook" and provisioning.welcome_email_sent_at is not None

    def test_nothing_is_kept_or_sent_when_the_transaction_rolls_back(
        self, mailoutbox, workspaces, django_capture_on_commit_callbacks
    ):
        from django.contrib.auth.models import Group
        from django.db import transaction

        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                user_upsert_from_clerk(ClerkUserDataFactory(), created_via=User.CreatedVia.WEBHOOK)
                transaction.set_rollback(True)

        assert mailoutbox == []
        assert not UserProvisioning.objects.exists()
        assert len(workspaces) == 1 and not Group.objects.exists()  # the receiver's row rolled back too

    def test_failing_signal_receiver_fails_the_delivery_and_keeps_nothing(self, deliver, mailoutbox):
        def broken(**kwargs):
            raise RuntimeError("receiver bug")

        user_provisioned.connect(broken)
        try:
            response = deliver(user_event("user.created", ClerkUserDataFactory()))
        finally:
            user_provisioned.disconnect(broken)

        assert response.status_code == 500  # Svix retries
        assert not User.objects.exists() and not UserProvisioning.objects.exists()
        assert mailoutbox == []

    def test_welcome_email_is_rendered_from_templates(self, deliver_now, mailoutbox):
        deliver_now(user_event("user.created", ClerkUserDataFactory(first_name="Zoë", email="zoe@example.com")))

        message = mailoutbox[0]
        assert message.subject == "Welcome, Zoë!"
        assert "Hi Zoë," in message.body and "zoe@example.com" in message.body

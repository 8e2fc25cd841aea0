"""The welcome email as background work, in process: its record, claims, batches, retries, and receivers.

Real SMTP conversations with a local server (accounts/tests/smtp_server.py);
the db_worker's mailer is run in this process (accounts/tests/workers.py,
run_queued_tasks). The tests with real worker processes are in
test_welcome_email_workers.py.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import time

import pytest
from django.contrib.auth.models import Group
from django.core.management import get_commands
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.models import User, UserProvisioning
from accounts.signals import user_provisioned
from accounts.sync.users import ProvisioningFailed, user_tombstone, user_upsert_from_clerk
from accounts.tests.factories import ClerkUserDataFactory, user_event
from accounts.tests.smtp_server import Mode
from accounts.tests.workers import run_queued_tasks
from accounts.welcome import delivery
from accounts.welcome.delivery import Delivery, retry_delay, welcome_emails_send_due
from accounts.welcome.mailer import Mailer
from accounts.welcome.queue import welcome_email_retry
from accounts.welcome.tasks import welcome_email_send
from webhooks.models import WebhookEvent
from webhooks.tests.deliveries import statements_at_most

pytestmark = pytest.mark.django_db
Status = UserProvisioning.WelcomeEmail


def create_user(email: str = "ada@example.com", **data) -> UserProvisioning:
    user = user_upsert_from_clerk(ClerkUserDataFactory(email=email, **data), created_via=User.CreatedVia.WEBHOOK).user
    return UserProvisioning.objects.get(user=user)


def make_due_now(provisioning: UserProvisioning) -> None:
    """Time passes: the scheduled retry is due now."""
    UserProvisioning.objects.filter(pk=provisioning.pk).update(welcome_email_next_attempt_at=timezone.now())


class TestWithTheImmediateBackend:
    """TASKS_BACKEND=immediate (development): sent in the web process right after the commit."""

    def test_delivery_sends_the_email_after_the_commit_with_an_unescaped_subject(
        self, deliver, smtp, django_capture_on_commit_callbacks
    ):
        data = ClerkUserDataFactory(first_name="Siobhán O'Brien & Co", email="siobhan@example.com")
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = deliver(user_event("user.created", data))
        assert response.status_code == 200
        assert smtp.connections == 0  # nothing was sent inside the transaction

        for callback in callbacks:
            callback()

        [message] = smtp.messages_to("siobhan@example.com")
        assert message.subject == "Welcome, Siobhán O'Brien & Co!"
        provisioning = UserProvisioning.objects.get(user__clerk_id=data["id"])
        assert (provisioning.welcome_email, provisioning.welcome_email_attempts) == (Status.SENT, 1)
        assert provisioning.welcome_email_sent_at is not None

    def test_a_refusing_mail_server_does_not_change_the_answer(self, deliver, smtp, django_capture_on_commit_callbacks):
        smtp.set_mode(Mode.REFUSE)
        data = ClerkUserDataFactory(email="refused@example.com")

        with django_capture_on_commit_callbacks(execute=True):
            response = deliver(user_event("user.created", data))

        assert response.status_code == 200, response.content
        assert WebhookEvent.objects.get().status == "processed"
        provisioning = UserProvisioning.objects.get(user__clerk_id=data["id"])
        assert (provisioning.welcome_email, provisioning.welcome_email_attempts) == (Status.PENDING, 1)
        assert "ConnectionRefusedError" in provisioning.welcome_email_last_error


class TestWithTheDatabaseBackend:
    def test_the_request_stores_the_pending_email_queues_no_task_and_sends_nothing(self, deliver, smtp, database_tasks):
        data = ClerkUserDataFactory(email="queued@example.com")

        response = deliver(user_event("user.created", data))

        assert response.status_code == 200
        assert smtp.connections == 0
        provisioning = UserProvisioning.objects.get(user__clerk_id=data["id"])
        assert (provisioning.welcome_email, provisioning.welcome_email_attempts) == (Status.PENDING, 0)
        assert provisioning.welcome_email_next_attempt_at <= timezone.now()  # due: the workers' mailers find it
        assert not DBTaskResult.objects.exists()

        run_queued_tasks()

        assert [m.recipients for m in smtp.messages] == [("queued@example.com",)]
        provisioning.refresh_from_db()
        assert provisioning.welcome_email == Status.SENT

    @pytest.mark.parametrize("mode", [Mode.REFUSE, Mode.TEMPFAIL, Mode.STALL])
    def test_a_failing_mail_server_is_retried_until_it_recovers_and_sends_once(
        self, mode, smtp, database_tasks, settings
    ):
        settings.EMAIL_TIMEOUT = 0.5  # the silent server costs half a second, not ten
        provisioning = create_user("retry@example.com")
        smtp.set_mode(mode)

        run_queued_tasks()

        provisioning.refresh_from_db()
        assert (provisioning.welcome_email, provisioning.welcome_email_attempts) == (Status.PENDING, 1)
        assert provisioning.welcome_email_last_error
        retry_in = provisioning.welcome_email_next_attempt_at - timezone.now()
        assert dt.timedelta(0) < retry_in <= dt.timedelta(seconds=60)
        run_queued_tasks()  # not due yet: nothing is tried
        assert UserProvisioning.objects.get(pk=provisioning.pk).welcome_email_attempts == 1

        smtp.set_mode(Mode.ACCEPT)
        make_due_now(provisioning)
        run_queued_tasks()
        run_queued_tasks()  # nothing left to do

        provisioning.refresh_from_db()
        assert (provisioning.welcome_email, provisioning.welcome_email_attempts) == (Status.SENT, 2)
        assert len(smtp.messages_to("retry@example.com")) == 1

    def test_a_user_deleted_before_the_email_went_out_is_skipped_with_the_reason(self, smtp, database_tasks):
        provisioning = create_user("gone@example.com")
        user_tombstone(provisioning.user.clerk_id, created_via=User.CreatedVia.WEBHOOK)

        run_queued_tasks()

        provisioning.refresh_from_db()
        assert provisioning.welcome_email == Status.SKIPPED
        assert "deleted" in provisioning.welcome_email_last_error
        assert smtp.connections == 0

    def test_a_newline_in_the_first_name_is_folded_into_the_subject_and_adds_no_header(
        self, deliver, smtp, database_tasks
    ):
        data = ClerkUserDataFactory(first_name="Ann\nBcc: evil@example.com", email="ann@example.com")
        assert deliver(user_event("user.created", data)).status_code == 200

        run_queued_tasks()

        [message] = smtp.messages
        assert message.recipients == ("ann@example.com",)
        assert message.subject == "Welcome, Ann Bcc: evil@example.com!"
        headers = email.message_from_bytes(message.raw, policy=email.policy.default).keys()
        assert "Bcc" not in headers and len(headers) == len(set(headers))
        provisioning = UserProvisioning.objects.get(user__clerk_id=data["id"])
        assert (provisioning.welcome_email, provisioning.welcome_email_attempts) == (Status.SENT, 1)
        assert provisioning.user.first_name == "Ann\nBcc: evil@example.com"  # stored as Clerk sent it

    def test_no_address_means_no_email_and_nothing_queued(self, deliver, database_tasks):
        deliver(user_event("user.created", ClerkUserDataFactory(email=None)))

        assert UserProvisioning.objects.get().welcome_email == Status.NOT_WANTED
        assert not DBTaskResult.objects.exists()


class TestBatches:
    """A worker pays per batch: three statements and one connection to the mail server, whatever its size."""

    @pytest.mark.django_db(transaction=True)  # no test transaction: no savepoints in the count
    def test_a_batch_costs_three_statements_and_one_connection(self, smtp, database_tasks):
        """The claim (one UPDATE), the users (one query), the outcomes (one UPDATE)."""
        for number in range(40):
            create_user(f"batch{number}@example.com")

        with statements_at_most(3):
            deliveries = welcome_emails_send_due(limit=100)

        assert deliveries == [Delivery.SENT] * 40
        assert smtp.connections == 1
        assert sorted(m.recipients[0] for m in smtp.messages) == sorted(f"batch{n}@example.com" for n in range(40))
        assert set(UserProvisioning.objects.values_list("welcome_email", "welcome_email_attempts")) == {
            (Status.SENT, 1)
        }
        assert UserProvisioning.objects.filter(welcome_email_sent_at=None).count() == 0

    def test_a_batch_takes_the_longest_due_first_and_no_more_than_its_size(self, smtp, database_tasks):
        provisionings = [create_user(f"due{number}@example.com") for number in range(5)]
        for minutes, provisioning in enumerate(provisionings):  # the last created is the longest due
            UserProvisioning.objects.filter(pk=provisioning.pk).update(
                welcome_email_next_attempt_at=timezone.now() - dt.timedelta(minutes=minutes)
            )

        assert welcome_emails_send_due(limit=2) == [Delivery.SENT, Delivery.SENT]

        assert sorted(m.recipients[0] for m in smtp.messages) == ["due3@example.com", "due4@example.com"]
        assert UserProvisioning.objects.filter(welcome_email=Status.PENDING).count() == 3

    def test_a_refused_recipient_fails_alone_and_the_rest_of_the_batch_goes_out(self, smtp, database_tasks):
        addresses = ["first@example.com", "nobody@example.com", "last@example.com"]
        for address in addresses:
            create_user(address)
        smtp.refused_recipients.add("nobody@example.com")

        assert sorted(welcome_emails_send_due(limit=10)) == sorted([Delivery.SENT, Delivery.RETRY, Delivery.SENT])

        states = dict(UserProvisioning.objects.values_list("user__email", "welcome_email"))
        assert states == {
            "first@example.com": Status.SENT,
            "nobody@example.com": Status.PENDING,
            "last@example.com": Status.SENT,
        }
        refused = UserProvisioning.objects.get(user__email="nobody@example.com")
        assert refused.welcome_email_last_error.startswith("SMTPRecipientsRefused")
        assert "nobody@example.com" not in refused.welcome_email_last_error  # no address in what is stored
        assert refused.welcome_email_next_attempt_at > timezone.now() and refused.welcome_email_claimed_until is None
        assert sorted(m.recipients[0] for m in smtp.messages) == ["first@example.com", "last@example.com"]

    def test_a_lost_connection_mid_batch_reconnects_for_the_next_email(self, smtp, database_tasks, monkeypatch):
        for address in ["a@example.com", "b@example.com", "c@example.com"]:
            create_user(address)
        built = delivery.welcome_message
        calls = []

        def breaking_the_second(user):
            calls.append(user.email)
            if len(calls) == 2:
                raise ConnectionResetError("the mail server went away")
            return built(user)

        monkeypatch.setattr(delivery, "welcome_message", breaking_the_second)

        assert sorted(welcome_emails_send_due(limit=10)) == sorted([Delivery.SENT, Delivery.RETRY, Delivery.SENT])
        assert smtp.connections == 2 and len(smtp.messages) == 2

    def test_the_mailer_drains_full_batches_then_waits(self, smtp, database_tasks, settings):
        settings.WELCOME_EMAIL_BATCH_SIZE = 3
        for number in range(7):
            create_user(f"drain{number}@example.com")

        assert Mailer().drain() == 7  # 3 + 3 + 1: a short batch means nothing more is due
        assert len(smtp.messages) == 7 and smtp.connections == 3
        assert Mailer().drain() == 0


class TestClaim:
    def test_a_live_claim_cannot_be_taken_and_an_expired_one_can(self, smtp, database_tasks, settings):
        provisioning = create_user()
        UserProvisioning.objects.filter(pk=provisioning.pk).update(
            welcome_email_claimed_until=timezone.now() + dt.timedelta(seconds=30)
        )
        assert welcome_email_send.call(provisioning.pk) == Delivery.NOT_CLAIMED

        UserProvisioning.objects.filter(pk=provisioning.pk).update(
            welcome_email_claimed_until=timezone.now() - dt.timedelta(seconds=1)
        )
        assert welcome_email_send.call(provisioning.pk) == Delivery.SENT
        assert welcome_email_send.call(provisioning.pk) == Delivery.NOT_CLAIMED
        assert len(smtp.messages) == 1

    def test_a_retry_is_not_taken_before_it_is_due(self, smtp, database_tasks):
        provisioning = create_user()
        UserProvisioning.objects.filter(pk=provisioning.pk).update(
            welcome_email_next_attempt_at=timezone.now() + dt.timedelta(minutes=1)
        )
        assert welcome_email_send.call(provisioning.pk) == Delivery.NOT_CLAIMED
        assert smtp.connections == 0

    @pytest.mark.parametrize("a_sends", [True, False], ids=["A-sent", "A-failed"])
    def test_a_worker_whose_claim_was_replaced_records_nothing(self, a_sends, smtp, database_tasks, monkeypatch):
        """Worker A's lease expired mid-send and B claimed: A's outcome must not overwrite B's claim."""
        provisioning = create_user()
        built = delivery.welcome_message

        def b_claims_meanwhile(user):
            UserProvisioning.objects.filter(pk=provisioning.pk).update(
                welcome_email_attempts=provisioning.welcome_email_attempts + 2
            )
            if not a_sends:
                raise ConnectionRefusedError("A's send failed")
            return built(user)

        monkeypatch.setattr(delivery, "welcome_message", b_claims_meanwhile)
        welcome_email_send.call(provisioning.pk)

        provisioning.refresh_from_db()
        assert provisioning.welcome_email == Status.PENDING  # A's outcome was not written over B's claim
        assert provisioning.welcome_email_last_error == ""
        assert provisioning.welcome_email_claimed_until is not None


class TestDeadline:
    """A send ends by its deadline, half the lease after its claim, whatever EMAIL_TIMEOUT allows each operation."""

    def test_a_server_slower_than_the_deadline_is_hung_up_on_and_the_send_retried(self, smtp, database_tasks, settings):
        settings.WELCOME_EMAIL_LEASE_SECONDS, settings.EMAIL_TIMEOUT = 4, 30  # the deadline: 2 s after the claim
        smtp.delay_replies(60)  # the greeting alone would take a minute, within EMAIL_TIMEOUT twice over
        provisioning = create_user("slow@example.com")

        assert welcome_email_send.call(provisioning.pk) == Delivery.RETRY

        provisioning.refresh_from_db()
        assert (provisioning.welcome_email, provisioning.welcome_email_attempts) == (Status.PENDING, 1)
        assert provisioning.welcome_email_last_error.startswith("DeadlinePassed: ")
        assert provisioning.welcome_email_claimed_until is None
        assert smtp.connections == 1 and smtp.message_count() == 0

    def test_a_stalled_starttls_handshake_is_cut_at_the_deadline_too(self, smtp, database_tasks, settings):
        settings.WELCOME_EMAIL_LEASE_SECONDS, settings.EMAIL_TIMEOUT = 4, 30
        settings.EMAIL_USE_TLS = True  # the server offers STARTTLS, then never answers the handshake
        provisioning = create_user("tls@example.com")

        assert welcome_email_send.call(provisioning.pk) == Delivery.RETRY

        provisioning.refresh_from_db()
        assert provisioning.welcome_email_last_error.startswith("DeadlinePassed: ")
        assert smtp.connections == 1 and smtp.message_count() == 0

    def test_implicit_tls_is_refused_with_a_clear_error_rather_than_sent_without_a_deadline(
        self, smtp, database_tasks, settings
    ):
        settings.EMAIL_USE_SSL = True  # not read from the environment; only a settings override sets it
        provisioning = create_user("ssl@example.com")

        assert welcome_email_send.call(provisioning.pk) == Delivery.RETRY

        provisioning.refresh_from_db()
        assert "EMAIL_USE_SSL is not supported" in provisioning.welcome_email_last_error
        assert smtp.connections == 0

    def test_a_message_taken_but_never_answered_is_failed_for_staff_not_retried(self, smtp, database_tasks, settings):
        """It may have been delivered: sending it again could make two. Staff check, then retry."""
        settings.EMAIL_TIMEOUT = 0.5
        smtp.set_mode(Mode.HANG)
        provisioning = create_user("unanswered@example.com")

        assert welcome_email_send.call(provisioning.pk) == Delivery.FAILED

        provisioning.refresh_from_db()
        assert provisioning.welcome_email == Status.FAILED
        assert "may have been delivered" in provisioning.welcome_email_last_error

        smtp.set_mode(Mode.ACCEPT)
        assert welcome_email_retry([provisioning.pk]) == [provisioning.pk]
        run_queued_tasks()

        provisioning.refresh_from_db()
        assert provisioning.welcome_email == Status.SENT
        assert len(smtp.messages_to("unanswered@example.com")) == 1


class TestRetrySchedule:
    def test_first_retry_within_a_minute_then_backing_off_to_an_hour_for_at_least_a_day(self, settings):
        settings.WELCOME_EMAIL_RETRY_BASE_SECONDS = 30
        delays = []
        attempts = 1
        while (delay := retry_delay(attempts)) is not None:
            delays.append(delay)
            attempts += 1

        assert delays[0] <= dt.timedelta(seconds=60)
        assert delays == sorted(delays)
        assert max(delays) == dt.timedelta(hours=1)
        assert sum(delays, dt.timedelta()) >= dt.timedelta(hours=24)
        assert sum(delays[:-1], dt.timedelta()) < dt.timedelta(hours=24)  # and not much longer

    def test_the_last_failure_leaves_the_email_failed_and_visible(self, smtp, database_tasks, settings):
        provisioning = create_user()
        smtp.set_mode(Mode.TEMPFAIL)
        attempts_in_a_day = next(n for n in range(1, 100) if retry_delay(n) is None)
        UserProvisioning.objects.filter(pk=provisioning.pk).update(welcome_email_attempts=attempts_in_a_day - 1)

        assert welcome_email_send.call(provisioning.pk) == Delivery.FAILED

        provisioning.refresh_from_db()
        assert provisioning.welcome_email == Status.FAILED
        assert "451" in provisioning.welcome_email_last_error
        make_due_now(provisioning)
        assert welcome_emails_send_due(limit=10) == []  # failed for good: no worker tries it again


class TestDeadClaims:
    def test_a_dead_workers_claim_is_sent_once_its_lease_ran_out_and_a_live_one_is_left_alone(
        self, smtp, database_tasks, settings
    ):
        settings.WELCOME_EMAIL_LEASE_SECONDS = 60
        long_ago, soon = timezone.now() - dt.timedelta(minutes=5), timezone.now() + dt.timedelta(seconds=30)
        dead, live = create_user("dead@example.com"), create_user("live@example.com")
        UserProvisioning.objects.filter(pk=dead.pk).update(
            welcome_email_claimed_until=long_ago, welcome_email_attempts=1
        )
        UserProvisioning.objects.filter(pk=live.pk).update(welcome_email_claimed_until=soon, welcome_email_attempts=1)

        assert welcome_emails_send_due(limit=10) == [Delivery.SENT]
        assert welcome_emails_send_due(limit=10) == []

        assert [m.recipients for m in smtp.messages] == [("dead@example.com",)]
        dead.refresh_from_db()
        assert (dead.welcome_email, dead.welcome_email_attempts) == (Status.SENT, 2)


class TestStaffRetry:
    def test_a_failed_email_is_queued_again_with_a_fresh_schedule(self, smtp, database_tasks):
        provisioning = create_user()
        UserProvisioning.objects.filter(pk=provisioning.pk).update(
            welcome_email=Status.FAILED, welcome_email_attempts=30, welcome_email_last_error="451"
        )

        assert welcome_email_retry([provisioning.pk]) == [provisioning.pk]
        run_queued_tasks()

        provisioning.refresh_from_db()
        assert (provisioning.welcome_email, provisioning.welcome_email_attempts) == (Status.SENT, 1)
        assert len(smtp.messages) == 1

    def test_sent_and_claimed_emails_are_left_alone(self, database_tasks):
        sent, claimed = create_user("a@example.com"), create_user("b@example.com")
        UserProvisioning.objects.filter(pk=sent.pk).update(welcome_email=Status.SENT)
        UserProvisioning.objects.filter(pk=claimed.pk).update(
            welcome_email_claimed_until=timezone.now() + dt.timedelta(minutes=1)
        )

        assert welcome_email_retry([sent.pk, claimed.pk]) == []


class TestReceivers:
    """user_provisioned runs inside the creating transaction: all or nothing."""

    @pytest.fixture
    def failing_receiver(self):
        calls = []

        def receiver(sender, user, created_via, **kwargs):
            calls.append(user.clerk_id)
            if len(calls) == 1:
                raise RuntimeError("the workspace service is down")

        user_provisioned.connect(receiver, weak=False, dispatch_uid="test-failing-receiver")
        yield calls
        user_provisioned.disconnect(dispatch_uid="test-failing-receiver")

    def test_a_raising_receiver_fails_the_delivery_keeps_nothing_and_the_redelivery_provisions_once(
        self, deliver, database_tasks, workspaces, failing_receiver
    ):
        data = ClerkUserDataFactory(email="flaky@example.com")
        payload = user_event("user.created", data)

        response = deliver(payload, msg_id="msg_flaky")

        assert response.status_code == 500
        event = WebhookEvent.objects.get()
        assert event.status == "failed" and "the workspace service is down" in event.last_error
        assert not User.objects.exists() and not UserProvisioning.objects.exists()
        assert not Group.objects.exists()

        response = deliver(payload, msg_id="msg_flaky")  # Svix retries

        assert response.status_code == 200
        assert UserProvisioning.objects.get().welcome_email == Status.PENDING
        assert list(Group.objects.values_list("name", flat=True)) == [f"workspace-{data['id']}"]

    def test_a_receivers_rows_roll_back_with_the_user(self, workspaces, django_capture_on_commit_callbacks):
        from django.db import transaction

        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                user_upsert_from_clerk(ClerkUserDataFactory(), created_via=User.CreatedVia.WEBHOOK)
                transaction.set_rollback(True)

        assert workspaces  # it ran, inside the transaction…
        assert not Group.objects.exists() and not User.objects.exists()  # …and its row went with it

    @pytest.mark.django_db(transaction=True)  # the just-in-time creation is its own outermost transaction
    def test_just_in_time_creation_with_a_raising_receiver_is_a_503_to_retry(
        self, client, clerk_api, make_token, failing_receiver, workspaces
    ):
        data = ClerkUserDataFactory()
        clerk_api.users[data["id"]] = data
        headers = {"Authorization": f"Bearer {make_token(data['id'])}"}

        response = client.get("/api/me/", headers=headers)

        assert response.status_code == 503
        assert response["Retry-After"]
        assert not User.objects.exists() and not Group.objects.exists()

        response = client.get("/api/me/", headers=headers)

        assert response.status_code == 200
        assert Group.objects.count() == 1

    def test_a_backfill_with_a_raising_receiver_stops_with_a_one_line_reason(self, failing_receiver):
        with pytest.raises(ProvisioningFailed):
            user_upsert_from_clerk(ClerkUserDataFactory(), created_via=User.CreatedVia.SYNC)


def test_db_worker_is_this_projects_command():
    """accounts is before django_tasks_db in INSTALLED_APPS, so its db_worker (outage-proof, sweeping) wins."""
    assert get_commands()["db_worker"] == "accounts"


@pytest.mark.django_db(transaction=True)
def test_the_quick_start_shows_the_welcome_email_on_the_console(live_server, settings, capsys):
    """A fresh clone: the immediate backend (DEBUG's default) and the console email backend, no worker."""
    from django.core.management import call_command

    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    assert settings.TASKS["default"]["BACKEND"] == "django_tasks.backends.immediate.ImmediateBackend"

    call_command(
        "send_clerk_webhook",
        "user.created",
        "--url",
        f"{live_server.url}/webhooks/clerk/",
        "--email",
        "ada@example.com",
        "--first-name",
        "Ada",
    )

    printed = capsys.readouterr().out
    assert "Subject: Welcome, Ada!" in printed
    assert "To: ada@example.com" in printed


@pytest.mark.django_db(transaction=True)  # the mailer's thread has its own connection: it must see committed rows
def test_a_stopped_mailer_finishes_and_records_the_batch_in_hand(smtp, database_tasks, settings):
    """A deploy stops workers: the emails already claimed are sent and recorded, not left to be sent twice."""
    settings.WELCOME_EMAIL_LEASE_SECONDS = 40  # the batch may take half of it: stop() waits that long, plus 5 s
    settings.EMAIL_TIMEOUT = 10  # each answer comes 3 s late: slow, not lost
    for address in ["one@example.com", "two@example.com", "three@example.com"]:
        create_user(address)
    smtp.delay_replies(3, to_the_message_only=True)  # a 9 s batch: longer than a plain thread's 5 s stop wait
    mailer = Mailer()
    mailer.start()
    deadline = time.monotonic() + 60  # a bound, not a timing: it trips only if nothing is ever sent
    while smtp.message_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)

    mailer.stop()

    assert set(UserProvisioning.objects.values_list("welcome_email", "welcome_email_claimed_until")) == {
        (Status.SENT, None)
    }
    assert smtp.message_count() == 3

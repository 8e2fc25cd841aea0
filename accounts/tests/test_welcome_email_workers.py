"""The welcome email with real `db_worker` processes, a real SMTP conversation and real faults.

Each test starts workers as separate processes on the test database
(TASKS_BACKEND=database), with a local SMTP server switched between
accepting, refusing, answering 451, stalling, hanging and answering slowly,
and kills or cuts what a production incident would. Waits poll a condition up to a generous bound;
nothing is timed.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test import Client

from accounts.models import User, UserProvisioning
from accounts.sync.users import user_upsert_from_clerk
from accounts.tests.factories import ClerkUserDataFactory, user_deleted_event, user_event
from accounts.tests.smtp_server import Mode
from accounts.tests.workers import WAIT_TIMEOUT, worker_processes
from accounts.welcome.tasks import welcome_email_trigger
from config.tests.helpers import deliver_to
from config.tests.processes import wait_until
from webhooks.tests.concurrency import run_concurrently
from webhooks.tests.deliveries import new_msg_id
from webhooks.tests.tcp_proxy import TcpProxy

pytestmark = [
    pytest.mark.postgres(
        reason="db_worker processes share the test database with the test, which needs a server "
        "(SQLite's test database lives in the test process's memory)"
    ),
    pytest.mark.django_db(transaction=True),
]

Status = UserProvisioning.WelcomeEmail
# Short retries and leases so the tests take seconds; the defaults are checked in config/tests.
FAST = {"WELCOME_EMAIL_RETRY_BASE_SECONDS": 0.5, "WELCOME_EMAIL_LEASE_SECONDS": 3, "WELCOME_EMAIL_SWEEP_SECONDS": 0.5}


@pytest.fixture
def workers(smtp):
    """workers(**settings) starts a db_worker process sending to the test's SMTP server; all stopped after."""
    with worker_processes(EMAIL_PORT=smtp.port, EMAIL_TIMEOUT=1, **FAST) as start:
        yield start


def welcome_states(*clerk_ids: str) -> list[str]:
    return list(UserProvisioning.objects.filter(user__clerk_id__in=clerk_ids).values_list("welcome_email", flat=True))


def bearer(make_token, clerk_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(clerk_id)}"}


@pytest.mark.parametrize("mode", [Mode.REFUSE, Mode.TEMPFAIL, Mode.STALL])
def test_a_failing_mail_server_never_reaches_the_requests_and_each_user_gets_one_email_after_it_recovers(
    mode, smtp, database_tasks, clerk_api, make_token, workers
):
    smtp.set_mode(mode)
    by_webhook = ClerkUserDataFactory(email="hook@example.com")
    just_in_time = clerk_api.add_user(ClerkUserDataFactory(email="jit@example.com"))
    client = Client()

    delivery = deliver_to(client, user_event("user.created", by_webhook))
    me = client.get("/api/me/", headers=bearer(make_token, just_in_time["id"]))

    assert delivery.status_code == 200, delivery.content
    assert me.status_code == 200 and me.json()["clerk_id"] == just_in_time["id"], me.content
    assert User.objects.filter(clerk_id__in=[by_webhook["id"], just_in_time["id"]]).count() == 2
    assert smtp.connections == 0  # neither request path talked to the mail server

    workers()
    wait_until(
        lambda: (
            UserProvisioning.objects.filter(welcome_email_attempts__gte=1).exclude(welcome_email_last_error="").count()
            == 2
        ),
        what=f"both sends to fail against the mail server ({mode})",
    )
    assert welcome_states(by_webhook["id"], just_in_time["id"]) == [Status.PENDING] * 2

    smtp.set_mode(Mode.ACCEPT)
    wait_until(lambda: welcome_states(by_webhook["id"], just_in_time["id"]) == [Status.SENT] * 2, what="both sent")

    assert len(smtp.messages_to("hook@example.com")) == 1
    assert len(smtp.messages_to("jit@example.com")) == 1
    assert smtp.message_count() == 2


def test_a_worker_killed_mid_send_is_replaced_and_the_email_goes_out_once(smtp, database_tasks, workers):
    smtp.set_mode(Mode.HANG)  # the server takes the message and never answers
    data = ClerkUserDataFactory(email="killed@example.com")
    assert deliver_to(Client(), user_event("user.created", data)).status_code == 200
    # Its send is cut 5 s after the claim (half its lease): ample time to kill it first.
    first = workers(EMAIL_TIMEOUT=300, WELCOME_EMAIL_LEASE_SECONDS=10)

    assert smtp.hanging.wait(timeout=WAIT_TIMEOUT), "the first worker never reached the mail server"
    first.kill()  # SIGKILL mid-send
    smtp.set_mode(Mode.ACCEPT)  # the hung conversation ends, its message never accepted
    provisioning = UserProvisioning.objects.get(user__clerk_id=data["id"])
    assert (provisioning.welcome_email, provisioning.welcome_email_attempts) == (Status.PENDING, 1)
    assert provisioning.welcome_email_claimed_until is not None  # the dead worker's claim

    workers()
    wait_until(lambda: welcome_states(data["id"]) == [Status.SENT], what="the replacement worker to send it")

    assert len(smtp.messages_to("killed@example.com")) == 1
    assert smtp.message_count() == 1
    provisioning.refresh_from_db()
    assert provisioning.welcome_email_attempts == 2


def attempts(clerk_id: str) -> int:
    return UserProvisioning.objects.get(user__clerk_id=clerk_id).welcome_email_attempts


# A lease of a few seconds, and a per-operation EMAIL_TIMEOUT far longer than it (the incident: 20 s against 60 s).
SHORT_LEASE = 4
SLOW_SERVER = {"WELCOME_EMAIL_LEASE_SECONDS": SHORT_LEASE, "EMAIL_TIMEOUT": SHORT_LEASE * 10}


def test_a_mail_server_slower_than_the_lease_gets_one_email_from_two_workers(smtp, database_tasks, workers):
    """Every reply takes twice the lease, each well within EMAIL_TIMEOUT. Each attempt is cut at its deadline,
    so no conversation outlives its claim; when the server speeds up, one email has gone out, not one per claim."""
    smtp.delay_replies(SHORT_LEASE * 2)
    data = ClerkUserDataFactory(email="slow@example.com")
    assert deliver_to(Client(), user_event("user.created", data)).status_code == 200
    workers(**SLOW_SERVER), workers(**SLOW_SERVER)

    wait_until(lambda: attempts(data["id"]) >= 2, what="the send to be claimed a second time")
    smtp.delay_replies(0)  # the server is fast again: conversations under way go on
    wait_until(lambda: welcome_states(data["id"]) == [Status.SENT], what="the email recorded as sent")
    wait_until(lambda: smtp.open_conversations == 0, what="every conversation with the mail server to end")

    assert len(smtp.messages_to("slow@example.com")) == 1
    assert smtp.message_count() == 1


def test_a_message_taken_but_confirmed_too_late_is_not_sent_again_by_either_worker(smtp, database_tasks, workers):
    """The server takes the message at once but answers it after twice the lease: it may have been delivered
    (here it was), so the email is failed for staff to check, never sent again on the next claim."""
    smtp.delay_replies(SHORT_LEASE * 2, to_the_message_only=True)
    data = ClerkUserDataFactory(email="unconfirmed@example.com")
    assert deliver_to(Client(), user_event("user.created", data)).status_code == 200
    workers(**SLOW_SERVER), workers(**SLOW_SERVER)

    wait_until(
        lambda: welcome_states(data["id"]) != [Status.PENDING] or smtp.message_count() > 1,
        what="the send's outcome to be recorded (or a second message)",
    )
    smtp.delay_replies(0)
    wait_until(lambda: smtp.open_conversations == 0, what="every conversation with the mail server to end")

    assert len(smtp.messages_to("unconfirmed@example.com")) == 1
    provisioning = UserProvisioning.objects.get(user__clerk_id=data["id"])
    assert provisioning.welcome_email == Status.FAILED
    assert "may have been delivered" in provisioning.welcome_email_last_error


def test_two_workers_send_200_pending_emails_each_exactly_once(smtp, database_tasks, workers):
    addresses = [f"bulk{n}@example.com" for n in range(200)]
    for address in addresses:
        with transaction.atomic():
            user = user_upsert_from_clerk(ClerkUserDataFactory(email=address), created_via=User.CreatedVia.WEBHOOK).user
            # A second trigger for every email, so both workers can hold one for the same email at once.
            welcome_email_trigger(user.provisioning.pk)

    workers(), workers()
    wait_until(
        lambda: UserProvisioning.objects.filter(welcome_email=Status.SENT).count() == 200,
        what="200 emails sent",
        timeout=WAIT_TIMEOUT * 2,
    )

    received = Counter(recipient for message in list(smtp.messages) for recipient in message.recipients)
    assert received == Counter(addresses)
    assert set(UserProvisioning.objects.values_list("welcome_email_attempts", flat=True)) == {1}


def test_a_worker_keeps_running_through_a_database_outage_and_resumes(smtp, database_tasks, workers):
    params = connection.settings_dict
    proxy = TcpProxy((params["HOST"] or "127.0.0.1", int(params["PORT"] or 5432)))
    port = proxy.start()
    try:
        worker = workers(port=port)
        before = ClerkUserDataFactory(email="before@example.com")
        deliver_to(Client(), user_event("user.created", before))
        wait_until(lambda: smtp.messages_to("before@example.com"), what="the first email")
        # The worker records "sent" in its own commit after the server accepted the email: cutting the
        # database before that commit would test record_sent's retry instead of the worker's loop.
        wait_until(lambda: welcome_states(before["id"]) == [Status.SENT], what="the first email recorded as sent")

        proxy.stop()  # the database goes away for the worker (the test keeps its own connection)
        during = ClerkUserDataFactory(email="during@example.com")
        assert deliver_to(Client(), user_event("user.created", during)).status_code == 200
        wait_until(lambda: "database unavailable" in worker.output(), what="the worker to notice the outage")
        assert worker.alive

        proxy.start(port)
        wait_until(lambda: smtp.messages_to("during@example.com"), what="the worker to resume")
        wait_until(lambda: welcome_states(during["id"]) == [Status.SENT], what="the second email recorded as sent")
    finally:
        proxy.stop()

    assert worker.alive
    assert welcome_states(before["id"], during["id"]) == [Status.SENT] * 2
    assert smtp.message_count() == 2


@pytest.mark.parametrize("seed", [7, 11])
def test_duplicated_shuffled_concurrent_paths_end_with_one_email_one_signal_one_receiver_row_per_user(
    seed, smtp, database_tasks, clerk_api, make_token, provisioned, workspaces, workers
):
    """Webhook deliveries (some twice with one id, some resent with a new id), just-in-time requests
    and a delete, shuffled and released together; then a worker sends what is pending."""
    rng = random.Random(seed)
    users = [clerk_api.add_user(ClerkUserDataFactory(email=f"conv{seed}-{n}@example.com")) for n in range(4)]
    deleted, active = users[0], users[1:]
    jobs = []
    for data in users:
        created, msg_id = user_event("user.created", data), new_msg_id()
        token = make_token(data["id"])
        jobs += [
            ("webhook", lambda client, created=created, msg_id=msg_id: deliver_to(client, created, msg_id=msg_id)),
            ("webhook", lambda client, created=created, msg_id=msg_id: deliver_to(client, created, msg_id=msg_id)),
            ("webhook", lambda client, created=created: deliver_to(client, created, msg_id=new_msg_id())),
            (
                f"me-{data['id']}",
                lambda client, token=token: client.get("/api/me/", headers={"Authorization": f"Bearer {token}"}),
            ),
        ]
    gone = user_deleted_event(deleted["id"])
    jobs.append(("webhook", lambda client: deliver_to(client, gone, msg_id=new_msg_id())))
    rng.shuffle(jobs)

    answers = run_concurrently(jobs)

    for answer in answers:
        if answer.name == "webhook":
            assert answer.status in (200, 202), answer
        elif answer.name == f"me-{deleted['id']}":
            assert answer.status in (200, 401), answer  # before or after its tombstone
        else:
            assert answer.status == 200, answer
    workers()
    wait_until(
        lambda: not UserProvisioning.objects.filter(welcome_email=Status.PENDING).exists(), what="no email pending"
    )

    for data in active:
        assert len(smtp.messages_to(data["email_addresses"][0]["email_address"])) == 1
    assert smtp.messages_to(deleted["email_addresses"][0]["email_address"]) == []
    signals = Counter(clerk_id for clerk_id, _created_via in provisioned)
    assert all(signals[data["id"]] == 1 for data in active) and signals[deleted["id"]] <= 1
    assert sorted(Group.objects.values_list("name", flat=True)) == sorted(
        f"workspace-{clerk_id}" for clerk_id in signals
    )
    assert len(workspaces) == sum(signals.values())
    assert User.objects.count() == UserProvisioning.objects.count() + (0 if signals[deleted["id"]] else 1)

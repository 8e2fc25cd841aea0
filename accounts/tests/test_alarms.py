"""Each alarm raised and cleared by its condition, logged once each way and mailed once per raise (in process).

The same across real worker processes: accounts/tests/test_alarm_workers.py.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.alarms.evaluate import alarms_evaluate
from accounts.alarms.heartbeats import heartbeat_start
from accounts.alarms.models import AlarmState, WorkerHeartbeat
from accounts.models import UserProvisioning
from accounts.tests.conftest import DATABASE_TASKS
from accounts.tests.factories import ClerkLedgerEventFactory, UserFactory
from config.tests.helpers import load_fixture
from webhooks.models import WebhookEvent
from webhooks.tests.deliveries import UNKNOWN_WEBHOOK_SECRET

pytestmark = pytest.mark.django_db

ADMINS = [("Ops", "ops@example.com")]


def failed_event(deliver):
    return ClerkLedgerEventFactory(status=WebhookEvent.Status.FAILED)


def processed(event) -> None:
    WebhookEvent.objects.filter(pk=event.pk).update(status=WebhookEvent.Status.PROCESSED)


def refused_delivery(deliver):
    assert deliver(load_fixture("user__created"), secret=UNKNOWN_WEBHOOK_SECRET).status_code == 400


def accepted_delivery(deliver, _):
    assert deliver(load_fixture("user__created")).status_code == 200


def no_worker(deliver):
    """Every worker silent for just over 2 minutes."""
    WorkerHeartbeat.objects.update(last_seen_at=timezone.now() - dt.timedelta(seconds=121))


def worker_started(deliver, _):
    heartbeat_start()


def welcome_email_row(clerk_id: str, **welcome_email) -> UserProvisioning:
    return UserProvisioning.objects.create(
        user=UserFactory(clerk_id=clerk_id), created_via="webhook", provisioned_at=timezone.now(), **welcome_email
    )


def failed_welcome_email(deliver):
    return welcome_email_row("user_2welcomefailed", welcome_email=UserProvisioning.WelcomeEmail.FAILED)


def overdue_welcome_email(deliver):
    return welcome_email_row(
        "user_2welcomeoverdue",
        welcome_email=UserProvisioning.WelcomeEmail.PENDING,
        welcome_email_next_attempt_at=timezone.now() - dt.timedelta(minutes=16),
        welcome_email_claimed_until=timezone.now() + dt.timedelta(hours=1),  # a stuck worker's: no mailer takes it
    )


def welcome_email_sent(deliver, provisioning):
    UserProvisioning.objects.filter(pk=provisioning.pk).update(welcome_email=UserProvisioning.WelcomeEmail.SENT)


CASES = {
    "events_failed": (failed_event, lambda deliver, event: processed(event)),
    "deliveries_refused": (refused_delivery, accepted_delivery),
    "worker_down": (no_worker, worker_started),
    "welcome_email_failing (failed)": (failed_welcome_email, welcome_email_sent),
    "welcome_email_failing (overdue)": (overdue_welcome_email, welcome_email_sent),
}


@pytest.fixture
def alarm_settings(settings):
    settings.ADMINS = ADMINS
    settings.TASKS = DATABASE_TASKS  # worker_down is about db_workers; mails are queued as tasks, run below


@pytest.mark.parametrize("case", list(CASES))
def test_each_alarm_is_raised_and_cleared_by_its_condition_logged_once_each_way_and_mailed_once(
    case, deliver, alarm_settings, caplog, mailoutbox
):
    from accounts.tests.workers import run_queued_tasks

    name = case.split(" ")[0]
    make_true, make_false = CASES[case]
    heartbeat_start()
    caplog.set_level(logging.INFO, logger="clerk_sync.alarms")

    assert alarms_evaluate()[name] is False
    state = make_true(deliver)
    assert alarms_evaluate()[name] is True
    assert alarms_evaluate()[name] is True  # a second evaluation changes nothing
    run_queued_tasks()
    make_false(deliver, state)
    assert alarms_evaluate()[name] is False
    assert alarms_evaluate()[name] is False

    records = [
        (r.levelname, r.getMessage().split(":")[0], r.alarm) for r in caplog.records if r.name.endswith("alarms")
    ]
    assert records == [("ERROR", "alarm raised", name), ("INFO", "alarm cleared", name)]
    assert [(m.subject, m.to) for m in mailoutbox] == [(f"[Django] alarm raised: {name}", ["ops@example.com"])]
    assert AlarmState.objects.get(name=name).raised is False


def test_nothing_is_mailed_without_admins(settings, caplog, mailoutbox):
    from accounts.tests.workers import run_queued_tasks

    settings.ADMINS, settings.TASKS = [], DATABASE_TASKS
    ClerkLedgerEventFactory(status=WebhookEvent.Status.FAILED)

    assert alarms_evaluate()["events_failed"] is True
    run_queued_tasks()
    assert mailoutbox == []


def test_drift_and_reconcile_failing_are_registered_and_clear_until_reconciliation_raises_them():
    assert {"drift": False, "reconcile_failing": False}.items() <= alarms_evaluate().items()


def test_worker_down_stays_clear_when_background_work_runs_in_the_web_process(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

    assert alarms_evaluate()["worker_down"] is False


def test_a_raised_alarm_is_a_banner_on_the_admin_index_and_the_health_page_which_evaluates_it(admin_client):
    ClerkLedgerEventFactory(status=WebhookEvent.Status.FAILED)

    index = admin_client.get(reverse("admin:index")).content.decode()
    assert 'id="alarm-events_failed"' not in index  # nothing evaluated yet
    health = admin_client.get(reverse("admin:webhooks_webhookevent_health")).content.decode()
    assert 'id="alarm-events_failed"' in health and "1 events failed" in health
    assert 'id="alarm-events_failed"' in admin_client.get(reverse("admin:index")).content.decode()


def test_the_health_page_lists_live_workers_only(admin_client):
    heartbeat_start()
    WorkerHeartbeat.objects.create(
        host="old-host", pid=4242, started_at=timezone.now(), last_seen_at=timezone.now() - dt.timedelta(minutes=3)
    )

    page = admin_client.get(reverse("admin:webhooks_webhookevent_health")).content.decode()

    import os
    import socket

    assert f"{socket.gethostname()} pid {os.getpid()}" in page
    assert "old-host" not in page

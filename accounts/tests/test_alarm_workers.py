"""Alarms with real db_worker processes: raised, logged and mailed once across two workers; worker_down after SIGKILL.

Each worker evaluates every 0.2 s (ALARM_INTERVAL_SECONDS); waits poll a
condition up to a generous bound, nothing is timed.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from accounts.alarms.evaluate import alarms_evaluate
from accounts.alarms.models import AlarmState, WorkerHeartbeat
from accounts.tests.conftest import DATABASE_TASKS
from accounts.tests.factories import ClerkLedgerEventFactory
from accounts.tests.workers import WorkerProcess, worker_processes
from config.tests.processes import wait_until
from webhooks.models import WebhookEvent

pytestmark = [
    pytest.mark.postgres(reason="db_worker processes share the test database with the test, which needs a server"),
    pytest.mark.django_db(transaction=True),
]

ADMINS = "Ops Team <ops@example.com>, Second <second@example.com>"


@pytest.fixture
def workers(smtp):
    with worker_processes(EMAIL_PORT=smtp.port, ADMINS=ADMINS, ALARM_INTERVAL_SECONDS=0.2) as start:
        yield start


def raised(name: str) -> bool:
    return AlarmState.objects.filter(name=name, raised=True).exists()


def cleared(name: str) -> bool:
    return not raised(name)


def every_worker_evaluated_after(moment: dt.datetime, count: int) -> bool:
    """Each worker beat twice after `moment`: it beats, then evaluates, so one evaluation ran wholly after it."""
    beats = list(WorkerHeartbeat.objects.filter(last_seen_at__gt=moment).values_list("pk", "last_seen_at"))
    return len(beats) == count and all(seen > moment + dt.timedelta(seconds=0.2) for _, seen in beats)


def log_lines(workers: list[WorkerProcess], pattern: str) -> list[str]:
    return [line for worker in workers for line in worker.output().splitlines() if re.search(pattern, line)]


def test_an_alarm_is_raised_logged_and_mailed_once_and_cleared_once_across_two_workers(workers, smtp):
    both = [workers(), workers()]
    wait_until(lambda: WorkerHeartbeat.objects.count() == 2, what="both workers' heartbeats")
    event = ClerkLedgerEventFactory(status=WebhookEvent.Status.FAILED)

    wait_until(lambda: raised("events_failed"), what="events_failed raised")
    raised_at = timezone.now()
    wait_until(lambda: smtp.message_count() >= 1, what="the alarm email")
    wait_until(lambda: every_worker_evaluated_after(raised_at, 2), what="both workers evaluating again")
    WebhookEvent.objects.filter(pk=event.pk).update(status=WebhookEvent.Status.PROCESSED)
    wait_until(lambda: cleared("events_failed"), what="events_failed cleared")
    cleared_at = timezone.now()
    wait_until(lambda: every_worker_evaluated_after(cleared_at, 2), what="both workers evaluating again")

    assert sorted(m.recipients for m in smtp.messages) == [("ops@example.com", "second@example.com")]
    assert smtp.messages[0].subject == "[Django] alarm raised: events_failed"
    assert len(log_lines(both, r"ERROR clerk_sync\.alarms alarm raised: events_failed")) == 1
    assert len(log_lines(both, r"INFO clerk_sync\.alarms alarm cleared: events_failed")) == 1


def test_worker_down_after_the_only_worker_is_killed_and_cleared_when_one_starts(workers, settings):
    settings.TASKS = DATABASE_TASKS
    first = workers()
    started = timezone.now()
    wait_until(lambda: every_worker_evaluated_after(started, 1), what="the worker evaluating")
    assert cleared("worker_down")

    first.kill()  # SIGKILL: its heartbeat row stays, and is never refreshed again
    (row,) = WorkerHeartbeat.objects.all()
    assert row.pid == first.process.pid
    # Two minutes of silence, without waiting for them: the row is moved back in time.
    WorkerHeartbeat.objects.update(last_seen_at=timezone.now() - dt.timedelta(seconds=121))
    assert WorkerHeartbeat.objects.get().last_seen_at < timezone.now() - dt.timedelta(minutes=2)

    assert alarms_evaluate()["worker_down"] is True  # as the health page or another worker would find it

    second = workers()
    wait_until(lambda: cleared("worker_down"), what="worker_down cleared")
    assert WorkerHeartbeat.objects.filter(pid=second.process.pid).exists()
    assert len(log_lines([second], r"INFO clerk_sync\.alarms alarm cleared: worker_down")) == 1


def test_worker_down_is_raised_once_no_worker_shows_a_sign_of_life(workers, settings):
    settings.TASKS = DATABASE_TASKS
    worker = workers()
    wait_until(lambda: WorkerHeartbeat.objects.exists(), what="the worker's heartbeat")
    worker.kill()
    WorkerHeartbeat.objects.update(last_seen_at=timezone.now() - dt.timedelta(seconds=121))

    assert alarms_evaluate()["worker_down"] is True  # the health page's evaluation, or any other worker's
    assert "no db_worker has shown a sign of life" in AlarmState.objects.get(name="worker_down").detail


def test_a_worker_stopped_cleanly_removes_its_heartbeat(workers):
    worker = workers()
    wait_until(lambda: WorkerHeartbeat.objects.exists(), what="the worker's heartbeat")

    worker.stop()

    assert not WorkerHeartbeat.objects.exists()

"""The schedule the workers share: due jobs run once, requests, maintenance, and passes with real db_workers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.models import ReconcilePass, ScheduledJob, User
from accounts.schedule.runner import schedule_request, schedule_run_due
from accounts.tests.factories import ClerkUserDataFactory
from accounts.tests.workers import worker_processes
from config.tests.processes import wait_until
from webhooks.models import WebhookEvent, WebhookRejection
from webhooks.tests.factories import WebhookEventFactory


@pytest.fixture
def reconcile_only(settings, unthrottled):
    settings.MAINTENANCE_JOBS = []


@pytest.mark.django_db
def test_due_jobs_run_once_and_are_due_again_after_their_interval(clerk_api, reconcile_only, settings):
    settings.CLERK_RECONCILE_FULL_INTERVAL = 0
    clerk_api.add_user(ClerkUserDataFactory())

    assert schedule_run_due("worker-a") == ["reconcile_incremental"]
    assert schedule_run_due("worker-b") == []

    [record] = ReconcilePass.objects.all()
    assert (record.trigger, record.kind, record.outcome, record.users_created) == (
        "schedule",
        "incremental",
        "completed",
        1,
    )
    job = ScheduledJob.objects.get(name="reconcile_incremental")
    assert (
        job.last_outcome == "completed" and job.lease_owner == "" and job.last_summary.startswith(f"pass {record.pk}:")
    )
    assert job.next_due_at == job.last_finished_at + dt.timedelta(seconds=settings.CLERK_RECONCILE_INTERVAL)
    ScheduledJob.objects.filter(name="reconcile_incremental").update(next_due_at=timezone.now())
    assert schedule_run_due("worker-b") == ["reconcile_incremental"]


@pytest.mark.django_db
def test_a_job_held_by_a_live_lease_is_not_taken_and_one_whose_lease_ran_out_is(clerk_api, reconcile_only, settings):
    settings.CLERK_RECONCILE_FULL_INTERVAL = 0
    schedule_request("reconcile_incremental")  # creates the rows
    held = ScheduledJob.objects.filter(name="reconcile_incremental")
    held.update(lease_owner="dead-worker", lease_expires_at=timezone.now() + dt.timedelta(minutes=1))

    assert schedule_run_due("worker-a") == []

    held.update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert schedule_run_due("worker-a") == ["reconcile_incremental"]


@pytest.mark.django_db
def test_an_interval_of_0_turns_a_pass_off_and_run_now_still_runs_it_once(clerk_api, reconcile_only, settings):
    settings.CLERK_RECONCILE_INTERVAL = 0
    settings.CLERK_RECONCILE_FULL_INTERVAL = 0

    assert schedule_run_due("worker-a") == []

    schedule_request("reconcile_full")
    assert schedule_run_due("worker-a") == ["reconcile_full"]
    assert schedule_run_due("worker-a") == []
    assert ReconcilePass.objects.get().kind == "full"


@pytest.mark.django_db
def test_without_a_secret_key_a_pass_is_skipped_not_failed(settings, reconcile_only):
    settings.CLERK_SECRET_KEY = ""
    settings.CLERK_RECONCILE_FULL_INTERVAL = 0

    assert schedule_run_due("worker-a") == ["reconcile_incremental"]

    job = ScheduledJob.objects.get(name="reconcile_incremental")
    assert job.last_outcome == "skipped" and "CLERK_SECRET_KEY" in job.last_summary
    assert not ReconcilePass.objects.exists()


@pytest.mark.django_db
def test_maintenance_prunes_what_is_past_retention_daily_and_each_job_can_be_switched_off(settings):
    settings.CLERK_RECONCILE_INTERVAL = settings.CLERK_RECONCILE_FULL_INTERVAL = 0
    settings.MAINTENANCE_JOBS = ["prune_webhook_events", "prune_rejections", "clear_sessions"]
    long_ago = timezone.now() - dt.timedelta(days=settings.WEBHOOKS_RETENTION_DAYS + 1)
    old = WebhookEventFactory(status="processed")
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=long_ago)
    failed = WebhookEventFactory(status="failed")
    WebhookEvent.objects.filter(pk=failed.pk).update(received_at=long_ago)
    recent = WebhookEventFactory(status="processed")
    WebhookRejection.objects.create(
        source="clerk", reason="bad_signature", hour=long_ago, count=3, last_seen_at=long_ago
    )
    Session.objects.create(session_key="x" * 32, session_data="", expire_date=timezone.now() - dt.timedelta(days=1))

    assert sorted(schedule_run_due("worker-a")) == sorted(settings.MAINTENANCE_JOBS)

    assert set(WebhookEvent.objects.values_list("pk", flat=True)) == {failed.pk, recent.pk}
    assert not WebhookRejection.objects.exists() and not Session.objects.exists()
    summaries = dict(ScheduledJob.objects.values_list("name", "last_summary"))
    assert summaries["prune_webhook_events"].startswith("deleted 1 processed or ignored events")
    assert summaries["prune_task_results"] == ""  # switched off: never ran
    assert ScheduledJob.objects.get(name="prune_rejections").next_due_at > timezone.now() + dt.timedelta(hours=23)


# --- real db_worker processes --------------------------------------------------------------------

WORKER_SCHEDULE = {
    "SCHEDULE_TICK_SECONDS": 0.2,
    "CLERK_RECONCILE_FULL_INTERVAL": 0,
    "CLERK_RECONCILE_RATE": 100_000,
    "MAINTENANCE_JOBS": "",
}


@pytest.fixture
def scheduled_workers(clerk_api):
    clerk = {"CLERK_API_URL": clerk_api.url, "CLERK_SECRET_KEY": clerk_api.secret_key}
    with worker_processes(**clerk, **WORKER_SCHEDULE) as start:
        yield start


def running_passes() -> int:
    return ReconcilePass.objects.filter(outcome="running").count()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres(reason="db_worker processes share the test database, which needs a server")
def test_two_workers_run_one_pass_at_a_time(clerk_api, scheduled_workers):
    clerk_api.add_user(ClerkUserDataFactory())
    release = clerk_api.hold("/v1/users")
    looked = "reconcile_incremental: not due, or another worker holds it"
    # Passes off on the schedule: run only when asked, so both workers are up and looking first.
    workers = [scheduled_workers(LOG_LEVEL="DEBUG", CLERK_RECONCILE_INTERVAL=0) for _ in range(2)]
    wait_until(lambda: all(looked in worker.output() for worker in workers), what="both workers looking")

    schedule_request("reconcile_incremental")
    wait_until(lambda: clerk_api.held == 1, what="one worker's pass listing users")
    [running] = ReconcilePass.objects.filter(outcome="running")
    [other] = [worker for worker in workers if not running.worker.endswith(f":{worker.process.pid}")]
    looks = other.output().count(looked)
    wait_until(lambda: other.output().count(looked) > looks, what="the other worker looking while the pass runs")
    assert running_passes() == 1 and clerk_api.calls["/v1/users"] == 1
    release.set()

    wait_until(lambda: ReconcilePass.objects.filter(outcome="completed").exists(), what="the pass completing")
    assert ReconcilePass.objects.count() == 1 and clerk_api.calls["/v1/users"] == 1
    assert User.objects.filter(created_via="sync").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres(reason="db_worker processes share the test database, which needs a server")
def test_a_worker_killed_mid_pass_is_replaced_once_its_lease_runs_out(clerk_api, scheduled_workers):
    clerk_api.add_user(ClerkUserDataFactory())
    release = clerk_api.hold("/v1/users")
    doomed = scheduled_workers(SCHEDULE_LEASE_SECONDS=2)
    wait_until(lambda: clerk_api.held == 1, what="the first worker's pass listing users")

    doomed.kill()
    successor = scheduled_workers(SCHEDULE_LEASE_SECONDS=2)
    wait_until(lambda: clerk_api.held == 2, what="the successor's pass listing users, once the lease ran out")
    release.set()

    wait_until(lambda: ReconcilePass.objects.filter(outcome="completed").exists(), what="the successor's pass")
    abandoned, completed = ReconcilePass.objects.order_by("started_at")
    assert (abandoned.outcome, completed.outcome) == ("failed", "completed")
    assert abandoned.error.startswith("abandoned") and abandoned.worker.endswith(f":{doomed.process.pid}")
    assert completed.worker.endswith(f":{successor.process.pid}") and completed.users_created == 1

"""Running the schedule: every db_worker calls `schedule_run_due` every SCHEDULE_TICK_SECONDS.

Each due job is claimed with one conditional UPDATE (due, and no live lease
on it): of any number of workers on any number of hosts, one wins, runs it
and renews its lease while it works (`keep_alive`), then releases it with the
next due time. A worker that dies holds its lease until it runs out; then
the job is claimed again. Jobs are the ones in accounts/schedule/jobs.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket

from django.conf import settings
from django.db.models import Case, F, Q, When
from django.utils import timezone

from accounts.schedule.jobs import JOBS, Job, JobFailed, JobSkipped
from accounts.schedule.models import ScheduledJob

logger = logging.getLogger("accounts.schedule")

FAILURE_RETRY = 300  # seconds before a failed job is tried again, when its interval is longer


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def schedule_run_due(owner: str | None = None) -> list[str]:
    """Run every job that is due and that this worker claims, one after another; the names of those run."""
    owner = owner or worker_name()
    _rows_ensure()
    ran = []
    for job in JOBS.values():
        if _claim(job, owner):
            _run(job, owner)
            ran.append(job.name)
        else:
            logger.debug("scheduled job %s: not due, or another worker holds it", job.name)
    return ran


def schedule_request(name: str) -> None:
    """Ask for a job to run as soon as a worker looks (within SCHEDULE_TICK_SECONDS), whatever its schedule."""
    _rows_ensure()
    ScheduledJob.objects.filter(name=JOBS[name].name).update(requested_at=timezone.now())


def _rows_ensure() -> None:
    ScheduledJob.objects.bulk_create([ScheduledJob(name=name) for name in JOBS], ignore_conflicts=True)


def _lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.SCHEDULE_LEASE_SECONDS)


def _claim(job: Job, owner: str) -> bool:
    now = timezone.now()
    due = Q(requested_at__isnull=False)
    if job.interval() > 0:
        due |= Q(next_due_at__isnull=True) | Q(next_due_at__lte=now)
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    claimed = ScheduledJob.objects.filter(due, free, name=job.name)
    return bool(claimed.update(lease_owner=owner, lease_expires_at=now + _lease(), last_started_at=now))


def _run(job: Job, owner: str) -> None:
    started = timezone.now()
    mine = ScheduledJob.objects.filter(name=job.name, lease_owner=owner)

    def keep_alive() -> None:
        mine.update(lease_expires_at=timezone.now() + _lease())

    interval = job.interval()
    retry_in = min(interval, FAILURE_RETRY) if interval else None
    answered = True  # whether a request to run now was answered by this run
    try:
        summary, outcome, next_in = job.run(keep_alive), "completed", interval or None
    except JobSkipped as exc:
        summary, outcome = str(exc), "skipped"
        next_in, answered = exc.retry_in or interval or None, exc.retry_in is None
    except JobFailed as exc:
        summary, outcome, next_in = str(exc), "failed", retry_in
    except Exception as exc:
        logger.exception("scheduled job %s failed", job.name)
        summary, outcome, next_in = f"{type(exc).__name__}: {exc}", "failed", retry_in
    finished = timezone.now()
    log = logger.warning if outcome == "failed" else logger.info
    log("scheduled job %s %s: %s", job.name, outcome, summary)
    mine.update(
        lease_owner="",
        lease_expires_at=None,
        last_finished_at=finished,
        last_outcome=outcome,
        last_summary=summary[:2000],
        next_due_at=None if next_in is None else finished + dt.timedelta(seconds=next_in),
        # A request made while this ran (or one this run could not answer) stays for the next.
        requested_at=Case(When(requested_at__lte=started, then=None), default=F("requested_at"))
        if answered
        else F("requested_at"),
    )

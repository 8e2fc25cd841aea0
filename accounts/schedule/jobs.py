"""What the schedule runs: reconciliation passes, and the maintenance operators would otherwise put in cron.

Each job says how often it is due (seconds; 0: not scheduled, it runs only
when asked to from the admin) and what it does; it returns a one-line summary,
raises JobSkipped when it cannot run now for a reason that is not a failure,
and lets any other error propagate (recorded as the run's failure).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.erasure.catch_up import erasures_catch_up
from accounts.erasure.payloads import erasure_enabled
from accounts.reconcile.models import ReconcilePass
from accounts.reconcile.passes import PassRunning, reconcile_pass
from webhooks.models import DONE_STATUSES
from webhooks.retention import webhook_event_prune, webhook_rejection_prune


class JobSkipped(Exception):
    """The job did not run, and that is not a failure (nothing to do with, or another holds what it needs)."""

    def __init__(self, why: str, *, retry_in: float | None = None) -> None:
        super().__init__(why)
        self.retry_in = retry_in  # seconds until it is due again; None: its usual interval


class JobFailed(Exception):
    """The job ran and did not complete; it is due again soon."""


@dataclass(frozen=True)
class Job:
    name: str
    title: str
    interval: Callable[[], int]
    run: Callable[[Callable[[], None]], str]  # given keep_alive(); returns what it did


def _reconcile(full: bool) -> Callable[[Callable[[], None]], str]:
    def run(keep_alive: Callable[[], None]) -> str:
        try:
            record = reconcile_pass(full=full, trigger=ReconcilePass.Trigger.SCHEDULE, keep_alive=keep_alive)
        except ImproperlyConfigured as exc:
            raise JobSkipped(str(exc)) from None
        except PassRunning as exc:
            raise JobSkipped(str(exc), retry_in=60) from None
        if record.outcome != ReconcilePass.Outcome.COMPLETED:
            raise JobFailed(f"pass {record.pk}: {record.error}")
        return f"pass {record.pk}: repaired {record.repaired}, {record.clerk_calls} calls to Clerk"

    return run


def _maintenance_interval(name: str) -> Callable[[], int]:
    return lambda: settings.MAINTENANCE_INTERVAL if name in settings.MAINTENANCE_JOBS else 0


def _days_ago(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def _prune_webhook_events(keep_alive: Callable[[], None]) -> str:
    cutoff = _days_ago(settings.WEBHOOKS_RETENTION_DAYS)
    deleted = webhook_event_prune(received_before=cutoff, statuses=sorted(DONE_STATUSES))
    return f"deleted {deleted} processed or ignored events older than {settings.WEBHOOKS_RETENTION_DAYS} days"


def _prune_task_results(keep_alive: Callable[[], None]) -> str:
    deleted = DBTaskResult.objects.filter(finished_at__lt=_days_ago(settings.TASK_RESULTS_RETENTION_DAYS)).delete()[0]
    return f"deleted {deleted} task results finished over {settings.TASK_RESULTS_RETENTION_DAYS} days ago"


def _prune_rejections(keep_alive: Callable[[], None]) -> str:
    deleted = webhook_rejection_prune(before=_days_ago(settings.WEBHOOKS_RETENTION_DAYS))
    return f"deleted {deleted} hourly refusal counts older than {settings.WEBHOOKS_RETENTION_DAYS} days"


def _erase_deleted_users(keep_alive: Callable[[], None]) -> str:
    if not erasure_enabled():
        raise JobSkipped("CLERK_ERASE_DELETED_USERS is off: deleted users' data is kept")
    users, events = erasures_catch_up()
    return f"erased {users} deleted users whose erasure was not complete; {events} stored events rewritten"


def _clear_sessions(keep_alive: Callable[[], None]) -> str:
    deleted = Session.objects.filter(expire_date__lt=timezone.now()).delete()[0]
    return f"deleted {deleted} expired sessions"


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job("reconcile_incremental", "Incremental reconciliation pass",
            lambda: settings.CLERK_RECONCILE_INTERVAL, _reconcile(full=False)),
        Job("reconcile_full", "Full reconciliation pass",
            lambda: settings.CLERK_RECONCILE_FULL_INTERVAL, _reconcile(full=True)),
        Job("prune_webhook_events", "Prune old webhook events",
            _maintenance_interval("prune_webhook_events"), _prune_webhook_events),
        Job("prune_task_results", "Prune finished task results",
            _maintenance_interval("prune_task_results"), _prune_task_results),
        Job("prune_rejections", "Prune old refusal counts",
            _maintenance_interval("prune_rejections"), _prune_rejections),
        Job("clear_sessions", "Clear expired sessions",
            _maintenance_interval("clear_sessions"), _clear_sessions),
        Job("erase_deleted_users", "Finish deleted users' erasure",
            _maintenance_interval("erase_deleted_users"), _erase_deleted_users),
    )
}  # fmt: skip

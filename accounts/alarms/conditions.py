"""The conditions behind each alarm (CONTRACT.md, "Alarms"): each says whether it holds now, and what it saw.

A condition is a few indexed queries; `detail` holds counts and ages, never personal data.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from django.conf import settings
from django.db.models import Count, Q, Sum

from accounts.alarms.models import WorkerHeartbeat
from accounts.models import ReconcilePass, UserProvisioning
from webhooks.models import WebhookAttempt, WebhookEvent, WebhookRejection

# The refusals that mean Clerk's deliveries cannot be verified (a wrong or missing secret), not a bad body.
SECRET_REFUSALS = (
    WebhookRejection.Reason.BAD_SIGNATURE,
    WebhookRejection.Reason.MALFORMED_SIGNATURE,
    WebhookRejection.Reason.NOT_CONFIGURED,
)
REFUSALS_WINDOW = dt.timedelta(hours=1)
WORKER_SILENCE = dt.timedelta(minutes=2)
WELCOME_EMAIL_OVERDUE = dt.timedelta(minutes=15)

Welcome = UserProvisioning.WelcomeEmail


class Reading(NamedTuple):
    raised: bool
    detail: str = ""


CLEAR = Reading(False)


def deliveries_refused(now: dt.datetime) -> Reading:
    """Deliveries refused for their signature or secret in the last hour, and none accepted."""
    since = now - REFUSALS_WINDOW
    refused = WebhookRejection.objects.filter(
        reason__in=SECRET_REFUSALS, hour__gte=since - dt.timedelta(hours=1), last_seen_at__gte=since
    ).aggregate(n=Sum("count"))["n"]
    if not refused:
        return CLEAR
    if WebhookAttempt.objects.filter(kind=WebhookAttempt.Kind.DELIVERY, started_at__gte=since).exists():
        return CLEAR
    return Reading(True, f"{refused} deliveries refused for their signature or secret in the last hour, none accepted")


def events_failed(now: dt.datetime) -> Reading:
    """Events stored failed and not yet processed by a redelivery or replay."""
    failed = WebhookEvent.objects.filter(status=WebhookEvent.Status.FAILED).count()
    return Reading(True, f"{failed} events failed and not processed since") if failed else CLEAR


def worker_down(now: dt.datetime) -> Reading:
    """Background work is stored in the database and no db_worker has shown a sign of life for 2 minutes."""
    if not settings.TASKS["default"]["BACKEND"].startswith("django_tasks_db."):
        return CLEAR
    if WorkerHeartbeat.objects.filter(last_seen_at__gte=now - WORKER_SILENCE).exists():
        return CLEAR
    last = WorkerHeartbeat.objects.order_by("-last_seen_at").values_list("last_seen_at", flat=True).first()
    seen = f"the last sign of life was at {last:%Y-%m-%d %H:%M:%S} UTC" if last else "none has ever run"
    return Reading(True, f"no db_worker has shown a sign of life for 2 minutes ({seen})")


def welcome_email_failing(now: dt.datetime) -> Reading:
    """A welcome email failed for good, or the oldest pending one is more than 15 minutes past due."""
    overdue_pending = Q(welcome_email=Welcome.PENDING, welcome_email_next_attempt_at__lt=now - WELCOME_EMAIL_OVERDUE)
    counts = UserProvisioning.objects.filter(Q(welcome_email=Welcome.FAILED) | overdue_pending).aggregate(
        failed=Count("pk", filter=Q(welcome_email=Welcome.FAILED)), overdue=Count("pk", filter=overdue_pending)
    )
    failed, overdue = counts["failed"], counts["overdue"]
    if not failed and not overdue:
        return CLEAR
    return Reading(True, f"{failed} welcome emails failed, {overdue} pending more than 15 minutes past due")


def drift(now: dt.datetime) -> Reading:
    """The latest completed reconciliation pass repaired a change Clerk made over 15 minutes before it, or tombstoned.

    Cleared by the next completed pass that repairs no such change (ReconcilePass.drift, set by the pass).
    """
    latest = ReconcilePass.objects.filter(outcome=ReconcilePass.Outcome.COMPLETED).order_by("-started_at").first()
    if latest is None or not latest.drift:
        return CLEAR
    when = latest.started_at.strftime("%Y-%m-%d %H:%M:%S %Z")
    return Reading(True, f"the {latest.kind} pass of {when} repaired {latest.repaired} rows: deliveries were lost")


def reconcile_failing(now: dt.datetime) -> Reading:
    """Scheduling is on (workers run it, an interval is set) and no pass has completed for three intervals."""
    intervals = [i for i in (settings.CLERK_RECONCILE_INTERVAL, settings.CLERK_RECONCILE_FULL_INTERVAL) if i > 0]
    if settings.TASKS_BACKEND != "database" or not intervals:
        return CLEAR
    passes = ReconcilePass.objects.order_by("-started_at")
    completed = passes.filter(outcome=ReconcilePass.Outcome.COMPLETED).values_list("started_at", flat=True).first()
    # Never completed: counted from the first pass tried (a schedule that never ran a pass raises nothing).
    since = completed or passes.order_by("started_at").values_list("started_at", flat=True).first()
    if since is None or now - since < dt.timedelta(seconds=3 * min(intervals)):
        return CLEAR
    what = "the last completed pass began" if completed else "passes have been failing since"
    return Reading(True, f"{what} {since:%Y-%m-%d %H:%M:%S %Z}: more than three intervals ago")

"""The sync health page's reconciliation and schedule figures: the last completed pass, and when each job last ran."""

from __future__ import annotations

from django.template.defaultfilters import date as date_format
from django.urls import reverse
from django.utils.html import format_html
from django.utils.timesince import timesince

from accounts.models import ReconcilePass, ScheduledJob
from accounts.reconcile.models import COUNT_FIELDS
from accounts.schedule.jobs import JOBS
from webhooks.registry import HealthBlock, HealthRow

Outcome = ReconcilePass.Outcome


def schedule_health() -> list[HealthBlock]:
    """Two blocks, in two or three queries whatever the history."""
    return [_reconcile_block(), _schedule_block()]


def _reconcile_block() -> HealthBlock:
    passes = reverse("admin:accounts_reconcilepass_changelist")
    latest = ReconcilePass.objects.order_by("-started_at").first()
    completed = latest  # most often the latest pass completed: one query
    if latest is not None and latest.outcome != Outcome.COMPLETED:
        completed = ReconcilePass.objects.filter(outcome=Outcome.COMPLETED).order_by("-started_at").first()
    rows = [
        HealthRow(
            "Last completed reconciliation pass",
            f"{timesince(completed.finished_at)} ago" if completed else "never",
            detail=f"{completed.get_kind_display().lower()}, repaired: {_repaired(completed)}" if completed else "",
            warning=bool(completed and completed.drift),
            url=reverse("admin:accounts_reconcilepass_change", args=[completed.pk]) if completed else passes,
            key="reconcile-last-completed",
        )
    ]
    if latest is not None and latest.outcome == Outcome.FAILED:
        rows.append(
            HealthRow(
                "The latest pass failed",
                f"{timesince(latest.started_at)} ago",
                detail=latest.error[:200],
                warning=True,
                url=reverse("admin:accounts_reconcilepass_change", args=[latest.pk]),
                key="reconcile-last-failed",
            )
        )
    note = format_html('<a href="{}">Every pass, and "run a pass now"</a>.', passes)
    if completed and completed.drift:
        note = format_html(
            "<strong>The last pass repaired what deliveries should have: some were lost.</strong> "
            "Look at the refused deliveries below and at the failed events, and at Clerk's webhook dashboard "
            'for a disabled endpoint. <a href="{}">Every pass, and "run a pass now"</a>.',
            passes,
        )
    return HealthBlock(title="Reconciliation with Clerk", rows=rows, note=note, key="reconcile")


def _schedule_block() -> HealthBlock:
    jobs = {job.name: job for job in ScheduledJob.objects.all()}
    rows = []
    for name, job in JOBS.items():
        row = jobs.get(name)
        ran = row and row.last_finished_at
        rows.append(
            HealthRow(
                job.title,
                f"{timesince(row.last_finished_at)} ago, {row.last_outcome}" if ran else "never ran",
                warning=bool(ran and row.last_outcome == "failed"),
                detail=_next(job.interval(), row) + (f" · {row.last_summary[:160]}" if ran else ""),
                key=f"job-{name}",
            )
        )
    note = "Run by every db_worker in turn (TASKS_BACKEND=database); intervals in docs/reconciliation.md."
    return HealthBlock(title="Scheduled jobs", rows=rows, note=note, key="schedule")


def _repaired(record: ReconcilePass) -> str:
    changed = [f"{name.replace('_', ' ')} {getattr(record, name)}" for name in COUNT_FIELDS if getattr(record, name)]
    return ", ".join(changed) or "nothing"


def _next(interval: int, row: ScheduledJob | None) -> str:
    if not interval:
        return "off"
    if row is None or row.next_due_at is None:
        return "due now"
    return f"next {date_format(row.next_due_at, 'Y-m-d H:i T')}"

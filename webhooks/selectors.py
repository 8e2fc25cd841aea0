"""Reads about the ledger for staff: the ledger's own figures on the sync health page."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Max
from django.db.models.functions import TruncHour
from django.utils import timezone

from webhooks.models import WebhookAttempt, WebhookEvent


@dataclass(frozen=True)
class SyncHealth:
    since: dt.datetime
    until: dt.datetime
    hourly: dict[dt.datetime, dict[str, int]]  # hour -> status -> events received
    failed_last_hour: int  # events still failed whose delivery or replay failed in the last hour
    last_delivery_at: dt.datetime | None


def sync_health(*, days: int = 3, now: dt.datetime | None = None) -> SyncHealth:
    """Three aggregate queries, whatever the size of the ledger (each bounded by an index)."""
    now = now or timezone.now()
    until = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    since = until - dt.timedelta(days=days)
    hourly: dict[dt.datetime, dict[str, int]] = {since + dt.timedelta(hours=h): {} for h in range(days * 24)}
    rows = (
        WebhookEvent.objects.filter(received_at__gte=since)
        .annotate(hour=TruncHour("received_at"))
        .values("hour", "status")
        .annotate(events=Count("pk"))
    )
    for row in rows:
        hourly.setdefault(row["hour"], {})[row["status"]] = row["events"]
    failed_last_hour = (
        WebhookEvent.objects.filter(
            status=WebhookEvent.Status.FAILED,
            attempt_log__outcome=WebhookAttempt.Outcome.FAILED,
            attempt_log__started_at__gte=now - dt.timedelta(hours=1),
        )
        .values("pk")
        .distinct()
        .count()
    )
    last_delivery_at = WebhookAttempt.objects.filter(kind=WebhookAttempt.Kind.DELIVERY).aggregate(
        last=Max("started_at")
    )["last"]
    return SyncHealth(since, until, hourly, failed_last_hour, last_delivery_at)

"""Reads about the ledger for staff: what the sync health page shows."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Max
from django.db.models.functions import TruncHour
from django.utils import timezone

from accounts.models import User

from .models import WebhookAttempt, WebhookEvent

# Above this share of users created just in time, webhooks are probably not arriving.
JIT_SHARE_WARNING = 0.10


@dataclass(frozen=True)
class SyncHealth:
    since: dt.datetime
    until: dt.datetime
    hourly: dict[dt.datetime, dict[str, int]]  # hour -> status -> events received
    failed_last_hour: int  # events still failed whose delivery or replay failed in the last hour
    last_delivery_at: dt.datetime | None
    users_by_path: dict[str, int]  # created_via -> Clerk users

    @property
    def jit_share(self) -> float | None:
        """Users created just in time, out of those created by webhook or just in time."""
        jit = self.users_by_path.get(User.CreatedVia.JIT, 0)
        total = jit + self.users_by_path.get(User.CreatedVia.WEBHOOK, 0)
        return jit / total if total else None

    @property
    def jit_share_too_high(self) -> bool:
        return self.jit_share is not None and self.jit_share > JIT_SHARE_WARNING


def sync_health(*, days: int = 3, now: dt.datetime | None = None) -> SyncHealth:
    """Four aggregate queries, whatever the size of the ledger (each bounded by an index)."""
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
    users_by_path = dict(
        User.objects.filter(clerk_id__isnull=False)
        .values_list("created_via")
        .annotate(users=Count("pk"))
        .values_list("created_via", "users")
    )
    return SyncHealth(since, until, hourly, failed_last_hour, last_delivery_at, users_by_path)

"""The welcome emails as a queue: staff's retry and the health page's figures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from accounts.models import UserProvisioning
from accounts.welcome.records import unclaimed
from accounts.welcome.tasks import welcome_email_trigger

Status = UserProvisioning.WelcomeEmail

# Pending emails waiting this long for a worker are flagged on the sync-health page.
WAITING_WARNING = dt.timedelta(minutes=5)


def welcome_email_retry(provisioning_pks: Iterable[int]) -> list[int]:
    """Staff's retry: make these pending or failed emails due now, with a fresh retry schedule.

    Emails already sent, not wanted, skipped, or claimed by a live worker are
    left alone. Returns the pks that were re-queued.
    """
    now = timezone.now()
    with transaction.atomic():
        retried = list(
            UserProvisioning.objects.select_for_update()
            .filter(pk__in=list(provisioning_pks), welcome_email__in=[Status.PENDING, Status.FAILED])
            .filter(unclaimed(now))
            .values_list("pk", flat=True)
        )
        UserProvisioning.objects.filter(pk__in=retried).update(
            welcome_email=Status.PENDING,
            welcome_email_attempts=0,
            welcome_email_next_attempt_at=now,
        )
        for pk in retried:
            welcome_email_trigger(pk)
    return retried


@dataclass(frozen=True)
class WelcomeEmailQueue:
    pending: int
    oldest_waiting_since: dt.datetime | None  # the earliest due time among pending emails now due
    failed: list[UserProvisioning]  # the most recent ones
    failed_count: int

    @property
    def waiting_too_long(self) -> bool:
        """Something has been due for minutes without a worker taking it: is a worker running?"""
        return self.oldest_waiting_since is not None and timezone.now() - self.oldest_waiting_since > WAITING_WARNING


def welcome_email_queue(*, failed_shown: int = 10) -> WelcomeEmailQueue:
    """What the sync-health page shows about the queue: three indexed queries."""
    now = timezone.now()
    pending = UserProvisioning.objects.filter(welcome_email=Status.PENDING)
    oldest = pending.filter(welcome_email_next_attempt_at__lte=now).aggregate(
        oldest=Min("welcome_email_next_attempt_at")
    )["oldest"]
    failed = UserProvisioning.objects.filter(welcome_email=Status.FAILED)
    return WelcomeEmailQueue(
        pending=pending.count(),
        oldest_waiting_since=oldest,
        failed=list(failed.select_related("user").order_by("-welcome_email_next_attempt_at", "-pk")[:failed_shown]),
        failed_count=failed.count(),
    )

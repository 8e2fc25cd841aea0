"""The welcome email's record on its UserProvisioning row: claim a send with a lease, then record how it ended.

Every write here is one conditional UPDATE. A claim sets a lease and counts
an attempt; the attempt number is the claim's token: whatever is recorded
later is conditional on it (and on the email still being pending), so a
worker whose lease expired cannot overwrite the claim that replaced its own.
The policy (when to send, retry or give up) is accounts/welcome/delivery.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from accounts.models import UserProvisioning

logger = logging.getLogger("accounts.welcome.delivery")

Status = UserProvisioning.WelcomeEmail

# A trigger may run this early by another host's clock and still claim its send.
CLOCK_TOLERANCE = dt.timedelta(seconds=5)


def lease() -> dt.timedelta:
    """How long a claim lasts (WELCOME_EMAIL_LEASE_SECONDS); after that another worker may take the send."""
    return dt.timedelta(seconds=settings.WELCOME_EMAIL_LEASE_SECONDS)


def send_seconds() -> float:
    """How long a claimed send may take, counted from its claim: half the lease.

    The send is cut at that deadline (accounts/welcome/smtp.py), so it never
    outlives its claim; the other half of the lease is the margin for
    recording the outcome, a paused process and clocks that differ between hosts.
    """
    return settings.WELCOME_EMAIL_LEASE_SECONDS / 2


def unclaimed(now: dt.datetime) -> Q:
    """Rows no live worker holds: never claimed, or their lease has run out."""
    return Q(welcome_email_claimed_until__isnull=True) | Q(welcome_email_claimed_until__lt=now)


def claim(provisioning_pk: int) -> UserProvisioning | None:
    """Take the send if it is pending, due and unclaimed: the claimed row with its user, or None."""
    now = timezone.now()
    with transaction.atomic():
        claimed = (
            UserProvisioning.objects.filter(
                pk=provisioning_pk,
                welcome_email=Status.PENDING,
                welcome_email_next_attempt_at__lte=now + CLOCK_TOLERANCE,
            )
            .filter(unclaimed(now))
            .update(
                welcome_email_claimed_until=now + lease(),
                welcome_email_attempts=F("welcome_email_attempts") + 1,
            )
        )
        if not claimed:
            return None
        return UserProvisioning.objects.select_related("user").get(pk=provisioning_pk)


def record_sent(provisioning_pk: int, attempt: int, *, accepted_at: dt.datetime) -> None:
    """Record that the mail server accepted the email at `accepted_at`.

    A database error is retried for up to a lease rather than given up on:
    giving up would leave the email pending, to be sent again. While the claim
    lasts nobody else sends it; a record arriving after another worker claimed
    the send is refused by its attempt number and logged.
    """
    deadline = time.monotonic() + settings.WELCOME_EMAIL_LEASE_SECONDS
    while True:
        try:
            recorded = _claimed(provisioning_pk, attempt).update(
                welcome_email=Status.SENT,
                welcome_email_sent_at=accepted_at,
                welcome_email_claimed_until=None,
                welcome_email_next_attempt_at=None,
                welcome_email_last_error="",
            )
            break
        except DatabaseError:
            if time.monotonic() >= deadline:
                raise
            logger.warning("cannot record a sent welcome email yet (database unavailable); retrying")
            connection.close()
            time.sleep(1)
            close_old_connections()
    if not recorded:
        logger.error(
            "welcome email provisioning=%s was sent after its claim expired; another worker may send it again",
            provisioning_pk,
        )


def record_skipped(provisioning_pk: int, attempt: int, reason: str) -> None:
    """Record that the email will never be sent, and why."""
    _claimed(provisioning_pk, attempt).update(
        welcome_email=Status.SKIPPED,
        welcome_email_claimed_until=None,
        welcome_email_next_attempt_at=None,
        welcome_email_last_error=reason,
    )


def record_failure(provisioning_pk: int, attempt: int, error: str, *, retry_at: dt.datetime | None) -> bool:
    """Record a failed send: due again at `retry_at`, or failed for good when it is None.

    Returns whether the claim still held.
    """
    if retry_at is None:
        changes = {"welcome_email": Status.FAILED}
    else:
        changes = {"welcome_email_next_attempt_at": retry_at, "welcome_email_triggered_at": retry_at}
    recorded = _claimed(provisioning_pk, attempt).update(
        welcome_email_claimed_until=None, welcome_email_last_error=error, **changes
    )
    if not recorded:
        logger.error("welcome email provisioning=%s: its claim expired during the attempt", provisioning_pk)
    return bool(recorded)


def _claimed(provisioning_pk: int, attempt: int) -> QuerySet[UserProvisioning]:
    return UserProvisioning.objects.filter(
        pk=provisioning_pk, welcome_email=Status.PENDING, welcome_email_attempts=attempt
    )

"""The welcome email as durable background work: trigger, send, retry, sweep, and the queue's figures.

The `UserProvisioning` row is the record (what must happen, what happened;
its claims and records are accounts/welcome_email_records.py); a queued task
(`accounts.tasks.welcome_email_send`) is only the trigger that makes a worker
look at it, so a lost trigger costs latency, never the email:

- `welcome_email_trigger` queues the trigger. With the database backend it is
  written in the caller's transaction (it commits or rolls back with the
  user); other backends (immediate) run it after the commit.
- `welcome_email_deliver` (the task's body) claims the send with a
  conditional UPDATE that sets a lease, so two workers never send the same
  email; a worker that dies leaves a lease that expires. The send is cut at a
  deadline half a lease after the claim, so it never outlives the claim. Only
  a crash between the mail server accepting the message and the UPDATE
  recording it can send it twice: a message the server took whole but never
  confirmed may have been delivered, so it is left failed for staff, not retried.
- A failed send is retried with backoff (first after
  WELCOME_EMAIL_RETRY_BASE_SECONDS, doubling to at most an hour apart, for
  at least 24 hours), then left `failed` for staff to see and retry.
- `welcome_emails_sweep` (run by every db_worker) re-triggers what is due and
  has no live trigger: a claim whose worker died, a trigger that was lost.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Min, Q
from django.template.loader import render_to_string
from django.utils import timezone

from .models import User, UserProvisioning
from .smtp_deadline import MessageUnconfirmed, mail_connection
from .welcome_email_records import claim, lease, record_failure, record_sent, record_skipped, send_seconds, unclaimed

logger = logging.getLogger(__name__)

Status = UserProvisioning.WelcomeEmail

SWEEP_BATCH = 500
# Pending emails waiting this long for a worker are flagged on the sync-health page.
WAITING_WARNING = dt.timedelta(minutes=5)
# Control characters and Unicode line breaks: a name holding one must neither break the subject
# header (Django refuses it: BadHeaderError, on every attempt) nor start a header of its own.
SUBJECT_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


class Delivery(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"  # failed; a retry is scheduled
    FAILED = "failed"  # failed; retries exhausted, or the server took the message but never confirmed it
    SKIPPED = "skipped"  # the user was deleted or has no address any more
    NOT_CLAIMED = "not_claimed"  # already sent, being sent elsewhere, or not due: nothing done


def user_welcome_email_send(user: User, *, deadline: float | None = None) -> None:
    """Render templates/accounts/email/welcome_* and hand it to Django's mail backend; raises on failure.

    The subject is one line whatever the user's name holds: each run of control characters is one space.
    With a `deadline` (a time.monotonic() value) an SMTP conversation is cut
    there: DeadlinePassed, or MessageUnconfirmed once the whole message went out.
    """
    context = {"user": user}
    subject = SUBJECT_BREAKS.sub(" ", render_to_string("accounts/email/welcome_subject.txt", context)).strip()
    body = render_to_string("accounts/email/welcome_body.txt", context)
    connection = None if deadline is None else mail_connection(deadline=deadline)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email], connection=connection)


def welcome_email_trigger(provisioning_pk: int, *, run_after: dt.datetime | None = None) -> None:
    """Queue the task that sends this welcome email, at `run_after` (default: now).

    With the database backend the task row is written in the current
    transaction. Other backends (immediate, for development) run it after
    the commit; they cannot defer and have no worker to sweep, so a retry
    there waits, pending and visible in the admin, for staff's retry action.
    """
    from django_tasks_db import DatabaseBackend

    from .tasks import welcome_email_send

    if isinstance(welcome_email_send.get_backend(), DatabaseBackend):
        task = welcome_email_send.using(run_after=run_after) if run_after else welcome_email_send
        task.enqueue(provisioning_pk)
    elif run_after is None:

        def enqueue() -> None:  # a named function: Django logs a robust callback's __qualname__
            welcome_email_send.enqueue(provisioning_pk)

        transaction.on_commit(enqueue, robust=True)


def welcome_email_deliver(provisioning_pk: int) -> Delivery:
    """Claim this user's pending welcome email, send it, and record the outcome.

    Does nothing (NOT_CLAIMED) when the email is not pending, not due yet, or
    claimed by a live worker. A mail server error is recorded with a retry
    scheduled (or, past the retry window, as failed); it is not raised. A
    message the server took whole without confirming it is recorded failed
    at once: it may have been delivered, and a retry could deliver it twice.
    Raises DatabaseError when the database cannot be reached.
    """
    claim_started = time.monotonic()  # before the claim reads its clock: the deadline falls within the lease
    provisioning = claim(provisioning_pk)
    if provisioning is None:
        return Delivery.NOT_CLAIMED
    user, attempt = provisioning.user, provisioning.welcome_email_attempts
    if user.is_deleted_in_clerk or not user.is_active:
        return _skipped(provisioning_pk, attempt, "the user was deleted before the email went out")
    if not user.email:
        return _skipped(provisioning_pk, attempt, "the user has no email address any more")
    try:
        user_welcome_email_send(user, deadline=claim_started + send_seconds())
    except MessageUnconfirmed as exc:
        return _failed(provisioning_pk, attempt, exc, retry=False)
    except Exception as exc:  # any mail backend error: refused, 4xx/5xx, timeout, cut at the deadline, DNS
        return _failed(provisioning_pk, attempt, exc)
    record_sent(provisioning_pk, attempt, accepted_at=timezone.now())
    logger.info("welcome email sent clerk_id=%s attempt=%d", user.clerk_id, attempt)
    return Delivery.SENT


def _skipped(provisioning_pk: int, attempt: int, reason: str) -> Delivery:
    record_skipped(provisioning_pk, attempt, reason)
    logger.info("welcome email skipped provisioning=%s: %s", provisioning_pk, reason)
    return Delivery.SKIPPED


def _failed(provisioning_pk: int, attempt: int, exc: Exception, *, retry: bool = True) -> Delivery:
    """Keep the error; schedule the retry (its trigger commits with the record) or give up."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    delay = retry_delay(attempt) if retry else None
    retry_at = None if delay is None else timezone.now() + delay
    with transaction.atomic():
        if record_failure(provisioning_pk, attempt, error, retry_at=retry_at) and retry_at is not None:
            welcome_email_trigger(provisioning_pk, run_after=retry_at)
    logger.warning(
        "welcome email %s provisioning=%s attempt=%d%s: %s",
        "failed for good" if delay is None else "failed",
        provisioning_pk,
        attempt,
        "" if delay is None else f" retry in {delay.total_seconds():.0f}s",
        error,
    )
    return Delivery.FAILED if delay is None else Delivery.RETRY


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
            welcome_email_triggered_at=now,
        )
        for pk in retried:
            welcome_email_trigger(pk)
    return retried


def welcome_emails_sweep() -> int:
    """Re-trigger pending emails that are due and have no live trigger; returns how many.

    A trigger counts as dead once it is a lease's length overdue with its
    email still pending and unclaimed (its worker died mid-send and the lease
    expired, or the trigger was lost). Rows are taken with SKIP LOCKED, so
    workers sweeping together never re-trigger one email twice.
    """
    now = timezone.now()
    dead_before = now - lease()
    with transaction.atomic():
        due = list(
            UserProvisioning.objects.select_for_update(skip_locked=True)
            .filter(welcome_email=Status.PENDING, welcome_email_next_attempt_at__lte=now)
            .filter(unclaimed(now))
            .filter(Q(welcome_email_triggered_at__isnull=True) | Q(welcome_email_triggered_at__lt=dead_before))
            .order_by("welcome_email_next_attempt_at")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        UserProvisioning.objects.filter(pk__in=due).update(welcome_email_triggered_at=now)
        for pk in due:
            welcome_email_trigger(pk)
    if due:
        logger.warning("welcome email sweep re-triggered %d pending emails without a live trigger", len(due))
    return len(due)


def retry_delay(attempts: int) -> dt.timedelta | None:
    """The wait before retrying after `attempts` failed sends, or None once retried for long enough.

    Doubles from WELCOME_EMAIL_RETRY_BASE_SECONDS up to
    WELCOME_EMAIL_RETRY_MAX_SECONDS; gives up only when the waits so far add
    up to WELCOME_EMAIL_RETRY_FOR_SECONDS (24 hours).
    """
    base, cap = settings.WELCOME_EMAIL_RETRY_BASE_SECONDS, settings.WELCOME_EMAIL_RETRY_MAX_SECONDS
    waits = [min(base * 2 ** min(n, 32), cap) for n in range(attempts)]
    if sum(waits[:-1]) >= settings.WELCOME_EMAIL_RETRY_FOR_SECONDS:
        return None
    return dt.timedelta(seconds=waits[-1])


@dataclass(frozen=True)
class WelcomeEmailQueue:
    pending: int
    oldest_waiting_since: dt.datetime | None  # the earliest due time among pending emails now due
    failed: list[UserProvisioning]  # the most recent ones
    failed_count: int

    @property
    def waiting_too_long(self) -> bool:
        """Something has been due for minutes without a worker taking it: is a worker running?"""
        return (
            self.oldest_waiting_since is not None
            and timezone.now() - self.oldest_waiting_since > WAITING_WARNING
        )


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

"""Sending one welcome email: claim it, send it, record what happened.

The `UserProvisioning` row is the record (what must happen, what happened;
its claims and records are accounts/welcome/records.py); the queued task
(accounts/welcome/tasks.py) is only the trigger that makes a worker look at it,
and the db_worker's sweep (accounts/welcome/queue.py) triggers again what is
due with no live trigger, so a lost trigger costs latency, never the email.

`welcome_email_deliver` (the task's body) claims the send with a conditional
UPDATE that sets a lease, so two workers never send the same email; a worker
that dies leaves a lease that expires. With Django's SMTP backend the send is
cut at a deadline half a lease after the claim (accounts/welcome/smtp.py), so
it never outlives the claim; other backends rely on their own timeouts. Only a
crash between the mail server accepting the message and the UPDATE recording
it can send it twice: a message the server took whole but never confirmed may
have been delivered, so it is left failed for staff, not retried. A failed
send is retried with backoff (first after WELCOME_EMAIL_RETRY_BASE_SECONDS,
doubling to at most an hour apart, for at least 24 hours), then left `failed`
for staff to see and retry.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import re
import time
from collections.abc import Callable

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import User
from accounts.welcome.records import claim, record_failure, record_sent, record_skipped, send_seconds
from accounts.welcome.smtp import MessageUnconfirmed, mail_connection

logger = logging.getLogger(__name__)

# Control characters and Unicode line breaks: a name holding one must neither break the subject
# header (Django refuses it: BadHeaderError, on every attempt) nor start a header of its own.
SUBJECT_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Anything shaped like an address, also quoted or in brackets: errors are stored and logged without it.
EMAIL_ADDRESS = re.compile(r"[^\s'\"<>()\[\],;:@]+@[^\s'\"<>()\[\],;:@]+")


RetryTrigger = Callable[..., None]  # (provisioning_pk, *, run_after): queues the send again


class Delivery(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"  # failed; a retry is scheduled
    FAILED = "failed"  # failed; retries exhausted, or the server took the message but never confirmed it
    SKIPPED = "skipped"  # the user was deleted or has no address any more
    NOT_CLAIMED = "not_claimed"  # already sent, being sent elsewhere, or not due: nothing done


def user_welcome_email_send(user: User, *, deadline: float) -> None:
    """Render templates/accounts/email/welcome_* and hand it to Django's mail backend; raises on failure.

    The subject is one line whatever the user's name holds: each run of control characters is one space.
    An SMTP conversation is cut at `deadline` (a time.monotonic() value):
    DeadlinePassed, or MessageUnconfirmed once the whole message went out.
    """
    context = {"user": user}
    subject = SUBJECT_BREAKS.sub(" ", render_to_string("accounts/email/welcome_subject.txt", context)).strip()
    body = render_to_string("accounts/email/welcome_body.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email], connection=mail_connection(deadline=deadline))


def welcome_email_deliver(provisioning_pk: int, *, retry_trigger: RetryTrigger) -> Delivery:
    """Claim this user's pending welcome email, send it, and record the outcome.

    Does nothing (NOT_CLAIMED) when the email is not pending, not due yet, or
    claimed by a live worker. A mail server error is recorded with a retry
    scheduled (or, past the retry window, as failed); it is not raised. A
    message the server took whole without confirming it is recorded failed
    at once: it may have been delivered, and a retry could deliver it twice.
    `retry_trigger(pk, run_after=...)` queues the retry in the transaction that
    records the failure (the task passes its own trigger: delivery knows no task).
    Raises DatabaseError when the database cannot be reached.
    """
    claim_started = time.monotonic()  # before the claim reads its clock: the deadline falls within the lease
    provisioning = claim(provisioning_pk)
    if provisioning is None:
        return Delivery.NOT_CLAIMED
    user, attempt = provisioning.user, provisioning.welcome_email_attempts
    if user.banned and not user.is_deleted_in_clerk:
        return _skipped(provisioning_pk, attempt, "the user is banned: a banned user is not greeted")
    if user.is_deleted_in_clerk or not user.is_active:
        return _skipped(provisioning_pk, attempt, "the user was deleted before the email went out")
    if not user.email:
        return _skipped(provisioning_pk, attempt, "the user has no email address any more")
    try:
        user_welcome_email_send(user, deadline=claim_started + send_seconds())
    except MessageUnconfirmed as exc:
        return _failed(provisioning_pk, attempt, exc, retry_trigger, retry=False)
    except Exception as exc:  # any mail backend error: refused, 4xx/5xx, timeout, cut at the deadline, DNS
        return _failed(provisioning_pk, attempt, exc, retry_trigger)
    record_sent(provisioning_pk, attempt, accepted_at=timezone.now())
    logger.info("welcome email sent clerk_id=%s attempt=%d", user.clerk_id, attempt)
    return Delivery.SENT


def _skipped(provisioning_pk: int, attempt: int, reason: str) -> Delivery:
    record_skipped(provisioning_pk, attempt, reason)
    logger.info("welcome email skipped provisioning=%s: %s", provisioning_pk, reason)
    return Delivery.SKIPPED


def _failed(
    provisioning_pk: int, attempt: int, exc: Exception, retry_trigger: RetryTrigger, *, retry: bool = True
) -> Delivery:
    """Keep the error; schedule the retry (its trigger commits with the record) or give up."""
    error = personal_data_redacted(f"{type(exc).__name__}: {exc}")[:2000]
    delay = retry_delay(attempt) if retry else None
    retry_at = None if delay is None else timezone.now() + delay
    with transaction.atomic():
        if record_failure(provisioning_pk, attempt, error, retry_at=retry_at) and retry_at is not None:
            retry_trigger(provisioning_pk, run_after=retry_at)
    logger.warning(
        "welcome email %s provisioning=%s attempt=%d%s: %s",
        "failed for good" if delay is None else "failed",
        provisioning_pk,
        attempt,
        "" if delay is None else f" retry in {delay.total_seconds():.0f}s",
        error,
    )
    return Delivery.FAILED if delay is None else Delivery.RETRY


def personal_data_redacted(text: str) -> str:
    """`text` with every email address replaced (a refusing server's SMTPRecipientsRefused quotes the recipient)."""
    return EMAIL_ADDRESS.sub("<address>", text)


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

"""Sending welcome emails in batches: claim them, send them over one connection, record what happened.

The `UserProvisioning` row is the record (what must happen, what happened;
its claims and records are accounts/welcome/records.py). Each db_worker's
mailer thread (accounts/welcome/mailer.py) sends what is due, a batch at a
time; with the immediate task backend (development) the send of one new
user's email runs right after the commit instead (accounts/welcome/tasks.py).

`welcome_emails_send_due` claims a batch with a lease (one UPDATE), so two
workers never send the same email and a worker that dies leaves leases that
expire; it sends the batch over one connection to the mail server and records
every outcome in one UPDATE. With Django's SMTP backend the conversation is
cut at a deadline half a lease after the claim (accounts/welcome/smtp.py), so
it never outlives the claims; other backends rely on their own timeouts. Only
a crash between the mail server accepting a message and the UPDATE recording
the batch can send it twice: a message the server took whole but never
confirmed may have been delivered, so it is left failed for staff, not
retried. A failed send is retried with backoff (first after
WELCOME_EMAIL_RETRY_BASE_SECONDS, doubling to at most an hour apart, for at
least 24 hours), then left `failed` for staff to see and retry.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import re
import time

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import User, UserProvisioning
from accounts.welcome.records import Claim, Outcome, claim_due, outcomes_record, send_seconds
from accounts.welcome.smtp import MessageUnconfirmed, mail_connection

logger = logging.getLogger(__name__)

Status = UserProvisioning.WelcomeEmail

# Control characters and Unicode line breaks: a name holding one must neither break the subject
# header (Django refuses it: BadHeaderError, on every attempt) nor start a header of its own.
SUBJECT_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Anything shaped like an address, also quoted or in brackets: errors are stored and logged without it.
EMAIL_ADDRESS = re.compile(r"[^\s'\"<>()\[\],;:@]+@[^\s'\"<>()\[\],;:@]+")


class Delivery(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"  # failed; a retry is scheduled
    FAILED = "failed"  # failed; retries exhausted, or the server took the message but never confirmed it
    SKIPPED = "skipped"  # the user was deleted or has no address any more
    NOT_CLAIMED = "not_claimed"  # already sent, being sent elsewhere, or not due: nothing done


def welcome_message(user: User) -> EmailMessage:
    """The welcome email for `user`, from templates/accounts/email/welcome_*.

    The subject is one line whatever the user's name holds: each run of control characters is one space.
    """
    context = {"user": user}
    subject = SUBJECT_BREAKS.sub(" ", render_to_string("accounts/email/welcome_subject.txt", context)).strip()
    body = render_to_string("accounts/email/welcome_body.txt", context)
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


def welcome_emails_send_due(*, limit: int, pk: int | None = None) -> list[Delivery]:
    """Claim up to `limit` due welcome emails (only row `pk`, if given), send them, record how each ended.

    Returns one Delivery per claimed email; nothing when none was due,
    claimed by a live worker, or already sent. A mail server error is
    recorded with a retry scheduled (or, past the retry window, as failed);
    it is not raised. A message the server took whole without confirming it
    is recorded failed at once: it may have been delivered, and a retry could
    deliver it twice. Raises DatabaseError when the database cannot be reached.
    """
    claim_started = time.monotonic()  # before the claim reads its clock: the deadline falls within the leases
    claims = claim_due(limit=limit, pk=pk)
    outcomes, to_send = [], []
    for claim in claims:
        reason = _skip_reason(claim.user)
        if reason:
            outcomes.append(Outcome(claim.pk, claim.attempt, Status.SKIPPED, error=reason))
        else:
            to_send.append(claim)
    if to_send:
        outcomes += _sent(to_send, deadline=claim_started + send_seconds())
    held = outcomes_record(outcomes)
    users = {claim.pk: claim.user for claim in claims}
    for outcome in outcomes:
        if outcome.pk in held:
            _log(outcome, users[outcome.pk])
    return [Delivery.RETRY if outcome.status == Status.PENDING else Delivery(outcome.status) for outcome in outcomes]


def _log(outcome: Outcome, user: User) -> None:
    if outcome.status == Status.SENT:
        logger.info("welcome email sent clerk_id=%s attempt=%d", user.clerk_id, outcome.attempt)
    elif outcome.status == Status.SKIPPED:
        logger.info("welcome email skipped provisioning=%s: %s", outcome.pk, outcome.error)
    else:
        logger.warning(
            "welcome email %s provisioning=%s attempt=%d%s: %s",
            "failed" if outcome.status == Status.PENDING else "failed for good",
            outcome.pk,
            outcome.attempt,
            _retry_in(outcome) if outcome.status == Status.PENDING else "",
            outcome.error,
        )


def _retry_in(outcome: Outcome) -> str:
    return f" retry in {max(0.0, (outcome.next_attempt_at - timezone.now()).total_seconds()):.0f}s"


def _skip_reason(user: User) -> str:
    if user.banned and not user.is_deleted_in_clerk:
        return "the user is banned: a banned user is not greeted"
    if user.is_deleted_in_clerk or not user.is_active:
        return "the user was deleted before the email went out"
    if not user.email:
        return "the user has no email address any more"
    return ""


def _sent(claims: list[Claim], *, deadline: float) -> list[Outcome]:
    """Send each claimed email over one connection (a new one after a failure); the outcome of each."""
    outcomes = []
    connection = None
    try:
        for claim in claims:
            if connection is None:
                connection = mail_connection(deadline=deadline)
            try:
                connection.open()  # once per connection: send_messages() would open and close one per call
                connection.send_messages([welcome_message(claim.user)])
            except Exception as exc:  # any mail backend error: refused, 4xx/5xx, timeout, cut at the deadline, DNS
                outcomes.append(_failure(claim, exc, retry=not isinstance(exc, MessageUnconfirmed)))
                _close_quietly(connection)
                connection = None
            else:
                outcomes.append(Outcome(claim.pk, claim.attempt, Status.SENT, sent_at=timezone.now()))
    finally:
        if connection is not None:
            _close_quietly(connection)
    return outcomes


def _failure(claim: Claim, exc: Exception, *, retry: bool) -> Outcome:
    """The error kept (without addresses); a retry scheduled, or failed for good."""
    error = personal_data_redacted(f"{type(exc).__name__}: {exc}")[:2000]
    now = timezone.now()
    delay = retry_delay(claim.attempt) if retry else None
    if delay is None:  # its due time then says when it last failed (the health page lists the latest first)
        return Outcome(claim.pk, claim.attempt, Status.FAILED, error=error, next_attempt_at=now)
    return Outcome(claim.pk, claim.attempt, Status.PENDING, error=error, next_attempt_at=now + delay)


def _close_quietly(connection: BaseEmailBackend) -> None:
    """Close the mail connection; a QUIT cut at the deadline or refused changes nothing already sent."""
    try:
        connection.close()
    except Exception:
        pass


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

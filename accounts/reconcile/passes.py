"""One reconciliation pass: list what Clerk has, repair what differs locally, and record what was done.

A pass without `full` is incremental for users (those changed since the
watermark: the start of the last completed pass, less WATERMARK_OVERLAP)
and lists organizations and memberships whole; it tombstones nothing. A full
pass lists everything, then tombstones what Clerk confirms deleted
(accounts/reconcile/deletions.py). Every write goes through the webhooks'
rules (accounts/reconcile/walks.py). Passes never overlap, across every
process and host: a pass is a `running` ReconcilePass row, of which the
database allows one, holding a lease renewed page by page. A `dry_run` pass
writes nothing (each write's transaction is rolled back), records nothing
and may run beside another.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from accounts.clerk.api import LIST_MAX_LIMIT, ClerkAPIError, ClerkClient, clerk_reconcile_client
from accounts.clerk.errors import Unavailable
from accounts.db import insert_ignoring_conflicts
from accounts.reconcile.deletions import absent_confirm, gone_tombstone
from accounts.reconcile.metrics import reconcile_pass_observe, reconcile_repairs_count
from accounts.reconcile.models import COUNT_FIELDS, ReconcilePass, ReconcileSeen
from accounts.reconcile.report import PassReport
from accounts.reconcile.walks import MEMBERSHIPS, ORGANIZATIONS, PassContext, listing_walk, users_walk

logger = logging.getLogger("accounts.reconcile")

# Changes Clerk made shortly before the last pass began may not have been listed by it yet.
WATERMARK_OVERLAP = dt.timedelta(minutes=5)

Kind = ReconcilePass.Kind
Outcome = ReconcilePass.Outcome


class PassRunning(Exception):
    """Another pass is running (its lease is live): this one did not start."""

    def __init__(self, running: ReconcilePass) -> None:
        super().__init__(
            f"another reconciliation pass is running ({running.get_kind_display().lower()}, started "
            f"{running.started_at:%Y-%m-%d %H:%M:%S %Z} on {running.worker or 'an unknown worker'})"
        )


class PassLost(Exception):
    """This pass's lease ran out and its record was ended by another process: it must stop."""


def reconcile_pass(
    *,
    full: bool,
    trigger: str,
    dry_run: bool = False,
    client: ClerkClient | None = None,
    page_size: int = LIST_MAX_LIMIT,
    on_progress: Callable[[PassReport], None] = lambda report: None,
    keep_alive: Callable[[], None] = lambda: None,
) -> ReconcilePass:
    """Run one pass now; its record (saved, unless `dry_run`), whose `outcome` says whether it completed.

    Clerk failing (unreachable, or rate limits that do not relent within two
    minutes) ends the pass `failed` with its error. Raises PassRunning when
    another pass holds the lock, ImproperlyConfigured without
    CLERK_SECRET_KEY, and, after recording the failure, any unexpected error.
    `keep_alive()` is called after each page, with the pass's lease renewed.
    """
    if not settings.CLERK_SECRET_KEY:
        raise ImproperlyConfigured("CLERK_SECRET_KEY is not set: a reconciliation pass cannot call Clerk's API.")
    client = client or clerk_reconcile_client(settings.CLERK_RECONCILE_RATE)
    started_at = timezone.now()
    record = ReconcilePass(
        kind=Kind.FULL if full else Kind.INCREMENTAL,
        trigger=trigger,
        started_at=started_at,
        worker=f"{socket.gethostname()}:{os.getpid()}",
        lease_expires_at=started_at + _lease(),
    )
    if not dry_run:
        _start(record)
    report = PassReport(started_at)

    def tick() -> None:
        if not dry_run:
            _renew(record)
        keep_alive()
        on_progress(report)

    ctx = PassContext(
        client=client,
        report=report,
        full=full,
        dry_run=dry_run,
        greet_since=started_at - dt.timedelta(days=settings.CLERK_SYNC_WELCOME_WINDOW_DAYS),
        page_size=page_size,
        watermark=None if full else _watermark(),
        tick=tick,
    )
    calls_before = client.calls
    try:
        users_walk(ctx)
        listing_walk(ctx, ORGANIZATIONS, client.organization_list)
        listing_walk(ctx, MEMBERSHIPS, client.organization_membership_list)
        if full:
            absent_confirm(ctx)
            gone_tombstone(ctx)
        record.outcome, record.error = Outcome.COMPLETED, ""
    except (Unavailable, ClerkAPIError) as exc:
        record.outcome, record.error = Outcome.FAILED, f"Clerk's API failed: {exc}"
    except PassLost as exc:
        record.outcome, record.error = Outcome.FAILED, str(exc)
    except BaseException as exc:
        record.outcome, record.error = Outcome.FAILED, f"{type(exc).__name__}: {exc}"
        raise
    finally:
        ReconcileSeen.objects.filter(pass_key=ctx.pass_key).delete()
        record.clerk_calls = client.calls - calls_before
        _finish(record, report, dry_run=dry_run)
    return record


def last_completed_pass() -> ReconcilePass | None:
    return ReconcilePass.objects.filter(outcome=Outcome.COMPLETED).order_by("-started_at").first()


def _watermark() -> dt.datetime | None:
    last = last_completed_pass()
    return None if last is None else last.started_at - WATERMARK_OVERLAP


def _lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.SCHEDULE_LEASE_SECONDS)


def _start(record: ReconcilePass) -> None:
    """Take the lock: end an abandoned pass (lease run out), then insert this one as the only running pass."""
    now = timezone.now()
    abandoned = ReconcilePass.objects.filter(outcome=Outcome.RUNNING, lease_expires_at__lt=now)
    if abandoned.update(
        outcome=Outcome.FAILED, finished_at=now, error="abandoned: its process stopped before the pass ended"
    ):
        logger.warning("reconcile: an abandoned pass was ended; this one takes over")
    if not insert_ignoring_conflicts(record):
        running = ReconcilePass.objects.filter(outcome=Outcome.RUNNING).first()
        raise PassRunning(running or record)


def _renew(record: ReconcilePass) -> None:
    record.lease_expires_at = timezone.now() + _lease()
    renewed = ReconcilePass.objects.filter(pk=record.pk, outcome=Outcome.RUNNING)
    if not renewed.update(lease_expires_at=record.lease_expires_at):
        raise PassLost("this pass's lease ran out and another process ended it; nothing more was written")


def _finish(record: ReconcilePass, report: PassReport, *, dry_run: bool) -> None:
    record.finished_at = timezone.now()
    for name in COUNT_FIELDS:
        setattr(record, name, report.counts.get(name, 0))
    record.skipped, record.repairs = report.skipped, report.repairs
    record.drift = report.drift and record.outcome == Outcome.COMPLETED
    record.lease_expires_at = None
    if dry_run:
        return
    fields = [*COUNT_FIELDS, "outcome", "error", "finished_at", "skipped", "repairs", "drift", "clerk_calls"]
    # Only while still ours: a pass ended as abandoned by another process keeps that record.
    ReconcilePass.objects.filter(pk=record.pk, outcome=Outcome.RUNNING).update(
        lease_expires_at=None, **{name: getattr(record, name) for name in fields}
    )
    for name in COUNT_FIELDS:
        kind, action = name.split("_")
        reconcile_repairs_count(kind, action, getattr(record, name))
    reconcile_pass_observe(record.kind, record.outcome, (record.finished_at - record.started_at).total_seconds())
    log = logger.info if record.outcome == Outcome.COMPLETED else logger.error
    log("reconcile %s pass %s: %s %s", record.kind, record.outcome, report.line(), record.error)

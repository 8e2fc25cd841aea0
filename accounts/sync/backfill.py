"""Backfills from Clerk: every user (sync_clerk_users), every organization and membership (sync_clerk_organizations).

Each item Clerk lists goes through the same upsert as a webhook
(`created_via='sync'`), so a second run changes nothing and an interrupted
run can simply be started again. Each is written in its own short
transaction (`backfill_reconcile`): a transaction holding a whole page's rows
at once (organizations' locks, members' link locks, accounts/sync/links.py)
could deadlock with a webhook taking two of them in the other order, and would
hold them for the page's length. Users are listed by cursor (`user_iter`),
organizations and memberships by `limit` and `offset`. Only users may be
tombstoned for being absent from Clerk's list (`prune`); only a delete event
ends an organization or a membership.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.clerk.api import LIST_MAX_LIMIT, ClerkClient, ClerkPage
from accounts.clerk.data import ClerkDataError, ClerkUser
from accounts.models import Organization, User
from accounts.sync.organizations import membership_upsert_from_clerk, organization_upsert_from_clerk
from accounts.sync.outcome import SyncOutcome
from accounts.sync.users import UserSyncResult, user_tombstone, user_upsert

# How the backfills' summaries group the upserts' outcomes, in the order the commands print them.
BACKFILL_SUMMARY = {
    SyncOutcome.CREATED: "created",
    SyncOutcome.UPDATED: "updated",
    SyncOutcome.UNCHANGED: "unchanged",
    SyncOutcome.STALE: "skipped",  # the local row is newer: a webhook got there first
    SyncOutcome.ALREADY_DELETED: "skipped",  # tombstoned locally: final
}
BACKFILL_SUMMARY_ORDER = ("created", "updated", "unchanged", "skipped")


def item_reconcile(write: Callable[..., Any], data: Any, *, dry_run: bool, **kwargs: Any) -> SyncOutcome | None:
    """Run one sync write (an upsert or a tombstone) in its own transaction: its outcome, None for unusable data.

    With `dry_run` the transaction is rolled back. Any other exception rolls
    back this item's transaction only, the items before it stay committed,
    and propagates. Backfills and reconciliation passes write every item so.
    """
    with transaction.atomic():
        try:
            outcome = write(data, **kwargs).outcome
        except ClerkDataError:
            outcome = None
        # An upsert refused after writing (a membership found in another organization under its
        # row lock) marked the block for rollback: keep that, or its writes would commit.
        transaction.set_rollback(dry_run or transaction.get_rollback())
    return outcome


def backfill_reconcile(upsert: Callable[..., Any], data: Any, *, dry_run: bool, **kwargs: Any) -> str:
    """`item_reconcile`, its outcome named for the summary (unusable data is "skipped")."""
    outcome = item_reconcile(upsert, data, dry_run=dry_run, **kwargs)
    return "skipped" if outcome is None else BACKFILL_SUMMARY[outcome]


@dataclass
class BackfillReport:
    counts: Counter[str] = field(default_factory=Counter)
    seen: int = 0
    missing_in_clerk: list[str] = field(default_factory=list)  # local Clerk users Clerk no longer lists
    pruned: int = 0


def users_backfill_from_clerk(
    client: ClerkClient,
    *,
    welcome_window: dt.timedelta,
    dry_run: bool = False,
    prune: bool = False,
    page_size: int = LIST_MAX_LIMIT,
    on_progress: Callable[[BackfillReport], None] = lambda report: None,
) -> BackfillReport:
    """Walk Clerk's users page by page and upsert each; report (and with `prune`, tombstone) the missing.

    A new user is greeted only when its Clerk account is younger than
    `welcome_window`: a backfill must not welcome people who signed up years
    ago. `dry_run` runs the very same code in transactions that are rolled back, one per user.
    `on_progress(report)` is called after each page.
    Raises Unavailable, ClerkAPIError, ImproperlyConfigured.
    """
    report = BackfillReport()
    seen_ids: set[str] = set()
    greet_since = timezone.now() - welcome_window
    for data in client.user_iter(page_size=page_size):
        report.seen += 1
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            seen_ids.add(data["id"])
        outcome = backfill_reconcile(user_upsert_greeting_recent, data, dry_run=dry_run, greet_since=greet_since)
        report.counts[outcome] += 1
        if report.seen % page_size == 0:
            on_progress(report)
    on_progress(report)

    local = User.objects.filter(clerk_id__isnull=False, deleted_at__isnull=True)
    report.missing_in_clerk = sorted(set(local.values_list("clerk_id", flat=True)) - seen_ids)
    if prune and not dry_run:
        for clerk_id in report.missing_in_clerk:
            user_tombstone(clerk_id, created_via=User.CreatedVia.SYNC)
            report.pruned += 1
    return report


def user_upsert_greeting_recent(data: Any, *, greet_since: dt.datetime) -> UserSyncResult:
    """The webhook's upsert (`created_via='sync'`), greeting a new user only if its Clerk account is that recent."""
    clerk_user = ClerkUser.from_payload(data)  # raises ClerkDataError: the user is skipped
    created_at = clerk_user.created_at
    return user_upsert(
        clerk_user,
        created_via=User.CreatedVia.SYNC,
        send_welcome_email=created_at is not None and created_at >= greet_since,
    )


@dataclass
class OrganizationBackfillReport:
    # "organizations" and "memberships": outcome name -> count, and how many Clerk listed.
    counts: dict[str, Counter[str]] = field(
        default_factory=lambda: {"organizations": Counter(), "memberships": Counter()}
    )
    seen: Counter[str] = field(default_factory=Counter)


def organizations_backfill_from_clerk(
    client: ClerkClient,
    *,
    dry_run: bool = False,
    page_size: int = LIST_MAX_LIMIT,
    on_progress: Callable[[OrganizationBackfillReport, str], None] = lambda report, kind: None,
) -> OrganizationBackfillReport:
    """Walk Clerk's organizations, then its memberships, page by page, and upsert each.

    `dry_run` runs the very same code in transactions that are rolled back, one per item.
    `on_progress(report, kind)` is called after each page. Raises
    Unavailable/ClerkAPIError, ImproperlyConfigured.
    """
    report = OrganizationBackfillReport()
    walks: list[tuple[str, Callable[..., ClerkPage], Callable[..., Any]]] = [
        ("organizations", client.organization_list, organization_upsert_from_clerk),
        ("memberships", client.organization_membership_list, membership_upsert_from_clerk),
    ]
    for kind, page_get, upsert in walks:
        offset = 0
        while True:
            page = page_get(offset=offset, limit=page_size)
            for data in page.data:
                outcome = backfill_reconcile(upsert, data, dry_run=dry_run, created_via=Organization.CreatedVia.SYNC)
                report.counts[kind][outcome] += 1
            offset += len(page.data)
            report.seen[kind] += len(page.data)
            on_progress(report, kind)
            if not page.data or offset >= page.total_count:
                break
    return report

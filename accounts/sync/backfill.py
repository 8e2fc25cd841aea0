"""Backfill from Clerk: reconcile every Clerk user into the local table (sync_clerk_users).

Each user goes through the same upsert and provisioning as a webhook
(`created_via='sync'`), in its own short transaction (`backfill_reconcile`,
accounts/sync/outcome.py says why), so running it twice changes nothing the
second time and an interrupted run can simply be started again.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from accounts.clerk.api import ClerkClient
from accounts.clerk.data import ClerkUser
from accounts.models import User
from accounts.sync.outcome import backfill_reconcile
from accounts.sync.users import UserSyncResult, user_tombstone, user_upsert


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
    page_size: int = 500,
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
        report.counts[_reconcile(data, greet_since, dry_run=dry_run)] += 1
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


def _reconcile(data: Any, greet_since: dt.datetime, *, dry_run: bool) -> str:
    return backfill_reconcile(_user_upsert_greeting_recent, data, dry_run=dry_run, greet_since=greet_since)


def _user_upsert_greeting_recent(data: Any, *, greet_since: dt.datetime) -> UserSyncResult:
    """The webhook's upsert (`created_via='sync'`), greeting a new user only if its Clerk account is that recent."""
    clerk_user = ClerkUser.from_payload(data)  # raises ClerkDataError: the user is skipped
    created_at = clerk_user.created_at
    return user_upsert(
        clerk_user,
        created_via=User.CreatedVia.SYNC,
        send_welcome_email=created_at is not None and created_at >= greet_since,
    )

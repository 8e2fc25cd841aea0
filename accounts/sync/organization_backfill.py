"""Backfill from Clerk: every organization, then every membership (sync_clerk_organizations).

Each one goes through the same upserts as a webhook (`created_via='sync'`),
so a second run changes nothing and an interrupted run can simply be started
again. Clerk's lists are paged by `limit` and `offset`. Each item is written in
its own short transaction (`backfill_reconcile`, accounts/sync/outcome.py says why).
Nothing is tombstoned for being absent from Clerk's lists: only a delete event
ends an organization or a membership.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from accounts.clerk.api import LIST_MAX_LIMIT, ClerkClient, ClerkPage
from accounts.models import Organization
from accounts.sync.organizations import membership_upsert_from_clerk, organization_upsert_from_clerk
from accounts.sync.outcome import backfill_reconcile


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

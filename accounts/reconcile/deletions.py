"""A full pass's deletions: local rows Clerk did not list, tombstoned only once Clerk confirms each is gone.

Run after every list was walked to its end, in two steps:

1. Confirm (`absent_confirm`). The rows checked are live local ones that no
   mark of this pass names and that existed before the pass began (a row
   created meanwhile, by a webhook or just in time, was never in the lists).
   A user or an organization is gone when its own `GET` answers 404; when it
   answers 200 (a list that shifted under the pass) its data is applied like
   any listed entry and it stays. A membership is gone when its
   organization's complete membership listing leaves it out; an organization
   whose listing answers 404 is itself gone, and its memberships count as
   ended with it, neither written nor counted. What is gone is marked
   (`ReconcileSeen`, kind "<kind>_gone"), not tombstoned yet.
2. Tombstone (`gone_tombstone`), only once every confirmation succeeded: a
   pass Clerk failed during any step tombstones nothing. Each tombstone is
   the webhooks' own (`user_tombstone`, `organization_tombstone`,
   `membership_write`), in its own transaction.

Rows are read a page at a time by primary key, so memory stays flat however many there are.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from django.db.models import QuerySet
from django.utils import timezone

from accounts.clerk.api import ClerkNotFound, ClerkUserNotFound
from accounts.clerk.data import ClerkMembership, ClerkOrganization
from accounts.models import Organization, OrganizationMembership, User
from accounts.reconcile.models import ReconcileSeen
from accounts.reconcile.walks import (
    MEMBERSHIPS,
    ORGANIZATIONS,
    SYNC,
    USERS,
    PassContext,
    listing_walk,
    page_apply,
    seen_mark,
)
from accounts.sync.backfill import item_reconcile
from accounts.sync.organizations import MembershipSyncResult, membership_write, organization_tombstone
from accounts.sync.users import user_tombstone

CHECKED_PER_PAGE = 1000


def absent_confirm(ctx: PassContext) -> None:
    """Step 1: ask Clerk about every live local row its lists left out; mark those it confirms gone."""
    users = User.objects.filter(clerk_id__isnull=False, deleted_at__isnull=True, date_joined__lt=ctx.report.started_at)
    for user in _unlisted(ctx, users, USERS.name):
        try:
            data = ctx.client.user_get(user.clerk_id)
        except ClerkUserNotFound:
            seen_mark(ctx, "users_gone", [user.clerk_id])
        else:
            page_apply(ctx, USERS, [data])
        ctx.tick()  # after every call: at the rate cap a page of checks outlasts a lease

    organizations = Organization.objects.filter(deleted_at__isnull=True, created_at__lt=ctx.report.started_at)
    for organization in _unlisted(ctx, organizations, ORGANIZATIONS.name):
        data = ctx.client.organization_get(organization.clerk_id)
        if data is None:
            seen_mark(ctx, "organizations_gone", [organization.clerk_id])
        else:
            page_apply(ctx, ORGANIZATIONS, [data])
        ctx.tick()

    memberships = OrganizationMembership.objects.filter(
        deleted_at__isnull=True, organization__deleted_at__isnull=True, created_at__lt=ctx.report.started_at
    )
    gone_organizations = set(_marked(ctx, "organizations_gone"))  # as few as Clerk deleted since the last pass
    # The organizations to ask: one id per organization with an unlisted membership, not one per membership.
    to_check = {m.organization_id for m in _unlisted(ctx, memberships.select_related("organization"), MEMBERSHIPS.name)
                if m.organization.clerk_id not in gone_organizations}  # fmt: skip
    for organization in Organization.objects.filter(pk__in=sorted(to_check)).order_by("pk").iterator():
        try:
            listing_walk(ctx, MEMBERSHIPS, partial(ctx.client.organization_memberships_of, organization.clerk_id))
        except ClerkNotFound:
            seen_mark(ctx, "organizations_gone", [organization.clerk_id])
            continue
        # Still unmarked: not in the organization's complete listing. Clerk removed it.
        gone = _unlisted(ctx, memberships.filter(organization=organization), MEMBERSHIPS.name)
        seen_mark(ctx, "memberships_gone", [membership.clerk_id for membership in gone])


def gone_tombstone(ctx: PassContext) -> None:
    """Step 2: tombstone what step 1 confirmed gone, organizations before their memberships."""
    for clerk_id in _marked(ctx, "users_gone"):
        outcome = item_reconcile(user_tombstone, clerk_id, dry_run=ctx.dry_run, created_via=SYNC)
        ctx.report.note("users", outcome, clerk_id, None)
    for clerk_id in _marked(ctx, "organizations_gone"):
        organization = Organization.objects.get(clerk_id=clerk_id)
        data = {"id": organization.clerk_id, "slug": organization.slug}  # organization.deleted's data
        outcome = item_reconcile(organization_tombstone, data, dry_run=ctx.dry_run, created_via=SYNC)
        ctx.report.note("organizations", outcome, organization.clerk_id, None)
    for clerk_id in _marked(ctx, "memberships_gone"):
        membership = OrganizationMembership.objects.select_related("organization").get(clerk_id=clerk_id)
        outcome = item_reconcile(membership_end, membership, dry_run=ctx.dry_run, created_via=SYNC)
        ctx.report.note("memberships", outcome, clerk_id, None)


def membership_end(membership: OrganizationMembership, *, created_via: str) -> MembershipSyncResult:
    """End a membership Clerk no longer lists: the delete event's write, with the membership as last stored."""
    organization = membership.organization
    last_known = ClerkMembership(
        clerk_id=membership.clerk_id,
        organization=ClerkOrganization(
            clerk_id=organization.clerk_id,
            name=organization.name,
            slug=organization.slug,
            image_url=organization.image_url,
            updated_at=organization.clerk_updated_at,
            public_metadata=organization.public_metadata,
            private_metadata=organization.private_metadata,
            members_count=organization.members_count,
        ),
        user_clerk_id=membership.user_clerk_id,
        role=membership.role,
        permissions=membership.permissions,
        updated_at=membership.clerk_updated_at,
        public_metadata=membership.public_metadata,
    )
    row, outcome = membership_write(last_known, created_via=created_via, deleted_at=timezone.now())
    return MembershipSyncResult(row, outcome)


def _marked(ctx: PassContext, kind: str) -> Iterator[str]:
    """The Clerk ids this pass marked `kind`, a page at a time."""
    for page in _pages(ctx, ReconcileSeen.objects.filter(pass_key=ctx.pass_key, kind=kind)):
        yield from (mark.clerk_id for mark in page)


def _unlisted(ctx: PassContext, rows: QuerySet, kind: str) -> Iterator:
    """The rows whose clerk_id this pass has not marked `kind`, read a page at a time by primary key.

    Two indexed queries per page (the rows, then which of their ids are marked), whatever
    the planner knows of the marks just written: never an anti-join over the whole table.
    """
    for page in _pages(ctx, rows):
        marks = ReconcileSeen.objects.filter(pass_key=ctx.pass_key, kind=kind, clerk_id__in=[r.clerk_id for r in page])
        marked = set(marks.values_list("clerk_id", flat=True))
        yield from (row for row in page if row.clerk_id not in marked)


def _pages(ctx: PassContext, rows: QuerySet) -> Iterator[list]:
    """The rows in pages by primary key (none held beyond a page), ticking after each page."""
    last = None
    while True:
        page = list((rows if last is None else rows.filter(pk__gt=last)).order_by("pk")[:CHECKED_PER_PAGE])
        if page:
            yield page
        if len(page) < CHECKED_PER_PAGE:
            return
        last = page[-1].pk
        ctx.tick()

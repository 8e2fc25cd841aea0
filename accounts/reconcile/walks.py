"""Walking Clerk's lists during a pass: each page's entries parsed, compared with the local rows, repaired.

Users come newest-changed first (`order_by=-updated_at`) in an incremental
pass, which stops at the watermark, and by `starting_after` cursor in a full
one; organizations and memberships are listed whole. Each page costs one
query for the local rows it names; only entries that differ from them (or
are missing locally) are written, each through the webhooks' own upsert in
its own transaction (`item_reconcile`): the updated_at guard, final
tombstones, provisioning once. A full pass also marks every id it saw
(`ReconcileSeen`), for accounts/reconcile/deletions.py.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from accounts.clerk.api import ClerkAPIError, ClerkClient, ClerkPage
from accounts.clerk.data import ClerkDataError, ClerkMembership, ClerkOrganization, ClerkUser, clerk_timestamp
from accounts.models import Organization, OrganizationMembership, User
from accounts.reconcile.models import ReconcileSeen
from accounts.reconcile.report import PassReport
from accounts.sync.backfill import item_reconcile, user_upsert_greeting_recent
from accounts.sync.organizations import (
    MEMBERSHIP_FIELDS,
    ORGANIZATION_FIELDS,
    membership_upsert_from_clerk,
    organization_upsert_from_clerk,
)
from accounts.sync.users import CLERK_FIELDS

SYNC = Organization.CreatedVia.SYNC


@dataclass
class PassContext:
    """What the steps of one pass share."""

    client: ClerkClient
    report: PassReport
    full: bool
    dry_run: bool
    greet_since: dt.datetime  # new users whose Clerk account is younger are welcomed, as by sync_clerk_users
    page_size: int
    watermark: dt.datetime | None = None  # an incremental pass stops at users last updated before this
    tick: Callable[[], None] = lambda: None  # after each page: renews the lease, reports progress
    pass_key: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class Kind:
    """How one kind of Clerk object is parsed, found locally, compared and written."""

    name: str  # "users", "organizations", "memberships": the report's and the seen marks' name
    model: type[models.Model]
    parse: Callable[[Any], Any]
    fields: tuple[str, ...]
    write: Callable[..., Any]
    write_kwargs: Callable[[PassContext], dict[str, Any]]


USERS = Kind(
    "users", User, ClerkUser.from_payload, CLERK_FIELDS, user_upsert_greeting_recent,
    lambda ctx: {"greet_since": ctx.greet_since},
)  # fmt: skip
ORGANIZATIONS = Kind(
    "organizations", Organization, ClerkOrganization.from_payload, ORGANIZATION_FIELDS,
    organization_upsert_from_clerk, lambda ctx: {"created_via": SYNC},
)  # fmt: skip
MEMBERSHIPS = Kind(
    "memberships", OrganizationMembership, ClerkMembership.from_payload, MEMBERSHIP_FIELDS,
    membership_upsert_from_clerk, lambda ctx: {"created_via": SYNC},
)  # fmt: skip


def users_walk(ctx: PassContext) -> None:
    """Every user (full), or the users changed since the watermark, newest first (incremental)."""
    if ctx.full:
        cursor = None
        while True:
            page = ctx.client.user_list(limit=ctx.page_size, starting_after=cursor)
            page_apply(ctx, USERS, page)
            ctx.tick()
            if len(page) < ctx.page_size:
                return
            # The cursor is the last usable id: an unusable entry is skipped, never the end of the walk.
            ids = [data.get("id") for data in page if isinstance(data, dict)]
            cursor = next((clerk_id for clerk_id in reversed(ids) if isinstance(clerk_id, str)), None)
            if cursor is None:
                raise ClerkAPIError("Clerk answered a page of users none of which has an id")
    offset = 0
    while True:
        page = ctx.client.user_list_recently_updated(offset=offset, limit=ctx.page_size)
        page_apply(ctx, USERS, page)
        ctx.tick()
        if len(page) < ctx.page_size or _reaches(page, ctx.watermark):
            return
        # Offsets shift while Clerk's users change: re-read a few entries of each page, so a user
        # deleted before this offset cannot push an unseen one past it. Seen twice is harmless.
        offset += len(page) - len(page) // 50


def listing_walk(ctx: PassContext, kind: Kind, page_get: Callable[..., ClerkPage]) -> None:
    """A `{"data", "total_count"}` list, whole, page by page by `offset` (`page_get(offset=, limit=)`)."""
    offset = 0
    while True:
        page = page_get(offset=offset, limit=ctx.page_size)
        page_apply(ctx, kind, page.data)
        ctx.tick()
        offset += len(page.data)
        if not page.data or offset >= page.total_count:
            return


def page_apply(ctx: PassContext, kind: Kind, entries: Sequence[Any]) -> None:
    """Repair what this page of Clerk's entries shows to differ locally; mark their ids seen in a full pass."""
    parsed = []
    for data in entries:
        try:
            parsed.append((data, kind.parse(data)))
        except ClerkDataError as exc:
            ctx.report.skip(kind.name, str(exc))
    ctx.report.seen[kind.name] += len(entries)
    if ctx.full:
        # An unusable entry with an id still shows Clerk has it: never a reason to tombstone.
        listed = (data["id"] for data in entries if isinstance(data, dict) and isinstance(data.get("id"), str))
        seen_mark(ctx, kind.name, listed)
    local = {row.clerk_id: row for row in kind.model.objects.filter(clerk_id__in=[item.clerk_id for _, item in parsed])}
    for data, item in parsed:
        if not _differs(local.get(item.clerk_id), item, kind.fields):
            continue
        outcome = item_reconcile(kind.write, data, dry_run=ctx.dry_run, **kind.write_kwargs(ctx))
        ctx.report.note(kind.name, outcome, item.clerk_id, item.updated_at)


def seen_mark(ctx: PassContext, kind: str, clerk_ids: Iterable[str]) -> None:
    """Mark these ids `kind` ("users": listed; "users_gone": confirmed deleted; …) for the rest of the pass."""
    rows = [ReconcileSeen(pass_key=ctx.pass_key, kind=kind, clerk_id=clerk_id) for clerk_id in clerk_ids]
    ReconcileSeen.objects.bulk_create(rows, batch_size=1000)


def _differs(row, item, fields: tuple[str, ...]) -> bool:
    """Would the upsert change this row? Missing: yes; tombstoned or newer locally: no (the guard refuses)."""
    if row is None:
        return True
    if row.is_deleted_in_clerk or not row.clerk_state_applies(item.updated_at):
        return False
    if item.updated_at != row.clerk_updated_at or any(getattr(row, name) != getattr(item, name) for name in fields):
        return True
    wanted_username = getattr(item, "username", "")  # users only: Clerk's username, when free locally
    return bool(wanted_username) and wanted_username != row.username


def _reaches(page: Sequence[Any], watermark: dt.datetime | None) -> bool:
    """Does this page hold a user last updated before the watermark (so every later page does)?"""
    if watermark is None:
        return False
    stamps = (clerk_timestamp(data.get("updated_at")) for data in page if isinstance(data, dict))
    return any(updated_at is not None and updated_at < watermark for updated_at in stamps)

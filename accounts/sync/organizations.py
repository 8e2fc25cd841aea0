"""Organization sync: upsert by Clerk id, tombstone, link members to local users, announce memberships.

Every path that learns about a Clerk organization or membership (webhook,
replay, just in time, backfill) goes through these functions, with the users'
rules (accounts/sync/users.py):

- rows are found by `clerk_id`, never by name or slug;
- an `updated_at` older than the stored `clerk_updated_at` changes nothing; an
  equal one applies, except from the copy of an organization a membership
  event embeds (`ClerkMirror.clerk_state_applies`, the guard users share);
- a tombstone (`deleted_at`) is final, whatever the delete's `updated_at`;
- a membership event upserts the organization it embeds first (creating it
  when missing, updating it only when strictly newer), and a membership is
  stored even in a deleted organization (so every delivery order converges)
  but counts only while neither is deleted;
- a membership never changes organization: data naming another one than the
  stored row's is unusable.

Data is parsed before anything is written: unusable data raises
ClerkDataError and leaves the caller's transaction usable. A membership found
stored in another organization than its data names is refused under the
membership's lock, after the organization was written: that ClerkDataError
leaves the transaction marked for rollback, which the callers keep (the
ledger's refusal and the backfill's per-item transaction both roll it back).
Each write is atomic. Lock order, everywhere: the
organization row, then the member's link lock (accounts/sync/links.py),
then the membership row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.clerk.data import (
    ORG_TEXT_MAX_LENGTH,
    ClerkDataError,
    ClerkMembership,
    ClerkOrganization,
    clean_text,
    clerk_prefixed_id,
)
from accounts.models import Organization, OrganizationMembership
from accounts.signals import (
    organization_membership_changed,
    organization_membership_created,
    organization_membership_removed,
)
from accounts.sync.converge import row_apply, row_insert_or_lock, row_inserted
from accounts.sync.links import member_user
from accounts.sync.outcome import SyncOutcome

ORGANIZATION_FIELDS = ("name", "slug", "image_url", "public_metadata", "private_metadata")
MEMBERSHIP_FIELDS = ("role", "permissions", "public_metadata")


def _organization_fields(clerk_organization: ClerkOrganization) -> tuple[str, ...]:
    # members_count only when sent: a deleted event's or an embedded copy's absence is not a count of 0.
    return ORGANIZATION_FIELDS + (() if clerk_organization.members_count is None else ("members_count",))


@dataclass(frozen=True)
class OrganizationSyncResult:
    organization: Organization
    outcome: SyncOutcome


@dataclass(frozen=True)
class MembershipSyncResult:
    membership: OrganizationMembership
    outcome: SyncOutcome


def organization_upsert_from_clerk(
    data: Mapping[str, Any], *, created_via: Organization.CreatedVia
) -> OrganizationSyncResult:
    """Create or update the local organization from a Clerk Organization object. Raises ClerkDataError."""
    return _organization_upsert(ClerkOrganization.from_payload(data), created_via=created_via)


def organization_tombstone(data: Mapping[str, Any], *, created_via: Organization.CreatedVia) -> OrganizationSyncResult:
    """Mark the organization deleted (organization.deleted's `{object, id, slug, deleted}`), creating it if unseen.

    Its memberships count as ended from now on: each one that counted is
    announced with `organization_membership_removed`. Raises ClerkDataError.
    """
    clerk_id = clerk_prefixed_id(data, "org_", "organization")  # refuses data that is not a mapping
    slug = clean_text(data.get("slug"), ORG_TEXT_MAX_LENGTH)
    return _organization_tombstone(clerk_id, slug, created_via=created_via)


@transaction.atomic(savepoint=False)
def _organization_tombstone(clerk_id: str, slug: str, *, created_via: str) -> OrganizationSyncResult:
    now = timezone.now()
    unseen = Organization(clerk_id=clerk_id, slug=slug, created_via=created_via, deleted_at=now)
    organization, inserted = row_insert_or_lock(Organization, clerk_id, lambda: row_inserted(unseen))
    if inserted:
        return OrganizationSyncResult(organization, SyncOutcome.DELETED)
    if organization.is_deleted_in_clerk:
        return OrganizationSyncResult(organization, SyncOutcome.ALREADY_DELETED)
    organization.deleted_at = now
    organization.save(update_fields=["deleted_at"])
    # Membership writes lock the organization row first: none starts or ends while we announce these.
    for membership in organization.memberships.filter(deleted_at__isnull=True).order_by("pk").iterator():
        membership.organization = organization
        organization_membership_removed.send(
            sender=OrganizationMembership, membership=membership, created_via=created_via
        )
    return OrganizationSyncResult(organization, SyncOutcome.DELETED)


def membership_upsert_from_clerk(
    data: Mapping[str, Any], *, created_via: Organization.CreatedVia
) -> MembershipSyncResult:
    """Create or update the membership (and first its embedded organization). Raises ClerkDataError.

    A new membership that counts is announced with `organization_membership_created`,
    a role change of one that counts with `organization_membership_changed`.
    """
    clerk_membership = ClerkMembership.from_payload(data)
    membership, outcome = membership_write(clerk_membership, created_via=created_via, deleted_at=None)
    return MembershipSyncResult(membership, outcome)


def membership_tombstone(data: Mapping[str, Any], *, created_via: Organization.CreatedVia) -> MembershipSyncResult:
    """Mark the membership deleted (organizationMembership.deleted carries the whole membership).

    Its data is applied first under the guard, then the tombstone, whatever
    its `updated_at`; an unseen membership is created as a tombstone. A
    membership that counted is announced with `organization_membership_removed`.
    Raises ClerkDataError.
    """
    clerk_membership = ClerkMembership.from_payload(data)
    membership, outcome = membership_write(clerk_membership, created_via=created_via, deleted_at=timezone.now())
    return MembershipSyncResult(membership, outcome)


def organization_current_members(organization: Organization) -> QuerySet[OrganizationMembership]:
    """The organization's memberships that count: none deleted, and none at all once it is deleted."""
    return OrganizationMembership.objects.filter(
        organization=organization, deleted_at__isnull=True, organization__deleted_at__isnull=True
    )


@transaction.atomic(savepoint=False)
def _organization_upsert(
    clerk_organization: ClerkOrganization, *, created_via: str, embedded: bool = False
) -> OrganizationSyncResult:
    """`embedded`: the copy another object's event carries, which an equal updated_at does not apply."""

    def insert() -> Organization | None:
        return row_inserted(
            Organization(
                clerk_id=clerk_organization.clerk_id,
                **{field: getattr(clerk_organization, field) for field in _organization_fields(clerk_organization)},
                clerk_updated_at=clerk_organization.updated_at,
                created_via=created_via,
            )
        )

    organization, inserted = row_insert_or_lock(Organization, clerk_organization.clerk_id, insert)
    if inserted:
        return OrganizationSyncResult(organization, SyncOutcome.CREATED)
    outcome = row_apply(organization, clerk_organization, _organization_fields(clerk_organization), embedded=embedded)
    return OrganizationSyncResult(organization, outcome)


@transaction.atomic(savepoint=False)
def membership_write(
    clerk_membership: ClerkMembership, *, created_via: str, deleted_at
) -> tuple[OrganizationMembership, SyncOutcome]:
    """The upsert (`deleted_at` None) or the tombstone (`deleted_at` set) of one membership, with its signals.

    Raises ClerkDataError, under the membership's lock, when it is stored in another organization than
    the data names: the transaction is then marked for rollback.
    """
    embedded = clerk_membership.organization
    organization = _organization_upsert(embedded, created_via=created_via, embedded=True).organization
    user = member_user(clerk_membership.user_clerk_id)
    if user is not None and user.is_deleted_in_clerk and deleted_at is None:
        deleted_at = timezone.now()  # a tombstoned user is no longer a member, whatever Clerk still sends

    def insert() -> OrganizationMembership | None:
        return row_inserted(
            OrganizationMembership(
                clerk_id=clerk_membership.clerk_id,
                organization=organization,
                user_clerk_id=clerk_membership.user_clerk_id,
                user=user,
                **{field: getattr(clerk_membership, field) for field in MEMBERSHIP_FIELDS},
                clerk_updated_at=clerk_membership.updated_at,
                deleted_at=deleted_at,
            )
        )

    membership, inserted = row_insert_or_lock(OrganizationMembership, clerk_membership.clerk_id, insert)
    if inserted:
        if _counts(membership):
            organization_membership_created.send(
                sender=OrganizationMembership, membership=membership, created_via=created_via
            )
        return membership, SyncOutcome.CREATED if deleted_at is None else SyncOutcome.DELETED
    if membership.organization_id != organization.pk:
        raise _moved(clerk_membership)
    membership.organization = organization
    if membership.is_deleted_in_clerk:
        return membership, SyncOutcome.ALREADY_DELETED
    counted, old_role = _counts(membership), membership.role
    outcome = row_apply(membership, clerk_membership, MEMBERSHIP_FIELDS)
    if user is not None and membership.user_id is None:
        membership.user = user
        membership.save(update_fields=["user"])
    elif user is not None and membership.user_id == user.pk:
        membership.user = user  # what callers read of it (the handler: is the user tombstoned?), without a query
    if deleted_at is not None:
        membership.deleted_at = deleted_at
        membership.save(update_fields=["deleted_at"])
        if counted:
            organization_membership_removed.send(
                sender=OrganizationMembership, membership=membership, created_via=created_via
            )
        return membership, SyncOutcome.DELETED
    if counted and membership.role != old_role:
        organization_membership_changed.send(
            sender=OrganizationMembership,
            membership=membership,
            created_via=created_via,
            old_role=old_role,
            new_role=membership.role,
        )
    return membership, outcome


def _moved(clerk_membership: ClerkMembership) -> ClerkDataError:
    # Clerk never moves a membership: data naming another organization than the stored row's is not Clerk's state.
    return ClerkDataError(
        f"membership {clerk_membership.clerk_id} belongs to another organization than"
        f" {clerk_membership.organization.clerk_id}: a membership never changes organization"
    )


def _counts(membership: OrganizationMembership) -> bool:
    return not membership.is_deleted_in_clerk and not membership.organization.is_deleted_in_clerk

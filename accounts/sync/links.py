"""Linking memberships to their local user, also when the two are created at the same moment.

A membership keeps `user_clerk_id` and an empty `user` while that user is not
local; whichever path creates the user (webhook, just in time, backfill) links
it in the same transaction (accounts/sync/users.py `user_upsert`).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.db import member_link_lock, memberships_link, user_by_clerk_id
from accounts.models import OrganizationMembership, User
from accounts.signals import organization_membership_removed

# The race: one transaction creates user X while another inserts a membership of X; neither
# sees the other's uncommitted row, so neither could link. Both take this lock (transaction
# scoped) before looking: the user's side after inserting the user, the membership's side
# before inserting the membership. Whoever takes it second waits for the first to commit and
# then, under READ COMMITTED, its next statement sees the committed row and links. We chose a
# lock over a post-commit reconcile so the link commits with the user (a receiver of
# user_provisioned sees it) and nothing runs outside a transaction. The key is the Clerk user
# id (hashed; a collision only makes two users wait for each other), so unrelated users never
# wait. SQLite needs none: its transactions begin as writes (BEGIN IMMEDIATE), one at a time.


@transaction.atomic(savepoint=False)
def organization_memberships_link(user: User) -> int:
    """Link the memberships waiting for this user (`user_clerk_id` is its Clerk id, `user` empty).

    Call it in the transaction that creates the user: with the link lock taken
    here it also finds a membership inserted at the same moment by a
    transaction that cannot see the user yet. Returns how many were linked.
    """
    if not user.clerk_id:
        return 0
    return memberships_link(user)


def member_user(user_clerk_id: str) -> User | None:
    """The local user a membership belongs to, seen after taking the link lock.

    Call it before locking the membership row: the user's side takes the link
    lock and then updates membership rows, so the same order here cannot deadlock.
    The lock is taken even when the user exists: a tombstone ending the user's
    memberships at the same moment (`organization_memberships_end`) takes it
    too, so either it ends this membership once committed, or this write sees
    the tombstone and stores the membership ended.
    """
    member_link_lock(user_clerk_id)
    # From the write database: the point is to see a user another transaction committed there.
    return user_by_clerk_id(user_clerk_id, for_write=True)


def organization_memberships_end(user: User, *, created_via: str) -> int:
    """A tombstoned user is no longer a member: end (`deleted_at`) each of their memberships not ended yet.

    Call it in the tombstone's transaction. Each membership that counted is
    announced with `organization_membership_removed`. The link lock comes
    first, as for a membership write, so one inserted at the same moment is
    ended too (accounts/sync/organizations.py ends those arriving later).
    Returns how many ended.
    """
    member_link_lock(user.clerk_id)
    now = timezone.now()
    ending = OrganizationMembership.objects.filter(user_clerk_id=user.clerk_id, deleted_at__isnull=True)
    for membership in ending.filter(organization__deleted_at__isnull=True).select_related("organization"):
        membership.deleted_at = now
        organization_membership_removed.send(
            sender=OrganizationMembership, membership=membership, created_via=created_via
        )
    return ending.update(deleted_at=now)

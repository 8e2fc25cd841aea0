"""User sync: upsert by Clerk id, tombstone, and provision exactly once.

Every path that learns about a Clerk user (webhook, replay, just in time,
backfill) goes through `user_upsert` (`user_upsert_from_clerk` parses the
data for it) or `user_tombstone`, so they all converge on the same rules:

- rows are found by `clerk_id`, never by email;
- an event older than the stored `clerk_updated_at` changes nothing
  (`ClerkMirror.clerk_state_applies`, the guard organizations share);
- a tombstone (`deleted_at`) is final;
- a new user is provisioned once, guarded by the `UserProvisioning` row, in the
  transaction that creates it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from accounts.clerk.api import ClerkAPIError, clerk_client
from accounts.clerk.data import ClerkUser
from accounts.db import insert_ignoring_conflicts, user_by_clerk_id
from accounts.erasure.rows import user_personal_data_erase
from accounts.models import User, UserProvisioning
from accounts.signals import user_provisioned
from accounts.sync.converge import row_apply, row_insert_or_lock
from accounts.sync.links import organization_memberships_end, organization_memberships_link
from accounts.sync.metrics import jit_creation_count
from accounts.sync.outcome import SyncOutcome
from accounts.sync.single_flight import SingleFlight
from accounts.sync.usernames import username_candidates, username_take
from accounts.welcome.tasks import welcome_email_trigger

logger = logging.getLogger(__name__)

# Paths whose new users are greeted; a backfill decides per user (only accounts younger than its window).
WELCOME_EMAIL_VIAS = frozenset({User.CreatedVia.WEBHOOK, User.CreatedVia.JIT})

# Fields copied from Clerk on every accepted update (username is handled apart, is_active follows `banned`).
CLERK_FIELDS = (
    *("email", "first_name", "last_name", "image_url", "banned", "locked", "external_id"),
    *("public_metadata", "private_metadata", "unsafe_metadata", "last_sign_in_at"),
)


@dataclass(frozen=True)
class UserSyncResult:
    user: User
    outcome: SyncOutcome


def user_upsert_from_clerk(
    data: Mapping[str, Any], *, created_via: User.CreatedVia, likely_new: bool = False
) -> UserSyncResult:
    """Create or update the local user from a Clerk User object: `user_upsert` once parsed.

    Raises ClerkDataError when `data` has no usable id, before anything is
    written: the caller's transaction stays usable.
    """
    return user_upsert(ClerkUser.from_payload(data), created_via=created_via, likely_new=likely_new)


@transaction.atomic(savepoint=False)
def user_upsert(
    clerk_user: ClerkUser,
    *,
    created_via: User.CreatedVia,
    send_welcome_email: bool | None = None,
    likely_new: bool = False,
) -> UserSyncResult:
    """Create or update the local user from parsed Clerk data (`ClerkUser.from_payload`).

    `send_welcome_email` defaults to whether `created_via` greets new users
    (the backfill decides per user). With `likely_new` (a user.created) the
    insert is tried first and the row locked only if it exists: one statement
    less on the common path, the same result.
    """
    user, inserted = row_insert_or_lock(
        User,
        clerk_user.clerk_id,
        lambda: _user_insert(clerk_user, created_via=created_via),
        lock=_user_locked,
        insert_first=likely_new,
    )
    if not inserted:
        return _user_apply(user, clerk_user)
    organization_memberships_link(user)
    if send_welcome_email is None:
        send_welcome_email = created_via in WELCOME_EMAIL_VIAS
    user_provision(user, created_via=created_via, send_welcome_email=send_welcome_email)
    return UserSyncResult(user, SyncOutcome.CREATED)


def get_or_create_from_clerk(clerk_id: str) -> User:
    """The local user for a Clerk user id, created just in time when it is not local yet.

    A known user costs one indexed lookup and no call to Clerk (so it is
    served during a Clerk outage). An unknown one is fetched from Clerk's
    Backend API and created through the same upsert and provisioning as the
    webhook path (`created_via='jit'`); a webhook creating it at the same
    moment is converged on, never duplicated. May return a tombstoned user:
    the caller decides what that means.
    Raises ClerkUserNotFound, Unavailable (Clerk cannot answer now),
    ClerkAPIError, or ImproperlyConfigured when CLERK_SECRET_KEY is not set.
    """
    # Concurrent first requests of one user (a page firing several API calls) wait for one fetch.
    return _user_fetches.find_or_create(clerk_id, user_by_clerk_id, _user_create_from_clerk)


_user_fetches: SingleFlight[User] = SingleFlight()


def _user_create_from_clerk(clerk_id: str) -> User:
    clock = time.perf_counter()
    data = clerk_client().user_get(clerk_id)
    if data.get("id") != clerk_id:
        raise ClerkAPIError("Clerk answered a different user than the one asked for")
    result = user_upsert_from_clerk(data, created_via=User.CreatedVia.JIT, likely_new=True)
    jit_logged("user", clerk_id, result.outcome, clock)
    return result.user


def jit_logged(kind: str, clerk_id: str, outcome: SyncOutcome, started: float) -> None:
    """Log a just-in-time fetch of a user or organization: a creation as a warning, anything else as info.

    A creation means the `*.created` webhook was not processed first: a few right
    after sign-up are normal, many mean the webhook endpoint is misconfigured.
    """
    if outcome == SyncOutcome.CREATED:
        jit_creation_count(kind)
    log = logger.warning if outcome == SyncOutcome.CREATED else logger.info
    log("jit %s clerk_id=%s outcome=%s duration_ms=%d", kind, clerk_id, outcome, (time.perf_counter() - started) * 1000)


@transaction.atomic(savepoint=False)
def user_tombstone(clerk_id: str, *, created_via: User.CreatedVia) -> UserSyncResult:
    """Mark the user deleted in Clerk (inactive, `deleted_at`), creating the tombstone if unseen.

    A delete can arrive before its create; the tombstone makes any later
    create or update for this id a no-op. In the same transaction the user's
    memberships end and their personal data is erased (accounts/erasure/),
    wherever the tombstone comes from (webhook, replay, a backfill's prune, reconciliation).
    """
    now = timezone.now()
    unseen = ClerkUser(clerk_id, "", "", "", "", "", None, None)
    user, inserted = row_insert_or_lock(
        User, clerk_id, lambda: _user_insert(unseen, created_via=created_via, deleted_at=now), lock=_user_locked
    )
    if not inserted:
        if user.is_deleted_in_clerk:
            return UserSyncResult(user, SyncOutcome.ALREADY_DELETED)
        user.deleted_at = now
        user.is_active = False
        user.save(update_fields=["deleted_at", "is_active"])
    organization_memberships_end(user, created_via=created_via)
    user_personal_data_erase(user)
    return UserSyncResult(user, SyncOutcome.DELETED)


class ProvisioningFailed(Exception):
    """A `user_provisioned` receiver raised: the user's creation is rolled back, to be tried again."""


def user_provision(user: User, *, created_via: User.CreatedVia, send_welcome_email: bool) -> bool:
    """Run a new user's one-time side effects, once ever per user, in the transaction creating it.

    Claims the user's `UserProvisioning` row; only the caller that inserts it
    sends the `user_provisioned` signal, right away, so the receivers'
    database writes commit with the user or not at all, and (when asked, and
    the user has an address) records the welcome email as pending for a worker
    to send (accounts/welcome/delivery.py). Returns whether this call
    provisioned the user. Raises ProvisioningFailed when a receiver raises
    (the caller's transaction must then roll back), and DatabaseError.
    """
    now = timezone.now()
    welcome = send_welcome_email and bool(user.email) and not user.banned
    provisioning = UserProvisioning(
        user=user,
        created_via=created_via,
        provisioned_at=now,
        welcome_email=UserProvisioning.WelcomeEmail.PENDING if welcome else UserProvisioning.WelcomeEmail.NOT_WANTED,
        welcome_email_next_attempt_at=now if welcome else None,
    )
    if not insert_ignoring_conflicts(provisioning):
        return False
    try:
        user_provisioned.send(sender=User, user=user, created_via=created_via)
    except (OperationalError, InterfaceError):
        raise  # the database is unreachable: an outage, not a receiver's bug
    except Exception as exc:
        raise ProvisioningFailed(f"a user_provisioned receiver failed for {user.clerk_id}: {exc!r}") from exc
    if welcome:
        welcome_email_trigger(provisioning.pk)
    return True


def _user_locked(clerk_id: str) -> User | None:
    # The hand-written statement (accounts/db.py), not row_locked's ORM query: every user write takes it.
    return user_by_clerk_id(clerk_id, lock=True)


def _user_insert(clerk_user: ClerkUser, *, created_via: str, deleted_at=None) -> User | None:
    """Insert the user under the first free username; None, having written nothing, if its clerk_id exists."""
    for username in username_candidates(clerk_user):
        user = User(
            clerk_id=clerk_user.clerk_id,
            username=username,
            **{field: getattr(clerk_user, field) for field in CLERK_FIELDS},
            clerk_updated_at=clerk_user.updated_at,
            created_via=created_via,
            deleted_at=deleted_at,
        )
        user.is_active = not clerk_user.banned and deleted_at is None
        user.set_unusable_password()
        if insert_ignoring_conflicts(user):
            return user
        # The conflict was either this clerk_id (a concurrent create won) or the username.
        if User.objects.filter(clerk_id=clerk_user.clerk_id).exists():
            return None
    raise RuntimeError(f"no free username found for {clerk_user.clerk_id}")


def _user_apply(user: User, clerk_user: ClerkUser) -> UserSyncResult:
    """`row_apply` for a user, then Clerk's username when it is free (the username is unique locally).

    A ban or an unban in Clerk sets `is_active` (a tombstone takes no data, so it stays inactive);
    otherwise `is_active` is left as staff may have set it.
    """
    was_banned = user.banned
    outcome = row_apply(user, clerk_user, CLERK_FIELDS)
    if user.banned != was_banned and user.is_active == user.banned:
        user.is_active = not user.banned
        user.save(update_fields=["is_active"])
    if outcome in (SyncOutcome.UPDATED, SyncOutcome.UNCHANGED):
        wants_username = clerk_user.username and clerk_user.username != user.username
        if wants_username and username_take(user, clerk_user):
            outcome = SyncOutcome.UPDATED
    return UserSyncResult(user, outcome)

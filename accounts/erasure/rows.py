"""Erasing a tombstoned user's row, in the tombstone's transaction, and queueing the erasure of their events."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from accounts.erasure.models import UserErasure
from accounts.erasure.payloads import erasure_enabled
from accounts.erasure.tasks import user_erasure_trigger
from accounts.models import User

# What a tombstone keeps: clerk_id, created_via, deleted_at, the primary key (and flags that name no one).
ERASED_FIELDS = {
    "email": "",
    "first_name": "",
    "last_name": "",
    "image_url": "",
    "external_id": "",
    "public_metadata": {},
    "private_metadata": {},
    "unsafe_metadata": {},
}


def user_personal_data_erase(user: User) -> UserErasure | None:
    """Erase the tombstoned `user`'s personal fields and record (and queue) the erasure of their stored events.

    Call it in the tombstone's transaction, holding the user's lock: the row
    and the pending `UserErasure` commit with the tombstone. The ledger's
    payloads are rewritten afterwards, in batches of their own
    (accounts/erasure/ledger.py). Does nothing when CLERK_ERASE_DELETED_USERS is off.
    """
    if not erasure_enabled():
        return None
    erasure = user_row_erase(user)
    user_erasure_trigger(erasure.pk)
    return erasure


def user_row_erase(user: User) -> UserErasure:
    """Empty the tombstoned `user`'s personal fields and return its erasure record (created pending if none).

    Call it holding the user's lock; the caller runs or queues the erasure of the stored events.
    """
    for field, value in ERASED_FIELDS.items():
        setattr(user, field, value)
    user.username = f"deleted-{user.pk}"  # unique like the pk, and names no one
    user.save(update_fields=[*ERASED_FIELDS, "username"])
    erasure, _ = UserErasure.objects.get_or_create(user=user, defaults={"requested_at": timezone.now()})
    return erasure


def users_awaiting_erasure() -> QuerySet[User]:
    """Users deleted in Clerk whose stored events are not all erased yet (tombstoned before erasure existed,
    queued, or interrupted): zero in normal operation once the workers caught up."""
    return User.objects.filter(deleted_at__isnull=False, clerk_id__isnull=False).exclude(
        erasure__erased_at__isnull=False
    )

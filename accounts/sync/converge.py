"""Insert a row mirroring a Clerk object, or lock the existing one and converge on it: every sync write does.

A user, an organization or a membership (an upsert or a tombstone) is found
by its unique `clerk_id`. When no row exists the new one is inserted with
`accounts.db.insert_ignoring_conflicts` (one statement, no exception when a
concurrent transaction inserted the same id first); when one exists, or the
insert lost that race, the row is locked (`SELECT … FOR UPDATE`; SQLite has
no row locks, its transactions begin as writes) and `row_apply` brings it to
the data under the tombstone rule (`ClerkMirror.is_deleted_in_clerk`) and the
updated_at guard (`ClerkMirror.clerk_state_applies`). Which order the rows of
one write are taken in is the caller's (accounts/sync/organizations.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.db import models

from accounts.db import insert_ignoring_conflicts
from accounts.sync.outcome import SyncOutcome

Row = TypeVar("Row", bound=models.Model)


def row_insert_or_lock(
    model: type[Row],
    clerk_id: str,
    insert: Callable[[], Row | None],
    *,
    lock: Callable[[str], Row | None] | None = None,
    insert_first: bool = False,
) -> tuple[Row, bool]:
    """The row with this `clerk_id`, inserted or locked, and whether this call inserted it.

    `insert()` inserts the new row and returns it, or returns None, having
    written nothing, when a row with this `clerk_id` exists. By default the
    row is locked first and `insert` runs only when there is none (one
    statement when it exists). With `insert_first` (a create event: the row
    is most likely new) the insert is tried first (one statement when it is
    new). Either way, an insert that found the row locks it: a concurrent
    transaction created it first, and this one converges on its row.
    `lock(clerk_id)` defaults to `row_locked(model, clerk_id)`. Call it in a transaction.
    """
    locked = lock or (lambda clerk_id: row_locked(model, clerk_id))
    if not insert_first:
        row = locked(clerk_id)
        if row is not None:
            return row, False
    row = insert()
    if row is not None:
        return row, True
    return locked(clerk_id), False


def row_inserted(row: Row) -> Row | None:
    """`row` once inserted, or None when a row conflicting with it exists: an `insert` for row_insert_or_lock."""
    return row if insert_ignoring_conflicts(row) else None


def row_locked(model: type[Row], clerk_id: str) -> Row | None:
    """The row by its unique clerk_id, locked (FOR UPDATE; SQLite has no row locks), or None."""
    return model.objects.select_for_update().filter(clerk_id=clerk_id).first()


def row_apply(row: Row, incoming, fields: tuple[str, ...], *, embedded: bool = False) -> SyncOutcome:
    """Bring a locked existing row to `incoming`'s state (parsed Clerk data) unless it is tombstoned or stale.

    ALREADY_DELETED for a tombstone, STALE when the guard refuses the data
    (UNCHANGED for an `embedded` copy equal to what is stored), else UPDATED
    or UNCHANGED by whether any of `fields` differed.
    """
    if row.is_deleted_in_clerk:
        return SyncOutcome.ALREADY_DELETED
    changed = [field for field in fields if getattr(row, field) != getattr(incoming, field)]
    updated_at = incoming.updated_at
    if not row.clerk_state_applies(updated_at, embedded=embedded):
        return SyncOutcome.UNCHANGED if updated_at == row.clerk_updated_at and not changed else SyncOutcome.STALE
    row.clerk_state_save(incoming, changed, updated_at)
    return SyncOutcome.UPDATED if changed else SyncOutcome.UNCHANGED

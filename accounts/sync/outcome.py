"""What one sync call did to a row mirroring a Clerk object (a user, an organization, a membership).

And the backfills' one transaction rule (`backfill_reconcile`): each item Clerk
lists is written in its own short transaction, like a webhook. A transaction
holding a whole page's rows at once (organizations' locks, members' link locks,
accounts/sync/links.py) could deadlock with a webhook taking two of them in the
other order, and would hold them for the page's length.
"""

import enum
from collections.abc import Callable
from typing import Any

from django.db import transaction

from accounts.clerk.data import ClerkDataError


class SyncOutcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    STALE = "stale"  # older than the stored state (an embedded copy: also as old but unlike it): nothing changed
    DELETED = "deleted"  # tombstoned by this call
    ALREADY_DELETED = "already_deleted"  # tombstoned earlier: nothing changed


# How the backfills' summaries group the upserts' outcomes, in the order the commands print them.
BACKFILL_SUMMARY = {
    SyncOutcome.CREATED: "created",
    SyncOutcome.UPDATED: "updated",
    SyncOutcome.UNCHANGED: "unchanged",
    SyncOutcome.STALE: "skipped",  # the local row is newer: a webhook got there first
    SyncOutcome.ALREADY_DELETED: "skipped",  # tombstoned locally: final
}
BACKFILL_SUMMARY_ORDER = ("created", "updated", "unchanged", "skipped")


def backfill_reconcile(upsert: Callable[..., Any], data: Any, *, dry_run: bool, **kwargs: Any) -> str:
    """Run one backfill upsert in its own transaction and name its outcome for the summary.

    Unusable data is "skipped". With `dry_run` the transaction is rolled back.
    Any other exception rolls back this item's transaction only, the items
    before it stay committed, and propagates.
    """
    with transaction.atomic():
        try:
            outcome = BACKFILL_SUMMARY[upsert(data, **kwargs).outcome]
        except ClerkDataError:
            outcome = "skipped"
        # An upsert refused after writing (a membership found in another organization under its
        # row lock) marked the block for rollback: keep that, or its writes would commit.
        transaction.set_rollback(dry_run or transaction.get_rollback())
    return outcome

"""What one sync call did to a row mirroring a Clerk object (a user, an organization, a membership)."""

import enum
from collections.abc import Callable
from typing import Any

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


def backfill_reconcile(upsert: Callable[..., Any], data: Any, **kwargs: Any) -> str:
    """Run one backfill upsert and name its outcome for the summary; unusable data is "skipped"."""
    try:
        result = upsert(data, **kwargs)
    except ClerkDataError:
        return "skipped"
    return BACKFILL_SUMMARY[result.outcome]

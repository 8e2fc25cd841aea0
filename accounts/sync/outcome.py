"""What one sync call did to a row mirroring a Clerk object (a user, an organization, a membership)."""

import enum


class SyncOutcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    STALE = "stale"  # older than the stored state (an embedded copy: also as old but unlike it): nothing changed
    DELETED = "deleted"  # tombstoned by this call
    ALREADY_DELETED = "already_deleted"  # tombstoned earlier: nothing changed

"""What a pass did: counts by kind and action, the first repairs by Clerk id, unusable entries, and drift."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field

from accounts.reconcile.models import COUNT_FIELDS
from accounts.sync.outcome import SyncOutcome

logger = logging.getLogger("accounts.reconcile")

# A repair of a change Clerk made this long before the pass began means a delivery was lost:
# a change that recent may simply still be on its way (Svix retries within seconds to minutes).
DRIFT_AGE = dt.timedelta(minutes=15)
REPAIRS_KEPT = 100  # the pass record lists this many repairs; the counts cover them all

# The outcomes a pass counts as repairs, by the action its summary names.
ACTIONS = {SyncOutcome.CREATED: "created", SyncOutcome.UPDATED: "updated", SyncOutcome.DELETED: "tombstoned"}


@dataclass
class PassReport:
    started_at: dt.datetime
    counts: Counter[str] = field(default_factory=Counter)  # "users_created" etc.: COUNT_FIELDS
    seen: Counter[str] = field(default_factory=Counter)  # entries Clerk listed, by kind
    skipped: int = 0
    repairs: list[dict[str, str]] = field(default_factory=list)
    drift: bool = False

    def note(self, kind: str, outcome: SyncOutcome | None, clerk_id: str, changed_at: dt.datetime | None) -> None:
        """Count one write's outcome; `changed_at` is Clerk's updated_at of the data it applied."""
        if outcome is None:
            self.skip(kind, "its data was refused by the sync rules")
            return
        action = ACTIONS.get(outcome)
        if action is None:
            return
        self.counts[f"{kind}_{action}"] += 1
        if len(self.repairs) < REPAIRS_KEPT:
            self.repairs.append({"kind": kind, "action": action, "clerk_id": clerk_id})
        old = changed_at is None or changed_at < self.started_at - DRIFT_AGE
        self.drift = self.drift or action == "tombstoned" or old

    def skip(self, kind: str, why: str) -> None:
        """An entry Clerk listed that cannot be used: counted and logged, never a reason to stop or tombstone."""
        self.skipped += 1
        logger.warning("reconcile skipped one of Clerk's %s: %s", kind, why)

    def line(self) -> str:
        """`users_created=0 users_updated=2 …`: the counts in COUNT_FIELDS' order."""
        return " ".join(f"{name}={self.counts.get(name, 0)}" for name in COUNT_FIELDS)

"""The record of every reconciliation pass, and the marks a full pass leaves on what Clerk listed.

Imported by accounts/models.py, so Django registers these in the accounts app;
this module imports nothing of accounts.
"""

from django.db import models
from django.db.models import Q

# The counts every pass records and `reconcile_clerk` prints, in the order it prints them.
COUNT_FIELDS = tuple(
    f"{kind}_{action}"
    for kind in ("users", "organizations", "memberships")
    for action in ("created", "updated", "tombstoned")
)


class ReconcilePass(models.Model):
    """One pass: what it was, when it ran, how it ended, and what it repaired.

    A `running` pass is also the lock that keeps passes from overlapping: at
    most one row may be `running` (a partial unique constraint), and it holds
    a lease its worker renews page by page. A running pass whose lease ran out
    was abandoned (its worker died) and is marked failed by the next pass.
    """

    class Kind(models.TextChoices):
        INCREMENTAL = "incremental", "Incremental"
        FULL = "full", "Full"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule (db_worker)"
        COMMAND = "command", "Command (reconcile_clerk)"
        ADMIN = "admin", "Run now (admin)"

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RUNNING)
    error = models.TextField(blank=True, help_text="Why the pass did not complete.")
    worker = models.CharField(max_length=255, blank=True, help_text="host:pid of the process running it.")
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="While running: when the pass counts as abandoned unless renewed."
    )
    users_created = models.PositiveIntegerField(default=0)
    users_updated = models.PositiveIntegerField(default=0)
    users_tombstoned = models.PositiveIntegerField(default=0)
    organizations_created = models.PositiveIntegerField(default=0)
    organizations_updated = models.PositiveIntegerField(default=0)
    organizations_tombstoned = models.PositiveIntegerField(default=0)
    memberships_created = models.PositiveIntegerField(default=0)
    memberships_updated = models.PositiveIntegerField(default=0)
    memberships_tombstoned = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0, help_text="Entries Clerk listed with unusable data.")
    clerk_calls = models.PositiveIntegerField(default=0, help_text="Requests sent to Clerk's Backend API.")
    repairs = models.JSONField(
        default=list, blank=True, help_text="The first repairs: kind, action and Clerk id of each row changed."
    )
    drift = models.BooleanField(
        default=False,
        help_text="It repaired a change Clerk made over 15 minutes before it began, or tombstoned a row: "
        "a delivery was lost or never processed.",
    )

    class Meta:
        ordering = ["-started_at", "-pk"]
        permissions = [("run_reconcilepass", "Can run a reconciliation pass now")]
        constraints = [
            models.UniqueConstraint(
                fields=["outcome"], condition=Q(outcome="running"), name="accounts_reconcile_one_running"
            ),
        ]
        indexes = [models.Index(fields=["outcome", "-started_at"], name="accounts_reconcile_last_idx")]
        verbose_name = "reconciliation pass"
        verbose_name_plural = "reconciliation passes"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} pass of {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def repaired(self) -> int:
        return sum(getattr(self, name) for name in COUNT_FIELDS)


class ReconcileSeen(models.Model):
    """A Clerk id a running full pass saw listed: what it did not see is checked with Clerk one by one.

    Rows live only while their pass runs (`pass_key`); the database, not the
    worker's memory, holds the set, so a pass over millions of users stays flat in memory.
    """

    pass_key = models.CharField(max_length=32)
    kind = models.CharField(max_length=32)
    clerk_id = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["pass_key", "kind", "clerk_id"], name="accounts_reconcile_seen_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.clerk_id}"

"""The schedule every db_worker shares: one row per recurring job, with when it is due and who runs it.

Imported by accounts/models.py, so Django registers it in the accounts app;
this module imports nothing of accounts.
"""

from django.db import models


class ScheduledJob(models.Model):
    """A recurring job (accounts/schedule/jobs.py): claimed by one worker at a time with a lease.

    A worker claims a due job with one conditional UPDATE (due, and no live
    lease), runs it, renewing the lease while it works, and sets the next due
    time. A worker that dies leaves its lease to run out; another then claims
    the job. A job whose interval is 0 is not scheduled, and runs only when requested.
    """

    name = models.CharField(max_length=64, primary_key=True)
    next_due_at = models.DateTimeField(null=True, blank=True, help_text="Empty: due at once (a new job).")
    requested_at = models.DateTimeField(null=True, blank=True, help_text="Asked to run now (admin), whatever is due.")
    lease_owner = models.CharField(max_length=255, blank=True, help_text="host:pid of the worker running it.")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(max_length=16, blank=True, help_text="completed, failed or skipped.")
    last_summary = models.TextField(blank=True, help_text="What the last run did, or why it failed.")

    class Meta:
        ordering = ["name"]
        verbose_name = "scheduled job"

    def __str__(self) -> str:
        return self.name

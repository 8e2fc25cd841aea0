"""Reconcile every Clerk organization and membership into the local tables."""

from accounts.management.clerk_sync import ClerkSyncCommand
from accounts.sync.backfill import BACKFILL_SUMMARY_ORDER, OrganizationBackfillReport, organizations_backfill_from_clerk


class Command(ClerkSyncCommand):
    help = (
        "Walk Clerk's organization list, then its membership list (limit/offset pages), and create or update "
        "each locally, like the webhooks would. Tombstones nothing Clerk no longer lists. Safe to run again; "
        "an interrupted run can simply be restarted."
    )

    def sync(self, client, *, dry_run, page_size, **options):
        self._kind = None
        return organizations_backfill_from_clerk(
            client, dry_run=dry_run, page_size=page_size, on_progress=self._progress
        )

    def summary_write(self, report, *, prefix, **options):
        for kind in ("organizations", "memberships"):
            counts = report.counts[kind]
            summary = ", ".join(f"{counts.get(name, 0)} {name}" for name in BACKFILL_SUMMARY_ORDER)
            self.stdout.write(f"{prefix}{report.seen[kind]} Clerk {kind}: {summary}")

    def _progress(self, report: OrganizationBackfillReport, kind: str) -> None:
        if self._kind not in (None, kind):
            self.stderr.write("")  # the organizations' line stays; the memberships' starts below it
        self._kind = kind
        counts = " ".join(f"{name}={report.counts[kind].get(name, 0)}" for name in BACKFILL_SUMMARY_ORDER)
        self.stderr.write(f"\rsynced {report.seen[kind]} {kind}  {counts}", ending="")

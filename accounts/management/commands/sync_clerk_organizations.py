"""Reconcile every Clerk organization and membership into the local tables."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from accounts.clerk.api import ClerkAPIError, ClerkClient
from accounts.clerk.errors import Unavailable
from accounts.sync.organization_backfill import OrganizationBackfillReport, organizations_backfill_from_clerk
from accounts.sync.outcome import BACKFILL_SUMMARY_ORDER


class Command(BaseCommand):
    help = (
        "Walk Clerk's organization list, then its membership list (limit/offset pages), and create or update "
        "each locally, like the webhooks would. Tombstones nothing Clerk no longer lists. Safe to run again; "
        "an interrupted run can simply be restarted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
        parser.add_argument("--page-size", type=int, default=500, help="items per request, 1-500 (default 500)")

    def handle(self, *args, dry_run, page_size, **options):
        if not 1 <= page_size <= 500:
            raise CommandError("--page-size must be between 1 and 500")
        # A batch job can afford to wait out Clerk's rate limit (Retry-After) a few times.
        client = ClerkClient(max_retries=5, max_wait=60.0)
        self._kind = None
        try:
            report = organizations_backfill_from_clerk(
                client, dry_run=dry_run, page_size=page_size, on_progress=self._progress
            )
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        except (ClerkAPIError, Unavailable) as exc:
            raise CommandError(f"Clerk's API failed: {exc}. Nothing is lost: run the command again.") from None
        self.stderr.write("")
        prefix = "dry run, nothing written: " if dry_run else ""
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

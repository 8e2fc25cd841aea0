"""What the commands that walk Clerk share: `--dry-run`, `--page-size`, a client and their errors' one-line messages.

sync_clerk_users, sync_clerk_organizations and reconcile_clerk subclass `ClerkSyncCommand`
and write only their own options, walk and summary (reconcile_clerk its client too). It lives outside
commands/, where Django would take every module for a command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from accounts.clerk.api import LIST_MAX_LIMIT, ClerkAPIError, ClerkClient, clerk_batch_client
from accounts.clerk.errors import Unavailable
from accounts.sync.backfill import BACKFILL_SUMMARY_ORDER
from accounts.sync.users import ProvisioningFailed


class ClerkSyncCommand(BaseCommand):
    """A backfill from Clerk: checks the page size, runs `sync` with the batch client, maps Clerk's failures."""

    page_items = "items"  # what a page holds, for --page-size's help

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
        self.add_sync_arguments(parser)
        parser.add_argument(
            "--page-size",
            type=int,
            default=LIST_MAX_LIMIT,
            help=f"{self.page_items} per request, 1-{LIST_MAX_LIMIT} (default {LIST_MAX_LIMIT})",
        )

    def add_sync_arguments(self, parser) -> None:
        """The command's own options, listed between --dry-run and --page-size."""

    def handle(self, *args, dry_run: bool, page_size: int, **options: Any) -> None:
        if not 1 <= page_size <= LIST_MAX_LIMIT:
            raise CommandError(f"--page-size must be between 1 and {LIST_MAX_LIMIT}")
        try:
            report = self.sync(self.clerk_client(), dry_run=dry_run, page_size=page_size, **options)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        except (ClerkAPIError, Unavailable) as exc:
            raise CommandError(f"Clerk's API failed: {exc}. Nothing is lost: run the command again.") from None
        except ProvisioningFailed as exc:
            raise CommandError(f"{exc}. The user it was on was rolled back: fix the receiver, run again.") from None
        self.stderr.write("")  # ends the progress line
        self.summary_write(report, prefix="dry run, nothing written: " if dry_run else "", dry_run=dry_run, **options)

    def clerk_client(self) -> ClerkClient:
        """The client the walk calls Clerk with: the batch policy (accounts/clerk/api.py)."""
        return clerk_batch_client()

    def sync(self, client: ClerkClient, *, dry_run: bool, page_size: int, **options: Any) -> Any:
        """Walk Clerk and reconcile, reporting progress on stderr; returns the report `summary_write` prints."""
        raise NotImplementedError

    def summary_write(self, report: Any, *, prefix: str, dry_run: bool, **options: Any) -> None:
        """Print the summary on stdout, each line starting with `prefix` when it is a dry run."""
        raise NotImplementedError

    @staticmethod
    def counts_summary(counts: Mapping[str, int]) -> str:
        """The summary's counts, in the order the commands print them: "3 created, 1 updated, …"."""
        return ", ".join(f"{counts.get(name, 0)} {name}" for name in BACKFILL_SUMMARY_ORDER)

    def progress_write(self, seen: int, what: str, counts: Mapping[str, int]) -> None:
        """Rewrite the progress line on stderr: "synced 500 users  created=3 updated=1 …"."""
        line = " ".join(f"{name}={counts.get(name, 0)}" for name in BACKFILL_SUMMARY_ORDER)
        self.stderr.write(f"\rsynced {seen} {what}  {line}", ending="")

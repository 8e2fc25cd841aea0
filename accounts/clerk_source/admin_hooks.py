"""What staff see of Clerk in the ledger's admin: what events concern, search by email, Clerk's health figures.

The ledger (`webhooks`) knows no sender; these are the hooks `clerk_source`
(accounts/clerk_source/handlers.py) brings to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.db.models import Count
from django.template.defaultfilters import truncatechars
from django.urls import reverse
from django.utils.html import format_html
from django.utils.timesince import timesince

from accounts.alarms.heartbeats import workers_live
from accounts.clerk_source.schedule_health import schedule_health
from accounts.erasure.payloads import erasure_enabled
from accounts.erasure.rows import users_awaiting_erasure
from accounts.models import Organization, User
from accounts.welcome.queue import WAITING_WARNING, welcome_email_queue
from webhooks.models import WebhookEvent
from webhooks.registry import HealthBlock, HealthRow, SubjectLink

CreatedVia = User.CreatedVia

# Above this share of users created just in time, webhooks are probably not arriving.
JIT_SHARE_WARNING = 0.10


def clerk_subject_links(events: Sequence[WebhookEvent]) -> Mapping[int, SubjectLink]:
    """Events about a local user or organization link to its admin page, named: one query per kind for the whole page.

    The label is the Clerk id and who it is: `user_… Ada Okafor, ada@example.com`, `org_… Acme`.
    """
    links = {}
    for model, prefix, fields in (
        (User, "user_", ("first_name", "last_name", "email")),
        (Organization, "org_", ("name",)),
    ):
        clerk_ids = {event.subject_id for event in events if event.subject_id.startswith(prefix)}
        if not clerk_ids:
            continue
        rows = {
            row[0]: row[1:]
            for row in model.objects.filter(clerk_id__in=clerk_ids).values_list("clerk_id", "pk", *fields)
        }
        url_name = f"admin:accounts_{model._meta.model_name}_change"
        for event in events:
            row = rows.get(event.subject_id)
            if row is not None:
                pk, *names = row
                links[event.pk] = SubjectLink(_named(event.subject_id, names), reverse(url_name, args=[pk]))
    return links


def _named(clerk_id: str, names: list[str]) -> str:
    """`user_… Ada Okafor, ada@example.com` from (first name, last name, email), `org_… Acme` from (name,)."""
    if len(names) == 3:
        first_name, last_name, email = names
        names = [f"{first_name} {last_name}".strip(), email]
    who = ", ".join(name for name in names if name)
    return f"{clerk_id} {who}" if who else clerk_id


def clerk_subject_search(term: str) -> list[str] | None:
    """An email names the Clerk users who have it, exactly but case-insensitively (the email index)."""
    if "@" not in term:
        return None
    return list(User.objects.filter(email__iexact=term, clerk_id__isnull=False).values_list("clerk_id", flat=True))


def clerk_health() -> list[HealthBlock]:
    """Clerk's figures for the sync health page: how users arrive, the welcome emails, workers, reconciliation."""
    return [_users_block(), *_welcome_email_blocks(), _workers_block(), *schedule_health(), _recovery_block()]


def _users_block() -> HealthBlock:
    by_path = dict(
        User.objects.filter(clerk_id__isnull=False)
        .values_list("created_via")
        .annotate(users=Count("pk"))
        .values_list("created_via", "users")
    )
    jit, webhook, sync = (by_path.get(path, 0) for path in (CreatedVia.JIT, CreatedVia.WEBHOOK, CreatedVia.SYNC))
    share = jit / (jit + webhook) if jit + webhook else None
    too_high = share is not None and share > JIT_SHARE_WARNING
    note = ""
    if too_high:
        note = format_html(
            "<strong>Above {}%: Clerk's webhooks are probably not reaching this app.</strong> "
            "Check the endpoint URL and signing secret in the Clerk Dashboard, and the refused deliveries below.",
            round(JIT_SHARE_WARNING * 100),
        )
    row = HealthRow(
        "Users created just in time (vs. by webhook)",
        "—" if share is None else f"{round(share * 100)}%",
        warning=too_high,
        detail=f"{jit} just in time, {webhook} by webhook, {sync} by backfill",
        key="jit-share",
    )
    return HealthBlock(title="Clerk users", rows=[row, _erasure_row()], note=note, key="clerk-users")


def _erasure_row() -> HealthRow:
    """Deleted users whose personal data is not all erased yet: zero in normal operation (docs/privacy.md)."""
    awaiting = users_awaiting_erasure().count()
    enabled = erasure_enabled()
    return HealthRow(
        "Deleted users awaiting erasure",
        str(awaiting),
        warning=enabled and awaiting > 0,
        detail="erasure is off (CLERK_ERASE_DELETED_USERS=0)"
        if not enabled
        else ("queued for a worker, or run manage.py erase_deleted_users" if awaiting else ""),
        url=f"{reverse('admin:accounts_user_changelist')}?deleted=yes",
        key="erasure-awaiting",
    )


def _welcome_email_blocks() -> list[HealthBlock]:
    queue = welcome_email_queue()
    provisionings = reverse("admin:accounts_userprovisioning_changelist")
    waited = queue.oldest_waiting_since
    pending = HealthRow(
        "Welcome emails pending",
        str(queue.pending),
        warning=queue.waiting_too_long,
        detail=f"the oldest has waited {timesince(waited)} for a worker" if waited else "",
        url=f"{provisionings}?welcome_email__exact=pending",
        key="welcome-emails-pending",
    )
    pending_note = ""
    if queue.waiting_too_long:
        pending_note = format_html(
            "<strong>Waiting more than {} minutes: is a worker running?</strong> "
            "With <code>TASKS_BACKEND=database</code>, <code>python manage.py db_worker</code> sends them.",
            int(WAITING_WARNING.total_seconds() // 60),
        )
    failed_note = ""
    if queue.failed:
        failed_note = format_html(
            '{} failed after retrying for a day. <a href="{}">Select them to retry</a>.',
            queue.failed_count,
            f"{provisionings}?welcome_email__exact=failed",
        )
    failed = [
        HealthRow(
            f"{provisioning.user.clerk_id} {provisioning.user.email}",
            f"{provisioning.welcome_email_attempts} attempts",
            warning=True,
            detail=truncatechars(provisioning.welcome_email_last_error, 160),
        )
        for provisioning in queue.failed
    ]
    return [
        HealthBlock(title="Welcome emails", rows=[pending], note=pending_note, key="welcome-emails"),
        HealthBlock(
            title="Welcome emails that failed for good", rows=failed, note=failed_note, key="welcome-emails-failed"
        ),
    ]


def _workers_block() -> HealthBlock:
    """The db_workers alive now (a sign of life in the last 2 minutes): host, process id, since when."""
    rows = [
        HealthRow(
            f"{worker.host} pid {worker.pid}",
            f"seen {timesince(worker.last_seen_at)} ago",
            detail=f"running since {worker.started_at:%Y-%m-%d %H:%M:%S} UTC",
        )
        for worker in workers_live()
    ]
    return HealthBlock(title="Background workers (db_worker) alive", rows=rows, key="workers")


def _recovery_block() -> HealthBlock:
    """The way back from lost deliveries: Clerk's webhook dashboard, where Svix keeps what it could not deliver."""
    note = format_html(
        '<a href="{}" id="clerk-webhook-dashboard">Clerk webhook dashboard</a>: re-enable the endpoint if Svix '
        "disabled it, then recover failed messages since the date deliveries stopped (they are delivered again "
        "and the ledger takes each once). Needs the permission \u201cCan open Clerk's webhook dashboard\u201d.",
        reverse("clerk_webhook_dashboard"),
    )
    return HealthBlock(title="Recovering lost deliveries", rows=[], note=note, key="recovery")

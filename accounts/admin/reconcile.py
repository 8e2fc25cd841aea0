"""Reconciliation passes in the admin: what each pass did, newest first, and "run a pass now" for staff allowed to.

Read-only: passes are written by the pass itself (accounts/reconcile/). A pass
asked for here is queued on the workers' schedule (accounts/schedule/), never
run in the request; a db_worker takes it within SCHEDULE_TICK_SECONDS.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts.models import Organization, OrganizationMembership, ReconcilePass, User
from accounts.schedule.runner import schedule_request
from webhooks.admin.display import moment_column
from webhooks.admin.readonly import ReadOnlyAdminMixin

started = moment_column("started_at", "started")
finished = moment_column("finished_at", "finished")

# Which admin page a repair's Clerk id links to.
REPAIRED_MODELS = {"users": User, "organizations": Organization, "memberships": OrganizationMembership}
RUN_JOBS = {"incremental": "reconcile_incremental", "full": "reconcile_full"}


@admin.register(ReconcilePass)
class ReconcilePassAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (started, "kind", "trigger", "outcome", finished, "repaired", "drift", "clerk_calls")
    list_display_links = (started,)
    list_filter = ("outcome", "kind", "trigger", "drift")
    date_hierarchy = "started_at"
    fields = (
        ("kind", "trigger", "outcome"),
        ("started_at", "finished_at", "worker"),
        "error",
        ("users_created", "users_updated", "users_tombstoned"),
        ("organizations_created", "organizations_updated", "organizations_tombstoned"),
        ("memberships_created", "memberships_updated", "memberships_tombstoned"),
        ("skipped", "clerk_calls", "drift"),
        "repairs_linked",
    )
    readonly_fields = tuple(name for line in fields for name in (line if isinstance(line, tuple) else (line,)))

    @admin.display(description="rows repaired")
    def repaired(self, record: ReconcilePass) -> int:
        return record.repaired

    @admin.display(description="what it repaired (the first 100)")
    def repairs_linked(self, record: ReconcilePass) -> str:
        """Each repair linked to its row: one query per kind of row."""
        pks: dict[tuple[str, str], int] = {}
        for kind, model in REPAIRED_MODELS.items():
            clerk_ids = {repair["clerk_id"] for repair in record.repairs if repair.get("kind") == kind}
            rows = model.objects.filter(clerk_id__in=clerk_ids).values_list("clerk_id", "pk")
            pks.update({(kind, clerk_id): pk for clerk_id, pk in rows})

        def line(repair: dict) -> tuple:
            kind, clerk_id = repair.get("kind", ""), repair.get("clerk_id", "")
            pk = pks.get((kind, clerk_id))
            model = REPAIRED_MODELS.get(kind)
            url = reverse(f"admin:accounts_{model._meta.model_name}_change", args=[pk]) if pk and model else ""
            return (url or "#", clerk_id, f"{kind[:-1]} {repair.get('action', '')}")

        if not record.repairs:
            return "nothing"
        return format_html(
            "<ul>{}</ul>", format_html_join("", '<li><a href="{}">{}</a>: {}</li>', map(line, record.repairs))
        )

    def has_run_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.run_reconcilepass")

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("run/<str:kind>/", self.admin_site.admin_view(self.run_view), name="{}_{}_run".format(*info)),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_run": self.has_run_permission(request)}
        return super().changelist_view(request, extra_context)

    def run_view(self, request: HttpRequest, kind: str):
        """The changelist's "Run … pass now" buttons: a CSRF-protected POST, with the permission."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_run_permission(request) or kind not in RUN_JOBS:
            raise PermissionDenied
        schedule_request(RUN_JOBS[kind])
        self.message_user(
            request,
            f"A {kind} pass is queued: a db_worker starts it within {settings.SCHEDULE_TICK_SECONDS:g} seconds "
            "(once any pass running now has ended). It appears here when it starts.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:accounts_reconcilepass_changelist"))

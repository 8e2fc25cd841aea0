"""The ledger in Django admin: browse events, read what happened to each, replay, see sync health.

Read-only by design (webhooks/admin/readonly.py): staff add and change nothing here. They
replay an event, which runs the same service as a delivery, and staff holding the delete
permission may clear refusal counts; events are deleted only by prune_webhook_events.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet, TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.http import Http404, HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from webhooks.admin.changelist import (
    CappedCountPaginator,
    EventTypeFilter,
    SourceFilter,
    SubjectLinkedChangeList,
    event_search,
    subject_link_of,
)
from webhooks.admin.charts import STATUS_COLOURS
from webhooks.admin.display import breakable_type, long_text, moment, moment_column
from webhooks.admin.health import sync_health_view
from webhooks.admin.html import json_text_to_html
from webhooks.admin.readonly import ReadOnlyAdminMixin
from webhooks.models import ERASED_KEY, WebhookAttempt, WebhookEvent, WebhookRejection
from webhooks.services import DeliveryResult, webhook_event_replay


class WebhookAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WebhookAttempt
    refused = frozenset({"add", "change"})  # nor a delete checkbox: can_delete = False
    fields = ["started", "kind", "outcome_badge", "http_status", "duration_ms", "error_text"]
    readonly_fields = fields
    ordering = ["started_at", "pk"]
    extra = 0
    can_delete = False
    verbose_name_plural = "Attempts, oldest first"

    @admin.display(description="started")
    def started(self, attempt: WebhookAttempt) -> str:
        return moment(attempt.started_at)

    @admin.display(description="outcome")
    def outcome_badge(self, attempt: WebhookAttempt) -> str:
        return badge(attempt.outcome, attempt.get_outcome_display())

    @admin.display(description="error")
    def error_text(self, attempt: WebhookAttempt) -> str:
        return error_html(attempt.error)


received = moment_column("received_at", "received")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Refuses adding, changing and deleting (retention is prune_webhook_events' job).
    # Fits 1280 px beside the filters: what an event concerns sits under its type.
    list_display = [
        received,
        "source",
        "type_and_subject",
        "status_badge",
        "attempts",
        "event_id",
    ]
    list_display_links = [received, "event_id"]
    list_filter = [SourceFilter, EventTypeFilter, "status"]
    date_hierarchy = "received_at"
    search_fields = ["event_id"]  # shows the search box; the search itself is exact, see get_search_results
    search_help_text = (
        "An event id (svix-id), what an event concerns (e.g. a Clerk user id, user_…), "
        "or a term its source knows (e.g. a local user's email), exactly."
    )
    ordering = ["-received_at", "-pk"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # facet counts would count the whole ledger per filter choice
    paginator = CappedCountPaginator
    list_per_page = 50
    actions = ["replay_events"]
    fields = [
        "source",
        "event_id",
        "event_type",
        "subject",
        "status_badge",
        "attempts",
        "received_at",
        "processed_at",
        "last_error_text",
    ]  # the payload comes after the attempts (change_form.html), being long
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    change_form_template = "admin/webhooks/webhookevent/change_form.html"
    change_list_template = "admin/webhooks/webhookevent/change_list.html"

    def get_changelist(self, request: HttpRequest, **kwargs):
        return SubjectLinkedChangeList  # what each event concerns: one lookup per page, not per row

    def get_search_results(self, request, queryset, search_term):
        """Exact matches only, each served by an index (a substring search would scan the ledger)."""
        matches = event_search(search_term)
        return (queryset, False) if matches is None else (queryset.filter(matches), False)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.replay_webhookevent")

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("health/", self.admin_site.admin_view(self.health_view), name="{}_{}_health".format(*info)),
            path(
                "<path:object_id>/replay/",
                self.admin_site.admin_view(self.replay_view),
                name="{}_{}_replay".format(*info),
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_replay": self.has_replay_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEvent]:
        # No page decodes payloads with the rows: the list shows none, an event's page reads its own as text.
        return super().get_queryset(request).defer("payload")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            # As text, and when it was erased by a key lookup in the database: no deep decode on this stack.
            raw, erased_at = (
                WebhookEvent.objects.filter(pk=obj.pk)
                .values_list(Cast("payload", TextField()), KT(f"payload__{ERASED_KEY}"))
                .get()
            )
            context["payload_html"] = json_text_to_html(raw)
            if erased_at:
                note = format_html(
                    "<p><strong>Erased {}</strong>: the source removed personal data from it.</p>", erased_at
                )
                context["payload_html"] = note + context["payload_html"]
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- views ---------------------------------------------------------------------------------

    def replay_view(self, request: HttpRequest, object_id: str):
        """The detail page's Replay button: a CSRF-protected POST, with the replay permission."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_replay_permission(request):
            raise PermissionDenied
        # get_object answers None for an id that is not a valid key (e.g. "abc"), as for a missing one.
        event = self.get_object(request, unquote(object_id))
        if event is None:
            raise Http404("no such webhook event")
        self._report(request, event, webhook_event_replay(event.pk))
        return HttpResponseRedirect(reverse("admin:webhooks_webhookevent_change", args=[event.pk]))

    def health_view(self, request: HttpRequest):
        return sync_health_view(self, request)

    # --- actions -------------------------------------------------------------------------------

    @admin.action(description="Replay selected events", permissions=["replay"])
    def replay_events(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        for event in queryset.order_by("received_at", "pk"):
            self._report(request, event, webhook_event_replay(event.pk))

    def _report(self, request: HttpRequest, event: WebhookEvent, result: DeliveryResult) -> None:
        if result.outcome == WebhookAttempt.Outcome.FAILED:
            self.message_user(request, f"{event}: replay failed: {result.error}", messages.ERROR)
        else:
            self.message_user(request, f"{event}: replayed, {result.outcome}.", messages.SUCCESS)

    # --- columns -------------------------------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_badge(self, event: WebhookEvent) -> str:
        return badge(event.status, event.get_status_display())

    @admin.display(description="type / concerns", ordering="event_type")
    def type_and_subject(self, event: WebhookEvent) -> str:
        return format_html(
            '{}<br><small class="subject">{}</small>', breakable_type(event.event_type), self.subject(event)
        )

    @admin.display(description="concerns")
    def subject(self, event: WebhookEvent) -> str:
        if not event.subject_id:
            return "—"
        link = subject_link_of(event)
        if link is None:
            return event.subject_id
        return format_html('<a href="{}">{}</a>', link.url, link.label) if link.url else link.label

    @admin.display(description="last error")
    def last_error_text(self, event: WebhookEvent) -> str:
        return error_html(event.last_error)


@admin.register(WebhookRejection)
class WebhookRejectionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Refused deliveries, counted per hour: a wall of bad_signature means a secret is out of date."""

    refused = frozenset({"add", "change"})  # staff with the delete permission may clear counts
    # Fits 1280 px beside the filters: the last event's id under when it was seen, the detail wrapping anywhere.
    list_display = [moment_column("hour", "hour"), "source", "reason", "count", "last_seen", "detail"]
    list_filter = ["source", "reason"]
    date_hierarchy = "hour"
    ordering = ["-hour", "reason"]

    @admin.display(description="last seen / event id", ordering="last_seen_at")
    def last_seen(self, rejection: WebhookRejection) -> str:
        return format_html("{}<br><small>{}</small>", moment(rejection.last_seen_at), rejection.last_event_id or "")

    @admin.display(description="last detail")
    def detail(self, rejection: WebhookRejection) -> str:
        return long_text(rejection.last_detail)


# The chart's status colours, and one for the attempt outcome no event status has.
BADGE_COLOURS = {**STATUS_COLOURS, WebhookAttempt.Outcome.DUPLICATE: "#6d4c41"}


def badge(status: str, label: str) -> str:
    return coloured_badge(BADGE_COLOURS.get(status, "#555"), label)


def coloured_badge(colour: str, label: str) -> str:
    """The admin's status badge: `label` on `colour`; other apps' admins use it for their own statuses."""
    return format_html(
        '<span class="status-badge" style="background:{};color:#fff;padding:1px 7px;border-radius:8px;'
        'font-size:11px;white-space:nowrap">{}</span>',
        colour,
        label,
    )


def error_html(error: str) -> str:
    return format_html('<pre class="attempt-error">{}</pre>', error) if error else "—"

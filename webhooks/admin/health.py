"""The sync health page: the ledger's own figures, then each source's, then events per hour and refusals."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.timesince import timesince

from webhooks.admin.charts import STATUS_COLOURS, hourly_chart_svg
from webhooks.admin.display import moment
from webhooks.models import WebhookRejection
from webhooks.registry import HealthBlock, HealthRow, registered_sources
from webhooks.selectors import SyncHealth, sync_health


def sync_health_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> TemplateResponse:
    """Staff who may view the ledger see the page; the figures are a fixed number of queries."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    health = sync_health()
    blocks = [ledger_health_block(health)]
    for source in registered_sources().values():
        if source.health:
            blocks.extend(source.health())
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Sync health",
        "health": health,
        "blocks": blocks,
        "chart": hourly_chart_svg(health.hourly),
        "legend": [(status.label, colour) for status, colour in STATUS_COLOURS.items()],
        "rejections": WebhookRejection.objects.filter(hour__gte=health.since).order_by("-hour")[:20],
    }
    return TemplateResponse(request, "admin/webhooks/health.html", context)


def ledger_health_block(health: SyncHealth) -> HealthBlock:
    """Failures still open and the last delivery, whatever the source."""
    failed, last = health.failed_last_hour, health.last_delivery_at
    failed_url = reverse("admin:webhooks_webhookevent_changelist") + "?status__exact=failed"
    return HealthBlock(
        title="Webhook deliveries",
        key="ledger-health",
        rows=[
            HealthRow(
                "Events that failed in the last hour and are still failed",
                str(failed),
                warning=bool(failed),
                url=failed_url if failed else "",
                key="failed-last-hour",
            ),
            HealthRow(
                "Last delivery arrived",
                f"{timesince(last)} ago" if last else "never",
                detail=moment(last) if last else "",
                key="last-delivery",
            ),
        ],
    )

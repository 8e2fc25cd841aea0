"""GET /metrics (Prometheus, behind METRICS_TOKEN) and the redirect to Clerk's webhook dashboard (staff)."""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from accounts.clerk.api import ClerkAPIError, clerk_client, svix_dashboard_url
from accounts.clerk.errors import Unavailable
from accounts.ops.exposition import metrics_text

logger = logging.getLogger(__name__)

DASHBOARD_PERMISSION = "accounts.open_clerk_webhook_dashboard"


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """404 unless METRICS_TOKEN is set; then 401 unless `Authorization: Bearer <METRICS_TOKEN>`."""
    token = settings.METRICS_TOKEN
    if not token:
        return JsonResponse({"error": "not found"}, status=404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return JsonResponse(
            {"error": "a bearer token is required"}, status=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
        )
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)


@require_GET
def clerk_webhook_dashboard(request: HttpRequest) -> HttpResponse:
    """Ask Clerk for a one-time link to its webhook dashboard (Svix's) and go there; staff with the permission."""
    if not request.user.has_perm(DASHBOARD_PERMISSION):
        raise PermissionDenied
    try:
        return HttpResponseRedirect(svix_dashboard_url(clerk_client()))
    except (Unavailable, ClerkAPIError, ImproperlyConfigured) as exc:
        logger.warning("Clerk's webhook dashboard link could not be fetched: %s", exc)
        messages.error(request, f"Clerk's webhook dashboard link could not be fetched: {exc}")
        return HttpResponseRedirect(reverse("admin:webhooks_webhookevent_health"))

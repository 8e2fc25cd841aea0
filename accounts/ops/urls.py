"""Mounted by config/urls.py (`include("accounts.ops.urls")`, reached by name, not imported)."""

from django.contrib import admin
from django.urls import path

from accounts.ops.views import clerk_webhook_dashboard, metrics

urlpatterns = [
    path("metrics", metrics, name="metrics"),
    path(
        "ops/clerk-webhook-dashboard/",
        admin.site.admin_view(clerk_webhook_dashboard),
        name="clerk_webhook_dashboard",
    ),
]

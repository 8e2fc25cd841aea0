"""The admin site staff see: our own header and title, and an index grouped the way the README tells it.

The index groups models by what a staff member comes for, not by Django app: the webhook
ledger with its sync health, Clerk's mirror (users, organizations, memberships), the
background work (welcome emails and the task library's queue), and staff access. A model
registered but not named in INDEX_GROUPS keeps its app's own box, so nothing disappears.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.urls import reverse


class IndexGroup:
    """One box of the admin index: `title`, and its models as (app label, model name) in order, renamed if wanted."""

    def __init__(self, key: str, title: str, models: list[tuple[str, str, str | None]]) -> None:
        self.key, self.title, self.models = key, title, models


# (app label, model name, the name to show instead of the model's, or None). To add a model to a
# box, add a line here.
INDEX_GROUPS = [
    IndexGroup(
        "ledger",
        "Webhook ledger",
        [("webhooks", "webhookevent", None), ("webhooks", "webhookrejection", None)],
    ),
    IndexGroup(
        "mirror",
        "Clerk's mirror",
        [("accounts", "user", None), ("accounts", "organization", None), ("accounts", "organizationmembership", None)],
    ),
    IndexGroup(
        "background",
        "Background work",
        [
            ("accounts", "userprovisioning", None),
            ("accounts", "reconcilepass", None),
            ("django_tasks_database", "dbtaskresult", "Task runs (the task library's own queue)"),
        ],
    ),
    IndexGroup("staff", "Staff access", [("auth", "group", "Groups of staff permissions")]),
]


class ControlRoomAdminSite(admin.AdminSite):
    site_header = "clerk-sync control room"
    site_title = "clerk-sync admin"
    index_title = "Control room"
    site_url = "/"  # "View site" leads to the service's front page
    empty_value_display = "—"  # as webhooks.admin.display.NOTHING: one way to say "nothing" on every page
    # Without the app list in a sidebar the changelists get the whole width; the index and breadcrumbs navigate.
    enable_nav_sidebar = False

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        """An app's own page keeps Django's list; the index (and every page's `available_apps`) gets INDEX_GROUPS."""
        app_list = super().get_app_list(request, app_label)
        if app_label is not None:
            return app_list
        return index_groups(app_list, index_url=reverse("admin:index", current_app=self.name))


def index_groups(app_list: list[dict], *, index_url: str) -> list[dict]:
    """Django's app list regrouped: INDEX_GROUPS first, in order, then whatever is left in its app's box."""
    models = {(app["app_label"], model["object_name"].lower()): model for app in app_list for model in app["models"]}
    grouped: list[dict] = []
    for group in INDEX_GROUPS:
        entries = []
        for app_label, model_name, shown_as in group.models:
            model = models.pop((app_label, model_name), None)
            if model is not None:
                entries.append({**model, "name": shown_as} if shown_as else model)
        if group.key == "ledger" and any(entry["object_name"] == "WebhookEvent" for entry in entries):
            entries.insert(0, _sync_health_entry())
        if entries:
            grouped.append(
                {
                    "name": group.title,
                    "app_label": group.key,
                    "app_url": f"{index_url}#{group.key}",  # the box itself: no page lists just these
                    "has_module_perms": True,
                    "models": entries,
                }
            )
    for app in app_list:
        rest = [model for model in app["models"] if (app["app_label"], model["object_name"].lower()) in models]
        if rest:
            grouped.append({**app, "models": rest})
    return grouped


def _sync_health_entry() -> dict:
    """The sync health page, listed like a read-only model (whoever may view the ledger may view it)."""
    url = reverse("admin:webhooks_webhookevent_health")
    return {
        "name": "Sync health",
        "object_name": "SyncHealth",
        "admin_url": url,
        "add_url": None,
        "view_only": True,
        "perms": {"view": True},
    }


class ControlRoomAdminConfig(AdminConfig):
    """django.contrib.admin with ControlRoomAdminSite as `admin.site` (INSTALLED_APPS names this instead)."""

    default_site = "config.admin_site.ControlRoomAdminSite"

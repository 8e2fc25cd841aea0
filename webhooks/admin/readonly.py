"""One way to say that an admin page is read-only: which of add, change and delete it refuses.

The ledger's admin and accounts' admin both use it. It lives here because accounts may
import webhooks and webhooks never imports accounts.
"""

from __future__ import annotations

from django.http import HttpRequest

EVERYTHING = frozenset({"add", "change", "delete"})


class ReadOnlyAdminMixin:
    """For a ModelAdmin or an inline whose rows are written elsewhere (a delivery, Clerk, a worker).

    `refused` names the permissions refused here whatever a user holds; the others stay
    Django's per-model permissions. By default adding, changing and deleting are refused.
    Custom permissions (replaying an event, retrying a welcome email) are each admin's own.
    """

    refused: frozenset[str] = EVERYTHING

    # A ModelAdmin asks has_add_permission(request), an inline has_add_permission(request, obj).
    def has_add_permission(self, request: HttpRequest, *obj) -> bool:
        return "add" not in self.refused and super().has_add_permission(request, *obj)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return "change" not in self.refused and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return "delete" not in self.refused and super().has_delete_permission(request, obj)

"""What every admin of a Clerk mirror shares: "deleted in Clerk" as a filter and as a column, and who a user is.

Used by the users', organizations', memberships' and welcome emails' admins.
"""

from django.contrib import admin
from django.utils.html import format_html

from accounts.models import ClerkMirror, User
from webhooks.admin.display import NOTHING, moment
from webhooks.admin.events import coloured_badge

DELETED_COLOUR = "#c62828"


class DeletedInClerkFilter(admin.SimpleListFilter):
    """Rows Clerk deleted (`deleted_at` set: `is_deleted_in_clerk`), or the others: ?deleted=yes or ?deleted=no."""

    title = "deleted in Clerk"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


@admin.display(description="deleted in Clerk", ordering="deleted_at")
def deleted_in_clerk(row: ClerkMirror) -> str:
    """The column: a red "deleted" (when, on hover) for a row Clerk deleted, "—" for a live one; sortable by when.

    Not Django's boolean icons: a green tick on a deleted row read as "all is well".
    """
    if not row.is_deleted_in_clerk:
        return NOTHING
    return format_html('<span title="{}">{}</span>', moment(row.deleted_at), coloured_badge(DELETED_COLOUR, "deleted"))


def user_name(user: User) -> str:
    """Who a user is, in words: the name, else the email; a tombstone Clerk deleted before any data arrived says so."""
    name = f"{user.first_name} {user.last_name}".strip()
    if name or user.email:
        return name or user.email
    if user.is_deleted_in_clerk:
        return "(deleted in Clerk before any of its data arrived)"
    return NOTHING


def user_cell(user: User | None, *, fallback: str = NOTHING) -> str:
    """A user as a changelist cell: the name on one line, the email under it (and `fallback` for no user)."""
    if user is None:
        return fallback
    email = user.email if user.email and user.email != user_name(user) else ""
    return format_html("{}<br><small>{}</small>", user_name(user), email) if email else user_name(user)

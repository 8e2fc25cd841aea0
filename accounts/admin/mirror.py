"""What every admin of a Clerk mirror shares: "deleted in Clerk" as a filter and as a column.

Used by the users', organizations' and memberships' admins.
"""

from django.contrib import admin

from accounts.models import ClerkMirror


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


@admin.display(description="deleted in Clerk", boolean=True, ordering="deleted_at")
def deleted_in_clerk(row: ClerkMirror) -> bool:
    """The column: the row's `is_deleted_in_clerk`, sortable by when."""
    return row.is_deleted_in_clerk

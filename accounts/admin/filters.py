"""The list filter every admin of a Clerk mirror shares: users, organizations and memberships."""

from django.contrib import admin


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

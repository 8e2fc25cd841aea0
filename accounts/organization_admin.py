"""Organizations and memberships in the admin: read-only mirrors of Clerk, with members counted in one query."""

from django.contrib import admin
from django.db.models import Count, Q, QuerySet

from .models import Organization, OrganizationMembership

# Everything on these rows comes from Clerk (or says which path stored it): nothing is edited here.
ORGANIZATION_FIELDS = ("clerk_id", "name", "slug", "image_url", "clerk_updated_at", "created_via", "deleted_at")
MEMBERSHIP_FIELDS = (
    "clerk_id", "organization", "user_clerk_id", "user", "role", "permissions", "clerk_updated_at", "deleted_at"
)  # fmt: skip


class ReadOnlyInline(admin.TabularInline):
    model = OrganizationMembership
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class OrganizationMembershipInline(ReadOnlyInline):
    """An organization's memberships, ended ones included (their `deleted_at` says so)."""

    fields = readonly_fields = ("clerk_id", "user_clerk_id", "user", "role", "permissions", "deleted_at")
    ordering = ["deleted_at", "clerk_id"]


class UserMembershipInline(ReadOnlyInline):
    """A user's memberships, on the user's page."""

    fk_name = "user"
    fields = readonly_fields = ("organization", "clerk_id", "role", "permissions", "deleted_at")
    verbose_name_plural = "organization memberships (from Clerk)"

    def get_queryset(self, request) -> QuerySet:
        return super().get_queryset(request).select_related("organization")


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "clerk_id", "members", "deleted_in_clerk", "created_via"]
    list_filter = ["created_via", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["clerk_id", "slug", "name"]
    ordering = ["-created_at"]
    show_full_result_count = False
    fields = readonly_fields = (*ORGANIZATION_FIELDS, "members", "created_at")
    inlines = [OrganizationMembershipInline]

    def get_queryset(self, request) -> QuerySet:
        # The members of organization_current_members(), counted in the changelist's one query.
        current = Q(memberships__deleted_at__isnull=True, deleted_at__isnull=True)
        return super().get_queryset(request).annotate(members_count=Count("memberships", filter=current))

    def has_add_permission(self, request) -> bool:
        return False  # organizations come from Clerk

    @admin.display(description="members", ordering="members_count")
    def members(self, organization: Organization) -> int:
        return organization.members_count

    @admin.display(description="deleted in Clerk", boolean=True, ordering="deleted_at")
    def deleted_in_clerk(self, organization: Organization) -> bool:
        return organization.deleted_at is not None


@admin.register(OrganizationMembership)
class OrganizationMembershipAdmin(admin.ModelAdmin):
    list_display = ["clerk_id", "organization", "user_clerk_id", "user", "role", "deleted_in_clerk"]
    list_filter = [("deleted_at", admin.EmptyFieldListFilter)]
    list_select_related = ["organization", "user"]
    search_fields = ["clerk_id", "user_clerk_id", "organization__clerk_id", "organization__slug", "role"]
    ordering = ["-created_at"]
    show_full_result_count = False
    fields = readonly_fields = (*MEMBERSHIP_FIELDS, "created_at")

    def has_add_permission(self, request) -> bool:
        return False  # memberships come from Clerk

    @admin.display(description="deleted in Clerk", boolean=True, ordering="deleted_at")
    def deleted_in_clerk(self, membership: OrganizationMembership) -> bool:
        return membership.deleted_at is not None

"""Organizations and memberships in the admin: Clerk's mirrors, every field read-only, members counted in one query."""

from django.contrib import admin
from django.db.models import Case, Count, F, OuterRef, QuerySet, Subquery, When
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.http import urlencode

from accounts.admin.deletion import deleted_objects_counted
from accounts.admin.mirror import DeletedInClerkFilter, deleted_in_clerk, user_cell
from accounts.admin.search import search_related_first
from accounts.models import Organization, OrganizationMembership
from webhooks.admin.readonly import ReadOnlyAdminMixin

# Everything on these rows comes from Clerk (or says which path stored it): nothing is edited here.
ORGANIZATION_FIELDS = ("clerk_id", "name", "slug", "image_url", "clerk_updated_at", "created_via", "deleted_at")
MEMBERSHIP_FIELDS = (
    "clerk_id", "organization", "user_clerk_id", "user", "role", "permissions", "clerk_updated_at", "deleted_at"
)  # fmt: skip


# An organization's page shows this many of its memberships; the memberships list, filtered to it, has them all.
MEMBERS_SHOWN = 20


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrganizationMembership
    refused = frozenset({"add", "change"})  # nor a delete checkbox: can_delete = False
    extra = 0
    can_delete = False
    show_change_link = True


class FirstMembershipsFormSet(BaseInlineFormSet):
    """The organization's first MEMBERS_SHOWN memberships, with how many there are and a link to them all.

    An organization can have tens of thousands of members: the page costs the same
    queries and rows for five as for fifty thousand.
    """

    def get_queryset(self) -> QuerySet:
        if not hasattr(self, "_queryset"):
            self._queryset = super().get_queryset()[:MEMBERS_SHOWN]
        return self._queryset

    @cached_property
    def memberships_count(self) -> int:
        return self.instance.memberships.count()

    def summary(self) -> str:
        """'The first 20 of 50,000 memberships, current ones first.' (or '3 memberships.') and a link to them all."""
        shown, total = len(self.get_queryset()), self.memberships_count
        lead = f"{total:,} memberships."
        if shown < total:
            lead = f"The first {shown} of {total:,} memberships, current ones first."
        url = reverse("admin:accounts_organizationmembership_changelist")
        query = urlencode({OrganizationFilter.parameter_name: self.instance.clerk_id})
        return format_html('{} <a href="{}?{}">All {} in the memberships list</a>', lead, url, query, f"{total:,}")


class OrganizationMembershipInline(ReadOnlyInline):
    """An organization's first memberships, ended ones included (their `deleted_at` says so), current ones first."""

    formset = FirstMembershipsFormSet
    template = "admin/accounts/organization/memberships_inline.html"
    fields = readonly_fields = ("clerk_id", "user_clerk_id", "user", "role", "permissions", "deleted_at")
    # NULLs sort last in PostgreSQL and first in SQLite: say which, so current memberships come first on both.
    ordering = [F("deleted_at").asc(nulls_first=True), "clerk_id"]

    def get_queryset(self, request) -> QuerySet:
        return super().get_queryset(request).select_related("user")  # the user column, in the same query


class UserMembershipInline(ReadOnlyInline):
    """A user's memberships, on the user's page."""

    fk_name = "user"
    fields = readonly_fields = ("organization", "clerk_id", "role", "permissions", "deleted_at")
    verbose_name_plural = "organization memberships (from Clerk)"

    def get_queryset(self, request) -> QuerySet:
        return super().get_queryset(request).select_related("organization")


@admin.register(Organization)
class OrganizationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Organizations come from Clerk: viewed, never added or changed (the index and list offer "View").
    refused = frozenset({"add", "change"})
    list_display = ["name", "slug", "clerk_id", "members", deleted_in_clerk, "created_via"]
    list_filter = ["created_via", DeletedInClerkFilter]
    search_fields = ["clerk_id", "slug", "name"]
    ordering = ["-created_at"]
    show_full_result_count = False
    fields = readonly_fields = (*ORGANIZATION_FIELDS, "members", "created_at")
    inlines = [OrganizationMembershipInline]

    def get_queryset(self, request) -> QuerySet:
        # The members of organization_current_members(), counted in the changelist's one query: for the
        # page's rows only (a subquery per row), not grouped over every membership (0.3 s for 200,000).
        current = OrganizationMembership.objects.filter(organization=OuterRef("pk"), deleted_at__isnull=True)
        counted = current.order_by().values("organization").annotate(n=Count("pk")).values("n")
        members = Case(When(deleted_at__isnull=True, then=Coalesce(Subquery(counted), 0)), default=0)
        return super().get_queryset(request).annotate(current_members=members)

    def get_deleted_objects(self, objs, request):
        return deleted_objects_counted(objs, request, self.admin_site)  # its memberships counted, not listed

    @admin.display(description="members", ordering="current_members")
    def members(self, organization: Organization) -> int:
        return organization.current_members


class OrganizationFilter(admin.SimpleListFilter):
    """One organization's memberships, by its Clerk id: where its page links to for all of them.

    Offers only the organization chosen (there can be thousands). An unknown id is offered
    too, named as such: a filter without choices would be skipped and list every membership.
    """

    title = "organization"
    parameter_name = "organization"

    def lookups(self, request, model_admin):
        if not self.value():
            return []
        organization = Organization.objects.filter(clerk_id=self.value()).first()
        return [(self.value(), str(organization) if organization else f"{self.value()} (no such organization)")]

    def queryset(self, request, queryset):
        return queryset.filter(organization__clerk_id=self.value()) if self.value() else queryset


@admin.register(OrganizationMembership)
class OrganizationMembershipAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    refused = frozenset({"add", "change"})  # memberships come from Clerk: viewed, never added or changed
    # Fits 1280 px beside the filters: the role under the membership's id, the Clerk ids under the names.
    list_display = ["clerk_id_and_role", "organization_name", "member", deleted_in_clerk]
    list_filter = [OrganizationFilter, DeletedInClerkFilter]
    list_select_related = ["organization", "user"]
    search_fields = ["clerk_id", "user_clerk_id", "organization__clerk_id", "organization__slug", "role"]
    ordering = ["-created_at"]
    show_full_result_count = False
    fields = readonly_fields = (*MEMBERSHIP_FIELDS, "created_at")

    def get_search_results(self, request, queryset, search_term):
        # Django's search joins every membership to its organization; the organizations are found first.
        return search_related_first(queryset, self.get_search_fields(request), search_term), False

    @admin.display(description="membership / role", ordering="clerk_id")
    def clerk_id_and_role(self, membership: OrganizationMembership) -> str:
        return format_html("{}<br><small>{}</small>", membership.clerk_id, membership.role)

    @admin.display(description="organization", ordering="organization__name")
    def organization_name(self, membership: OrganizationMembership) -> str:
        organization = membership.organization
        return format_html("{}<br><small>{}</small>", organization.name or organization.slug, organization.clerk_id)

    @admin.display(description="member", ordering="user_clerk_id")
    def member(self, membership: OrganizationMembership) -> str:
        """The member's name and email when the user is local, and always the Clerk user id under them."""
        who = user_cell(membership.user, fallback="(not local yet)")
        return format_html("{}<br><small>{}</small>", who, membership.user_clerk_id)

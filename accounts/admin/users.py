"""Users in the admin: Clerk's fields shown read-only (Clerk is the source of truth), with their events."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.urls import reverse
from django.utils.html import format_html

from accounts.admin.mirror import DeletedInClerkFilter, deleted_in_clerk, user_cell
from accounts.admin.organizations import UserMembershipInline
from accounts.admin.provisioning import welcome_email_badge
from accounts.models import User, UserProvisioning
from webhooks.admin.display import moment_column

# Fields Clerk owns on a Clerk user; a local staff account (no clerk_id) keeps them editable.
CLERK_OWNED_FIELDS = ("email", "first_name", "last_name", "image_url")
# Clerk's flags and data beyond the profile: always read-only (no local account has them).
CLERK_STATE_FIELDS = (
    "banned", "locked", "external_id", "last_sign_in_at", "public_metadata", "private_metadata", "unsafe_metadata"
)  # fmt: skip
CLERK_BOOKKEEPING_FIELDS = (
    "clerk_id", "created_via", "clerk_updated_at", "deleted_at", "webhook_events", "welcome_email"
)  # fmt: skip


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    # Fits 1280 px beside the filters: the email sits under the name, the username under the Clerk id.
    list_display = [
        "name_and_email",
        "clerk_id_and_username",
        "created_via",
        deleted_in_clerk,
        "access",
        moment_column("date_joined", "joined"),
    ]
    list_filter = ["created_via", DeletedInClerkFilter, "is_active", "banned", "locked", "is_staff", "is_superuser"]
    search_fields = ["username", "email", "clerk_id", "first_name", "last_name"]
    ordering = ["-date_joined"]
    show_full_result_count = False
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = [UserMembershipInline]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Clerk", {"fields": list(CLERK_BOOKKEEPING_FIELDS)}),
        ("Profile (from Clerk)", {"fields": list(CLERK_OWNED_FIELDS)}),
        ("State and metadata (from Clerk)", {"fields": list(CLERK_STATE_FIELDS)}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        readonly = [*super().get_readonly_fields(request, obj), *CLERK_BOOKKEEPING_FIELDS, *CLERK_STATE_FIELDS]
        if obj is not None and obj.clerk_id:
            readonly += [*CLERK_OWNED_FIELDS, "username"]
        return readonly

    @admin.display(description="name / email", ordering="last_name")
    def name_and_email(self, user: User) -> str:
        return user_cell(user)  # the first column: Django links it to the user's page

    @admin.display(description="Clerk id / username", ordering="clerk_id")
    def clerk_id_and_username(self, user: User) -> str:
        clerk_id = user.clerk_id or "— (a local staff account)"
        return format_html("{}<br><small>{}</small>", clerk_id, user.username)

    @admin.display(description="access", ordering="is_active")
    def access(self, user: User) -> str:
        """One column for is_active, banned and locked (Clerk's), to fit the list in 1280 px."""
        state = "active" if user.is_active else "inactive"
        flags = [flag for flag in ("banned", "locked") if getattr(user, flag)]
        return ", ".join([state, *flags])

    @admin.display(description="webhook events")
    def webhook_events(self, user: User) -> str:
        if not user.clerk_id:
            return "—"
        url = reverse("admin:webhooks_webhookevent_changelist")
        return format_html('<a href="{}?q={}">Events about {}</a>', url, user.clerk_id, user.clerk_id)

    @admin.display(description="welcome email")
    def welcome_email(self, user: User) -> str:
        try:
            provisioning = user.provisioning
        except UserProvisioning.DoesNotExist:
            return "— (not provisioned)"
        url = reverse("admin:accounts_userprovisioning_change", args=[provisioning.pk])
        details = f"{provisioning.welcome_email_attempts} attempt(s)"
        if provisioning.welcome_email_last_error:
            details += f", last error: {provisioning.welcome_email_last_error[:200]}"
        return format_html('{} <a href="{}">{}</a>', welcome_email_badge(provisioning), url, details)

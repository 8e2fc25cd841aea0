"""The welcome emails in the admin: each provisioned user's (pending, sent, failed), with a retry action.

The model is UserProvisioning (the record of a user's one-time side effects); staff know it as
the welcome-email queue, so the admin and its index call it "Welcome emails".
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from accounts.admin.mirror import user_name
from accounts.admin.search import search_related_first
from accounts.models import UserProvisioning
from accounts.welcome.queue import welcome_email_retry
from webhooks.admin.dates import PeriodsProbedChangeList
from webhooks.admin.display import NOTHING, long_text, moment
from webhooks.admin.events import coloured_badge
from webhooks.admin.readonly import ReadOnlyAdminMixin

Status = UserProvisioning.WelcomeEmail
STATUS_COLOURS = {
    Status.PENDING: "#ef6c00",
    Status.SENT: "#2e7d32",
    Status.FAILED: "#c62828",
    Status.SKIPPED: "#6d4c41",
    Status.NOT_WANTED: "#757575",
}


def welcome_email_badge(provisioning: UserProvisioning) -> str:
    colour = STATUS_COLOURS.get(provisioning.welcome_email, "#555")
    return coloured_badge(colour, provisioning.get_welcome_email_display())


@admin.register(UserProvisioning)
class UserProvisioningAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the record changes only through provisioning, the workers and the retry action.

    Refuses adding, changing and deleting; the retry action needs its own permission.
    """

    # Fits 1280 px beside the filters: the email under the name, the path under the moment, the attempts
    # under the status, one column for when it was sent or is tried next.
    list_display = ["user_link", "provisioned", "welcome_email_status", "next_attempt_or_sent", "last_error"]
    list_filter = ["welcome_email", "created_via"]
    list_select_related = ["user"]
    search_fields = ["user__clerk_id", "user__email"]
    ordering = ["-provisioned_at"]
    date_hierarchy = "provisioned_at"
    show_full_result_count = False
    actions = ["retry_welcome_emails"]
    readonly_fields = [
        "user",
        "created_via",
        "provisioned_at",
        "welcome_email",
        "welcome_email_attempts",
        "welcome_email_next_attempt_at",
        "welcome_email_claimed_until",
        "welcome_email_sent_at",
        "welcome_email_last_error",
    ]

    def get_changelist(self, request: HttpRequest, **kwargs):
        return PeriodsProbedChangeList  # the date hierarchy without reading every row

    def get_search_results(self, request, queryset, search_term):
        # The users a word names first (their trigram indexes), then their welcome emails.
        return search_related_first(queryset, self.get_search_fields(request), search_term), False

    def has_retry_welcome_email_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.retry_welcome_email")

    @admin.action(description="Retry the welcome email of the selected users", permissions=["retry_welcome_email"])
    def retry_welcome_emails(self, request: HttpRequest, queryset: QuerySet[UserProvisioning]) -> None:
        selected = list(queryset.values_list("pk", flat=True))
        retried = welcome_email_retry(selected)
        if retried:
            self.message_user(request, f"{len(retried)} welcome email(s) queued to be sent again.", messages.SUCCESS)
        if len(retried) < len(selected):
            self.message_user(
                request,
                f"{len(selected) - len(retried)} left alone: already sent, not wanted, skipped, or being sent now.",
                messages.WARNING,
            )

    @admin.display(description="user / email", ordering="user__clerk_id")
    def user_link(self, provisioning: UserProvisioning) -> str:
        user = provisioning.user
        url = reverse("admin:accounts_user_change", args=[user.pk])
        return format_html(
            '<a href="{}">{}</a><br><small style="overflow-wrap:anywhere">{}<br>{}</small>',
            url,
            user_name(user),
            user.email,
            user.clerk_id or "",
        )

    @admin.display(description="provisioned / via", ordering="provisioned_at")
    def provisioned(self, provisioning: UserProvisioning) -> str:
        return format_html(
            "{}<br><small>{}</small>", moment(provisioning.provisioned_at), provisioning.get_created_via_display()
        )

    @admin.display(description="welcome email", ordering="welcome_email")
    def welcome_email_status(self, provisioning: UserProvisioning) -> str:
        attempts = provisioning.welcome_email_attempts
        return format_html(
            "{}<br><small>{} attempt{}</small>",
            welcome_email_badge(provisioning),
            attempts,
            "" if attempts == 1 else "s",
        )

    @admin.display(description="sent / next try", ordering="welcome_email_next_attempt_at")
    def next_attempt_or_sent(self, provisioning: UserProvisioning) -> str:
        """When it was sent, else when it is next tried (a pending one), else nothing."""
        if provisioning.welcome_email_sent_at:
            return f"sent {moment(provisioning.welcome_email_sent_at)}"
        if provisioning.welcome_email_next_attempt_at and provisioning.welcome_email == Status.PENDING:
            return f"next {moment(provisioning.welcome_email_next_attempt_at)}"
        return NOTHING

    @admin.display(description="last error")
    def last_error(self, provisioning: UserProvisioning) -> str:
        return long_text(provisioning.welcome_email_last_error)

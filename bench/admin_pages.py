"""Every admin page staff use, found from the admin site itself (admin.site._registry), with realistic terms.

For each registered model: its changelist, with each choice of each list
filter, each search term below, page 50 and the date hierarchy's drill-down
(year, month, day of the newest row); the change, history and delete pages of
a representative row (the heaviest: the largest organization, a failed event
with the most attempts); its add page where staff may add. Then the admin
index, each app's index and the custom views (the sync health page). A model
registered later is found and timed without a change here; its search, if it
has one, gets the term "bench" until SEARCHES names better ones. Views that
only answer POST (replay, run a pass now) and the redirect to Clerk's
dashboard are not pages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote_plus

from django.contrib import admin
from django.db.models import Count, Max, Model
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone


@dataclass(frozen=True)
class Page:
    label: str
    url: str


def _terms() -> dict[str, Callable[[], list[tuple[str, str]]]]:
    """Search terms per model label, (what it is, the term), read from the seeded data."""
    from accounts.models import Organization, OrganizationMembership, User
    from webhooks.models import WebhookEvent

    def user() -> User:  # a live user with events, in the middle of the table
        return User.objects.filter(deleted_at=None, clerk_id__isnull=False).order_by("pk")[User.objects.count() // 2]

    def organization() -> Organization:
        return Organization.objects.filter(deleted_at=None).order_by("pk")[Organization.objects.count() // 3]

    def event() -> WebhookEvent:
        return WebhookEvent.objects.order_by("pk")[WebhookEvent.objects.count() // 2]

    def membership() -> OrganizationMembership:
        return OrganizationMembership.objects.order_by("pk")[OrganizationMembership.objects.count() // 2]

    return {
        "webhooks.webhookevent": lambda: [
            ("an email", user().email), ("an email in capitals", user().email.upper()),
            ("an email nobody has", "nobody@example.com"), ("a user's Clerk id", user().clerk_id),
            ("an organization's Clerk id", organization().clerk_id), ("an event id", event().event_id),
        ],
        "accounts.user": lambda: [
            ("an email", user().email), ("a Clerk id", user().clerk_id), ("a last name", user().last_name),
            ("a username", user().username), ("a name nobody has", "Nobody"),
        ],
        "accounts.userprovisioning": lambda: [("an email", user().email), ("a Clerk id", user().clerk_id)],
        "accounts.organization": lambda: [
            ("a slug", organization().slug), ("a name", organization().name), ("a Clerk id", organization().clerk_id),
        ],
        "accounts.organizationmembership": lambda: [
            ("a user's Clerk id", membership().user_clerk_id), ("an organization's slug", organization().slug),
            ("an organization's Clerk id", organization().clerk_id), ("a membership's Clerk id", membership().clerk_id),
        ],
        "auth.group": lambda: [("a name", "Support")],
    }  # fmt: skip


def _heaviest(label: str, model_admin: admin.ModelAdmin, request) -> Model | None:
    """The row whose pages cost the most, where we know which; else the changelist's first."""
    from accounts.models import Organization, ReconcilePass, User, UserProvisioning
    from webhooks.models import WebhookEvent

    choices = {
        "webhooks.webhookevent": lambda: WebhookEvent.objects.order_by("-attempts", "-pk").first(),
        "accounts.user": lambda: User.objects.annotate(n=Count("organization_memberships")).order_by("-n").first(),
        "accounts.organization": lambda: Organization.objects.order_by("pk").first(),  # the largest, by the seed
        "accounts.userprovisioning": lambda: UserProvisioning.objects.filter(welcome_email="failed").first(),
        "accounts.reconcilepass": lambda: ReconcilePass.objects.filter(drift=True).first(),
    }
    if label in choices:
        return choices[label]()
    return model_admin.get_queryset(request).order_by(*(model_admin.get_ordering(request) or ["pk"])).first()


def admin_pages(site: admin.AdminSite, user) -> list[Page]:
    """Every page of `site` the superuser `user` can open, in the order above."""
    request = RequestFactory().get("/admin/")
    request.user = user
    terms = _terms()
    pages = [Page("admin index", reverse("admin:index"))]
    apps = sorted({model._meta.app_label for model in site._registry})
    pages += [Page(f"app index {app}", reverse("admin:app_list", args=[app])) for app in apps]
    pages.append(Page("sync health", reverse("admin:webhooks_webhookevent_health")))
    for model, model_admin in site._registry.items():
        opts = model._meta
        label, name = opts.label_lower, opts.model_name
        base = reverse(f"admin:{opts.app_label}_{name}_changelist")
        pages.append(Page(f"{name} list", base))
        changelist = model_admin.get_changelist_instance(request)
        for spec in changelist.filter_specs:
            for choice in spec.choices(changelist):
                if not choice.get("selected"):  # the selected choice of an unfiltered list is "All"
                    shown = f"{name} filter {spec.title}: {choice['display']}"
                    pages.append(Page(shown, base + choice["query_string"]))
        if model_admin.search_fields:
            for what, term in terms.get(label, lambda: [("a term", "bench")])():
                pages.append(Page(f"{name} search {what}", f"{base}?q={quote_plus(term)}"))
        if model.objects.count() > 49 * model_admin.list_per_page:  # Django numbers admin pages from 1
            pages.append(Page(f"{name} page 50", f"{base}?p=50"))
        if model_admin.date_hierarchy:
            newest = model.objects.aggregate(newest=Max(model_admin.date_hierarchy))["newest"]
            if newest is not None:
                newest, field = timezone.localtime(newest), model_admin.date_hierarchy
                year = f"{base}?{field}__year={newest.year}"
                month = f"{year}&{field}__month={newest.month}"
                pages += [Page(f"{name} dates: year", year), Page(f"{name} dates: month", month)]
                pages.append(Page(f"{name} dates: day", f"{month}&{field}__day={newest.day}"))
        row = _heaviest(label, model_admin, request)
        if row is not None:
            pages.append(Page(f"{name} detail", reverse(f"admin:{opts.app_label}_{name}_change", args=[row.pk])))
            pages.append(Page(f"{name} history", reverse(f"admin:{opts.app_label}_{name}_history", args=[row.pk])))
            if model_admin.has_delete_permission(request, row):
                pages.append(Page(f"{name} delete", reverse(f"admin:{opts.app_label}_{name}_delete", args=[row.pk])))
        if model_admin.has_add_permission(request):
            pages.append(Page(f"{name} add", reverse(f"admin:{opts.app_label}_{name}_add")))
    return pages

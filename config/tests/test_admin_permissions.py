"""Who may add, change and delete in the admin: webhooks/admin/readonly.py refuses, Django's permissions do the rest.

Asked of a superuser, who holds every permission: what is refused here is refused to everyone.
"""

import pytest
from django.contrib import admin
from django.test import RequestFactory

pytestmark = pytest.mark.django_db

# (add, change, delete) per ModelAdmin, then per inline of it.
EXPECTED = {
    "webhooks.WebhookEvent": (False, False, False),
    "webhooks.WebhookEvent/WebhookAttemptInline": (False, False, True),  # can_delete = False: no checkbox
    "webhooks.WebhookRejection": (False, False, True),
    "accounts.UserProvisioning": (False, False, False),
    "accounts.ReconcilePass": (False, False, False),  # written by the passes alone
    "accounts.Organization": (False, False, True),  # from Clerk: viewed ("View", not "Change"), never edited
    "accounts.Organization/OrganizationMembershipInline": (False, False, True),
    "accounts.OrganizationMembership": (False, False, True),
    "accounts.User": (True, True, True),  # local staff accounts are made here
    "accounts.User/UserMembershipInline": (False, False, True),
}


def permissions_of_a_superuser(admin_user) -> dict[str, tuple[bool, bool, bool]]:
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    found = {}
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("webhooks", "accounts"):
            continue
        label = model._meta.label
        found[label] = (
            model_admin.has_add_permission(request),
            model_admin.has_change_permission(request),
            model_admin.has_delete_permission(request),
        )
        for inline in model_admin.get_inline_instances(request):
            found[f"{label}/{type(inline).__name__}"] = (
                inline.has_add_permission(request, None),
                inline.has_change_permission(request),
                inline.has_delete_permission(request),
            )
            assert not inline.can_delete, label
    return found


def test_each_admin_refuses_what_it_says_and_leaves_the_rest_to_djangos_permissions(admin_user):
    assert permissions_of_a_superuser(admin_user) == EXPECTED


@pytest.mark.parametrize(
    "url",
    [
        "/admin/webhooks/webhookevent/add/",
        "/admin/webhooks/webhookrejection/add/",
        "/admin/accounts/userprovisioning/add/",
        "/admin/accounts/organization/add/",
        "/admin/accounts/organizationmembership/add/",
    ],
)
def test_nothing_written_elsewhere_can_be_added_here(admin_client, url):
    assert admin_client.get(url).status_code == 403

"""Clerk's organization endpoints through the client, against the Clerk stand-in."""

import pytest

from accounts.clerk.api import ClerkAPIError, ClerkClient
from accounts.clerk.errors import Unavailable
from accounts.tests.organization_factories import new_membership, new_organization


def client() -> ClerkClient:
    return ClerkClient(max_retries=1, max_wait=1.0, sleep=lambda seconds: None)


def test_organization_get_by_id_or_slug(clerk_api):
    organization = clerk_api.add_organization(new_organization(slug="acme"))

    assert client().organization_get(organization["id"]) == organization
    assert client().organization_get("acme") == organization
    assert clerk_api.calls["/v1/organizations/{id}"] == 2


def test_organization_get_answers_none_for_404(clerk_api):
    assert client().organization_get("org_missing") is None


def test_organization_get_unavailable(clerk_api):
    clerk_api.fail("/v1/organizations/", 503)

    with pytest.raises(Unavailable):
        client().organization_get("org_any")


def test_lists_are_paged_by_limit_and_offset(clerk_api):
    organizations = [clerk_api.add_organization(new_organization(created_at=n)) for n in range(5)]
    memberships = [clerk_api.add_membership(new_membership(created_at=n)) for n in range(3)]

    first, second = client().organization_list(offset=0, limit=3), client().organization_list(offset=3, limit=3)
    members = client().organization_membership_list(offset=1, limit=500)

    assert [o["id"] for o in first.data + second.data] == [o["id"] for o in organizations]
    assert first.total_count == second.total_count == 5
    assert members == ([m for m in memberships[1:]], 3)


def test_rate_limited_page_is_retried_after_retry_after(clerk_api):
    clerk_api.add_organization(new_organization())
    clerk_api.fail("/v1/organizations", 429, {"Retry-After": "0"}, times=1)

    assert client().organization_list(offset=0).total_count == 1
    assert clerk_api.calls["/v1/organizations"] == 2


def test_a_page_that_is_not_clerks_shape_is_an_error(clerk_api):
    clerk_api.fail("/v1/organization_memberships", 200, times=1)  # answers {"errors": [...]} with 200

    with pytest.raises(ClerkAPIError, match="total_count"):
        client().organization_membership_list(offset=0)

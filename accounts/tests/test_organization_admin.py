"""Organizations and memberships in the admin: members counted in one query, Clerk's fields read-only."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.http import urlencode

from accounts.admin.organizations import MEMBERS_SHOWN
from accounts.clerk.payloads import organization_deleted_data
from accounts.models import Organization, OrganizationMembership, User
from accounts.sync.organizations import (
    membership_tombstone,
    membership_upsert_from_clerk,
    organization_tombstone,
    organization_upsert_from_clerk,
)
from accounts.tests.factories import UserFactory
from accounts.tests.organization_factories import new_membership, new_organization, org_event
from webhooks.tests.deliveries import statements_at_most

pytestmark = pytest.mark.django_db

VIA = Organization.CreatedVia.WEBHOOK


def organization_with_members(count: int, *, name: str = "Acme", slug: str = "acme", **membership) -> dict:
    """An organization stored locally, with `count` memberships (each given `membership`'s fields)."""
    organization = new_organization(name=name, slug=slug)
    organization_upsert_from_clerk(organization, created_via=VIA)
    for _ in range(count):
        membership_upsert_from_clerk(new_membership(organization=organization, **membership), created_via=VIA)
    return organization


def page(admin_client, url: str) -> str:
    response = admin_client.get(url)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def memberships_bulk_create(organization: Organization, count: int, *, with_users: int = 0) -> None:
    """`count` more current memberships of `organization` in a few INSERTs (no events): a big tenant, quickly.

    Their ids, `orgmem_bulk000000` on, sort before the factories' `orgmem_test…`; the first
    `with_users` are linked to local users, so the rows the page shows first have a user to display.
    """
    users = User.objects.bulk_create(
        User(clerk_id=f"user_bulk{n:06d}", username=f"bulk{n}", created_via=User.CreatedVia.WEBHOOK)
        for n in range(with_users)
    )
    OrganizationMembership.objects.bulk_create(
        (
            OrganizationMembership(
                organization=organization,
                clerk_id=f"orgmem_bulk{n:06d}",
                user_clerk_id=f"user_bulk{n:06d}",
                user=users[n] if n < with_users else None,
                role="org:member",
            )
            for n in range(count)
        ),
        batch_size=5_000,
    )


def membership_ids_named(html: str) -> set[str]:
    return set(re.findall(r"orgmem_\w+", html))


def members_cell(html: str, name: str) -> str:
    row = html[html.index(f">{name}<") :]
    cell = row[row.index('class="field-members"') :]
    return cell[cell.index(">") + 1 : cell.index("<")]


def test_changelist_counts_current_members_only(admin_client):
    organization_with_members(3, name="Three")
    leaving = new_membership(organization=organization_with_members(2, name="TwoMinusOne", slug="two"))
    membership_upsert_from_clerk(leaving, created_via=VIA)
    membership_tombstone(leaving, created_via=VIA)
    deleted = organization_with_members(2, name="Deleted", slug="gone")
    organization_tombstone(organization_deleted_data(id=deleted["id"]), created_via=VIA)

    html = page(admin_client, "/admin/accounts/organization/")

    assert [members_cell(html, name) for name in ("Three", "TwoMinusOne", "Deleted")] == ["3", "2", "0"]
    assert "field-deleted_in_clerk" in html and "field-created_via" in html


@pytest.mark.parametrize("deleted, listed", [("yes", {"Gone"}), ("no", {"Here"}), ("", {"Here", "Gone"})])
def test_changelist_filters_on_deleted_in_clerk_as_the_users_list_does(admin_client, deleted, listed):
    organization_with_members(0, name="Here", slug="here")
    gone = organization_with_members(0, name="Gone", slug="gone")
    organization_tombstone(organization_deleted_data(id=gone["id"]), created_via=VIA)

    html = page(admin_client, f"/admin/accounts/organization/?deleted={deleted}")

    assert {name for name in ("Here", "Gone") if f">{name}<" in html} == listed


def test_changelist_costs_the_same_queries_for_2_or_20_organizations(admin_client):
    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            page(admin_client, "/admin/accounts/organization/")
        return len(context.captured_queries)

    for n in range(2):
        organization_with_members(2, name=f"Org {n}", slug=f"org-{n}")
    few = queries()
    for n in range(2, 20):
        organization_with_members(2, name=f"Org {n}", slug=f"org-{n}")

    assert queries() == few


@pytest.mark.parametrize("query", ["org_searchme", "find-me", "Findable"])
def test_search_by_clerk_id_slug_or_name(admin_client, query):
    findable = new_organization(id="org_searchme", name="Findable Corp", slug="find-me")
    organization_upsert_from_clerk(findable, created_via=VIA)
    organization_with_members(0, name="Other", slug="other")

    html = page(admin_client, f"/admin/accounts/organization/?q={query}")

    assert "Findable Corp" in html and ">Other<" not in html


def test_organization_page_is_read_only_with_its_memberships_inline(admin_client):
    data = organization_with_members(2, role="org:admin")
    organization = Organization.objects.get(clerk_id=data["id"])

    html = page(admin_client, f"/admin/accounts/organization/{organization.pk}/change/")

    for field in ("name", "slug", "clerk_id", "image_url"):
        assert f'name="{field}"' not in html, field
    for membership in OrganizationMembership.objects.all():
        assert membership.clerk_id in html and membership.user_clerk_id in html
    assert "org:admin" in html and 'name="memberships-0-role"' not in html
    assert "2 memberships. <a href=" in html
    assert admin_client.get("/admin/accounts/organization/add/").status_code == 403


def test_organization_page_costs_the_same_queries_for_5_or_50_000_members(admin_client):
    """The inline shows a bounded slice, with each member's user fetched in the same query, whatever the size."""
    data = organization_with_members(0)
    for n in range(5):
        UserFactory(clerk_id=f"user_few{n}")
        membership_upsert_from_clerk(new_membership(organization=data, user_id=f"user_few{n}"), created_via=VIA)
    organization = Organization.objects.get(clerk_id=data["id"])
    url = reverse("admin:accounts_organization_change", args=[organization.pk])
    page(admin_client, url)  # session and content types warmed
    with CaptureQueriesContext(connection) as few:
        page(admin_client, url)

    memberships_bulk_create(organization, 49_995, with_users=MEMBERS_SHOWN)
    with statements_at_most(len(few.captured_queries)):
        html = page(admin_client, url)

    assert OrganizationMembership.objects.filter(organization=organization).count() == 50_000
    assert membership_ids_named(html) == {f"orgmem_bulk{n:06d}" for n in range(MEMBERS_SHOWN)}
    assert "user_bulk000000" in html and f"user_bulk{MEMBERS_SHOWN:06d}" not in html
    assert f"The first {MEMBERS_SHOWN} of 50,000 memberships" in html
    changelist = reverse("admin:accounts_organizationmembership_changelist")
    assert f'href="{changelist}?organization={organization.clerk_id}"' in html


def test_organization_page_link_lists_all_its_memberships_and_no_others(admin_client):
    acme = organization_with_members(MEMBERS_SHOWN + 2, name="Acme", slug="acme")
    ended = new_membership(organization=acme)
    membership_upsert_from_clerk(ended, created_via=VIA)
    membership_tombstone(ended, created_via=VIA)
    organization_with_members(2, name="Other", slug="other")
    organization = Organization.objects.get(clerk_id=acme["id"])
    html = page(admin_client, reverse("admin:accounts_organization_change", args=[organization.pk]))
    link = re.search(r'href="([^"]*\?organization=[^"]*)"[^>]*>All ([\d,]+) in the memberships list', html)

    listing = page(admin_client, link.group(1).replace("&amp;", "&"))

    expected = set(organization.memberships.values_list("clerk_id", flat=True))
    assert link.group(2) == str(MEMBERS_SHOWN + 3) == str(len(expected))
    assert membership_ids_named(listing) == expected  # the ended one too, and none of Other's
    assert f"{MEMBERS_SHOWN + 3} organization memberships" in listing
    assert 'class="selected"' in listing and ">Acme</a>" in listing  # the filter says which organization


@pytest.mark.parametrize("value", ["org_unknown", "1' OR '1'='1", "x" * 300])
def test_membership_changelist_for_an_unknown_organization_lists_none(admin_client, value):
    organization_with_members(2)
    changelist = reverse("admin:accounts_organizationmembership_changelist")

    listing = page(admin_client, f"{changelist}?{urlencode({'organization': value})}")

    assert membership_ids_named(listing) == set() and "0 organization memberships" in listing


def test_organization_page_shows_current_members_before_ended_ones(admin_client):
    data = organization_with_members(0)
    ended = new_membership(organization=data, id="orgmem_aaa_ended")
    membership_upsert_from_clerk(ended, created_via=VIA)
    membership_tombstone(ended, created_via=VIA)
    for _ in range(MEMBERS_SHOWN):
        membership_upsert_from_clerk(new_membership(organization=data), created_via=VIA)
    organization = Organization.objects.get(clerk_id=data["id"])

    html = page(admin_client, reverse("admin:accounts_organization_change", args=[organization.pk]))

    assert "orgmem_aaa_ended" not in html and len(membership_ids_named(html)) == MEMBERS_SHOWN


def test_user_page_lists_the_users_memberships(admin_client):
    user = UserFactory(clerk_id="user_withorgs")
    organization_with_members(1, name="Member Org", slug="member-org", user_id="user_withorgs", role="org:admin")
    organization_with_members(1, name="Not Mine", slug="not-mine")

    html = page(admin_client, f"/admin/accounts/user/{user.pk}/change/")

    assert "Member Org" in html and "org:admin" in html and "Not Mine" not in html


def test_membership_changelist_and_page(admin_client):
    organization_with_members(1, name="Listed", slug="listed", user_id="user_listed")
    membership = OrganizationMembership.objects.get()

    listing = page(admin_client, "/admin/accounts/organizationmembership/?q=user_listed")
    detail = page(admin_client, f"/admin/accounts/organizationmembership/{membership.pk}/change/")

    assert membership.clerk_id in listing and "Listed" in listing
    assert 'name="role"' not in detail and membership.role in detail


@pytest.mark.parametrize("deleted", ["yes", "no"])
def test_membership_changelist_filters_on_deleted_in_clerk_as_the_users_list_does(admin_client, deleted):
    data = organization_with_members(1)
    [current] = OrganizationMembership.objects.values_list("clerk_id", flat=True)
    ended = new_membership(organization=data)
    membership_upsert_from_clerk(ended, created_via=VIA)
    membership_tombstone(ended, created_via=VIA)

    listing = page(admin_client, f"/admin/accounts/organizationmembership/?deleted={deleted}")

    assert membership_ids_named(listing) == ({ended["id"]} if deleted == "yes" else {current})
    assert "deleted in Clerk" in listing


def test_ledger_links_organization_and_membership_events_to_the_organization(admin_client, deliver):
    organization = new_organization(name="Linked Org")
    assert deliver(org_event("organization.created", organization)).status_code == 200
    membership = new_membership(organization=organization)
    assert deliver(org_event("organizationMembership.created", membership)).status_code == 200
    unseen = new_organization()
    assert deliver(org_event("organization.deleted", organization_deleted_data(id=unseen["id"]))).status_code == 200
    local = Organization.objects.get(clerk_id=organization["id"])

    html = page(admin_client, reverse("admin:webhooks_webhookevent_changelist"))

    link = f'href="{reverse("admin:accounts_organization_change", args=[local.pk])}"'
    assert html.count(link) == 2  # the organization's event and its membership's
    tombstone = Organization.objects.get(clerk_id=unseen["id"])
    assert html.count(reverse("admin:accounts_organization_change", args=[tombstone.pk])) == 1

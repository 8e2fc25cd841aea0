"""The token's active organization created just in time, and the members endpoint, against the Clerk stand-in.

Through the public surface: signed session tokens of a known user sent to
/api/me/ and /api/orgs/current/members/, Clerk's Backend API served by the
stand-in over real HTTP, whose call counts are the proof of "no call" and
"one call". The race of twenty first requests runs on PostgreSQL with real threads.
"""

from __future__ import annotations

import pytest

from accounts.api import authentication
from accounts.api import organization as organization_api
from accounts.clerk.payloads import organization_deleted_data
from accounts.models import Organization
from accounts.sync.organizations import (
    membership_tombstone,
    membership_upsert_from_clerk,
    organization_tombstone,
    organization_upsert_from_clerk,
)
from accounts.tests.factories import UserFactory
from accounts.tests.organization_factories import new_membership, new_organization, org_event
from config.tests.helpers import deliver_to
from webhooks.tests.concurrency import Job, run_concurrently
from webhooks.tests.deliveries import statements_at_most

pytestmark = pytest.mark.django_db

USER = "user_2NNEqL2nrIRdJ194ndJqAHwEfxC"
ME = "/api/me/"
MEMBERS = "/api/orgs/current/members/"
ORGANIZATION_CALLS = "/v1/organizations/{id}"


@pytest.fixture
def org_token(clerk_api, make_token):
    """org_token(org_id, version=1|2) -> a token of a known user whose active organization is `org_id`, as admin."""
    UserFactory(clerk_id=USER)

    def token(org_id: str, *, version: int = 1) -> str:
        if version == 2:
            return make_token(USER, version=2, o={"id": org_id, "slg": "slug", "rol": "admin"})
        return make_token(USER, org_id=org_id, org_slug="slug", org_role="org:admin", org_permissions=[])

    return token


def get(client, path: str, token: str):
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def request_job(path: str, token: str) -> Job:
    return path, lambda client: get(client, path, token)


@pytest.mark.parametrize("version", [1, 2])
def test_an_organization_only_clerk_knows_is_created_just_in_time(version, client, clerk_api, org_token):
    data = clerk_api.add_organization(new_organization(name="Acme", slug="acme-corp"))
    token = org_token(data["id"], version=version)

    first = get(client, ME, token)
    again = get(client, ME, token)

    assert first.status_code == again.status_code == 200
    assert first.json()["organization"] == {
        "clerk_id": data["id"],
        "name": "Acme",
        "slug": "acme-corp",  # the row's, not the token's "slug"
        "role": "org:admin",
        "permissions": [],
    }
    assert again.json()["organization"] == first.json()["organization"]
    organization = Organization.objects.get(clerk_id=data["id"])
    assert (organization.created_via, organization.deleted_at) == (Organization.CreatedVia.JIT, None)
    assert organization.clerk_updated_at is not None
    assert clerk_api.calls[ORGANIZATION_CALLS] == 1  # the second request found the row


def test_an_organization_clerk_does_not_know_is_null_not_401_and_members_403(client, clerk_api, org_token):
    token = org_token("org_unknown_to_clerk")

    me = get(client, ME, token)
    members = get(client, MEMBERS, token)

    assert me.status_code == 200
    assert (me.json()["clerk_id"], me.json()["organization"]) == (USER, None)
    assert members.status_code == 403
    assert not Organization.objects.exists()
    assert clerk_api.calls[ORGANIZATION_CALLS] == 2  # nothing stored: each request asks again


@pytest.mark.parametrize("path", [ME, MEMBERS])
@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [(503, {}, None), (429, {"Retry-After": "30"}, "30")],
    ids=["clerk-failing", "clerk-rate-limiting"],
)
def test_clerk_unreachable_for_a_new_organization_is_503_with_retry_after(
    path, status, headers, retry_after, client, clerk_api, org_token
):
    data = clerk_api.add_organization(new_organization())
    clerk_api.fail("/v1/organizations/", status, headers)

    response = get(client, path, org_token(data["id"]))

    assert response.status_code == 503, response.content
    if retry_after:
        assert response["Retry-After"] == retry_after  # Clerk's own wait, passed on
    assert int(response["Retry-After"]) >= 1
    assert response["Content-Type"] == "application/json"
    assert not Organization.objects.exists()


def test_a_known_organization_is_served_during_a_clerk_outage_read_with_the_user(
    client, clerk_api, org_token, settings
):
    data = clerk_api.add_organization(new_organization(name="Known"))
    token = org_token(data["id"])
    assert get(client, ME, token).json()["organization"]["name"] == "Known"  # created; keys cached
    clerk_api.fail("/v1/", 503)
    calls = sum(clerk_api.calls.values())

    with statements_at_most(1):  # the user and the organization, read together
        response = get(client, ME, token)

    assert response.status_code == 200 and response.json()["organization"]["clerk_id"] == data["id"]
    assert sum(clerk_api.calls.values()) == calls


def test_clerk_answering_another_organization_stores_nothing(client, clerk_api, org_token):
    """GET /v1/organizations/{id} also takes a slug: an answer for another id is refused, not stored."""
    impostor = clerk_api.add_organization(new_organization(slug="org_looks_like_an_id"))

    response = get(client, ME, org_token("org_looks_like_an_id"))

    assert response.status_code == 503
    assert not Organization.objects.exists()
    assert impostor["id"] != "org_looks_like_an_id"


def test_a_tombstoned_organization_is_null_without_asking_clerk(client, clerk_api, org_token):
    data = clerk_api.add_organization(new_organization())
    organization_tombstone(organization_deleted_data(id=data["id"]), created_via="webhook")
    token = org_token(data["id"])

    assert get(client, ME, token).json()["organization"] is None
    assert get(client, MEMBERS, token).status_code == 403
    assert clerk_api.calls[ORGANIZATION_CALLS] == 0


def test_members_lists_the_current_members_of_the_active_organization_only(client, clerk_api, org_token):
    organization = new_organization(name="Team")
    other = new_organization(name="Other team")
    kept = [
        membership_upsert_from_clerk(new_membership(organization=organization, role=role), created_via="webhook")
        for role in ("org:admin", "org:member", "org:member")
    ]
    gone = membership_upsert_from_clerk(new_membership(organization=organization), created_via="webhook")
    membership_tombstone(new_membership(organization=organization, id=gone.membership.clerk_id), created_via="webhook")
    membership_upsert_from_clerk(new_membership(organization=other), created_via="webhook")
    token = org_token(organization["id"])
    get(client, MEMBERS, token)  # warms the JWKS cache

    with statements_at_most(2):  # the user with the organization, its members
        response = get(client, MEMBERS, token)

    assert response.status_code == 200
    assert sorted(response.json(), key=lambda member: member["clerk_id"]) == sorted(
        (
            {
                "clerk_id": result.membership.clerk_id,
                "user_clerk_id": result.membership.user_clerk_id,
                "role": result.membership.role,
            }
            for result in kept
        ),
        key=lambda member: member["clerk_id"],
    )
    assert clerk_api.calls[ORGANIZATION_CALLS] == 0  # the membership events stored the organization


def test_members_of_an_organization_not_local_yet_are_fetched_just_in_time(client, clerk_api, org_token):
    data = clerk_api.add_organization(new_organization())

    response = get(client, MEMBERS, org_token(data["id"], version=2))

    assert (response.status_code, response.json()) == (200, [])
    assert Organization.objects.get(clerk_id=data["id"]).created_via == Organization.CreatedVia.JIT
    assert clerk_api.calls[ORGANIZATION_CALLS] == 1


@pytest.mark.postgres(
    reason="20 first requests naming one new organization in parallel threads, each on its own database "
    "connection; the concurrency suite runs only on PostgreSQL (SQLite serialises the connections)"
)
@pytest.mark.django_db(transaction=True)
def test_20_concurrent_first_requests_naming_a_new_organization_make_one_row_and_one_clerk_call(clerk_api, org_token):
    data = clerk_api.add_organization(new_organization(name="Launch day"))
    jobs = [
        request_job(ME if index % 2 else MEMBERS, org_token(data["id"], version=1 + index % 2)) for index in range(20)
    ]

    answers = run_concurrently(jobs)

    assert [answer.status for answer in answers] == [200] * 20, answers
    assert {answer.body["organization"]["clerk_id"] for answer in answers if answer.name == ME} == {data["id"]}
    assert Organization.objects.filter(clerk_id=data["id"]).count() == 1
    assert Organization.objects.get().created_via == Organization.CreatedVia.JIT
    assert clerk_api.calls[ORGANIZATION_CALLS] == 1


@pytest.mark.postgres(
    reason="first requests creating the organization just in time race its organization.created webhook; "
    "converging on one row relies on INSERT … ON CONFLICT waiting on concurrent transactions: PostgreSQL"
)
@pytest.mark.django_db(transaction=True)
def test_first_requests_racing_the_created_webhook_converge_on_one_organization(clerk_api, org_token):
    data = clerk_api.add_organization(new_organization(name="Raced"))
    jobs = [request_job(ME, org_token(data["id"], version=1 + index % 2)) for index in range(10)]
    jobs.insert(5, ("webhook", lambda client: deliver_to(client, org_event("organization.created", data))))

    answers = run_concurrently(jobs)

    assert [(answer.name, answer.status) for answer in answers if answer.name == "webhook"] == [("webhook", 200)]
    me_answers = [answer for answer in answers if answer.name == ME]
    assert [(answer.status, answer.body["organization"]["name"]) for answer in me_answers] == [(200, "Raced")] * 10
    organization = Organization.objects.get(clerk_id=data["id"])
    assert organization.created_via in (Organization.CreatedVia.JIT, Organization.CreatedVia.WEBHOOK)
    assert clerk_api.calls[ORGANIZATION_CALLS] <= 1


def test_a_request_whose_lookup_missed_just_before_another_committed_asks_clerk_nothing(
    client, clerk_api, org_token, monkeypatch
):
    # The window concurrent first requests can hit: this request's lookups (with the user, then its
    # own) ran before an earlier flight committed the organization, and its own flight starts once
    # that one has ended.
    data = clerk_api.add_organization(new_organization(name="Committed meanwhile"))
    organization_upsert_from_clerk(data, created_via=Organization.CreatedVia.WEBHOOK)
    real_join, real_lookup, misses = (
        authentication.user_and_organization_by_clerk_ids,
        organization_api.organization_by_clerk_id,
        [True, True],
    )

    def join_missing_the_organization_once(user_clerk_id, organization_clerk_id):
        user, organization = real_join(user_clerk_id, organization_clerk_id)
        return user, (None if misses and misses.pop() else organization)

    def lookup_missing_once(clerk_id):
        if misses and misses.pop():
            return None
        return real_lookup(clerk_id)

    monkeypatch.setattr(authentication, "user_and_organization_by_clerk_ids", join_missing_the_organization_once)
    monkeypatch.setattr(organization_api, "organization_by_clerk_id", lookup_missing_once)

    response = get(client, ME, org_token(data["id"]))

    assert misses == []  # both reads did miss
    assert response.status_code == 200
    assert response.json()["organization"]["name"] == "Committed meanwhile"
    assert clerk_api.calls[ORGANIZATION_CALLS] == 0

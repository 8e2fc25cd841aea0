"""The token table for organization claims: each token's decoded organization, and what it may do.

Every case is a real RS256-signed session token of a known user, sent to
probe views guarded by the permission classes (accounts/tests/org_urls.py),
to /api/me/ and to /api/orgs/current/members/. Sources: `@clerk/backend`'s
jwtPayloadParser.ts (via CLERK-FACTS.md, "Organizations"), or "stricter" for
what Clerk would accept and this app treats as no organization at all.

The rows named "clerk spec: …" are every case of Clerk's own parser tests,
clerk/javascript packages/shared/src/__tests__/jwtPayloadParser.spec.ts (at
b7fb56455a657b209c0bb292bf05145e6dcde790), with Clerk's expected result: the
JWTPayloadToAuthObjectProperties cases, and the splitByScope cases as the
permissions a one-name `per` grants to each feature. Clerk's ids and slugs are
replaced by one local organization's, so that the same rows drive the endpoints.
No case may call Clerk: the API URL points at a closed port.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass

import pytest
from django.utils import timezone

from accounts.api.permissions import HasOrgPermission, HasOrgRole
from accounts.clerk.claims import ActiveOrganizationClaim
from accounts.clerk.tokens import SessionClaims
from accounts.models import Organization, OrganizationMembership
from accounts.tests.factories import UserFactory
from accounts.tests.org_urls import PROBES
from config.tests.helpers import public_pem

pytestmark = [pytest.mark.django_db, pytest.mark.urls("accounts.tests.org_urls")]

USER = "user_2NNEqL2nrIRdJ194ndJqAHwEfxC"
ORG = "org_2Z8kVHnHyKDzmTzmCCDUlhpYkdU"
DELETED_ORG = "org_2Z8kVHnHyKDzmTzmDeletedOrg"
MEMBERS = "/api/orgs/current/members/"
DOCS_FEA = "o:dashboard,o:teams"  # Clerk's docs example
EVERY_PROBE = frozenset(PROBES) | {"scoped"}
ONLY_NOT_ADMIN = frozenset({"signed-in-not-admin"})  # `~` of a refusal allows: DRF's own semantics
AS_ADMIN = frozenset({"active", "admin", "admin-or-teams-read", "scoped"})  # neither dashboard:read nor teams:read
ADMIN_DASHBOARD_READ = AS_ADMIN | {"dashboard-read"}
SPEC_PERMISSIONS = ",".join(f"permission_{index}" for index in range(54))  # the spec's authFromFeaturePermissionMask


@dataclass(frozen=True)
class OrgCase:
    name: str
    source: str
    claims: dict
    role: str | None  # None: the organization is absent
    permissions: tuple[str, ...] = ()
    allowed: frozenset[str] = ONLY_NOT_ADMIN  # the probes answering 200; the others 403
    version: int = 1
    organization: str = ORG
    slug: str | None = "acme"


def v1(role="org:admin", permissions=(), **extra):
    return {"org_id": ORG, "org_slug": "acme", "org_role": role, "org_permissions": list(permissions)} | extra


def v2(o, fea=DOCS_FEA, slug="acme"):
    return {"fea": fea, "o": {"id": ORG} | ({"slg": slug} if slug else {}) | o}


def spec(fea, per=None, fpm=None, **o):
    """A token of the spec: role admin, `per` and `fpm` left out when None."""
    return v2({"rol": "admin"} | ({"per": per} if per else {}) | ({"fpm": fpm} if fpm else {}) | o, fea=fea)


def spec_mask(fpm):
    """The spec's authFromFeaturePermissionMask: one feature, 54 permission names, no slug."""
    return v2({"rol": "admin", "per": SPEC_PERMISSIONS, "fpm": fpm}, fea="o:feature", slug=None)


def spec_bits(*indexes):
    return tuple(f"org:feature:permission_{index}" for index in indexes)


CASES = [
    # --- version 1: full keys ---
    OrgCase("v1 admin", "jwtPayloadParser.ts: org_id, org_role, org_permissions",
            v1(permissions=["org:dashboard:read"]), "org:admin", ("org:dashboard:read",),
            frozenset({"active", "admin", "dashboard-read", "admin-or-teams-read", "scoped"})),
    OrgCase("v1 member without permissions", "jwtPayloadParser.ts", v1(role="org:member"), "org:member", (),
            frozenset({"active", "signed-in-not-admin", "scoped"})),
    OrgCase("v1 without a slug", "jwtPayloadParser.ts: org_slug optional", v1(org_slug=None),
            "org:admin", (), frozenset({"active", "admin", "admin-or-teams-read", "scoped"}), slug=None),
    OrgCase("v1 deleted organization", "CONTRACT: a deleted organization authorizes nothing",
            v1(permissions=["org:dashboard:read"]) | {"org_id": DELETED_ORG}, "org:admin", ("org:dashboard:read",),
            organization=DELETED_ORG),
    OrgCase("v1 no organization", "jwtPayloadParser.ts: no org_id", {}, None),
    OrgCase("v1 role without the org: prefix", "authorization.ts has(): roles compare org:-prefixed",
            v1(role="admin"), "org:admin", (), AS_ADMIN),
    # --- version 2: o.rol, o.per, o.fpm against fea ---
    OrgCase("v2 docs example", "CLERK-FACTS: fea o:dashboard,o:teams, per manage,read, fpm 3,2",
            v2({"rol": "member", "per": "manage,read", "fpm": "3,2"}), "org:member",
            ("org:dashboard:manage", "org:dashboard:read", "org:teams:read"),
            frozenset({"active", "dashboard-read", "admin-or-teams-read", "signed-in-not-admin", "scoped"}), version=2),
    OrgCase("v2 user and shared scopes", "authorization.ts splitByScope: u: skipped, uo:/ou: are the organization's",
            v2({"rol": "admin", "per": "read,write", "fpm": "3,1,2"}, fea="u:free,uo:reports,o:teams,ou:dashboard"),
            "org:admin", ("org:reports:read", "org:reports:write", "org:teams:read", "org:dashboard:write"),
            frozenset({"active", "admin", "admin-or-teams-read", "scoped"}), version=2),
    OrgCase("v2 fewer fpm entries than features", "jwtPayloadParser.ts buildOrgPermissions: the rest grant nothing",
            v2({"rol": "member", "per": "read", "fpm": " 01 "}), "org:member", ("org:dashboard:read",),
            frozenset({"active", "dashboard-read", "signed-in-not-admin", "scoped"}), version=2),
    OrgCase("v2 without per or fpm", "jwtPayloadParser.ts parsePermissions: no per or fpm, no permissions",
            v2({"rol": "admin"}), "org:admin", (), frozenset({"active", "admin", "admin-or-teams-read", "scoped"}),
            version=2),
    OrgCase("v2 deleted organization", "CONTRACT: a deleted organization authorizes nothing",
            v2({"id": DELETED_ORG, "rol": "admin", "per": "manage,read", "fpm": "3,2"}), "org:admin",
            ("org:dashboard:manage", "org:dashboard:read", "org:teams:read"), version=2, organization=DELETED_ORG),
    OrgCase("v2 no organization", "jwtPayloadParser.ts: no o", {"fea": "u:free"}, None, version=2),
    OrgCase("v2 ignores v1 keys", "jwtPayloadParser.ts switches on v", v1() | {"fea": ""}, None, version=2),
    OrgCase("v2 role with the org: prefix", "authorization.ts has(): roles compare org:-prefixed",
            v2({"rol": "org:admin"}), "org:admin", (), AS_ADMIN, version=2),
    # --- a mask Clerk cannot read grants nothing; the organization, its role and the other masks stand ---
    OrgCase("v2 fpm not numeric", "jwtPayloadParser.ts decimalToBinaryBits: not digits, no bits",
            v2({"rol": "admin", "per": "read", "fpm": "1,x"}), "org:admin", ("org:dashboard:read",),
            ADMIN_DASHBOARD_READ, version=2),
    OrgCase("v2 fpm negative", "decimalToBinaryBits", v2({"rol": "admin", "per": "read", "fpm": "-1"}), "org:admin",
            (), AS_ADMIN, version=2),
    OrgCase("v2 empty fpm entry", "decimalToBinaryBits", v2({"rol": "admin", "per": "read", "fpm": " ,1"}),
            "org:admin", ("org:teams:read",), AS_ADMIN, version=2),
    OrgCase("v2 more fpm entries than features", "buildOrgPermissions: masks beyond the features are not read",
            v2({"rol": "admin", "per": "manage,read", "fpm": "3,2,1"}), "org:admin",
            ("org:dashboard:manage", "org:dashboard:read", "org:teams:read"), ADMIN_DASHBOARD_READ, version=2),
    OrgCase("v2 per shorter than the bitmask", "buildOrgPermissions: bits beyond per are not read",
            v2({"rol": "admin", "per": "manage,read", "fpm": "4,2"}), "org:admin", ("org:teams:read",), AS_ADMIN,
            version=2),
    OrgCase("v2 huge fpm", "decimalToBinaryBits reads any length",
            v2({"rol": "admin", "per": "read", "fpm": "9" * 5000}), "org:admin", ("org:dashboard:read",),
            ADMIN_DASHBOARD_READ, version=2),
    # --- clerk spec: every case of jwtPayloadParser.spec.ts ---
    OrgCase("clerk spec: v2 without an organization", "no org related output", {"fea": "u:impersonation,u:memberships"},
            None, version=2),
    OrgCase("clerk spec: v1 equals v2 (v1)", "the same auth object for v1 and v2",
            v1(permissions=["org:impersonation:read", "org:impersonation:manage"]), "org:admin",
            ("org:impersonation:read", "org:impersonation:manage"), AS_ADMIN),
    OrgCase("clerk spec: v1 equals v2 (v2)", "the same auth object for v1 and v2",
            spec("o:impersonation", "read,manage", "3"), "org:admin",
            ("org:impersonation:read", "org:impersonation:manage"), AS_ADMIN, version=2),
    OrgCase("clerk spec: fea, per and fpm",
            "org permissions are generated correctly when fea, per, and fpm are present",
            spec("o:impersonation,o:memberships", "read,manage", "1,3"), "org:admin",
            ("org:impersonation:read", "org:memberships:read", "org:memberships:manage"), AS_ADMIN, version=2),
    OrgCase("clerk spec: zero mask", "features without permissions use zero masks to preserve alignment",
            spec("o:impersonation,o:memberships,o:feature3", "read,manage", "1,3,0"), "org:admin",
            ("org:impersonation:read", "org:memberships:read", "org:memberships:manage"), AS_ADMIN, version=2),
    OrgCase("clerk spec: org and user scoped", "includes both org and user scoped features",
            spec("uo:impersonation,o:memberships,uo:feature3", "read,manage", "1,3,1"), "org:admin",
            ("org:impersonation:read", "org:memberships:read", "org:memberships:manage", "org:feature3:read"),
            AS_ADMIN, version=2),
    OrgCase("clerk spec: no per and fpm", "no o.fpm and o.per: empty permissions",
            spec("u:impersonation,u:memberships,u:feature3"), "org:admin", (), AS_ADMIN, version=2),
    OrgCase("clerk spec: trailing user feature mask", "org permissions are constructed correctly",
            spec("ou:memberships,u:impersonation", "read,manage", "3,0"), "org:admin",
            ("org:memberships:read", "org:memberships:manage"), AS_ADMIN, version=2),
    OrgCase("clerk spec: case 2", "org permissions are constructed correctly case 2",
            spec("o:billing,o:email,o:fraud,o:instance,o:staging_plans", "manage,read", "3,3,3,3,1"), "org:admin",
            ("org:billing:manage", "org:billing:read", "org:email:manage", "org:email:read", "org:fraud:manage",
             "org:fraud:read", "org:instance:manage", "org:instance:read", "org:staging_plans:manage"),
            AS_ADMIN, version=2),
    OrgCase("clerk spec: case 3", "org permissions are constructed correctly case 3",
            spec("o:repositories,o:projects", "read,create,update,delete,revoke", "7,21"), "org:admin",
            ("org:repositories:read", "org:repositories:create", "org:repositories:update", "org:projects:read",
             "org:projects:update", "org:projects:revoke"), AS_ADMIN, version=2),
    OrgCase("clerk spec: case 4", "org permissions are constructed correctly case 4",
            spec("o:repositories,o:projects,o:webhooks,o:impersonation", "read,manage", "1,2,3,0"), "org:admin",
            ("org:repositories:read", "org:projects:manage", "org:webhooks:read", "org:webhooks:manage"),
            AS_ADMIN, version=2),
    OrgCase("clerk spec: case 5", "org permissions are constructed correctly case 5",
            spec("o:repositories,uo:projects,u:goldprofileborder", "read,create,update,delete,revoke", "7,21,0"),
            "org:admin", ("org:repositories:read", "org:repositories:create", "org:repositories:update",
                          "org:projects:read", "org:projects:update", "org:projects:revoke"), AS_ADMIN, version=2),
    OrgCase("clerk spec: above the safe integer boundary", "preserves permissions above the safe integer boundary",
            spec_mask("9007199254740993"), "org:admin", spec_bits(0, 53), AS_ADMIN, version=2, slug=None),
    OrgCase("clerk spec: no permission introduced above the boundary",
            "does not introduce permissions when decoding a mask above the safe integer boundary",
            spec_mask("9007199254740995"), "org:admin", spec_bits(0, 1, 53), AS_ADMIN, version=2, slug=None),
    OrgCase("clerk spec: bits beyond per", "discards mask bits outside the declared permission list",
            spec_mask("18014398509481984"), "org:admin", (), AS_ADMIN, version=2, slug=None),
    OrgCase("clerk spec: alignment after a zero mask",
            "keeps permission masks aligned when a targeted feature follows a feature without permissions",
            v2({"rol": "admin", "per": "manage,read,update", "fpm": "6,0,3"},
               fea="o:repositories,o:impersonation,o:billing", slug=None), "org:admin",
            ("org:repositories:read", "org:repositories:update", "org:billing:manage", "org:billing:read"),
            AS_ADMIN, version=2, slug=None),
    *(OrgCase(f"clerk spec: safe mask {fpm}", "preserves permissions for the safe mask", spec_mask(fpm), "org:admin",
              spec_bits(*indexes), AS_ADMIN, version=2, slug=None)
      for fpm, indexes in [("1", [0]), ("3", [0, 1]), ("7", [0, 1, 2]), ("21", [0, 2, 4])]),
    *(OrgCase(f"clerk spec: malformed mask {fpm}", "fails closed for the malformed mask: no permissions",
              spec_mask(fpm), "org:admin", (), AS_ADMIN, version=2, slug=None)
      for fpm in ["1invalid", "-1", "1.5"]),
    *(OrgCase(f"clerk spec: splitByScope {fea!r}", "splitByScope: the organization's features",
              spec(fea, "read", "1,1"), "org:admin", permissions, AS_ADMIN, version=2)
      for fea, permissions in [
          ("", ()),
          ("o:impersonation,o:payments", ("org:impersonation:read", "org:payments:read")),
          ("u:impersonation,u:payments", ()),
          ("o:payments,u:impersonation", ("org:payments:read",)),
          ("ou:payments,u:impersonation", ("org:payments:read",)),
      ]),
    # --- malformed: the organization is absent, nothing is granted ---
    OrgCase("v2 fpm not a string", "jwtPayloadParser.ts: fpm.split throws",
            v2({"rol": "admin", "per": "read", "fpm": [1]}), None, version=2),
    OrgCase("v2 fea entry without a scope", "authorization.ts splitByScope throws",
            v2({"rol": "admin", "per": "read", "fpm": "1"}, fea="dashboard"), None, version=2),
    OrgCase("v2 fea entry without a scope, no per", "splitByScope throws before per is read",
            v2({"rol": "admin"}, fea="o:dashboard,teams"), None, version=2),
    OrgCase("v2 empty permission name", "stricter", v2({"rol": "admin", "per": "read,,write", "fpm": "1"}), None,
            version=2),
    OrgCase("v2 role not a string", "stricter", v2({"rol": ["admin"]}), None, version=2),
    OrgCase("v2 no role", "stricter", v2({"rol": None}), None, version=2),
    OrgCase("v2 no id", "stricter", v2({"id": None, "rol": "admin"}), None, version=2),
    OrgCase("v2 id not an organization id", "stricter: only org_… reaches the database or Clerk",
            v2({"id": "../users/user_1", "rol": "admin"}), None, version=2),
    OrgCase("v2 o not an object", "stricter", {"o": "org_2Z8kVHnHyKDzmTzmCCDUlhpYkdU"}, None, version=2),
    OrgCase("v1 role not a string", "stricter", v1(role=7), None),
    OrgCase("v1 permissions not a list", "stricter", v1(org_permissions="org:dashboard:read"), None),
    OrgCase("v1 permission not a string", "stricter", v1(permissions=[{"key": "org:dashboard:read"}]), None),
    OrgCase("v1 id not a string", "stricter", v1(org_id=12), None),
    OrgCase("v1 slug not a string", "stricter", v1(org_slug=["acme"]), None),
]  # fmt: skip


@pytest.fixture
def organizations(db):
    live = Organization.objects.create(clerk_id=ORG, name="Acme", slug="acme", created_via="webhook")
    Organization.objects.create(
        clerk_id=DELETED_ORG, name="Gone", slug="gone", created_via="webhook", deleted_at=timezone.now()
    )
    return live


@pytest.fixture
def signed_in(settings, rsa_private_key, make_token):
    """token(case) -> a session token of a known user with the case's claims (keys from CLERK_JWT_KEY)."""
    settings.CLERK_JWT_KEY = public_pem(rsa_private_key)
    UserFactory(clerk_id=USER)

    def token(case: OrgCase) -> str:
        return make_token(USER, version=case.version, **case.claims)

    return token


def get(client, path: str, token: str):
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_claims_decode_to_the_active_organization(case):
    claims = {"sub": USER, "v": 2 if case.version == 2 else None} | case.claims
    session = SessionClaims.from_claims({name: value for name, value in claims.items() if value is not None})

    if case.role is None:
        assert session.organization is None, case.source
        assert session.organization_id is None
    else:
        assert session.organization == ActiveOrganizationClaim(
            id=case.organization, slug=case.slug, role=case.role, permissions=case.permissions
        ), case.source


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_permission_classes_me_and_members_follow_the_claim(case, client, organizations, signed_in):
    token = signed_in(case)

    statuses = {name: get(client, f"/api/probe/{name}/", token).status_code for name in sorted(EVERY_PROBE)}
    assert statuses == {name: 200 if name in case.allowed else 403 for name in sorted(EVERY_PROBE)}, case.source

    me = get(client, "/api/me/", token)
    assert me.status_code == 200
    live = "active" in case.allowed
    expected = {"clerk_id": ORG, "name": "Acme", "slug": "acme", "role": case.role}
    expected["permissions"] = list(case.permissions)
    assert me.json()["organization"] == (expected if live else None), case.source

    members = get(client, MEMBERS, token)
    assert members.status_code == (200 if live else 403), members.content
    assert members["Content-Type"] == "application/json"


def test_the_organization_comes_from_the_local_row_and_the_role_from_the_token(client, organizations, signed_in):
    """Name and slug are the local row's (a renamed organization), role and permissions the token's."""
    Organization.objects.filter(pk=organizations.pk).update(name="Acme Renamed", slug="acme-renamed")
    case = CASES[0]

    organization = get(client, "/api/me/", signed_in(case)).json()["organization"]

    assert organization == {
        "clerk_id": ORG,
        "name": "Acme Renamed",
        "slug": "acme-renamed",
        "role": "org:admin",
        "permissions": ["org:dashboard:read"],
    }


def test_the_scoped_view_lists_only_the_active_organizations_rows(client, organizations, signed_in):
    other = Organization.objects.create(clerk_id="org_other", name="Other", slug="other", created_via="webhook")
    OrganizationMembership.objects.create(clerk_id="orgmem_1", organization=organizations, user_clerk_id=USER)
    OrganizationMembership.objects.create(clerk_id="orgmem_2", organization=other, user_clerk_id=USER)

    answer = get(client, "/api/probe/scoped/", signed_in(CASES[0]))

    assert [member["clerk_id"] for member in answer.json()] == ["orgmem_1"]


@pytest.mark.parametrize("path", [*(f"/api/probe/{name}/" for name in sorted(EVERY_PROBE)), MEMBERS])
def test_no_token_is_401_not_403(client, path):
    response = client.get(path)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("make", [HasOrgRole, HasOrgPermission])
@pytest.mark.parametrize("key", ["admin", "posts:write", "", None])
def test_a_key_without_the_org_prefix_is_refused_where_the_view_is_written(make, key):
    with pytest.raises(ValueError, match="org:"):
        make(key)


@pytest.mark.urls("config.urls")
def test_the_schema_describes_the_organization_and_the_members_endpoint(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()

    assert "/api/orgs/current/members/" in schema["paths"]
    assert "organization" in schema["components"]["schemas"]["User"]["properties"]
    assert set(schema["components"]["schemas"]["ActiveOrganization"]["properties"]) == {
        "clerk_id",
        "name",
        "slug",
        "role",
        "permissions",
    }
    assert set(schema["components"]["schemas"]["Membership"]["properties"]) == {"clerk_id", "user_clerk_id", "role"}


def test_an_fpm_entry_too_long_for_python_to_convert_is_decoded_like_any_other():
    """Beyond sys.get_int_max_str_digits; only possible in claims larger than a session token may be, so
    tested on the decoder itself. 2**19999 in decimal (6021 digits) sets the last of 20000 names."""
    with decimal.localcontext(prec=7_000):
        fpm = format(decimal.Decimal(2) ** 19_999, "f")
    claims = v2({"rol": "admin", "per": ",".join(f"p{index}" for index in range(20_000)), "fpm": fpm})

    organization = SessionClaims.from_claims({"sub": USER, "v": 2} | claims).organization

    assert organization.permissions == ("org:dashboard:p19999",)

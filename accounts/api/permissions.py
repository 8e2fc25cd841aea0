"""Who may do what in the active organization: DRF permission classes reading the Clerk session token.

    class InvoiceList(ListAPIView):
        permission_classes = [HasOrgPermission("org:invoices:read")]

    class InvoiceDetail(RetrieveUpdateAPIView):
        permission_classes = [HasOrgRole("org:admin") | HasOrgPermission("org:invoices:manage")]

`HasActiveOrganization` is a class like DRF's own. `HasOrgRole(role)` and
`HasOrgPermission(permission)` are instances that stand in for a class: DRF
calls every entry of `permission_classes`, and calling one returns itself;
they combine with `&`, `|` and `~` with each other and with DRF's classes.

Role and permissions are the token's (Clerk refreshes a session token
within a minute, and recommends authorizing from it); the organization must
also be live locally (fetched just in time when it is not local yet, see
accounts/api/organization.py): a deleted organization authorizes nothing.
A request without a valid token is answered 401, one refused here 403.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission, OperationHolderMixin

from accounts.api.organization import active_organization
from accounts.clerk.claims import ActiveOrganizationClaim

ORG_PREFIX = "org:"


class HasActiveOrganization(BasePermission):
    """The token names an active organization that exists and is not deleted."""

    message = "This request needs an active organization."

    def has_permission(self, request, view) -> bool:
        return active_organization(request) is not None


class _ActiveOrganizationClaimCheck(OperationHolderMixin, HasActiveOrganization):
    """An instance usable where DRF expects a permission class, checking the token's organization claim."""

    def __call__(self) -> _ActiveOrganizationClaimCheck:
        return self  # DRF instantiates each entry of permission_classes (and of `&`, `|`, `~`)

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and self.allows(request.auth.organization)

    def allows(self, claim: ActiveOrganizationClaim) -> bool:
        raise NotImplementedError


def _key(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.startswith(ORG_PREFIX):
        raise ValueError(f"an organization {what} is {ORG_PREFIX!r}-prefixed, as Clerk names them: {value!r}")
    return value


class HasOrgRole(_ActiveOrganizationClaimCheck):
    """The token's role in its active organization is `role` (e.g. "org:admin")."""

    def __init__(self, role: str) -> None:
        self.role = _key(role, "role")
        self.message = f"This request needs the role {role} in the active organization."

    def allows(self, claim: ActiveOrganizationClaim) -> bool:
        return claim.role == self.role

    def __repr__(self) -> str:
        return f"HasOrgRole({self.role!r})"


class HasOrgPermission(_ActiveOrganizationClaimCheck):
    """The token grants `permission` (e.g. "org:posts:write") in its active organization."""

    def __init__(self, permission: str) -> None:
        self.permission = _key(permission, "permission")
        self.message = f"This request needs the permission {permission} in the active organization."

    def allows(self, claim: ActiveOrganizationClaim) -> bool:
        return self.permission in claim.permissions

    def __repr__(self) -> str:
        return f"HasOrgPermission({self.permission!r})"

"""Reading Clerk's Organization and OrganizationMembership objects into the fields we keep.

Like `clerk_data.py` for users: unknown keys are ignored and missing names
tolerated, but the ids that rows are keyed and linked by must be there and
Clerk-shaped, and a role or permission list of the wrong type is refused
(authorization reads them, so a guessed value would be worse than none).
Reference: https://clerk.com/docs/reference/backend-api/tag/Organizations
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from accounts.clerk.data import ClerkDataError, _image_url, clean_text, clerk_prefixed_id, clerk_timestamp

# Column sizes of accounts.Organization and OrganizationMembership.
ORG_TEXT_MAX_LENGTH = 256
ROLE_MAX_LENGTH = 128


@dataclass(frozen=True)
class ClerkOrganization:
    clerk_id: str
    name: str
    slug: str
    image_url: str
    updated_at: dt.datetime | None

    @classmethod
    def from_payload(cls, data: Any) -> ClerkOrganization:
        """Parse a Clerk Organization object. Raises ClerkDataError when it has no usable id."""
        return cls(
            clerk_id=clerk_prefixed_id(data, "org_", "organization"),
            name=clean_text(data.get("name"), ORG_TEXT_MAX_LENGTH),
            slug=clean_text(data.get("slug"), ORG_TEXT_MAX_LENGTH),
            image_url=_image_url(data.get("image_url")),
            updated_at=clerk_timestamp(data.get("updated_at")),
        )


@dataclass(frozen=True)
class ClerkMembership:
    clerk_id: str
    organization: ClerkOrganization
    user_clerk_id: str
    role: str
    permissions: list[str]
    updated_at: dt.datetime | None

    @classmethod
    def from_payload(cls, data: Any) -> ClerkMembership:
        """Parse a Clerk OrganizationMembership object with its embedded organization and user id.

        Raises ClerkDataError without a usable membership, organization or user
        id, or with a role that is not a string or permissions that are not a
        list of strings (absent ones read as "" and []).
        """
        clerk_id = clerk_prefixed_id(data, "orgmem_", "membership")
        user_data = data.get("public_user_data")
        return cls(
            clerk_id=clerk_id,
            organization=ClerkOrganization.from_payload(data.get("organization")),
            user_clerk_id=clerk_prefixed_id(user_data, "user_", "membership's user", key="user_id"),
            role=_role(data.get("role")),
            permissions=_permissions(data.get("permissions")),
            updated_at=clerk_timestamp(data.get("updated_at")),
        )


def membership_identifiers(data: Mapping) -> dict[str, Any]:
    """The strings of an OrganizationMembership object that rows are keyed and linked by, and access granted by.

    By path: its id, its organization's id, its user's id, its role and each
    permission. They must reach ClerkMembership.from_payload exactly as Clerk
    sent them (the webhook ledger refuses a delivery where it would alter one).
    """
    organization, user = data.get("organization"), data.get("public_user_data")
    identifiers = {
        "id": data.get("id"),
        "organization.id": organization.get("id") if isinstance(organization, Mapping) else None,
        "public_user_data.user_id": user.get("user_id") if isinstance(user, Mapping) else None,
        "role": data.get("role"),
    }
    permissions = data.get("permissions")
    for index, permission in enumerate(permissions if isinstance(permissions, list) else []):
        identifiers[f"permissions[{index}]"] = permission
    return identifiers


def _role(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > ROLE_MAX_LENGTH or "\x00" in value:
        raise ClerkDataError("membership role is not a role key")
    return value.strip()


def _permissions(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and "\x00" not in item for item in value):
        raise ClerkDataError("membership permissions are not a list of permission keys")
    return list(value)

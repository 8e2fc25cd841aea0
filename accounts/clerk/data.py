"""Reading Clerk's User, Organization and OrganizationMembership objects into the fields we keep.

The same readers serve a webhook's `data` and a Backend API body. Clerk's
payloads vary between versions: unknown keys are ignored and missing ones
tolerated, but the ids rows are keyed and linked by must be there and
Clerk-shaped, and a membership's role or permission list of the wrong type is
refused (authorization reads them, so a guessed value would be worse than none).
https://clerk.com/docs/reference/backend-api/tag/Users, …/tag/Organizations
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

# Column sizes of accounts' models; longer values are cut (names) or dropped (URLs, emails).
NAME_MAX_LENGTH = 150
EMAIL_MAX_LENGTH = 320
IMAGE_URL_MAX_LENGTH = 2048
CLERK_ID_MAX_LENGTH = 64
ORG_TEXT_MAX_LENGTH = 256
ROLE_MAX_LENGTH = 128
EXTERNAL_ID_MAX_LENGTH = 255

_url_validator = URLValidator()


class ClerkDataError(ValueError):
    """The payload is not a usable Clerk object (for example: no `id`)."""


@dataclass(frozen=True)
class ClerkUser:
    clerk_id: str
    email: str
    username: str  # Clerk's own username, "" when it has none
    first_name: str
    last_name: str
    image_url: str
    updated_at: dt.datetime | None
    created_at: dt.datetime | None
    banned: bool = False
    locked: bool = False
    external_id: str = ""
    public_metadata: dict = field(default_factory=dict)
    private_metadata: dict = field(default_factory=dict)
    unsafe_metadata: dict = field(default_factory=dict)
    last_sign_in_at: dt.datetime | None = None

    @classmethod
    def from_payload(cls, data: Any) -> ClerkUser:
        """Parse a Clerk User object. Raises ClerkDataError when it has no usable id."""
        if not isinstance(data, Mapping):
            raise ClerkDataError("user data must be a JSON object")
        return cls(
            clerk_id=clerk_id_from_payload(data),
            email=_primary_email(data),
            username=clean_text(data.get("username"), NAME_MAX_LENGTH),
            first_name=clean_text(data.get("first_name"), NAME_MAX_LENGTH),
            last_name=clean_text(data.get("last_name"), NAME_MAX_LENGTH),
            image_url=_image_url(data.get("image_url")),
            updated_at=clerk_timestamp(data.get("updated_at")),
            created_at=clerk_timestamp(data.get("created_at")),
            banned=data.get("banned") is True,
            locked=data.get("locked") is True,
            external_id=clean_text(data.get("external_id"), EXTERNAL_ID_MAX_LENGTH),
            public_metadata=metadata(data.get("public_metadata")),
            private_metadata=metadata(data.get("private_metadata")),
            unsafe_metadata=metadata(data.get("unsafe_metadata")),
            last_sign_in_at=clerk_timestamp(data.get("last_sign_in_at")),
        )


def user_identifiers(data: Mapping) -> dict[str, Any]:
    """The strings of a User object that rows are keyed by or the primary address is found by, by path.

    They must reach ClerkUser.from_payload exactly as Clerk sent them (the
    webhook ledger refuses a delivery where it would alter one).
    """
    identifiers = {"id": data.get("id"), "primary_email_address_id": data.get("primary_email_address_id")}
    addresses = data.get("email_addresses")
    for index, address in enumerate(addresses if isinstance(addresses, list) else []):
        if isinstance(address, Mapping):
            identifiers[f"email_addresses[{index}].id"] = address.get("id")
    return identifiers


def clerk_id_from_payload(data: Any) -> str:
    """The user id in `data`, or ClerkDataError (even `user.deleted` may omit it)."""
    return clerk_prefixed_id(data, "", "user")


def clerk_prefixed_id(data: Any, prefix: str, what: str, *, key: str = "id") -> str:
    """`data[key]` when it is a Clerk id starting with `prefix`, or ClerkDataError naming `what`."""
    value = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(value, str) or not value.strip():
        raise ClerkDataError(f"{what} data has no {key}")
    value = value.strip()
    if not value.startswith(prefix) or len(value) > CLERK_ID_MAX_LENGTH or "\x00" in value:
        raise ClerkDataError(f"{what} {key} is not a Clerk id" + (f" ({prefix}…)" if prefix else ""))
    return value


def clean_text(value: Any, max_length: int) -> str:
    """A string column value: non-strings become "", NUL (which PostgreSQL refuses) is dropped."""
    if not isinstance(value, str):
        return ""
    return value.replace("\x00", "").strip()[:max_length]


def metadata(value: Any) -> dict:
    """A metadata object (public, private, unsafe): a JSON object, `{}` when absent, null or of another type."""
    return dict(value) if isinstance(value, Mapping) else {}


def clerk_timestamp(value: Any) -> dt.datetime | None:
    """Clerk's millisecond epoch timestamps as aware datetimes; None when absent or invalid."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class ClerkOrganization:
    clerk_id: str
    name: str
    slug: str
    image_url: str
    updated_at: dt.datetime | None
    public_metadata: dict = field(default_factory=dict)
    private_metadata: dict = field(default_factory=dict)
    members_count: int | None = None

    @classmethod
    def from_payload(cls, data: Any) -> ClerkOrganization:
        """Parse a Clerk Organization object. Raises ClerkDataError when it has no usable id."""
        count = data.get("members_count") if isinstance(data, Mapping) else None  # kept only when sent
        return cls(
            clerk_id=clerk_prefixed_id(data, "org_", "organization"),
            name=clean_text(data.get("name"), ORG_TEXT_MAX_LENGTH),
            slug=clean_text(data.get("slug"), ORG_TEXT_MAX_LENGTH),
            image_url=_image_url(data.get("image_url")),
            updated_at=clerk_timestamp(data.get("updated_at")),
            public_metadata=metadata(data.get("public_metadata")),
            private_metadata=metadata(data.get("private_metadata")),
            members_count=count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None,
        )


@dataclass(frozen=True)
class ClerkMembership:
    clerk_id: str
    organization: ClerkOrganization
    user_clerk_id: str
    role: str
    permissions: list[str]
    updated_at: dt.datetime | None
    public_metadata: dict = field(default_factory=dict)

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
            public_metadata=metadata(data.get("public_metadata")),
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


def _primary_email(data: Mapping) -> str:
    """The address `primary_email_address_id` points to; not simply the first one listed."""
    primary_id = data.get("primary_email_address_id")
    addresses = data.get("email_addresses")
    if not primary_id or not isinstance(addresses, list):
        return ""
    for address in addresses:
        if isinstance(address, Mapping) and address.get("id") == primary_id:
            email = clean_text(address.get("email_address"), EMAIL_MAX_LENGTH + 1)
            return email if len(email) <= EMAIL_MAX_LENGTH else ""
    return ""


def _image_url(value: Any) -> str:
    url = clean_text(value, IMAGE_URL_MAX_LENGTH + 1)
    if not url or len(url) > IMAGE_URL_MAX_LENGTH:
        return ""
    try:
        _url_validator(url)
    except ValidationError:
        return ""
    return url


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

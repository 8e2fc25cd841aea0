"""A user full of personal data, and the events about them Clerk sends: what erasure must leave no trace of."""

from __future__ import annotations

import json
from typing import Any

from accounts.clerk.payloads import event_envelope, membership_data
from accounts.tests.factories import ClerkUserDataFactory
from accounts.tests.organization_factories import new_organization

# Every value below is personal data of the user `personal_user()` builds.
EMAIL = "ada.lovelace@example.com"
PERSONAL = [
    EMAIL, "Ada", "Lovelace", "adalove", "+15555550100", "https://img.example.com/ada.png", "secret-plan",
    "backend-only-note", "unsafe-note", "legacy-4242", "203.0.113.77", "SecretBrowser/1.0", "Springfield",
    "198.51.100.9", "ada.lovelace@",
]  # fmt: skip


def personal_user(clerk_id: str, **fields: Any) -> dict[str, Any]:
    """A Clerk User object holding every kind of personal data the contract lists."""
    return ClerkUserDataFactory(
        id=clerk_id,
        email=EMAIL,
        first_name="Ada",
        last_name="Lovelace",
        username="adalove",
        image_url="https://img.example.com/ada.png",
        phone_numbers=[{"id": "idn_phone1", "object": "phone_number", "phone_number": "+15555550100"}],
        public_metadata={"plan": "secret-plan"},
        private_metadata={"note": "backend-only-note"},
        unsafe_metadata={"note": "unsafe-note"},
        external_id="legacy-4242",
        **fields,
    )


def envelope(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """Clerk's envelope, with the sign-up's client IP and user agent in `event_attributes.http_request`."""
    return event_envelope(event_type, data, client_ip="203.0.113.77", user_agent="SecretBrowser/1.0")


def session_data(user_id: str, *, session_id: str = "sess_ada1", created_at: int = 1_700_000_000_000) -> dict:
    """A Clerk Session object (session.created/ended…), with its latest activity (IP, city, browser)."""
    return {
        "object": "session",
        "id": session_id,
        "user_id": user_id,
        "client_id": "client_ada1",
        "status": "active",
        "latest_activity": {"ip_address": "198.51.100.9", "city": "Springfield", "browser_name": "SecretBrowser/1.0"},
        "created_at": created_at,
        "updated_at": created_at,
    }


def membership_of(user_id: str, *, organization: dict | None = None, membership_id: str = "orgmem_ada1") -> dict:
    """A membership naming the user in `public_user_data` (name, identifier, image)."""
    data = membership_data(
        id=membership_id,
        organization=organization or new_organization(),
        user_id=user_id,
        first_name="Ada",
        last_name="Lovelace",
    )
    data["public_user_data"] |= {"identifier": EMAIL, "image_url": "https://img.example.com/ada.png"}
    return data


def personal_data_in(value: Any) -> list[str]:
    """The PERSONAL values found in `value` (as JSON)."""
    text = json.dumps(value)
    return [item for item in PERSONAL if item in text]

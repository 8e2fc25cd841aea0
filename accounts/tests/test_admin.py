"""The user admin: Clerk's fields read-only on Clerk users, editable on local staff accounts."""

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def change_page(admin_client, user) -> str:
    response = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_clerk_user_shows_clerk_fields_read_only_with_a_link_to_its_events(admin_client):
    user = UserFactory(clerk_id="user_ro", email="ro@example.com", first_name="Read", created_via="jit")

    html = change_page(admin_client, user)

    for field in ("email", "first_name", "last_name", "image_url", "username", "clerk_id"):
        assert f'name="{field}"' not in html, field
    assert "ro@example.com" in html and "user_ro" in html
    assert "Just in time (API request)" in html
    assert "/admin/webhooks/webhookevent/?q=user_ro" in html


def test_clerk_fields_cannot_be_changed_by_posting_them(admin_client):
    user = UserFactory(clerk_id="user_post", email="keep@example.com")

    admin_client.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {"email": "hijack@example.com", "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"},
    )

    user.refresh_from_db()
    assert user.email == "keep@example.com"


def test_local_staff_account_keeps_its_fields_editable(admin_client):
    staff = UserFactory(clerk_id=None, username="ops", created_via="local", is_staff=True)

    html = change_page(admin_client, staff)

    assert 'name="email"' in html and 'name="first_name"' in html


def test_changelist_shows_created_via_and_deleted_in_clerk_and_filters_on_it(admin_client):
    UserFactory(clerk_id="user_alive", username="alive")
    UserFactory(clerk_id="user_gone", username="gone", deleted_at=timezone.now(), is_active=False)

    everyone = admin_client.get("/admin/accounts/user/").content.decode()
    deleted = admin_client.get("/admin/accounts/user/?deleted=yes").content.decode()

    assert "field-created_via" in everyone and "field-deleted_in_clerk" in everyone
    assert ">gone<" in deleted and ">alive<" not in deleted

"""The sync health page's link to Clerk's webhook dashboard: POST /v1/webhooks/svix_url, then a redirect."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.tests.clerk_stand_in import SVIX_URL
from accounts.tests.factories import UserFactory
from config.tests.processes import free_port

pytestmark = pytest.mark.django_db

LINK = "/ops/clerk-webhook-dashboard/"


@pytest.fixture
def staff(client):
    """staff(*permission codenames) -> a logged-in staff client holding them (and the ledger's view)."""

    def login(*codenames: str):
        user = UserFactory(is_staff=True, clerk_id=None, username="operator")
        user.user_permissions.add(*Permission.objects.filter(codename__in=["view_webhookevent", *codenames]))
        client.force_login(user)
        return client

    return login


def test_staff_with_the_permission_are_sent_to_the_link_clerk_answers(staff, clerk_api):
    response = staff("open_clerk_webhook_dashboard").get(LINK)

    assert (response.status_code, response["Location"]) == (302, SVIX_URL)
    assert clerk_api.calls["POST /v1/webhooks/svix_url"] == 1


def test_the_health_page_links_it(staff, clerk_api):
    page = staff("open_clerk_webhook_dashboard").get(reverse("admin:webhooks_webhookevent_health")).content.decode()

    assert f'<a href="{LINK}" id="clerk-webhook-dashboard">Clerk webhook dashboard</a>' in page


def test_staff_without_the_permission_are_refused_and_clerk_is_not_asked(staff, clerk_api):
    assert staff().get(LINK).status_code == 403
    assert clerk_api.calls["POST /v1/webhooks/svix_url"] == 0


def test_anonymous_visitors_are_sent_to_the_admin_login(client, clerk_api):
    response = client.get(LINK)

    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_clerk_unreachable_returns_to_the_health_page_with_the_reason(staff, settings):
    settings.CLERK_API_URL, settings.CLERK_SECRET_KEY = f"http://127.0.0.1:{free_port()}", "sk_test_x"
    client = staff("open_clerk_webhook_dashboard")

    response = client.get(LINK, follow=True)

    assert response.redirect_chain == [(reverse("admin:webhooks_webhookevent_health"), 302)]
    assert "could not be fetched" in response.content.decode()

"""The front page at /: what the service is and where to go, nothing secret; the admin's "View site" leads there."""

import pytest

from webhooks.tests.deliveries import TEST_WEBHOOK_SECRET


def test_front_page_says_what_this_is_and_links_the_useful_places(client):
    response = client.get("/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>clerk-sync</h1>" in html
    for href in ["/admin/", "/admin/webhooks/webhookevent/health/", "/healthz", "/api/schema/"]:
        assert f'href="{href}"' in html
    assert TEST_WEBHOOK_SECRET not in html and "whsec_" not in html


def test_front_page_answers_get_only(client):
    assert client.post("/").status_code == 405


@pytest.mark.django_db
def test_admin_view_site_leads_to_the_front_page(admin_client):
    html = admin_client.get("/admin/").content.decode()

    assert '<a href="/">View site</a>' in html

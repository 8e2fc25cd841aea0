"""The front page at /: what the service is and where to go, nothing secret; the admin's "View site" leads there."""

import re

import pytest

from webhooks.tests.deliveries import TEST_WEBHOOK_SECRET


def test_front_page_says_what_this_is_and_links_the_useful_places(client):
    response = client.get("/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>clerk-sync</h1>" in html
    for href in ["/admin/", "/admin/webhooks/webhookevent/health/", "/healthz", "/api/docs/", "/api/schema/"]:
        assert f'href="{href}"' in html
    assert TEST_WEBHOOK_SECRET not in html and "whsec_" not in html


def test_front_page_answers_get_only(client):
    assert client.post("/").status_code == 405


@pytest.mark.django_db
def test_admin_view_site_leads_to_the_front_page(admin_client):
    html = admin_client.get("/admin/").content.decode()

    assert '<a href="/">View site</a>' in html


def test_the_api_reference_is_a_page_served_without_a_cdn_and_the_schema_stays_yaml(client):
    page = client.get("/api/docs/")
    schema = client.get("/api/schema/")

    html = page.content.decode()
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert "SwaggerUIBundle" in html and "/api/schema/" in html
    assert not re.search(r"""(src|href)=["']https?://""", html), "every asset comes from this app"
    assets = re.findall(r"""(?:src|href)=["'](/static/drf_spectacular_sidecar/[^"']+)["']""", html)
    assert assets and all(client.get(asset).status_code == 200 for asset in assets)
    assert schema.status_code == 200 and "openapi:" in schema.content.decode()
    assert "/api/me/" in schema.content.decode()

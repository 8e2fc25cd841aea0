"""Every answer under /webhooks/ and /api/ is JSON, errors included; other paths keep Django's pages."""

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path

from accounts.tests.factories import ClerkEventFactory
from config.tests.helpers import deliver_to

pytestmark = pytest.mark.django_db


def boom(request):
    raise RuntimeError("unexpected")


def html_teapot(request):
    return HttpResponse("<h1>I'm a teapot</h1>", status=418)


# The project's URLs plus views that fail the ways a future view might.
urlpatterns = [
    path("api/boom/", boom),
    path("webhooks/boom/x/", boom),
    path("api/teapot/", html_teapot),
    path("elsewhere/boom/", boom),
    path("", include("config.urls")),
]


@pytest.fixture
def failing_views(settings):
    settings.ROOT_URLCONF = __name__


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"]
    return body


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize(
    "url", ["/webhooks/nope/", "/webhooks/clerk/extra/", "/webhooks/", "/api/nope/", "/api/me/nope"]
)
def test_unknown_source_or_route_is_a_json_404(client, settings, url, debug):
    settings.DEBUG = debug

    assert_json_error(client.post(url), 404)
    assert_json_error(client.get(url), 404)


def test_an_unknown_source_says_which(client):
    assert "nope" in assert_json_error(deliver_to(client, ClerkEventFactory(), path="/webhooks/nope/"), 404)["error"]


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "head", "options"])
def test_wrong_method_is_a_json_405_with_allow(client, method):
    response = getattr(client, method)("/webhooks/clerk/")

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    if method != "head":  # a HEAD answer has no body
        assert_json_error(response, 405)


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize("url", ["/api/boom/", "/webhooks/boom/x/"])
def test_an_unhandled_exception_is_a_json_500_and_still_logged(failing_views, settings, caplog, url, debug):
    settings.DEBUG = debug

    response = Client(raise_request_exception=False).get(url)

    assert assert_json_error(response, 500) == {"error": "internal server error"}
    assert "unexpected" not in response.content.decode()  # no traceback leaks, even with DEBUG on
    assert any(record.name == "django.request" and record.exc_info for record in caplog.records)


def test_any_non_json_error_body_is_replaced(failing_views, client):
    assert assert_json_error(client.get("/api/teapot/"), 418) == {"error": "i'm a teapot"}


def test_413_and_503_are_json(client, settings):
    settings.WEBHOOKS_MAX_BODY_BYTES = 10
    assert assert_json_error(deliver_to(client, ClerkEventFactory()), 413)["reason"] == "too_large"

    settings.CLERK_WEBHOOK_SECRET = ""
    settings.WEBHOOKS_MAX_BODY_BYTES = 1024 * 1024
    assert assert_json_error(deliver_to(client, ClerkEventFactory()), 503)["reason"] == "not_configured"


def test_other_paths_keep_django_pages(failing_views, client):
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404
    assert not missing["Content-Type"].startswith("application/json")

    failed = Client(raise_request_exception=False).get("/elsewhere/boom/")
    assert failed.status_code == 500
    assert not failed["Content-Type"].startswith("application/json")

"""GET /healthz for load balancers (its 503 during an outage: webhooks/tests/test_database_outage.py)."""

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_answers_200_when_the_database_answers(client, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_is_get_only(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.parametrize("host", ["10.0.3.7", "10.0.3.7:8000", "localhost", "[::1]:8000", "app.example.com"])
def test_healthz_answers_whatever_the_host_under_production_hosts(client, settings, host):
    """A load balancer probes by the instance's IP or as localhost, which ALLOWED_HOSTS does not list."""
    settings.ALLOWED_HOSTS = ["app.example.com"]

    response = client.get("/healthz", HTTP_HOST=host)

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize("path", ["/", "/admin/login/", "/healthz/", "/healthz/x", "/readyz/", "/api/me/"])
def test_every_other_path_still_refuses_an_unlisted_host_in_one_log_line(client, settings, caplog, path):
    settings.ALLOWED_HOSTS = ["app.example.com"]

    with caplog.at_level("INFO"):
        response = client.get(path, HTTP_HOST="10.0.3.7")

    assert response.status_code == 400
    [record] = [record for record in caplog.records if record.name.startswith("django.security")]
    assert (record.levelname, record.exc_info, record.exc_text) == ("WARNING", None, None)
    assert record.getMessage().splitlines() == [record.getMessage()]  # one line, no traceback
    assert "Invalid HTTP_HOST header: '10.0.3.7'" in record.getMessage()


def test_a_probe_path_without_a_route_falls_through_to_the_usual_checks(client, settings):
    """config.probes.PROBE_PATHS may name /readyz before its route exists: it is then refused as any other path."""
    settings.ALLOWED_HOSTS = ["app.example.com"]
    settings.ROOT_URLCONF = "config.tests.urls_without_probes"

    assert client.get("/readyz", HTTP_HOST="10.0.3.7").status_code == 400
    assert client.get("/readyz", HTTP_HOST="app.example.com").status_code == 404

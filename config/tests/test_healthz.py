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

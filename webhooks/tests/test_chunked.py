"""Chunked deliveries (Transfer-Encoding: chunked, no Content-Length) through real servers."""

import http.client
import json
from urllib.parse import urlsplit

import pytest

from accounts.tests.factories import ClerkEventFactory
from conftest import svix_headers
from webhooks.tests.live_server import live_app


def post_chunked(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, dict]:
    """POST `body` in 1 KiB chunks with http.client (which then sends no Content-Length)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        chunks = (body[start : start + 1024] for start in range(0, len(body), 1024))
        connection.request("POST", parts.path, body=chunks, headers={**headers, "Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read()), dict(response.getheaders())
    finally:
        connection.close()


def signed_body(size: int = 0, msg_id: str = "msg_chunked") -> tuple[bytes, dict[str, str]]:
    payload = ClerkEventFactory()
    payload["padding"] = "x" * size
    body = json.dumps(payload)
    return body.encode(), svix_headers(body, msg_id=msg_id)


@pytest.fixture(scope="module")
def gunicorn_app(tmp_path_factory):
    with live_app(tmp_path_factory.mktemp("gunicorn"), "gunicorn", WEBHOOKS_MAX_BODY_BYTES="8192") as app:
        yield app


def test_gunicorn_reads_a_chunked_delivery_like_any_other(gunicorn_app):
    body, headers = signed_body(size=3000, msg_id="msg_chunked_ok")

    status, answer, _ = post_chunked(f"{gunicorn_app.url}/webhooks/clerk/", body, headers)

    assert (status, answer) == (200, {"event_id": "msg_chunked_ok", "outcome": "processed"})
    stored = gunicorn_app.query("SELECT status, payload FROM webhooks_webhookevent WHERE event_id = 'msg_chunked_ok'")
    assert stored[0][0] == "processed"
    assert json.loads(stored[0][1]) == json.loads(body)


def test_gunicorn_refuses_a_chunked_body_over_the_limit_with_413(gunicorn_app):
    body, headers = signed_body(size=10_000, msg_id="msg_chunked_big")

    status, answer, _ = post_chunked(f"{gunicorn_app.url}/webhooks/clerk/", body, headers)

    assert (status, answer["reason"]) == (413, "too_large")
    assert gunicorn_app.query("SELECT count(*) FROM webhooks_webhookevent WHERE event_id = 'msg_chunked_big'") == [(0,)]
    assert gunicorn_app.query("SELECT reason, count FROM webhooks_webhookrejection") == [("too_large", 1)]


def test_development_server_says_it_cannot_read_chunked_bodies(tmp_path):
    """Django's runserver reads bodies by Content-Length only: a clear 411, not a bad signature."""
    body, headers = signed_body(msg_id="msg_chunked_dev")
    with live_app(tmp_path, "runserver") as app:
        status, answer, response_headers = post_chunked(f"{app.url}/webhooks/clerk/", body, headers)
        # The connection is closed, so the unread chunks cannot be taken for a request; the next one is fine.
        assert response_headers.get("Connection") == "close"
        assert app.query("SELECT count(*) FROM webhooks_webhookevent") == [(0,)]
        rejected = app.query("SELECT reason, count FROM webhooks_webhookrejection")

    assert (status, answer["reason"]) == (411, "chunked_unreadable")
    assert rejected == [("chunked_unreadable", 1)]

"""Chunked deliveries (Transfer-Encoding: chunked, no Content-Length) through real servers."""

import http.client
import io
import json
import socket
from urllib.parse import urlsplit

import pytest

from webhooks.devserver import ChunkedBodyError, chunked_body_read
from webhooks.models import WebhookEvent, WebhookRejection
from webhooks.tests.deliveries import svix_headers
from webhooks.tests.ledger_source import PATH, thing_event
from webhooks.tests.live_server import live_app

LIMIT = 8192


def post_chunked(url: str, body: bytes, headers: dict[str, str], *, then_get: str = "") -> list:
    """POST `body` in 1 KiB chunks with http.client (which then sends no Content-Length), and
    optionally GET `then_get` on the same connection; (status, JSON body, headers) of each answer."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    answers = []
    try:
        chunks = (body[start : start + 1024] for start in range(0, len(body), 1024))
        connection.request("POST", parts.path, body=chunks, headers={**headers, "Content-Type": "application/json"})
        response = connection.getresponse()
        answers.append((response.status, json.loads(response.read()), dict(response.getheaders())))
        if then_get:
            connection.request("GET", then_get)
            response = connection.getresponse()
            answers.append((response.status, json.loads(response.read()), dict(response.getheaders())))
    finally:
        connection.close()
    return answers


def signed_body(msg_id: str, size: int) -> tuple[bytes, dict[str, str]]:
    """A signed event of the stand-in source of exactly `size` bytes, padded with an extra member."""
    payload = thing_event()
    payload["padding"] = ""
    payload["padding"] = "x" * (size - len(json.dumps(payload)))
    body = json.dumps(payload)
    assert len(body) == size
    return body.encode(), svix_headers(body, msg_id=msg_id)


@pytest.fixture(scope="module", params=["gunicorn", "runserver"])
def served(request, tmp_path_factory):
    """The app under gunicorn, and under `manage.py runserver` (its chunked-reading request handler)."""
    with live_app(tmp_path_factory.mktemp(request.param), request.param, WEBHOOKS_MAX_BODY_BYTES=str(LIMIT)) as app:
        yield app


def test_a_chunked_delivery_is_read_like_any_other(served):
    body, headers = signed_body("msg_chunked_ok", size=4000)

    (status, answer, _), (health, _, _) = post_chunked(f"{served.url}{PATH}", body, headers, then_get="/healthz")

    assert (status, answer) == (200, {"event_id": "msg_chunked_ok", "outcome": "processed"})
    assert health == 200  # the connection is still in step for the next request
    stored = served.query("SELECT status, payload FROM webhooks_webhookevent WHERE event_id = 'msg_chunked_ok'")
    assert stored[0][0] == "processed"
    assert json.loads(stored[0][1]) == json.loads(body)
    thing = json.loads(body)["data"]["id"]
    assert served.query("SELECT count(*) FROM auth_group WHERE name = ?", (f"thing:{thing}",)) == [(1,)]


def test_a_chunked_body_at_the_limit_is_accepted(served):
    body, headers = signed_body("msg_chunked_limit", size=LIMIT)

    [(status, _, _)] = post_chunked(f"{served.url}{PATH}", body, headers)

    assert status == 200


def test_a_chunked_body_over_the_limit_is_413_and_nothing_is_stored(served):
    body, headers = signed_body("msg_chunked_big", size=LIMIT + 1)

    [(status, answer, _)] = post_chunked(f"{served.url}{PATH}", body, headers)

    assert (status, answer["reason"]) == (413, "too_large")
    assert served.query("SELECT count(*) FROM webhooks_webhookevent WHERE event_id = 'msg_chunked_big'") == [(0,)]
    assert served.query("SELECT last_event_id FROM webhooks_webhookrejection WHERE reason = 'too_large'") == [
        ("msg_chunked_big",)
    ]


def test_broken_chunk_framing_is_400(served):
    parts = urlsplit(served.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(
            b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n"
        )
        answer = sock.recv(1024)

    assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0]


@pytest.mark.django_db(transaction=True)
def test_a_server_that_cannot_decode_chunked_bodies_answers_411(live_server):
    """Django's test live server (wsgiref's handler) passes a chunked body on as empty: a clear 411.

    Only the request's head is sent: the server answers from it alone. A body it never reads
    would turn its close into a TCP reset, which can discard the answer before the client reads it.
    """
    _, headers = signed_body("msg_chunked_wsgiref", size=2000)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\n{head}\r\n"
    )
    parts = urlsplit(live_server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        sock.sendall(request.encode())
        response = http.client.HTTPResponse(sock)
        response.begin()
        status, answer = response.status, json.loads(response.read())

    assert (status, answer["reason"]) == (411, "chunked_unreadable")
    assert not WebhookEvent.objects.exists()
    assert WebhookRejection.objects.get().reason == "chunked_unreadable"


class TestChunkedDecoding:
    """webhooks/devserver.py's decoder, on the framings a client may send."""

    def test_chunks_extensions_and_trailers(self):
        stream = io.BytesIO(b"4;name=value\r\nWiki\r\n5\r\npedia\r\n0\r\nExpires: never\r\n\r\nNEXT")

        assert chunked_body_read(stream, most=100) == (b"Wikipedia", True)
        assert stream.read() == b"NEXT"  # the next request starts right after the body

    def test_stops_one_byte_past_the_most_it_may_read(self):
        stream = io.BytesIO(b"a\r\n0123456789\r\n0\r\n\r\n")

        assert chunked_body_read(stream, most=4) == (b"0123", False)

    @pytest.mark.parametrize(
        "framing",
        [b"zz\r\nabc\r\n", b"-1\r\n", b"5\r\nab", b"3\r\nabcXY0\r\n\r\n"],
        ids=["size-not-hex", "negative", "closed-inside-chunk", "no-crlf-after-chunk"],
    )
    def test_broken_framing_is_refused(self, framing):
        with pytest.raises(ChunkedBodyError):
            chunked_body_read(io.BytesIO(framing), most=100)

"""Every hostile or broken delivery, table-driven through POST to the ledger's stand-in source: the answer,
the reason counted, what was stored, and that whatever was stored can be read in the admin."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from webhooks.inbound.payloads import MAX_DEPTH
from webhooks.models import WebhookEvent, WebhookRejection
from webhooks.tests.deliveries import UNKNOWN_WEBHOOK_SECRET, svix_headers
from webhooks.tests.factories import WebhookEventFactory
from webhooks.tests.ledger_source import PATH, thing_event, things_recorded

pytestmark = pytest.mark.django_db


def event_json(**data) -> str:
    return json.dumps(thing_event(**data))


def nested(depth: int, inner: str = "1", *, escape: bool = False) -> str:
    """An event whose `data` holds `depth` levels of arrays and objects in total, counting the envelope."""
    body = inner
    for level in range(depth - 2):
        body = f'{{"k\\u00e9": {body}}}' if escape and level % 2 else f"[{body}]"
    return f'{{"type": "thing.happened", "data": {{"id": "thing_deep", "x": {body}}}}}'


def with_signature(value: Callable[[str], str]) -> Callable[[str, dict], dict]:
    """A header edit: replace svix-signature with `value(the valid signature)`."""
    return lambda body, headers: headers | {"svix-signature": value(headers["svix-signature"])}


def other_signature(body: str, headers: dict) -> str:
    return svix_headers(body, msg_id=headers["svix-id"], secret=UNKNOWN_WEBHOOK_SECRET)["svix-signature"]


@dataclass(frozen=True)
class Case:
    id: str
    body: str | bytes
    status: int
    reason: str | None = None  # counted in WebhookRejection and answered; None for an accepted delivery
    stored: str | None = None  # the event's status when it is stored
    headers: Callable[[str, dict], dict] = field(default=lambda body, headers: headers)
    limit: int | None = None  # WEBHOOKS_MAX_BODY_BYTES for this case


VALID = event_json()
CASES = [
    # Accepted, stored, and readable in the admin.
    Case("valid", VALID, 200, stored="processed"),
    Case("unhandled-type", '{"type": "thing.ignored", "data": {"id": "thing_1"}}', 200, stored="ignored"),
    Case("nul-and-lone-surrogate", event_json(first_name="Ann\u0000a", last_name="\ud800x"), 200, stored="processed"),
    Case(f"nesting-{MAX_DEPTH}-levels", nested(MAX_DEPTH, escape=True), 200, stored="processed"),
    Case(
        "malformed-entry-beside-valid",
        VALID,
        200,
        stored="processed",
        headers=with_signature(lambda valid: f"v1,not-base64 {valid}"),
    ),
    Case(
        "entries-of-unknown-version-and-extra-spaces",
        VALID,
        200,
        stored="processed",
        headers=with_signature(lambda valid: f"v1a,c2lnbmF0dXJl   {valid}  "),
    ),
    # Not JSON that can be stored: refused, nothing kept.
    *(
        Case(
            f"number-{name}", f'{{"type": "thing.happened", "data": {{"id": "thing_n", "n": {text}}}}}', 400, "not_json"
        )
        for name, text in [
            ("1e999", "1e999"),
            ("minus-1e999", "-1e999"),
            ("NaN", "NaN"),
            ("Infinity", "Infinity"),
            ("minus-Infinity", "-Infinity"),
        ]
    ),
    Case(f"nesting-{MAX_DEPTH + 1}-levels", nested(MAX_DEPTH + 1), 400, "too_deep"),
    Case("nesting-600-levels-with-escapes", nested(600, '"\\u00e9"', escape=True), 400, "too_deep"),
    Case("nesting-900-levels", nested(900), 400, "too_deep"),
    Case("nesting-100000-levels", nested(100_000), 400, "too_deep"),
    Case("unclosed-100000-levels", '{"type": "x", "data": ' + "[" * 100_000, 400, "too_deep"),
    Case("text", "not json", 400, "not_json"),
    Case("empty", "", 400, "not_json"),
    Case("array", "[1, 2]", 400, "not_json"),
    Case("string", '"thing.happened"', 400, "not_json"),
    Case("null", "null", 400, "not_json"),
    Case("not-utf8", b'{"type": "thing.happened", "data": {"first_name": "\xff"}}', 400, "not_json"),
    # Decided before the signature (the app's own rule, not the svix library's): unsigned too.
    Case(
        "not-utf8-unsigned",
        b'{"type": "thing.happened", "data": {"first_name": "\xff"}}',
        400,
        "not_json",
        headers=lambda body, headers: {},
    ),
    Case("huge-integer", '{"type": "thing.happened", "data": {"n": ' + "9" * 5000 + "}}", 400, "not_json"),
    # Envelope and data.
    Case("no-type", '{"data": {"id": "thing_1"}}', 400, "bad_envelope"),
    Case("no-data", '{"type": "thing.happened"}', 400, "bad_envelope"),
    Case("data-null", '{"type": "thing.happened", "data": null}', 400, "bad_envelope"),
    Case("thing-without-id", '{"type": "thing.happened", "data": {"first_name": "No id"}}', 400, "bad_data"),
    # Signatures and timestamps.
    Case("no-signature-headers", VALID, 400, "missing_signature", headers=lambda body, headers: {}),
    Case(
        "unknown-secret",
        VALID,
        400,
        "bad_signature",
        headers=lambda body, headers: headers | {"svix-signature": other_signature(body, headers)},
    ),
    Case(
        "malformed-entry-beside-wrong-one",
        VALID,
        400,
        "bad_signature",
        headers=lambda body, headers: headers | {"svix-signature": f"v1,%%% {other_signature(body, headers)}"},
    ),
    Case(
        "only-malformed-entries",
        VALID,
        400,
        "malformed_signature",
        headers=with_signature(lambda valid: "v1,a,b garbage"),
    ),
    Case(
        "stale-timestamp-and-malformed-entry",
        VALID,
        400,
        "bad_timestamp",
        headers=lambda body, headers: headers | {"svix-timestamp": "1000000000", "svix-signature": "v1"},
    ),
    Case("timestamp-not-a-number", VALID, 400, "bad_timestamp", headers=lambda b, h: h | {"svix-timestamp": "soon"}),
    # Size.
    Case("over-the-limit", VALID, 413, "too_large", limit=len(VALID.encode()) - 1),
    Case("at-the-limit", VALID, 200, stored="processed", limit=len(VALID.encode())),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_delivery(case: Case, client, admin_client, settings):
    if case.limit is not None:
        settings.WEBHOOKS_MAX_BODY_BYTES = case.limit
    text = case.body.decode("latin-1") if isinstance(case.body, bytes) else case.body
    headers = case.headers(text, svix_headers(text, msg_id=f"msg_{case.id}"))

    response = client.post(PATH, data=case.body, content_type="application/json", headers=headers)

    assert response.status_code == case.status, response.content
    answer = response.json()
    counted = {row.reason: row.count for row in WebhookRejection.objects.all()}
    if case.reason is None:
        assert answer["event_id"] == f"msg_{case.id}"
        assert counted == {}
        event = WebhookEvent.objects.get()
        assert event.status == case.stored
        page = admin_client.get(f"/admin/webhooks/webhookevent/{event.pk}/change/")
        assert page.status_code == 200
        assert '<pre class="json">' in page.content.decode()
    else:
        assert answer["reason"] == case.reason and answer["error"]
        assert counted == {case.reason: 1}
        assert not WebhookEvent.objects.exists()
        assert things_recorded() == []


def test_a_deep_payload_stored_before_the_limit_existed_still_renders(admin_client):
    payload = json.loads(nested(900))  # what the endpoint accepted before too_deep
    event = WebhookEventFactory(payload=payload, event_type="thing.happened")

    page = admin_client.get(f"/admin/webhooks/webhookevent/{event.pk}/change/")

    assert page.status_code == 200
    html = page.content.decode()
    assert '<pre class="json json-plain">' in html
    assert "[" * 800 + "1" + "]" * 800 in html
    assert len(html) < 200_000  # no indentation growing with the square of the depth

"""No log line, at any level, carries an email address, a name or a session token (docs/privacy.md)."""

from __future__ import annotations

import io
import logging

import pytest
from django.core.management import call_command

from accounts.clerk.payloads import event_envelope
from accounts.tests.factories import ClerkUserDataFactory, user_event
from accounts.tests.privacy import membership_of, session_data
from accounts.tests.smtp_server import Mode
from accounts.tests.workers import run_queued_tasks

pytestmark = pytest.mark.django_db(transaction=True)


def person(n: int) -> dict:
    return ClerkUserDataFactory(
        email=f"zenobia{n}.quill@example.com", first_name=f"Zenobia{n}", last_name="Quillfeather", username=f"zenq{n}"
    )


def test_webhook_jit_token_refusal_backfill_and_welcome_paths_log_no_personal_data(
    client, clerk_api, make_token, deliver, database_tasks, smtp, caplog
):
    caplog.set_level(logging.DEBUG)
    tokens = []
    # Webhook: a new user, an update, a session, a membership, a delete, a duplicate, a refusal.
    hooked = person(1)
    for number, payload in enumerate(
        [
            user_event("user.created", hooked),
            user_event("user.updated", hooked | {"updated_at": hooked["updated_at"] + 1}),
            event_envelope("session.created", session_data(hooked["id"])),
            event_envelope("organizationMembership.created", membership_of(hooked["id"])),
            event_envelope("user.deleted", {"object": "user", "id": hooked["id"], "deleted": True}),
        ]
    ):
        deliver(payload, msg_id=f"msg_logs_{number}")
    deliver(user_event("user.created", hooked), msg_id="msg_logs_0")
    deliver(user_event("user.created", hooked | {"id": 7}), msg_id="msg_logs_bad")
    # Just in time, then a refused token (signed by no one), then a token of a user Clerk does not know.
    jit = clerk_api.add_user(person(2))
    tokens.append(make_token(jit["id"]))
    assert client.get("/api/me/", headers={"Authorization": f"Bearer {tokens[-1]}"}).status_code == 200
    tokens.append(tokens[-1][:-4] + "AAAA")
    assert client.get("/api/me/", headers={"Authorization": f"Bearer {tokens[-1]}"}).status_code == 401
    tokens.append(make_token("user_2unknown0000000000000"))
    assert client.get("/api/me/", headers={"Authorization": f"Bearer {tokens[-1]}"}).status_code == 401
    # Backfill.
    clerk_api.add_user(person(3))
    call_command("sync_clerk_users", stdout=io.StringIO(), stderr=io.StringIO())
    # The welcome emails, refused by the mail server (451 to each recipient, whose address smtplib quotes).
    smtp.mode = Mode.TEMPFAIL
    run_queued_tasks()

    text = "\n".join(record.getMessage() for record in caplog.records) + caplog.text
    assert "webhook delivery" in text and "jit user" in text and "SMTPRecipientsRefused" in text  # the paths ran
    for n in (1, 2, 3):
        for value in (f"zenobia{n}.quill@example.com", f"Zenobia{n}", f"zenq{n}"):
            assert value not in text
    assert "Quillfeather" not in text and "@example.com" not in text
    for token in tokens:
        assert token not in text and token.split(".")[1] not in text

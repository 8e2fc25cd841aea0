"""Real traffic on the embedded default: concurrent senders, admin replays and the bulk replay command
against `runserver` on a SQLite file (webhooks/tests/live_server.py), for any source."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import requests

from webhooks.tests.concurrency import JOIN_TIMEOUT
from webhooks.tests.deliveries import new_msg_id, svix_headers
from webhooks.tests.live_server import admin_session, live_app

SENDERS = 5
EVENTS_PER_SENDER = 30  # each followed by a redelivery every third event
MIN_ADMIN_REPLAYS = 40  # the replayer keeps going while senders send, and makes at least this many
PICK_DEADLINE = 120  # bounds the wait for the first stored event; a hang guard, not a measurement


def assert_senders_and_replays_get_no_5xx_and_every_event_is_processed(
    tmp_path: Path, *, path: str, new_body: Callable[[], str], handled_rows_sql: tuple[str, tuple]
) -> None:
    """Five senders POST `new_body()` events to `path` (a third of them twice) while staff replay in the admin
    and the bulk replay command runs: no 5xx, every event processed, every attempt counted, and
    `handled_rows_sql` (a query and its parameters) counts one row per delivered event."""
    with live_app(tmp_path, "runserver") as app:
        answers: list[tuple[str, int]] = []
        replayed: Counter[int] = Counter()
        errors: list[str] = []
        lock = threading.Lock()
        senders_done = threading.Event()

        def record(kind: str, response: requests.Response) -> None:
            with lock:
                answers.append((kind, response.status_code))

        def sender(index: int) -> None:
            try:
                with requests.Session() as session:
                    for number in range(EVENTS_PER_SENDER):
                        body = new_body()
                        msg_id = new_msg_id()
                        for _ in range(2 if number % 3 == 0 else 1):  # Svix re-signs every retry
                            headers = svix_headers(body, msg_id=msg_id) | {"Content-Type": "application/json"}
                            record("delivery", session.post(f"{app.url}{path}", data=body, headers=headers))
            except Exception as exc:  # noqa: BLE001 - reported by the test below
                errors.append(f"sender {index}: {exc!r}")

        def replayer() -> None:
            try:
                session = admin_session(app)
                deadline = time.monotonic() + PICK_DEADLINE
                while not (pks := [pk for (pk,) in app.query("SELECT id FROM webhooks_webhookevent")]):
                    assert time.monotonic() < deadline, "no event was stored"
                    time.sleep(0.05)
                command = None
                done = 0
                while not senders_done.is_set() or done < MIN_ADMIN_REPLAYS:
                    pk = pks[done % len(pks)]
                    replay_url = f"{app.url}/admin/webhooks/webhookevent/{pk}/replay/"
                    response = session.post(replay_url, allow_redirects=False)
                    record("admin replay", response)
                    if response.status_code == 302:
                        with lock:
                            replayed[pk] += 1
                    done += 1
                    if done % 10 == 0:
                        pks = [pk for (pk,) in app.query("SELECT id FROM webhooks_webhookevent")]
                    if done == 10:  # the bulk command, beside deliveries and admin replays
                        command = threading.Thread(target=run_command)
                        command.start()
                if command is not None:
                    command.join(JOIN_TIMEOUT * 10)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"replayer: {exc!r}")

        command_result = []

        def run_command() -> None:
            command_result.append(app.manage("replay_webhook_events", "--all"))

        threads = [threading.Thread(target=sender, args=(index,)) for index in range(SENDERS)]
        replay_thread = threading.Thread(target=replayer)
        for thread in [*threads, replay_thread]:
            thread.start()
        for thread in threads:
            thread.join(JOIN_TIMEOUT * 10)
        senders_done.set()
        replay_thread.join(JOIN_TIMEOUT * 10)
        assert not any(thread.is_alive() for thread in [*threads, replay_thread]), "a client hung"

        events = app.query("SELECT id, status, attempts FROM webhooks_webhookevent")
        attempt_rows = Counter(
            (pk, kind) for pk, kind in app.query("SELECT event_id, kind FROM webhooks_webhookattempt")
        )
        handled_rows = app.query(*handled_rows_sql)

    assert not errors, errors
    statuses = Counter(answers)
    assert not [answer for answer in answers if answer[1] >= 500], statuses
    deliveries = SENDERS * EVENTS_PER_SENDER
    redeliveries = SENDERS * len(range(0, EVENTS_PER_SENDER, 3))
    assert statuses[("delivery", 200)] == deliveries, statuses
    assert statuses[("delivery", 202)] == redeliveries, statuses
    assert statuses[("admin replay", 302)] == sum(replayed.values()) >= MIN_ADMIN_REPLAYS, statuses
    command = command_result[0]
    assert command.returncode == 0, command.stderr
    assert "replayed" in command.stdout and "failed" not in command.stdout, command.stdout

    assert len(events) == deliveries and handled_rows == [(deliveries,)]
    assert {status for _, status, _ in events} == {"processed"}
    for pk, _, attempts in events:  # every delivery and every replay counted, each with its attempt row
        assert attempts == attempt_rows[(pk, "delivery")] + attempt_rows[(pk, "replay")]
        assert attempt_rows[(pk, "replay")] >= replayed[pk]
    command_replays = sum(count for (_, kind), count in attempt_rows.items() if kind == "replay") - sum(
        replayed.values()
    )
    assert f"replayed {command_replays} events" in command.stdout

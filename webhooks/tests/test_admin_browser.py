"""The webhook ledger's admin in a real browser: real signed deliveries, then filter, read, replay.

Deliveries go to the ledger's stand-in source (webhooks/tests/ledger_source.py); the browser
and its helpers are in webhooks/tests/browser.py.

Headless Chromium (Debian's /usr/bin/chromium and /usr/bin/chromedriver) drives the
admin served by pytest-django's `live_server`; deliveries reach it over real HTTP.
Without the browser these tests are skipped with the reason (a fresh machine);
CI installs it and, with REQUIRE_POSTGRES=1, a skip fails the run.

Screenshots of the changelist, an event and the sync health page are saved to
artifacts/screenshots/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

import json

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from webhooks.models import WebhookEvent
from webhooks.tests.browser import (
    PASSWORD,
    SCREENSHOTS,
    attempt_rows,
    cell,
    log_in,
    needs_chromium,
    save_screenshot,
    text_of,
    wait,
)
from webhooks.tests.deliveries import svix_headers
from webhooks.tests.factories import WebhookEventFactory
from webhooks.tests.ledger_source import NAME, thing_event

HEALTH_PATH = "/admin/webhooks/webhookevent/health/"

pytestmark = needs_chromium


def deliver_over_http(live_server, payload: dict, *, msg_id: str, source: str = NAME) -> requests.Response:
    """POST a Svix-signed delivery to the live server, as a sender's Svix would."""
    body = json.dumps(payload)
    return requests.post(
        f"{live_server.url}/webhooks/{source}/",
        data=body.encode(),
        headers={"Content-Type": "application/json", **svix_headers(body, msg_id=msg_id)},
        timeout=60,
    )


# --- tests -----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_staff_find_a_failed_event_read_its_error_and_replay_it(live_server, browser_signed_out, webhook_source):
    browser = browser_signed_out
    flaky_source = {"runs": 0}

    def fails_the_first_time(event: WebhookEvent) -> None:
        flaky_source["runs"] += 1
        if flaky_source["runs"] == 1:
            raise RuntimeError("downstream is down")

    webhook_source({"thing.happened": fails_the_first_time})
    get_user_model().objects.create_superuser("boss", "boss@example.com", PASSWORD)
    answers = {
        "created": deliver_over_http(live_server, thing_event(), msg_id="msg_browser_created"),
        "ignored": deliver_over_http(live_server, thing_event("thing.ignored"), msg_id="msg_browser_ignored"),
        "failed": deliver_over_http(
            live_server,
            {"type": "thing.happened", "data": {"id": "thing_42", "colour": "teal"}},
            msg_id="msg_browser_flaky",
            source="flaky",
        ),
    }
    assert {name: answer.status_code for name, answer in answers.items()} == {
        "created": 200,
        "ignored": 200,
        "failed": 500,
    }

    # The changelist: every event, newest first.
    log_in(browser, live_server, "boss")
    browser.get(f"{live_server.url}/admin/webhooks/webhookevent/")
    wait(browser, EC.presence_of_element_located((By.ID, "result_list")))
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 3
    assert "msg_browser_flaky" in rows[0].text and "Failed" in rows[0].text
    save_screenshot(browser, "changelist.png")

    # Filter to the failed ones with the sidebar's status filter.
    browser.find_element(By.CSS_SELECTOR, '#changelist-filter details[data-filter-title="status"]')
    browser.find_element(By.XPATH, '//*[@id="changelist-filter"]//a[normalize-space()="Failed"]').click()
    failed_selected = (By.CSS_SELECTOR, '#changelist-filter li.selected a[href$="status__exact=failed"]')
    wait(browser, EC.presence_of_element_located(failed_selected))
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert [cell(row, "event_id") for row in rows] == ["msg_browser_flaky"]
    assert "1 webhook event" in text_of(browser, "p.paginator")

    # The event: its payload and the failed delivery with its traceback.
    rows[0].find_element(By.LINK_TEXT, "msg_browser_flaky").click()
    wait(browser, EC.presence_of_element_located((By.ID, "replay-button")))
    assert "flaky thing.happened msg_browser_flaky" in text_of(browser, "#content")
    assert text_of(browser, ".field-status_badge .status-badge") == "Failed"
    assert text_of(browser, ".field-last_error_text pre") == "RuntimeError: downstream is down"
    payload = text_of(browser, "#payload pre.json")
    assert json.loads(payload) == {"type": "thing.happened", "data": {"id": "thing_42", "colour": "teal"}}
    attempts = attempt_rows(browser)
    assert [(cell(row, "kind"), cell(row, "outcome_badge"), cell(row, "http_status")) for row in attempts] == [
        ("Delivery", "Failed", "500")
    ]
    error = attempts[0].find_element(By.CSS_SELECTOR, ".field-error_text pre.attempt-error").text
    assert "Traceback" in error and "RuntimeError: downstream is down" in error

    # Replay: the handler succeeds this time.
    browser.find_element(By.ID, "replay-button").click()
    message = wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, ".messagelist li")))
    assert message.get_attribute("class") == "success", message.text
    assert message.text == "Flaky thing.happened msg_browser_flaky: replayed, processed."  # the admin capfirsts
    assert text_of(browser, ".field-status_badge .status-badge") == "Processed"
    assert text_of(browser, ".field-last_error_text .readonly") == "—"
    attempts = attempt_rows(browser)
    assert [(cell(row, "kind"), cell(row, "outcome_badge")) for row in attempts] == [
        ("Delivery", "Failed"),
        ("Replay", "Processed"),
    ]
    assert cell(attempts[1], "error_text") == "—"
    save_screenshot(browser, "event_detail.png")
    assert flaky_source["runs"] == 2
    event = WebhookEvent.objects.get(source="flaky")
    assert (event.status, event.attempts, event.last_error) == ("processed", 2, "")

    # Sync health, reached from the event's object tools.
    browser.find_element(By.CSS_SELECTOR, f'.object-tools a[href="{HEALTH_PATH}"]').click()
    wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".sync-health")))
    assert "Sync health" in browser.title and "Clerk" not in browser.title
    assert browser.find_element(By.CSS_SELECTOR, ".sync-health svg").is_displayed()
    save_screenshot(browser, "health.png")

    for name in ["changelist.png", "event_detail.png", "health.png"]:
        assert (SCREENSHOTS / name).stat().st_size > 0, name


@pytest.mark.django_db(transaction=True)
def test_staff_without_the_replay_permission_see_no_replay_button(live_server, browser_signed_out):
    browser = browser_signed_out
    viewer = get_user_model().objects.create_user("viewer", "viewer@example.com", PASSWORD, is_staff=True)
    view_only = Permission.objects.get(content_type__app_label="webhooks", codename="view_webhookevent")
    viewer.user_permissions.add(view_only)
    event = WebhookEventFactory(status=WebhookEvent.Status.FAILED, last_error="RuntimeError: boom")

    log_in(browser, live_server, "viewer")
    browser.get(f"{live_server.url}/admin/webhooks/webhookevent/")
    wait(browser, EC.presence_of_element_located((By.ID, "result_list")))
    assert not browser.find_elements(By.CSS_SELECTOR, "select[name=action]"), "no replay action offered"

    browser.get(f"{live_server.url}/admin/webhooks/webhookevent/{event.pk}/change/")
    wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, "#payload pre.json")))
    assert browser.find_element(By.CSS_SELECTOR, f'.object-tools a[href="{HEALTH_PATH}"]').is_displayed()
    assert text_of(browser, ".field-status_badge .status-badge") == "Failed"
    assert not browser.find_elements(By.ID, "replay-button")
    assert "replay" not in text_of(browser, ".object-tools").lower()

"""The webhook ledger's admin in a real browser: real signed deliveries, then filter, read, replay.

Headless Chromium (Debian's /usr/bin/chromium and /usr/bin/chromedriver) drives the
admin served by pytest-django's `live_server`; deliveries reach it over real HTTP.
Without the browser these tests are skipped with the reason (a fresh machine);
CI installs it and, with REQUIRE_POSTGRES=1, a skip fails the run.

Screenshots of the changelist, an event and the sync health page are saved to
artifacts/screenshots/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from accounts.models import User
from accounts.tests.factories import ClerkEventFactory
from config.tests.helpers import svix_headers
from webhooks.models import WebhookEvent
from webhooks.tests.factories import WebhookEventFactory

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(django_settings.BASE_DIR) / "artifacts" / "screenshots"
PASSWORD = "correct-horse-battery-staple"
WAIT_SECONDS = 60  # a deadline, not a delay: waits return as soon as the page is there
HEALTH_PATH = "/admin/webhooks/webhookevent/health/"

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason=f"browser tests need {CHROMIUM} and {CHROMEDRIVER} (Debian: apt-get install chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[WebDriver]:
    """Headless Chromium with a fresh profile; Selenium Manager never runs (explicit binary and driver)."""
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ]:
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser_signed_out(browser) -> WebDriver:
    browser.delete_all_cookies()
    return browser


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- helpers ---------------------------------------------------------------------------------------


def deliver_over_http(live_server, payload: dict, *, msg_id: str, source: str = "clerk") -> requests.Response:
    """POST a Svix-signed delivery to the live server, as Clerk's Svix would."""
    body = json.dumps(payload)
    return requests.post(
        f"{live_server.url}/webhooks/{source}/",
        data=body.encode(),
        headers={"Content-Type": "application/json", **svix_headers(body, msg_id=msg_id)},
        timeout=60,
    )


def wait(driver: WebDriver, condition):
    return WebDriverWait(driver, WAIT_SECONDS).until(condition)


def log_in(driver: WebDriver, live_server, username: str) -> None:
    driver.get(f"{live_server.url}/admin/login/")
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    wait(driver, EC.presence_of_element_located((By.ID, "user-tools")))


def text_of(driver: WebDriver, selector: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, selector).text


def cell(row, field: str) -> str:
    """The text of a changelist or inline row's `field-<field>` cell."""
    return row.find_element(By.CSS_SELECTOR, f".field-{field}").text


def attempt_rows(driver: WebDriver) -> list:
    return driver.find_elements(By.CSS_SELECTOR, "#attempt_log-group tbody tr.form-row")


def save_screenshot(driver: WebDriver, name: str) -> Path:
    """The whole page (the window grown to its height, then restored) as artifacts/screenshots/<name>."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    path.unlink(missing_ok=True)  # no passing on a previous run's file
    size = driver.get_window_size()
    width, height = size["width"], size["height"]
    page_height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(page_height + 150, height), 4000))
    try:
        assert driver.save_screenshot(str(path)), f"Chromium could not save {path}"
    finally:
        driver.set_window_size(width, height)
    assert path.stat().st_size > 0, f"{path} is empty"
    return path


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
    User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    answers = {
        "created": deliver_over_http(live_server, ClerkEventFactory(), msg_id="msg_browser_created"),
        "ignored": deliver_over_http(
            live_server, {"type": "session.created", "data": {"id": "sess_1"}}, msg_id="msg_browser_ignored"
        ),
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
    payload = text_of(browser, ".field-payload_html pre.json")
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
    viewer = User.objects.create_user("viewer", "viewer@example.com", PASSWORD, is_staff=True)
    view_only = Permission.objects.get(content_type__app_label="webhooks", codename="view_webhookevent")
    viewer.user_permissions.add(view_only)
    event = WebhookEventFactory(status=WebhookEvent.Status.FAILED, last_error="RuntimeError: boom")

    log_in(browser, live_server, "viewer")
    browser.get(f"{live_server.url}/admin/webhooks/webhookevent/")
    wait(browser, EC.presence_of_element_located((By.ID, "result_list")))
    assert not browser.find_elements(By.CSS_SELECTOR, "select[name=action]"), "no replay action offered"

    browser.get(f"{live_server.url}/admin/webhooks/webhookevent/{event.pk}/change/")
    wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".field-payload_html pre.json")))
    assert browser.find_element(By.CSS_SELECTOR, f'.object-tools a[href="{HEALTH_PATH}"]').is_displayed()
    assert text_of(browser, ".field-status_badge .status-badge") == "Failed"
    assert not browser.find_elements(By.ID, "replay-button")
    assert "replay" not in text_of(browser, ".object-tools").lower()


def overflow_at(driver: WebDriver, url: str) -> dict:
    """Load `url` and measure the page, and the admin's results box (which scrolls on its own when too wide)."""
    driver.get(url)
    wait(driver, EC.presence_of_element_located((By.ID, "result_list")))
    return driver.execute_script(
        "const box = document.querySelector('#changelist .results');"
        "return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth,"
        " box_scroll: box.scrollWidth, box_width: box.clientWidth,"
        " rows: document.querySelectorAll('#result_list tbody tr').length,"
        " columns: Array.from(document.querySelectorAll('#result_list thead th'), th => th.innerText.trim()"
        "  + ' ' + th.offsetWidth + 'px').join(', ')}"
    )


@pytest.mark.django_db(transaction=True)
def test_events_and_users_changelists_fit_1280_pixels(live_server, browser_signed_out):
    """Realistic long values (Svix and Clerk ids, long names and addresses): no horizontal scrolling."""
    browser = browser_signed_out
    User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    people = [
        ("user_2pQ8xLmN4vRtYh6KdWcE3sJ9aBf", "maria.fernanda.gonzalez-rodriguez", "hospital-universitario.example.org"),
        ("user_2qZ7wKjH5tGfDsA1pOiUyTrEwQn", "oluwaseun.adebayo-okonkwo", "international-logistics.example.com"),
        ("user_2rM3nBvC8xZlKjHgFdSaPoIuYtR", "", "nguyen.thi.minh.khai@department-of-education.example.net"),
    ]
    for clerk_id, username, domain in people:
        email = f"{username}@{domain}" if username else domain
        User.objects.create(
            clerk_id=clerk_id,
            username=username or f"user-{clerk_id[-8:].lower()}",
            email=email,
            first_name="Maria Fernanda",
            last_name="González Rodríguez de la Fuente",
            created_via=User.CreatedVia.JIT,
        )
        for n, event_type in enumerate(["user.created", "organizationMembership.updated", "user.deleted"]):
            WebhookEventFactory(
                event_id=f"msg_2{clerk_id[6:25]}{n}KSUIDx",  # Svix ids: msg_ and 27 characters
                event_type=event_type,
                subject_id=clerk_id,
                status=WebhookEvent.Status.FAILED,
                attempts=12,
            )
    browser.set_window_size(1280, 800)
    try:
        log_in(browser, live_server, "boss")
        events = overflow_at(browser, f"{live_server.url}/admin/webhooks/webhookevent/")
        users = overflow_at(browser, f"{live_server.url}/admin/accounts/user/")
    finally:
        browser.set_window_size(1400, 1000)

    assert events["inner"] <= 1280 and users["inner"] <= 1280
    assert (events["rows"], users["rows"]) == (9, 4)
    assert events["scroll"] <= events["inner"], events
    assert users["scroll"] <= users["inner"], users
    assert events["box_scroll"] <= events["box_width"], events  # no scrollbar under the table either
    assert users["box_scroll"] <= users["box_width"], users

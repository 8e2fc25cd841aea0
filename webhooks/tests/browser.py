"""Driving the admin in headless Chromium: the browser fixtures and page helpers the admin's browser tests share.

Debian's /usr/bin/chromium and /usr/bin/chromedriver; without them the tests marked
`needs_chromium` are skipped with the reason (a fresh machine); CI installs them and,
with REQUIRE_POSTGRES=1, a skip fails the run. The root conftest.py loads this module as a
plugin, so its fixtures (`browser`, `browser_signed_out`) reach any test that asks for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(django_settings.BASE_DIR) / "artifacts" / "screenshots"
PASSWORD = "correct-horse-battery-staple"
WAIT_SECONDS = 60  # a deadline, not a delay: waits return as soon as the page is there

needs_chromium = pytest.mark.skipif(
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
def browser_signed_out(browser, settings) -> WebDriver:
    """The browser without cookies; passwords hashed fast for the logins to come."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    browser.delete_all_cookies()
    return browser


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

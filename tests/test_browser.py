"""One real-browser journey through the admin page, as a first-time user
meets it: `python scimlite.py` on a free port, the setup link it prints,
sign-in, a key minted and read off the page, that key used over SCIM, the
user and the request seen on the pages, the key revoked and refused.

Drives Debian's headless Chromium through chromedriver with Selenium;
tools/install-browser.sh installs them when missing.  Screenshots of every
page go to test-artifacts/ (git-ignored).  Skips, saying why, only where no
browser can be installed.
"""
import re
import shutil
import subprocess
import sys
import time

import pytest

from conftest import ROOT, free_port, http

ARTIFACTS = ROOT / "test-artifacts"


def chromium_driver():
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        done = subprocess.run(["sh", str(ROOT / "tools" / "install-browser.sh")],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip("no browser: " + (done.stderr.strip() or "install failed"))
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking", "--disable-sync",
                 "--disable-component-update", "--window-size=1280,900"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    return webdriver.Chrome(options=options, service=service)


@pytest.fixture
def served(tmp_path):
    """`python scimlite.py` as a new user starts it: (root URL, its output)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scimlite.py"), "--db", str(tmp_path / "b.db"),
         "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"})
    lines = []
    deadline = time.time() + 20
    while not any(line.startswith("Serving on") for line in lines):
        line = process.stdout.readline()
        if not line or time.time() > deadline:
            process.kill()
            pytest.fail("server did not start: " + "".join(lines))
        lines.append(line)
    yield f"http://127.0.0.1:{port}", "".join(lines)
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def browser():
    driver = chromium_driver()
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


def click_and_wait(driver, element, path):
    """Click, then wait until the browser has loaded `path` (the form's answer)."""
    from selenium.webdriver.support.ui import WebDriverWait
    element.click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.split("?")[0].endswith(path))


def shot(driver, name):
    driver.save_screenshot(str(ARTIFACTS / f"admin-{name}.png"))


def test_first_setup_to_revoked_key_in_a_real_browser(served, browser):
    from selenium.webdriver.common.by import By
    root, output = served
    setup_link = re.search(r"(http://\S+/admin/setup\?token=\S+)", output).group(1)
    find = browser.find_element

    browser.get(root + "/")
    shot(browser, "front")
    browser.get(setup_link.replace("http://127.0.0.1:", root.rsplit(":", 1)[0] + ":"))
    shot(browser, "setup")
    find(By.NAME, "password").send_keys("a long admin password")
    find(By.NAME, "confirm").send_keys("a long admin password")
    click_and_wait(browser, find(By.CSS_SELECTOR, "button.primary"), "/admin")
    assert find(By.TAG_NAME, "h1").text == "Dashboard"
    shot(browser, "dashboard")

    browser.get(root + "/admin/keys")
    find(By.NAME, "name").send_keys("browser")
    click_and_wait(browser, find(By.CSS_SELECTOR, "form.row button.primary"), "/admin/keys")
    key = find(By.ID, "new-key").text.strip()
    assert key.startswith("scim_")
    shot(browser, "keys-new")

    base = root + "/scim/v2"
    status, _, created = http("POST", base + "/Users", key, {
        "userName": "seen.in.browser@example.com", "displayName": "Seen In Browser"})
    assert status == 201
    browser.get(root + "/admin/users")
    assert "seen.in.browser@example.com" in find(By.TAG_NAME, "main").text
    shot(browser, "users")
    browser.get(root + f"/admin/users/{created['id']}")
    assert "active" in find(By.TAG_NAME, "main").text       # the license card
    from selenium.webdriver.support.ui import WebDriverWait
    find(By.XPATH, "//button[text()='Show the license key']").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "new-key"))
    license_key = find(By.ID, "new-key").text.strip()
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{5}(-[2-9A-HJKMNP-Z]{5}){4}", license_key)
    shot(browser, "user")
    browser.get(root + "/admin/outbox")
    outbox_text = find(By.TAG_NAME, "main").text
    assert "seen.in.browser@example.com" in outbox_text and "printed to the console" in outbox_text
    assert license_key not in outbox_text
    shot(browser, "outbox")

    browser.get(root + "/admin/log")
    log_text = find(By.TAG_NAME, "main").text
    assert "POST /scim/v2/Users" in log_text and "201" in log_text
    shot(browser, "log")
    browser.get(root + "/admin/connect")
    shot(browser, "connect")

    browser.get(root + "/admin/keys")
    row = [r for r in browser.find_elements(By.CSS_SELECTOR, "tbody tr")
           if r.text.startswith("browser")][0]
    click_and_wait(browser, row.find_element(By.LINK_TEXT, "Revoke…"), "/revoke")
    shot(browser, "revoke")
    click_and_wait(browser, find(By.CSS_SELECTOR, "button.danger"), "/admin/keys")
    assert http("GET", base + "/Users", key)[0] == 401
    browser.get(root + "/admin/audit")
    assert "key.revoked" in find(By.TAG_NAME, "main").text
    shot(browser, "audit")

    browser.set_window_size(390, 844)       # a phone
    browser.get(root + "/admin")
    shot(browser, "dashboard-phone")

"""One real-browser journey through the admin page, as a first-time user
meets it: `python scimlite.py` on a free port, the setup link it prints,
sign-in, a key minted and read off the page, that key used over SCIM, the
user and the request seen on the pages, the key revoked and refused.

Drives Debian's headless Chromium through chromedriver with Selenium;
tools/install-browser.sh installs them when missing.  Screenshots of every
page go to test-artifacts/ (git-ignored).  Skips, saying why, only where no
browser can be installed.

Each step waits for what it reads or clicks (the server answering, the
old page gone and the new one loaded after every click), up to a ceiling
that only a starved machine reaches: there it gets slower, not flaky.
"""
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from urllib.parse import urlsplit

import pytest

from conftest import ROOT, free_port, http

ARTIFACTS = ROOT / "test-artifacts"
# Every wait below ends as soon as what it waits for is there: these are
# ceilings for a starved machine (another Chromium on two cores), never sleeps.
WAIT = 30               # s, for a server to start or a page to answer a click
POLL = 0.1              # s between looks: a wait ends at most this long after its page is there
PASSWORD = "a long admin password"
PAGE_LOAD = 120         # s, for driver.get(), which returns only once the page has loaded


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
    options.page_load_strategy = "normal"       # get() waits for the load event
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(PAGE_LOAD)
    return driver


@pytest.fixture
def served(served_live):
    """`python scimlite.py` as a new user starts it: (root URL, its output
    up to "Serving on"), once it answers over HTTP."""
    root, lines = served_live
    return root, "".join(lines)


@pytest.fixture
def served_live(tmp_path):
    """The same server: (root URL, its output's lines so far, growing as it
    prints: the mails a console mailer shows)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scimlite.py"), "--db", str(tmp_path / "b.db"),
         "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"})
    # Read on another thread, all along: the deadline holds even while the
    # server prints nothing, and a full pipe never stops the server's writes
    # (an access-log line per request, each mail printed whole).
    lines, serving = [], threading.Event()
    reader = threading.Thread(target=read_output, args=(process, lines, serving), daemon=True)
    reader.start()
    root = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + WAIT
    if not (serving.wait(WAIT) and answers(process, root + "/", deadline)):
        process.kill()
        reader.join(WAIT)
        pytest.fail("server did not start: " + "".join(lines))
    yield root, lines
    process.terminate()
    process.wait(timeout=WAIT)
    reader.join(WAIT)


def read_output(process, lines, serving):
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Serving on"):
            serving.set()
    serving.set()       # the output ended: the server has exited


def answers(process, url, deadline):
    """Whether `process`, still running, answers 200 at `url` before
    `deadline` (time.monotonic())."""
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=max(deadline - time.monotonic(), 0.1)):
                return True
        except OSError:         # refused, reset, or not (yet) 200
            time.sleep(POLL)
    return False


@pytest.fixture
def browser():
    driver = chromium_driver()
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


def until(driver, condition):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, WAIT, poll_frequency=POLL).until(condition)


def at(path):
    """A wait's condition: the browser is on `path`, the page parsed, its
    styles and deferred admin.js loaded and run (one round trip)."""
    return lambda driver: driver.execute_script(
        "return [location.pathname, document.readyState]") == [path, "complete"]


# What chromedriver may answer, mid-navigation, about an element of the page
# being left instead of calling it stale: the same news (SeleniumHQ/selenium
# #15401 and #12221; seen here on a loaded machine).
GONE_NODE = ("Node with given id does not belong to the document",
             "No node with given id found")


def gone(element):
    """A wait's condition: `element`'s page has given way to another."""
    from selenium.common import exceptions

    def condition(driver):
        try:
            element.is_enabled()
        except (exceptions.StaleElementReferenceException, exceptions.NoSuchElementException):
            return True
        except exceptions.WebDriverException as error:
            if any(text in (error.msg or "") for text in GONE_NODE):
                return True
            raise
        return False
    return condition


def follow(driver, target, path):
    """Click `target` (a locator or an element) once it is clickable, then
    wait for the page it leads to: first the old page gone, which the clicked
    element going stale proves (a form posting back to its own URL is
    redirected to the path it was on, so the URL alone proves nothing), then
    the new page at `path`, fully loaded."""
    from selenium.webdriver.support import expected_conditions as EC
    element = until(driver, EC.element_to_be_clickable(target))
    element.click()
    until(driver, gone(element))
    until(driver, at(path))


def shot(driver, name):
    driver.save_screenshot(str(ARTIFACTS / f"admin-{name}.png"))


def set_up(browser, root, output):
    """Open the setup link the server printed and choose the password: the
    browser is then signed in, on the dashboard."""
    from selenium.webdriver.common.by import By
    setup_link = re.search(r"(http://\S+/admin/setup\?token=\S+)", output).group(1)
    browser.get(setup_link.replace("http://127.0.0.1:", root.rsplit(":", 1)[0] + ":"))
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.NAME, "confirm").send_keys(PASSWORD)
    follow(browser, (By.CSS_SELECTOR, "button.primary"), "/admin")


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
    follow(browser, (By.CSS_SELECTOR, "button.primary"), "/admin")
    assert find(By.TAG_NAME, "h1").text == "Dashboard"
    shot(browser, "dashboard")

    browser.get(root + "/admin/keys")
    find(By.NAME, "name").send_keys("browser")
    follow(browser, (By.CSS_SELECTOR, "form.row button.primary"), "/admin/keys")
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
    user_path = f"/admin/users/{created['id']}"
    browser.get(root + user_path)
    assert "active" in find(By.TAG_NAME, "main").text       # the license card
    follow(browser, (By.XPATH, "//button[text()='Show the license key']"), user_path)
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
    revoke = row.find_element(By.LINK_TEXT, "Revoke…")
    follow(browser, revoke, urlsplit(revoke.get_attribute("href")).path)
    shot(browser, "revoke")
    follow(browser, (By.CSS_SELECTOR, "button.danger"), "/admin/keys")
    assert http("GET", base + "/Users", key)[0] == 401
    browser.get(root + "/admin/audit")
    assert "key.revoked" in find(By.TAG_NAME, "main").text
    shot(browser, "audit")

    browser.set_window_size(390, 844)       # a phone
    browser.get(root + "/admin")
    shot(browser, "dashboard-phone")


def test_a_second_organization_made_and_provisioned_in_a_real_browser(served, browser):
    """Issue 22: the operator adds an organization on the Organizations
    page, opens it, mints its key, and its identity provider provisions
    through its own Tenant URL; the pages then show its people under its name."""
    from selenium.webdriver.common.by import By
    root, output = served
    find = browser.find_element
    set_up(browser, root, output)

    browser.get(root + "/admin/organizations")
    until(browser, at("/admin/organizations"))
    find(By.NAME, "slug").send_keys("acme")
    find(By.NAME, "name").send_keys("Acme Corp")
    find(By.NAME, "seats").send_keys("25")
    follow(browser, (By.CSS_SELECTOR, "form.row button.primary"), "/admin/organizations")
    assert "Acme Corp" in find(By.TAG_NAME, "main").text
    follow(browser, (By.XPATH, "//tr[td/code='acme']//button[text()='Open']"), "/admin")
    assert find(By.CSS_SELECTOR, ".bar .org").text == "Acme Corp"

    browser.get(root + "/admin/keys")
    find(By.NAME, "name").send_keys("acme-okta")
    follow(browser, (By.CSS_SELECTOR, "form.row button.primary"), "/admin/keys")
    key = find(By.ID, "new-key").text.strip()
    status, _, created = http("POST", root + "/o/acme/scim/v2/Users", key, {
        "userName": "wile@acme.example", "displayName": "Wile E."})
    assert status == 201
    assert created["meta"]["location"].startswith(root + "/o/acme/scim/v2/Users/")
    status, _, listed = http("GET", root + "/scim/v2/Users", key)       # the shared URL
    assert status == 200 and listed["totalResults"] == 1

    browser.get(root + "/admin/users")
    assert "wile@acme.example" in find(By.TAG_NAME, "main").text
    browser.get(root + "/admin/organizations")
    row = find(By.XPATH, "//tr[td/code='acme']").text
    assert "1 / 25" in row and "active" in row
    shot(browser, "organizations")
    follow(browser, (By.XPATH, "//tr[td/code='default']//button[text()='Open']"), "/admin")
    browser.get(root + "/admin/users")
    assert "wile@acme.example" not in find(By.TAG_NAME, "main").text


def test_okta_authorization_code_grant_in_a_real_browser(served, browser, tmp_path):
    """Issue 24, Okta's OAuth mode: its Authenticate button opens the
    authorization page signed out; the administrator signs in, comes back
    to the request, allows it, and the browser lands on the callback with a
    code that the client trades for tokens which provision."""
    import json
    import urllib.parse
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from selenium.webdriver.common.by import By
    root, output = served
    callback_port, received = free_port(), []

    class Callback(BaseHTTPRequestHandler):
        def do_GET(self):       # noqa: N802 (the name http.server calls)
            received.append(urllib.parse.parse_qs(urlsplit(self.path).query))
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<!doctype html><title>Okta</title><p>connected")

        def log_message(self, *args):
            pass
    callback = HTTPServer(("127.0.0.1", callback_port), Callback)
    threading.Thread(target=callback.serve_forever, daemon=True).start()
    redirect = f"http://127.0.0.1:{callback_port}/admin/app/cpc/scimlite_1/oauth/callback"
    made = subprocess.run(
        [sys.executable, str(ROOT / "scimlite.py"), "oauth-client", "create", "okta",
         "--redirect-uri", redirect, "--db", str(tmp_path / "b.db")],
        capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    client_id = re.search(r"client id:\s+(\S+)", made).group(1)
    secret = re.search(r"client secret:\s+(\S+)", made).group(1)
    find = browser.find_element
    set_up(browser, root, output)
    browser.get(root + "/admin/connect?idp=okta")
    until(browser, at("/admin/connect"))
    assert f"{root}/admin/oauth/authorize" in find(By.ID, "authorize-url").text
    shot(browser, "connect-okta")
    follow(browser, (By.CSS_SELECTOR, "form.logout button"), "/admin/login")

    query = urllib.parse.urlencode({"response_type": "code", "client_id": client_id,
                                    "redirect_uri": redirect, "state": "okta-state",
                                    "scope": "scim.read scim.write"})
    browser.get(f"{root}/admin/oauth/authorize?{query}")
    until(browser, at("/admin/login"))
    shot(browser, "login-to-authorize")
    find(By.NAME, "password").send_keys(PASSWORD)
    follow(browser, (By.CSS_SELECTOR, "details button"), "/admin/oauth/authorize")
    assert "Allow ‘okta’ to provision?" in find(By.TAG_NAME, "main").text
    shot(browser, "authorize")
    browser.set_window_size(390, 844)
    shot(browser, "authorize-phone")
    browser.set_window_size(1280, 900)
    allow = find(By.XPATH, "//button[@value='allow']")
    allow.click()
    until(browser, gone(allow))
    until(browser, lambda driver: received and "connected" in driver.page_source)
    assert received[0]["state"] == ["okta-state"]
    form = urllib.parse.urlencode({"grant_type": "authorization_code",
                                   "code": received[0]["code"][0], "redirect_uri": redirect,
                                   "client_id": client_id, "client_secret": secret}).encode()
    with urllib.request.urlopen(urllib.request.Request(root + "/oauth/token", form),
                                timeout=WAIT) as answer:
        tokens = json.load(answer)
    callback.shutdown()
    assert tokens["refresh_token"].startswith("sar_")
    status, _, _ = http("POST", root + "/scim/v2/Users", tokens["access_token"],
                        {"userName": "okta-browser@example.com"})
    assert status == 201
    browser.get(root + "/admin/connect?idp=okta")
    grants = find(By.XPATH, "//h3[text()='Grants: what administrators allowed']/following::table")
    assert "okta" in grants.text and "default" in grants.text
    browser.execute_script("document.getElementById('oauth').scrollIntoView()")
    shot(browser, "connect-okta-oauth")


def shots(driver, name):
    """A screenshot at 1280 px and one at 390 (a phone)."""
    shot(driver, name)
    driver.set_window_size(390, 844)
    shot(driver, f"{name}-phone")
    driver.set_window_size(1280, 900)


def printed(lines, pattern, after=0):
    """The first match of `pattern` in what the server printed after line
    `after`, once it is there (the console mailer prints each mail)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = re.search(pattern, "".join(lines[after:]))
        if found:
            return found.group(1)
        time.sleep(POLL)
    raise AssertionError(f"the server never printed {pattern!r}")


def test_an_organization_administrator_from_invitation_to_people_in_a_real_browser(
        served_live, browser, tmp_path):
    """Issue 23: the operator invites an administrator; they follow the
    mailed link, sign out, sign in with a mailed code, add a person,
    upload a CSV with a bad row, see it named, fix it, import it, and
    remove a person.  Every page at 1280 and 390 px."""
    from selenium.webdriver.common.by import By
    root, lines = served_live
    find = browser.find_element
    set_up(browser, root, "".join(lines))
    browser.get(root + "/admin/admins")
    until(browser, at("/admin/admins"))
    find(By.NAME, "email").send_keys("ann@acme.example")
    find(By.NAME, "name").send_keys("Ann <b>Admin</b>")
    mark = len(lines)
    follow(browser, (By.CSS_SELECTOR, "form.row button.primary"), "/admin/admins")
    assert "ann@acme.example" in find(By.TAG_NAME, "main").text
    shots(browser, "admins")

    link = printed(lines, r"(http://\S+/admin/invitation\?token=\S+)", mark)
    browser.get(link.replace("http://127.0.0.1:", root.rsplit(":", 1)[0] + ":"))
    until(browser, at("/admin/invitation"))
    shots(browser, "invitation")
    follow(browser, (By.CSS_SELECTOR, "button.primary"), "/admin")
    assert "Organizations" not in find(By.TAG_NAME, "nav").text
    follow(browser, (By.CSS_SELECTOR, "form.logout button"), "/admin/login")
    shots(browser, "login")

    find(By.NAME, "email").send_keys("ann@acme.example")
    mark = len(lines)
    follow(browser, (By.CSS_SELECTOR, "button.primary"), "/admin/login/code")
    shots(browser, "code")
    code = printed(lines, r"sign-in code: ([2-9A-Z]{4}-[2-9A-Z]{4})", mark)
    find(By.NAME, "code").send_keys(code.lower())
    follow(browser, (By.CSS_SELECTOR, "button.primary"), "/admin")
    assert "<b>" not in browser.page_source.split("<main>")[0]      # the name, as text

    browser.get(root + "/admin/users")
    until(browser, at("/admin/users"))
    find(By.CSS_SELECTOR, "#people input[name=name]").send_keys("Bob Example")
    find(By.CSS_SELECTOR, "#people input[name=email]").send_keys("bob@example.com")
    user_page = find(By.XPATH, "//button[text()='Add a person']")
    user_page.click()
    until(browser, gone(user_page))
    until(browser, lambda d: "Added by hand" in d.find_element(By.TAG_NAME, "main").text)
    shots(browser, "person")

    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_text("name,email\nCy,cy@example.com\n=HYPERLINK(\"x\"),not-an-email\n")
    good.write_text("name,email\nCy,cy@example.com\nDee,dee@example.com\n")
    browser.get(root + "/admin/users")
    until(browser, at("/admin/users"))
    shots(browser, "users")
    find(By.CSS_SELECTOR, "#people input[type=file]").send_keys(str(bad))
    follow(browser, (By.XPATH, "//button[text()='Upload and check']"), "/admin/people/upload")
    preview = find(By.TAG_NAME, "main").text
    assert "1 of 2 rows cannot be imported" in preview and "not an email address" in preview
    shots(browser, "people-preview-bad")
    find(By.CSS_SELECTOR, "input[type=file]").send_keys(str(good))
    follow(browser, (By.XPATH, "//button[text()='Upload and check']"), "/admin/people/upload")
    shots(browser, "people-preview-good")
    follow(browser, (By.XPATH, "//button[text()='Import 2 people']"), "/admin/users")
    listed = find(By.TAG_NAME, "main").text
    assert "cy@example.com" in listed and "dee@example.com" in listed

    follow(browser, (By.LINK_TEXT, "bob@example.com"), browser.current_url and
           urlsplit(find(By.LINK_TEXT, "bob@example.com").get_attribute("href")).path)
    remove = find(By.XPATH, "//button[contains(text(), 'Remove this person')]")
    remove.click()
    browser.switch_to.alert.accept()            # data-confirm asks first
    until(browser, gone(remove))
    until(browser, lambda d: "suspended" in d.find_element(By.TAG_NAME, "main").text)
    shots(browser, "person-removed")


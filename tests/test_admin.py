"""The admin page under /admin: setup, sign-in, sessions, CSRF, security
headers, the SCIM switch, API keys, users and groups, the provisioning log
and the audit trail (WebTest; tests/test_browser.py drives a real browser)."""
import json
import re
import urllib.parse

import pytest
import webtest

import scimlite
from conftest import SCIMClient, assert_scim_error

PASSWORD = "correct horse battery"
ADMIN = scimlite.ADMIN


def csrf_of(page):
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


class Admin:
    """A browser-like client of the admin pages (cookies kept)."""

    def __init__(self, app):
        self.app = app
        self.web = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "192.0.2.7"})

    def setup(self, password=PASSWORD):
        token = self.app.scimlite.new_setup_token()
        page = self.web.get(f"{ADMIN}/setup", {"token": token})
        return self.web.post(f"{ADMIN}/setup", {"csrf": csrf_of(page), "token": token,
                                                "password": password, "confirm": password})

    def login(self, password=PASSWORD, status=303):
        page = self.web.get(f"{ADMIN}/login")
        return self.web.post(f"{ADMIN}/login", {"csrf": csrf_of(page), "password": password},
                             status=status)

    def post(self, path, fields, status=303, page=None):
        page = page or self.web.get(f"{ADMIN}")
        return self.web.post(ADMIN + path, {"csrf": csrf_of(page), **fields}, status=status)

    def mint(self, name, expires=""):
        page = self.post("/keys", {"name": name, "expires": expires}).follow()
        return re.search(r'id="new-key"[^>]*>([^<]+)<', page.text).group(1), page


@pytest.fixture
def admin(app):
    client = Admin(app)
    client.setup()
    return client


# --- access ----------------------------------------------------------------------

def test_front_page_shows_no_counts_and_links_to_the_admin_page(app, scim):
    scim.create_user("secret-person")
    page = webtest.TestApp(app).get("/")
    assert f'href="{ADMIN}"' in page.text and "secret-person" not in page.text
    assert not re.search(r"\b1\b", page.text.split("</h1>")[1])     # no user count


def test_setup_token_works_once_and_then_never(app):
    client = Admin(app)
    token = app.scimlite.new_setup_token()
    page = client.web.get(f"{ADMIN}/setup", {"token": token})
    fields = {"csrf": csrf_of(page), "token": token, "password": PASSWORD, "confirm": PASSWORD}
    done = client.web.post(f"{ADMIN}/setup", fields, status=303)
    assert done.location.endswith(ADMIN)
    assert client.web.get(ADMIN).status_int == 200          # signed in at once
    again = Admin(app)
    again.web.get(f"{ADMIN}/setup", {"token": token}, status=404)
    fields["csrf"] = csrf_of(again.web.get(f"{ADMIN}/login"))
    again.web.post(f"{ADMIN}/setup", fields, status=404)
    assert scimlite.check_admin_password(app.scimlite, PASSWORD)
    assert [a["action"] for a in audit(app)] == ["setup"]


def test_setup_refuses_a_wrong_token_and_short_passwords(app):
    client = Admin(app)
    app.scimlite.new_setup_token()
    client.web.get(f"{ADMIN}/setup", {"token": "guess"}, status=404)
    page = client.setup(password="short")
    assert "at least 10 characters" in page.text and not scimlite.admin_password_set(app.scimlite)


def test_pages_need_a_session(app, admin):
    anonymous = webtest.TestApp(app)
    for path in ("", "/keys", "/users", "/groups", "/log", "/audit", "/connect", "/log.jsonl"):
        to = urllib.parse.urlsplit(anonymous.get(ADMIN + path, status=303).location)
        # Sign-in then returns to the page asked for (a deep link).
        assert to.path == f"{ADMIN}/login"
        assert urllib.parse.parse_qs(to.query).get("next", [ADMIN]) == [ADMIN + path]


def test_wrong_password_then_right_one(app, admin):
    client = Admin(app)
    page = client.login("wrong password", status=401)
    assert "not right" in page.text
    assert client.login().location.endswith(ADMIN)
    actions = [a["action"] for a in audit(app)]
    assert actions[-2:] == ["login.failed", "login.succeeded"]


def test_logout_ends_the_session(app, admin):
    admin.post("/logout", {})
    assert admin.web.get(ADMIN, status=303).location.endswith("/login")


def test_expired_sessions_end(app, admin):
    Session = app.scimlite.models.AdminSession
    Session.update(last_seen="2000-01-01T00:00:00.000Z").execute()
    assert admin.web.get(ADMIN, status=303).location.endswith("/login")
    admin.login()
    Session.update(created="2000-01-01T00:00:00.000Z").execute()    # past the absolute limit
    assert admin.web.get(ADMIN, status=303).location.endswith("/login")


def test_session_cookie_is_httponly_samesite_strict_and_opaque(app):
    client = Admin(app)
    response = client.setup()
    cookie = [v for k, v in response.headerlist if k == "Set-Cookie" and
              v.startswith(scimlite.SESSION_COOKIE)][0]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie.replace("strict", "Strict")
    assert "Secure" not in cookie          # plain http here; https below
    token = cookie.split("=", 1)[1].split(";")[0]
    Session = app.scimlite.models.AdminSession
    assert not Session.select().where(Session.token_hash == token).exists()   # stored hashed
    assert Session.select().where(Session.token_hash == scimlite.hash_api_key(token)).exists()


def test_session_cookie_is_secure_when_public_url_is_https(tmp_path):
    app = scimlite.create_app({"db": ":memory:", "public_url": "https://idm.example.com"})
    response = Admin(app).setup()
    cookie = [v for k, v in response.headerlist if k == "Set-Cookie" and
              v.startswith(scimlite.SESSION_COOKIE)][0]
    assert "Secure" in cookie


@pytest.mark.parametrize("csrf", [None, "wrong"])
def test_csrf_missing_or_wrong_is_403_and_changes_nothing(app, admin, csrf):
    fields = {"name": "sneaky"} if csrf is None else {"name": "sneaky", "csrf": csrf}
    page = admin.web.post(f"{ADMIN}/keys", fields, status=403)
    assert "Form expired" in page.text
    assert [k.name for k in app.scimlite.keys()] == []


def test_login_form_needs_its_csrf_too(app, admin):
    client = Admin(app)
    client.web.post(f"{ADMIN}/login", {"password": PASSWORD}, status=403)


def test_security_headers_on_every_admin_response(app, admin):
    for response in (admin.web.get(ADMIN), admin.web.get(f"{ADMIN}/keys"),
                     webtest.TestApp(app).get(f"{ADMIN}/login"),
                     webtest.TestApp(app).get(ADMIN, status=303),
                     admin.web.post(f"{ADMIN}/keys", {"name": "x"}, status=403)):
        headers = response.headers
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert "unsafe-inline" not in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"


def test_no_inline_script_on_any_page(app, admin, scim):
    user = scim.create_user("inline")
    for path in ("", "/keys", "/users", f"/users/{user['id']}", "/connect", "/log", "/audit"):
        text = admin.web.get(ADMIN + path).text
        assert "<script>" not in text and " on" + "click=" not in text


def test_a_scim_key_never_opens_an_admin_page(app, token):
    web = webtest.TestApp(app, extra_environ={"HTTP_AUTHORIZATION": f"Bearer {token}"})
    assert web.get(ADMIN, status=303).location.endswith("/login")


def test_an_admin_session_never_authorises_scim(app, admin):
    assert_scim_error(admin.web.get("/scim/v2/Users", status=401), 401)


def test_failed_logins_slow_down_per_address_without_locking_out_others(app, admin):
    attacker = Admin(app)
    for _ in range(scimlite.LoginThrottle.LOGIN_FREE):
        attacker.login("nope nope nope", status=401)
    page = attacker.login("nope nope nope", status=429)
    assert int(page.headers["Retry-After"]) >= 1
    attacker.login(status=429)                      # even the right password waits its turn
    other = Admin(app)
    other.web.extra_environ["REMOTE_ADDR"] = "198.51.100.1"
    assert other.login().location.endswith(ADMIN)   # another address is not locked out


def test_throttle_waits_grow_and_stay_bounded():
    throttle = scimlite.LoginThrottle()
    now = 1000.0
    waits = []
    for _ in range(20):
        throttle.failed("a", now)
        waits.append(throttle.wait("a", now))
    assert waits[:4] == [0, 0, 0, 0] and waits[5] > waits[4] > 0
    assert max(waits) == scimlite.LoginThrottle.LOGIN_MAX_WAIT
    assert throttle.wait("a", now + 301) == 0           # waits end
    throttle.succeeded("a")
    assert throttle.wait("a", now) == 0


def test_many_addresses_failing_slow_everyone_a_little():
    throttle = scimlite.LoginThrottle()
    for n in range(throttle.LOGIN_BURST + 1):
        throttle.failed(f"10.0.0.{n}", 50.0)
    assert 0 < throttle.wait("192.0.2.1", 50.5) <= throttle.LOGIN_SPACING
    assert throttle.wait("192.0.2.1", 50.0 + throttle.LOGIN_SPACING) == 0


def test_change_password_ends_other_sessions(app, admin):
    other = Admin(app)
    other.login()
    page = admin.web.get(f"{ADMIN}/password")
    admin.post("/password", {"current": PASSWORD, "new": "another long one", "confirm":
                             "another long one"}, page=page)
    assert admin.web.get(ADMIN).status_int == 200
    assert other.web.get(ADMIN, status=303).location.endswith("/login")
    assert "password.changed" in [a["action"] for a in audit(app)]


def test_set_admin_password_from_the_command_line(tmp_path, monkeypatch):
    import io
    db = str(tmp_path / "cli.db")
    monkeypatch.setattr("sys.stdin", io.StringIO("from the shell 123\n"))
    out = io.StringIO()
    assert scimlite.main(["set-admin-password", "--db", db], environ={}, out=out) == 0
    app = scimlite.create_app({"db": db})
    assert scimlite.check_admin_password(app.scimlite, "from the shell 123")
    stored = scimlite.get_option(app.scimlite.models, scimlite.ADMIN_PASSWORD_OPTION, "")
    assert stored.startswith("scrypt$") and "from the shell" not in stored
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert scimlite.main(["set-admin-password", "--db", db], environ={}, out=out) == 1


# --- the dashboard and the SCIM switch -------------------------------------------

def test_the_switch_turns_scim_off_and_on(app, admin, scim):
    page = admin.web.get(ADMIN)
    assert "Turn SCIM off" in page.text
    admin.post("/scim", {}, page=page)
    assert_scim_error(scim.get("/Users", status=403), 403)
    page = admin.web.get(ADMIN)
    assert "every SCIM request is answered 403" in page.text
    admin.post("/scim", {"enabled": "on"}, page=page)
    assert scim.get("/Users").status_int == 200
    assert [a["action"] for a in audit(app)][-2:] == ["scim.disabled", "scim.enabled"]


def test_dashboard_counts_and_warnings(app, admin, scim):
    page = admin.web.get(ADMIN)
    assert "no active API key" not in page.text       # the scim fixture minted one
    scim.create_user("on1")
    scim.create_user("off1", active=False)
    scim.create_group("G")
    scim.get("/Users/nope", status=404)
    page = admin.web.get(ADMIN)
    stats = dict(re.findall(r"<dt>([^<]+)</dt><dd><a [^>]+>(\d+)</a>", page.text))
    assert stats == {"Active users": "1", "Inactive users": "1", "Groups": "1",
                     "Active API keys": "1"}
    assert "http://localhost:80/scim/v2" in page.text
    assert "1 SCIM request(s) failed" in page.text
    assert "/scim/v2/Users/nope" in page.text and "tests" in page.text   # the last request


def test_dashboard_warns_without_keys_and_before_expiry(app, admin):
    assert "no active API key" in admin.web.get(ADMIN).text
    soon = (scimlite.dt.date.today() + scimlite.dt.timedelta(days=5)).isoformat()
    admin.mint("rotating", expires=soon)
    assert f"works until the end of {soon}" in admin.web.get(ADMIN).text


# --- API keys ----------------------------------------------------------------------

def test_mint_shows_the_key_once_and_it_works(app, admin):
    key, page = admin.mint("entra")
    assert "you will not see it again" in page.text
    assert key not in admin.web.get(f"{ADMIN}/keys").text        # never again
    assert SCIMClient(app, key).get("/Users").status_int == 200
    listing = admin.web.get(f"{ADMIN}/keys").text
    assert "entra" in listing and key[:13] in listing
    assert app.scimlite.models.ApiKey.get().key_hash != key


def test_two_active_keys_rotate_without_downtime_and_revoke_is_immediate(app, admin):
    old, _ = admin.mint("entra-2026")
    new, _ = admin.mint("entra-2027")
    old_client, new_client = SCIMClient(app, old), SCIMClient(app, new)
    assert old_client.get("/Users").status_int == new_client.get("/Users").status_int == 200
    row = app.scimlite.models.ApiKey.get(app.scimlite.models.ApiKey.name == "entra-2026")
    confirm = admin.web.get(f"{ADMIN}/keys/{row.id}/revoke")
    assert "cannot be undone" in confirm.text
    admin.post(f"/keys/{row.id}/revoke", {}, page=confirm)
    assert_scim_error(old_client.get("/Users", status=401), 401)     # the very next request
    assert new_client.get("/Users").status_int == 200
    assert [a["action"] for a in audit(app)][-3:] == ["key.minted", "key.minted", "key.revoked"]
    listing = admin.web.get(f"{ADMIN}/keys").text
    revoked_at = app.scimlite.models.ApiKey.get_by_id(row.id).revoked
    assert "revoked" in listing and revoked_at[:16].replace("T", " ") in listing


def test_an_expired_key_is_refused_like_a_revoked_one(app, admin):
    key, _ = admin.mint("short-lived", expires="2099-01-01")
    client = SCIMClient(app, key)
    assert client.get("/Users").status_int == 200
    ApiKey = app.scimlite.models.ApiKey
    ApiKey.update(expires="2001-01-01T00:00:00.000Z").execute()
    assert_scim_error(client.get("/Users", status=401), 401)
    assert "expired" in admin.web.get(f"{ADMIN}/keys").text


def test_minting_refuses_past_dates_and_bad_names(app, admin):
    page = admin.post("/keys", {"name": "old", "expires": "2001-01-01"}, status=200)
    assert "must be in the future" in page.text
    page = admin.post("/keys", {"name": "", "expires": ""}, status=200)
    assert "1 to 100 characters" in page.text
    assert app.scimlite.keys() == []


def test_keys_can_be_minted_from_the_connect_page(app, admin):
    page = admin.web.get(f"{ADMIN}/connect", {"idp": "okta"})
    assert "SCIM connector base URL" in page.text and "HTTP Header" in page.text
    done = admin.post("/keys", {"name": "okta", "back": f"{ADMIN}/connect?idp=okta"}, page=page)
    assert done.location.endswith(f"{ADMIN}/connect?idp=okta")
    assert "you will not see it again" in done.follow().text


def test_connect_guides_and_live_status(app, admin):
    entra = admin.web.get(f"{ADMIN}/connect").text
    assert "userPrincipalName" in entra and "Switch([IsSoftDeleted]" in entra
    assert "every 40 minutes" in entra and "Provision on demand" in entra
    assert "Waiting for the first request" in entra
    key, _ = admin.mint("entra")
    SCIMClient(app, key).get("/Users", filter='userName eq "probe"')
    status = admin.web.get(f"{ADMIN}/status.json").json
    assert status["last"]["key_name"] == "entra" and status["last"]["method"] == "GET"
    assert "Received" in admin.web.get(f"{ADMIN}/connect").text


# --- users, groups, log, audit -----------------------------------------------------

def test_users_search_filter_page_and_detail(app, admin, scim):
    alice = scim.create_user("alice@example.com", emails=[{"value": "al@corp.example"}])
    scim.create_user("bob@example.com", active=False)
    group = scim.create_group("Admins", members=[{"value": alice["id"]}])
    assert "alice@example.com" in admin.web.get(f"{ADMIN}/users", {"q": "AL"}).text
    found = admin.web.get(f"{ADMIN}/users", {"q": "al@corp"}).text
    assert "alice@example.com" in found and "bob@example.com" not in found
    inactive = admin.web.get(f"{ADMIN}/users", {"status": "inactive"}).text
    assert "bob@example.com" in inactive and "alice@example.com" not in inactive
    detail = admin.web.get(f"{ADMIN}/users/{alice['id']}").text
    assert "Admins" in detail and "user.created" in detail and "&quot;userName&quot;" in detail
    groups = admin.web.get(f"{ADMIN}/groups").text
    assert "Admins" in groups and "<td>1</td>" in groups
    assert "alice@example.com" in admin.web.get(f"{ADMIN}/groups/{group['id']}").text
    admin.web.get(f"{ADMIN}/users/nope", status=404).mustcontain("No such user")


def test_users_page_pages(app, admin, scim):
    for i in range(scimlite.ADMIN_PAGE_SIZE + 3):
        scim.create_user(f"p{i:03d}")
    first = admin.web.get(f"{ADMIN}/users")
    assert "Next page" in first.text and "p002" in first.text
    second = admin.web.get(f"{ADMIN}/users", {"page": 2})
    assert "p051" in second.text and "p000" not in second.text and "Newer page" in second.text


def test_hostile_values_render_escaped(app, admin, scim):
    evil = '<script>alert(1)</script>'
    user = scim.create_user(evil, displayName='"><img src=x onerror=alert(2)>')
    scim.create_group(evil)
    for path in ("/users", f"/users/{user['id']}", "/groups", "/log", "/log/1"):
        text = admin.web.get(ADMIN + path).text
        assert evil not in text and "<img src=x" not in text
        assert "&lt;script&gt;" in text or path == "/log"


def test_log_lists_filters_shows_redacted_detail_and_exports(app, admin, scim):
    user = scim.create_user("logme", password="Sup3r-secret!")
    scim.post("/Users", {"userName": "logme"}, status=409)
    page = admin.web.get(f"{ADMIN}/log")
    assert "user.created" in page.text and "already exists" in page.text
    failures = admin.web.get(f"{ADMIN}/log", {"status": "4xx"}).text
    assert "already exists" in failures and "user.created" not in failures
    assert "user.created" in admin.web.get(f"{ADMIN}/log", {"resource": user["id"]}).text
    pk = re.search(rf'href="{ADMIN}/log/(\d+)"', page.text.split("user.created")[0][-2000:] +
                   page.text).group(1)
    entries = [admin.web.get(f"{ADMIN}/log/{n}").text for n in (1, 2)]
    assert any("&quot;password&quot;: &quot;[redacted]&quot;" in e for e in entries), pk
    assert not any("Sup3r-secret!" in e for e in entries)
    export = admin.web.get(f"{ADMIN}/log.jsonl", {"status": "4xx"})
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert [line["status"] for line in lines] == [409]
    assert "attachment" in export.headers["Content-Disposition"]


def audit(app):
    Audit = app.scimlite.models.Audit
    return list(Audit.select().order_by(Audit.pk).dicts())


def test_audit_page_lists_admin_actions_with_the_client(app, admin):
    admin.mint("k")
    text = admin.web.get(f"{ADMIN}/audit").text
    assert "key.minted" in text and "setup" in text and "192.0.2.7" in text


# --- found by a security review ----------------------------------------------------

def test_parallel_attempts_cannot_slip_past_the_throttle():
    """An attempt counts before the slow password check: of many parallel
    attempts from one address only the free ones get through."""
    import threading
    throttle = scimlite.LoginThrottle()
    passed, start = [], threading.Barrier(20)

    def attempt():
        start.wait()
        if throttle.attempt("203.0.113.9", 100.0) == 0:
            passed.append(1)
    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(passed) == scimlite.LoginThrottle.LOGIN_FREE


def test_endless_failures_never_break_the_throttle():
    throttle = scimlite.LoginThrottle()
    for n in range(3000):
        throttle.failed("198.51.100.7", float(n))
    assert throttle.wait("198.51.100.7", 3000.0) <= scimlite.LoginThrottle.LOGIN_MAX_WAIT


def test_password_page_is_throttled_and_failures_audited(app, admin):
    page = admin.web.get(f"{ADMIN}/password")
    for _ in range(scimlite.LoginThrottle.LOGIN_FREE):
        admin.post("/password", {"current": "wrong guess", "new": "x" * 12,
                                 "confirm": "x" * 12}, status=200, page=page)
    blocked = admin.post("/password", {"current": PASSWORD, "new": "x" * 12,
                                       "confirm": "x" * 12}, status=200, page=page)
    assert "Too many failed attempts" in blocked.text
    assert scimlite.check_admin_password(app.scimlite, PASSWORD)
    assert [a["action"] for a in audit(app)].count("password.failed") == 5


@pytest.mark.parametrize("body", [
    {"Operations": [{"op": "replace", "value": {
        "urn:ietf:params:scim:schemas:core:2.0:User:password": "Secret-C"}}]},
    {"userName": "x", "PassWord": "Secret-C"}])
def test_every_spelling_of_password_is_redacted(body):
    assert "Secret-C" not in scimlite.loggable_body(json.dumps(body))


def test_a_password_spelled_with_json_escapes_is_redacted():
    """Bodies with no "password" and no \\u escape are kept as sent (not
    walked); an escape can spell it, so such a body is walked."""
    for key in ("pass\\u0077ord", "\\u0050ASSWORD"):
        body = '{"userName": "x", "%s": "Secret-C", "version": "W/\\"1\\""}' % key
        assert "Secret-C" not in scimlite.loggable_body(body)
    plain = '{"displayName": "W/\\"3\\"",  "members": []}'
    assert scimlite.loggable_body(plain) == plain


def test_bodies_that_cannot_be_redacted_are_not_kept():
    escaped = '{"userName": "x", "pass\\u0077ord": "Secret-C"'     # not even JSON
    assert "Secret-C" not in scimlite.loggable_body(escaped)
    huge = json.dumps({"userName": "x", "password": "Secret-C", "pad": "y" * 300000})
    assert scimlite.loggable_body(huge) == "[not kept: too large to redact]"


def test_requests_without_a_key_cannot_push_out_the_history(tmp_path, monkeypatch):
    monkeypatch.setattr(scimlite.ProvisioningLog, "KEYLESS_ROWS", 3)
    app = scimlite.create_app({"db": str(tmp_path / "k.db")})
    SCIMClient(app, app.scimlite.mint_key("entra")).create_user("real")
    anonymous = webtest.TestApp(app)
    for _ in range(10):
        anonymous.delete("/scim/v2/Users/x", status=401)
    app.scimlite.log.flush()
    RequestLog = app.scimlite.models.RequestLog
    rows = [(r.key_name, r.status) for r in RequestLog.select().order_by(RequestLog.pk)]
    assert rows == [("entra", 201)] + [(None, 401)] * 3
    app.scimlite.close()


def test_back_never_leaves_the_admin_page(app, admin):
    for target in ("https://evil.example/x", "//evil.example", f"{ADMIN}//evil.example"):
        done = admin.post("/keys", {"name": f"k{len(target)}", "back": target})
        assert done.location.endswith(f"{ADMIN}/keys"), target


def test_odd_requests_under_admin_are_answered_safely(app, admin):
    missing = admin.web.get(f"{ADMIN}/nope", status=404)
    assert missing.headers["X-Frame-Options"] == "DENY"
    assert admin.web.get(f"{ADMIN}/log", {"page": "1" + "0" * 25}).status_int == 200
    assert admin.web.get(f"{ADMIN}/audit", {"page": "1" + "0" * 25}).status_int == 200
    assert "Nothing here matches" in admin.web.get(f"{ADMIN}/users", {"q": "a\x00b"}).text
    assert admin.web.get(f"{ADMIN}/users", {"q": "q" * 5000}).status_int == 200


def test_status_json_shows_only_what_the_page_needs(app, admin, scim):
    scim.create_user("status")
    last = admin.web.get(f"{ADMIN}/status.json").json["last"]
    assert set(last) == {"at", "method", "path", "key_name", "status"}


def test_signing_in_again_while_signed_in_works(app, admin):
    assert admin.login().location.endswith(ADMIN)

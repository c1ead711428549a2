"""Licenses: a key for every active user, suspended, restored (the same key),
revoked; seats; the verify API.  Mail is kept in memory here (mailer =
"memory"); tests/test_notify.py sends it through a real SMTP server."""
import math
import os
import re
import threading
import time

import pytest
import webtest

import scimlite
from conftest import SCIMClient, assert_scim_error

P = scimlite.PATCH_URN
KEY = re.compile(r"[2-9A-HJKMNP-Z]{5}(-[2-9A-HJKMNP-Z]{5}){4}")


def make(database, **settings):
    """An app on `database` (the `store` or `database` fixture's settings)."""
    app = scimlite.create_app({**database, "mailer": "memory", **settings})
    return app, SCIMClient(app, app.scimlite.mint_key(f"entra-{os.urandom(4).hex()}"))


@pytest.fixture
def lic(store):
    app, scim = make(store)
    yield app, scim
    app.scimlite.close()


def mails(app):
    assert app.scimlite.outbox.wait()
    return [(m.to, m.subject) for m in app.scimlite.outbox.sent]


def verify(app, key, status=200):
    return webtest.TestApp(app).post_json(scimlite.VERIFY_PATH, {"key": key},
                                          status=status).json


def set_active(scim, user_id, value):
    # Entra: capitalised op, the boolean as a string (IDP-NOTES, "Entra quirks").
    return scim.patch(f"/Users/{user_id}", {"schemas": [P], "Operations": [
        {"op": "Replace", "path": "active", "value": value}]})


# --- the key ---------------------------------------------------------------------

def test_a_key_is_five_groups_from_an_unambiguous_alphabet_with_100_bits(lic):
    app, scim = lic
    scim.create_user("kim@example.com")
    key = app.scimlite.outbox.sent[0].key() if mails(app) else None
    assert KEY.fullmatch(key)
    assert not set(key) & set("01OIL")
    assert math.log2(len(scimlite.LICENSE_ALPHABET)) * (scimlite.LICENSE_CHARS - 1) >= 100


def test_every_typo_of_one_character_or_one_swap_is_refused_without_a_lookup():
    compact = scimlite.license_key_from(os.urandom(32))
    assert scimlite.parse_license_key(compact) == compact
    for i, right in enumerate(compact):
        for wrong in scimlite.LICENSE_ALPHABET.replace(right, ""):
            assert scimlite.parse_license_key(compact[:i] + wrong + compact[i + 1:]) is None
    for i in range(len(compact) - 1):
        swapped = compact[:i] + compact[i + 1] + compact[i] + compact[i + 2:]
        if swapped != compact:
            assert scimlite.parse_license_key(swapped) is None


def test_a_key_is_read_in_any_case_with_or_without_dashes():
    compact = scimlite.license_key_from(os.urandom(32))
    grouped = scimlite.group_license_key(compact)
    for typed in (grouped, grouped.lower(), compact.lower(), " ".join(grouped.split("-"))):
        assert scimlite.parse_license_key(typed) == compact
    for junk in ("", None, 42, "O" * 25, grouped + "X", grouped.replace("-", "") * 5):
        assert scimlite.parse_license_key(junk) is None


def test_keys_are_distinct(lic):
    app, scim = lic
    for i in range(30):
        scim.create_user(f"u{i}@example.com")
    mails(app)
    keys = [m.key() for m in app.scimlite.outbox.sent]
    assert len(keys) == 30 and len(set(keys)) == 30


# --- one mail per transition, the same key back ------------------------------------

def test_entra_lifecycle_mails_each_transition_once_and_verify_follows(lic):
    """Entra retries a create that timed out (409 the second time) and sends
    active "True" every cycle: neither may mail again.  Deactivation mails
    once, reactivation mails the same key, deletion revokes."""
    app, scim = lic
    body = {"schemas": [scimlite.USER_URN], "userName": "ana@contoso.com",
            "emails": [{"value": "ana@contoso.com", "type": "work", "primary": True}]}
    user = scim.post("/Users", body).json
    assert_scim_error(scim.post("/Users", body, status=409), 409, "uniqueness")
    for _ in range(3):
        set_active(scim, user["id"], "True")
    assert mails(app) == [("ana@contoso.com", "Your scimlite license key")]
    key = app.scimlite.outbox.sent[0].key()
    org = {"slug": "default", "name": "scimlite"}       # whose license it is
    assert verify(app, key) == {"valid": True, "active": True, "code": "VALID",
                                "userName": "ana@contoso.com", "email": "ana@contoso.com",
                                "organization": org}

    set_active(scim, user["id"], "False")
    set_active(scim, user["id"], "False")
    assert [s for _, s in mails(app)][1:] == ["Your scimlite license is suspended"]
    assert verify(app, key) == {"valid": False, "active": False, "code": "SUSPENDED",
                                "organization": org}

    set_active(scim, user["id"], "True")
    assert [s for _, s in mails(app)][2:] == ["Your scimlite license works again"]
    assert app.scimlite.outbox.sent[2].key() == key
    assert verify(app, key)["code"] == "VALID"

    scim.delete(f"/Users/{user['id']}")
    assert [s for _, s in mails(app)][3:] == ["Your scimlite license has been revoked"]
    assert verify(app, key) == {"valid": False, "active": False, "code": "REVOKED",
                                "organization": org}
    license = app.scimlite.licenses.of_user(user["id"])
    assert license.issued < license.suspended < license.restored < license.revoked


def test_a_user_created_inactive_gets_a_key_when_activated(lic):
    app, scim = lic
    user = scim.create_user("later@example.com", active=False)
    assert mails(app) == [] and app.scimlite.licenses.of_user(user["id"]) is None
    set_active(scim, user["id"], True)
    assert mails(app) == [("later@example.com", "Your scimlite license key")]


def test_a_rolled_back_change_leaves_no_license_and_sends_nothing(lic):
    app, scim = lic
    state = app.scimlite
    with pytest.raises(RuntimeError):
        with state.changes.unit("entra"):
            state.resources.create(scimlite.USER_TYPE, {
                "schemas": [scimlite.USER_URN], "userName": "ghost@example.com"}, "entra")
            assert state.models.OutboxMessage.select().count() == 1     # written, then...
            raise RuntimeError("the rest of the change failed")
    assert state.models.License.select().count() == 0
    assert state.models.OutboxMessage.select().count() == 0
    assert mails(app) == []


def test_mail_goes_in_order_and_a_key_revoked_before_it_left_is_not_sent():
    """The sender is started only after the whole story happened (as after
    an outage): the key mail of a license revoked since is not sent, the
    rest go, each license's in the order they were written (the sender
    takes one mail per license per batch, so two licenses' mails may
    interleave otherwise)."""
    state = scimlite.ScimLite(scimlite.load_settings({"db": ":memory:", "mailer": "memory"}))
    users, service = scimlite.USER_TYPE, state.resources
    body = {"schemas": [scimlite.USER_URN], "userName": "story@example.com"}
    user = service.create(users, body, "entra")
    service.patch(users, user.id, {"schemas": [P], "Operations": [
        {"op": "replace", "path": "active", "value": False}]}, "entra")
    later = service.create(users, {**body, "userName": "kept@example.com"}, "entra")
    service.delete(users, user.id, "entra")
    state.outbox.start()
    assert state.outbox.wait()
    sent = [(m.to, m.subject) for m in state.outbox.sent]
    assert [subject for to, subject in sent if to == "story@example.com"] == [
        "Your scimlite license is suspended", "Your scimlite license has been revoked"]
    assert [subject for to, subject in sent if to == "kept@example.com"] == [
        "Your scimlite license key"]
    assert len(sent) == 3
    [skipped] = state.outbox.messages("dead")
    assert "revoked before" in skipped.last_error and skipped.template == "license_issued"
    assert state.licenses.of_user(later.id).status == "active"
    state.close()


def queued_story(count):
    """An app whose sender is not started yet, with `count` users' mails
    waiting in its outbox (as after an outage)."""
    state = scimlite.ScimLite(scimlite.load_settings({"db": ":memory:", "mailer": "memory"}))
    for n in range(count):
        state.resources.create(scimlite.USER_TYPE, {
            "schemas": [scimlite.USER_URN], "userName": f"batch{n}@example.com"}, "entra")
    return state


def test_the_sender_claims_a_batch_in_one_transaction_and_records_it_in_one(monkeypatch):
    state = queued_story(30)
    sender, units, real_unit = state.outbox.sender, [], state.changes.unit
    monkeypatch.setattr(state.changes, "unit", lambda *a, **k: units.append(
        len(state.outbox.sent)) or real_unit(*a, **k))
    claimed, real_claim = [], sender._claim
    monkeypatch.setattr(sender, "_claim", lambda: claimed.append(len(b := real_claim())) or b)
    state.outbox.start()
    assert state.outbox.wait()
    assert sorted(m.to for m in state.outbox.sent) == sorted(
        f"batch{n}@example.com" for n in range(30))
    # The start (what was pending is due now) and the claim, before any
    # mail; one record after all 30; then only claims that found nothing.
    assert units[:3] == [0, 0, 30] and claimed[0] == 30 and not any(claimed[1:])
    assert {(m.status, m.attempts, m.lease_until) for m in state.outbox.messages()} == {
        ("sent", 1, None)}
    state.close()


def test_a_batch_begins_no_send_it_could_not_finish_on_its_lease(monkeypatch):
    """A row is begun only while a whole send is left on the batch's lease;
    the rest go back untried (their attempt not counted) and go next."""
    state = queued_story(6)
    sender, real_send = state.outbox.sender, scimlite.Sender._send

    def slow_send(self, row, values, mailer):
        time.sleep(0.05)
        return real_send(self, row, values, mailer)
    monkeypatch.setattr(scimlite.Sender, "_send", slow_send)
    monkeypatch.setattr(sender, "lease_seconds", lambda: 0.12)
    handed_back, real_record = [], sender._record
    monkeypatch.setattr(sender, "_record", lambda results: handed_back.append(
        sum(columns["status"] == "pending" for _, columns in results)) or real_record(results))
    state.outbox.start()
    assert state.outbox.wait()
    assert len(state.outbox.sent) == 6 and len({m.to for m in state.outbox.sent}) == 6
    assert handed_back[0] >= 2      # 6 sends of 50 ms do not fit one 240 ms lease
    assert {(m.status, m.attempts) for m in state.outbox.messages()} == {("sent", 1)}
    state.close()


def test_license_keys_never_reach_the_idp(lic):
    app, scim = lic
    user = scim.create_user("quiet@example.com")
    key = mails(app) and app.scimlite.outbox.sent[0].key()
    for response in (scim.get(f"/Users/{user['id']}"), scim.get("/Users"),
                     scim.get("/Users", attributes="license,key")):
        assert key not in response.text and key.replace("-", "") not in response.text


def test_no_key_is_stored_only_its_keyed_hash(tmp_path):
    app, scim = make({"db": str(tmp_path / "licenses.db")})
    scim.create_user("leak@example.com")
    key = mails(app) and app.scimlite.outbox.sent[0].key()
    app.scimlite.close()
    raw = (tmp_path / "licenses.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("licenses.db-*"))
    for form in (key, key.replace("-", ""), key.lower()):
        assert form.encode() not in raw
    assert os.stat(tmp_path / "licenses.db.secret").st_mode & 0o077 == 0


def test_the_same_key_verifies_after_a_restart_and_a_wrong_secret_is_refused(database):
    app, scim = make(database)
    scim.create_user("kept@example.com")
    key = mails(app) and app.scimlite.outbox.sent[0].key()
    app.scimlite.close()
    again, _ = make(database)
    assert verify(again, key)["code"] == "VALID"
    again.scimlite.close()
    with pytest.raises(RuntimeError, match="license secret is not the one"):
        make(database, license_secret="x" * 40)


def test_users_stored_before_licenses_existed_get_one_on_upgrade(database):
    app, scim = make(database)
    scim.create_user("old@example.com")
    scim.create_user("off@example.com", active=False)
    mails(app)
    app.scimlite.models.License.delete().execute()      # as a schema-3 database had it
    app.scimlite.close()
    again, _ = make(database)
    assert mails(again) == [("old@example.com", "Your scimlite license key")]
    again.scimlite.close()


# --- whom the mail goes to ---------------------------------------------------------

@pytest.mark.parametrize("user_name, emails, expected", [
    ("a@x.example", [{"value": "home@x.example", "type": "home", "primary": True},
                     {"value": "work@x.example", "type": "work"}], "work@x.example"),
    ("a@x.example", [{"value": "home@x.example", "type": "home"},
                     {"value": "primary@x.example", "primary": True}], "primary@x.example"),
    ("a@x.example", [{"value": "home@x.example", "type": "home"}], "a@x.example"),
    ("ann", [{"value": "home@x.example", "type": "home"}], "home@x.example"),
])
def test_the_mail_goes_to_the_work_address_else_primary_else_username(
        lic, user_name, emails, expected):
    app, scim = lic
    scim.create_user(user_name, emails=emails)
    assert [to for to, _ in mails(app)] == [expected]


def test_a_user_without_an_address_is_a_dead_message_the_admin_can_see(lic):
    app, scim = lic
    scim.create_user("no-mail")
    assert mails(app) == []
    [row] = app.scimlite.outbox.messages()
    assert row.status == "dead" and "no email address" in row.last_error


def test_a_changed_address_is_where_the_next_mail_goes(lic):
    app, scim = lic
    user = scim.create_user("move@old.example")
    mails(app)
    scim.patch(f"/Users/{user['id']}", {"schemas": [P], "Operations": [
        {"op": "replace", "path": "userName", "value": "move@new.example"}]})
    set_active(scim, user["id"], False)
    assert [to for to, _ in mails(app)] == ["move@old.example", "move@new.example"]


def test_each_kind_of_mail_can_be_switched_off(store):
    app, scim = make(store, license_mails=["issued"])
    user = scim.create_user("few@example.com")
    mails(app)
    set_active(scim, user["id"], False)
    scim.delete(f"/Users/{user['id']}")
    assert [s for _, s in mails(app)] == ["Your scimlite license key"]
    with pytest.raises(ValueError, match="license_mails"):
        scimlite.load_settings({"license_mails": ["issued", "expired"]})


def test_hostile_names_cannot_add_headers_and_are_escaped_in_html(lic):
    app, scim = lic
    scim.create_user("diego@example.com",
                     displayName='Diego\r\nBcc: x@evil.example\r\n\r\n<script>alert(1)</script>')
    mails(app)
    mail = app.scimlite.outbox.sent[0]
    raw = mail.message.as_string()
    headers = raw.split("\n\n", 1)[0]
    assert "Bcc" not in [line.split(":")[0] for line in headers.splitlines()]
    assert mail.message.get_all("To") == [mail.message["To"]]
    assert mail.message["To"].addresses[0].addr_spec == "diego@example.com"
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert "Diego Bcc: x@evil.example" in mail.text          # one line, as text


# --- seats -------------------------------------------------------------------------

def test_past_the_seat_limit_a_user_is_created_waits_and_gets_the_next_seat(store):
    app, scim = make(store, license_seats=2, admin_email="it@example.com")
    first = scim.create_user("one@example.com")
    second = scim.create_user("two@example.com")
    third = scim.create_user("three@example.com")           # created all the same
    scim.create_user("four@example.com")
    assert mails(app) == [("one@example.com", "Your scimlite license key"),
                          ("two@example.com", "Your scimlite license key"),
                          ("it@example.com", "Every scimlite license seat is taken")]
    assert app.scimlite.licenses.counts()["waiting"] == 2
    set_active(scim, first["id"], False)                    # a seat frees: oldest first
    assert mails(app)[3:] == [("one@example.com", "Your scimlite license is suspended"),
                              ("three@example.com", "Your scimlite license key")]
    key = app.scimlite.outbox.sent[4].key()
    assert verify(app, key)["code"] == "VALID"
    set_active(scim, first["id"], True)                     # back: waits, keeps its key
    assert app.scimlite.licenses.of_user(first["id"]).status == "waiting"
    scim.delete(f"/Users/{third['id']}")                   # four waited longer than one
    assert mails(app)[5:] == [("three@example.com", "Your scimlite license has been revoked"),
                              ("four@example.com", "Your scimlite license key")]
    scim.delete(f"/Users/{second['id']}")
    assert mails(app)[7:] == [("two@example.com", "Your scimlite license has been revoked"),
                              ("one@example.com", "Your scimlite license works again")]
    assert app.scimlite.outbox.sent[-1].key() == app.scimlite.outbox.sent[0].key()
    app.scimlite.close()


def test_raising_the_seat_limit_issues_to_waiting_users_on_start(database):
    app, scim = make(database, license_seats=1)
    scim.create_user("a@example.com")
    scim.create_user("b@example.com")
    assert [to for to, _ in mails(app)] == ["a@example.com"]
    app.scimlite.close()
    again, _ = make(database, license_seats=2)
    assert [to for to, _ in mails(again)] == ["b@example.com"]
    again.scimlite.close()


# --- the verify API ----------------------------------------------------------------

def test_verify_answers_codes_for_malformed_and_unknown_keys_without_a_scim_key(lic):
    app, _ = lic
    unknown = scimlite.group_license_key(scimlite.license_key_from(os.urandom(32)))
    assert verify(app, unknown) == {"valid": False, "active": False, "code": "NOT_FOUND"}
    for junk in ("hello", 42, None, unknown[:-1] + ("2" if unknown[-1] != "2" else "3")):
        assert verify(app, junk) == {"valid": False, "active": False, "code": "MALFORMED"}
    web = webtest.TestApp(app)
    for body in (b"not json", b"[]", b'{"licence": "x"}'):
        response = web.post(scimlite.VERIFY_PATH, body, status=400,
                            headers={"Content-Type": "application/json"})
        assert response.content_type == "application/json" and "error" in response.json
    response = web.get(scimlite.VERIFY_PATH, status=405)
    assert response.content_type == "application/json"


def test_verify_is_rate_limited_per_address_with_retry_after(store):
    app, _ = make(store, verify_rate_per_minute=5)
    web = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "203.0.113.9"})
    for _ in range(5):
        web.post_json(scimlite.VERIFY_PATH, {"key": "x"}, status=200)
    refused = web.post_json(scimlite.VERIFY_PATH, {"key": "x"}, status=429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 13
    other = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "203.0.113.10"})
    other.post_json(scimlite.VERIFY_PATH, {"key": "x"}, status=200)
    app.scimlite.close()


def test_the_rate_limit_refills_and_forgets_quiet_addresses():
    limit = scimlite.RateLimit(60)
    assert all(limit.wait("a", 0.0) == 0 for _ in range(60))
    assert limit.wait("a", 0.0) == pytest.approx(1.0)
    assert limit.wait("a", 1.0) == 0            # one a second comes back
    limit.MAX_ADDRESSES = 100
    for i in range(500):
        limit.wait(f"10.0.{i // 256}.{i % 256}", 100.0 + i / 1000)
    assert len(limit.buckets) <= 100


def test_a_wrong_key_and_an_unknown_key_cost_the_same_lookup(lic):
    """No way to tell "close to a real key" from "nowhere near": the lookup
    is by keyed hash, one indexed query for either."""
    app, scim = lic
    scim.create_user("real@example.com")
    real = mails(app) and app.scimlite.outbox.sent[0].key().replace("-", "")
    near = real[:-2] + next(c for c in scimlite.LICENSE_ALPHABET if c != real[-2])
    near += scimlite.license_check_char(near)
    far = scimlite.license_key_from(os.urandom(32))
    db, seen, me = app.scimlite.models.db, [], threading.get_ident()
    original = db.execute_sql

    def spy(sql, params=None, *args, **kwargs):
        if threading.get_ident() == me:         # not the outbox's sender
            seen.append(sql)
        return original(sql, params, *args, **kwargs)
    db.execute_sql = spy
    try:
        answers = [app.scimlite.licenses.verify(k)["code"] for k in (near, far)]
    finally:
        db.execute_sql = original
    assert answers == ["NOT_FOUND", "NOT_FOUND"]
    assert len(seen) == 2 and seen[0] == seen[1]


# --- on the admin page -------------------------------------------------------------

@pytest.fixture
def admin_of():
    from test_admin import Admin

    def make_admin(app):
        client = Admin(app)
        client.setup()
        return client
    return make_admin


def user_page(lic, admin_of, user_name):
    """(app, admin, the user, its first key, its page on the admin)."""
    app, scim = lic
    admin = admin_of(app)
    user = scim.create_user(user_name)
    key = mails(app) and app.scimlite.outbox.sent[0].key()
    return app, admin, user, key, admin.web.get(f"{scimlite.ADMIN}/users/{user['id']}")


def test_the_admin_sees_a_users_license_and_its_key_once_on_request(lic, admin_of):
    app, admin, user, key, detail = user_page(lic, admin_of, "lee@example.com")
    assert "License" in detail.text and "lee@example.com" in detail.text
    assert key not in detail.text
    shown = admin.post(f"/users/{user['id']}/license-key", {}, page=detail).follow()
    assert key in shown.text
    assert key not in admin.web.get(f"{scimlite.ADMIN}/users/{user['id']}").text   # once
    audit = admin.web.get(f"{scimlite.ADMIN}/audit").text
    assert "license.key_shown" in audit and key not in audit
    admin.web.post(f"{scimlite.ADMIN}/users/{user['id']}/license-key", {"csrf": "forged"},
                   status=403)


def test_the_dashboard_says_when_users_wait_for_a_seat_or_mail_is_dead(store, admin_of):
    app, scim = make(store, license_seats=1)
    admin = admin_of(app)
    scim.create_user("first@example.com")
    scim.create_user("second@example.com")
    scim.create_user("nomail")                  # waits, and has no address anyway
    mails(app)
    page = admin.web.get(scimlite.ADMIN).text
    assert "2 user(s) wait for a license" in page and "of the 1 seats" in page
    assert "could not be delivered" not in page
    app.scimlite.close()


def test_the_outbox_page_lists_messages_and_retries_a_dead_one(lic, admin_of):
    app, scim = lic
    admin = admin_of(app)
    scim.create_user("ok@example.com")
    scim.create_user("no-address")
    set_active(scim, scim.get("/Users", filter='userName eq "no-address"').json[
        "Resources"][0]["id"], False)
    mails(app)
    page = admin.web.get(f"{scimlite.ADMIN}/outbox")
    assert "ok@example.com" in page.text and "no email address" in page.text
    assert "kept in memory" in page.text
    dead = admin.web.get(f"{scimlite.ADMIN}/outbox", {"status": "dead"})
    assert "ok@example.com" not in dead.text
    row = app.scimlite.outbox.messages("dead")[-1]
    assert row.attempts == 0 and f"/outbox/{row.pk}/retry" in dead.text
    admin.post(f"/outbox/{row.pk}/retry", {}, page=dead)
    mails(app)
    again = app.scimlite.models.OutboxMessage.get_by_id(row.pk)
    assert again.status == "dead" and again.attempts == 1           # tried again
    assert "outbox.retried" in admin.web.get(f"{scimlite.ADMIN}/audit").text
    for key in (row.context, page.text):
        assert not KEY.search(key)                  # no key in the row or the page


def test_a_new_webhook_secret_is_shown_once_on_the_outbox_page(lic, admin_of):
    app, _ = lic
    admin = admin_of(app)
    before = app.scimlite.outbox.webhook_secret()
    page = admin.web.get(f"{scimlite.ADMIN}/outbox")
    shown = admin.post("/outbox/webhook-secret", {}, page=page).follow()
    secret = app.scimlite.outbox.webhook_secret()
    assert secret != before and secret in shown.text
    assert secret not in admin.web.get(f"{scimlite.ADMIN}/outbox").text


def test_a_new_key_replaces_a_leaked_one_and_is_mailed(lic, admin_of):
    app, admin, user, old, detail = user_page(lic, admin_of, "leaky@example.com")
    admin.post(f"/users/{user['id']}/new-license-key", {}, page=detail)
    assert [s for _, s in mails(app)] == ["Your scimlite license key"] * 2
    new = app.scimlite.outbox.sent[1].key()
    assert new != old
    assert verify(app, old)["code"] == "NOT_FOUND" and verify(app, new)["code"] == "VALID"
    assert "license.reissued" in admin.web.get(f"{scimlite.ADMIN}/audit").text
    set_active(lic[1], user["id"], False)
    page = admin.post(f"/users/{user['id']}/new-license-key", {}, page=detail, status=200)
    assert "only an active license" in page.text

"""API keys: minted random, stored hashed, checked on every SCIM route
(RFC 7644 §2: bearer tokens), and the 'SCIM enabled' switch."""
import contextlib
import datetime as dt
import re
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

import scimlite
from conftest import SCIMClient, assert_scim_error

SCIM_ROUTES = ["/ServiceProviderConfig", "/ResourceTypes", "/ResourceTypes/User",
               "/Schemas", f"/Schemas/{scimlite.USER_URN}", "/Users", "/Users/x",
               "/Groups", "/Groups/x"]


def test_minted_key_shape_and_entropy(app):
    keys = {app.scimlite.mint_key(f"k{i}") for i in range(20)}
    assert len(keys) == 20
    for key in keys:
        assert re.fullmatch(r"scim_[A-Za-z0-9_-]{51}", key), key
        # 8 characters of public id, then 43 characters = 32 random bytes.
        assert len(key) - len("scim_") - 8 == 43


def test_keys_are_stored_only_as_hashes(app):
    key = app.scimlite.mint_key("ci")
    row = app.scimlite.models.ApiKey.get()
    stored = " ".join(str(v) for v in row.__data__.values())
    assert key not in stored and key[13:] not in stored
    assert row.key_hash == scimlite.hash_api_key(key)


@pytest.mark.parametrize("path", SCIM_ROUTES)
@pytest.mark.sqlite_only      # refused before any SQL: one backend is enough
def test_every_scim_route_requires_a_key(anonymous, path):
    resp = anonymous.get(path, status=401)
    assert_scim_error(resp, 401)
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ",
                                    "scim_abc", "Token scim_abc"])
@pytest.mark.sqlite_only      # refused before any SQL: one backend is enough
def test_malformed_authorization_is_401(app, header):
    client = SCIMClient(app, None)
    resp = client.web.get("/scim/v2/Users", headers={"Authorization": header}, status=401)
    assert_scim_error(resp, 401)


def test_wrong_key_is_401_invalid_token(app, token):
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), "scim_" + "x" * 51,
                  token[:13], "not-even-close"):
        resp = SCIMClient(app, wrong).get("/Users", status=401)
        assert_scim_error(resp, 401)
        assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


def test_revoked_key_is_401_and_other_keys_still_work(app):
    first, second = app.scimlite.mint_key("first"), app.scimlite.mint_key("second")
    SCIMClient(app, first).get("/Users")
    assert app.scimlite.revoke_key("first") == "first"
    assert_scim_error(SCIMClient(app, first).get("/Users", status=401), 401)
    SCIMClient(app, second).get("/Users")


def test_revoke_by_prefix_and_errors(app):
    key = app.scimlite.mint_key("entra")
    assert app.scimlite.revoke_key(key[:13]) == "entra"
    with pytest.raises(LookupError):
        app.scimlite.revoke_key("entra")         # already revoked
    with pytest.raises(LookupError):
        app.scimlite.revoke_key("nobody")


def test_key_names_are_unique_among_active_keys(app):
    app.scimlite.mint_key("okta")
    with pytest.raises(ValueError):
        app.scimlite.mint_key("okta")
    app.scimlite.revoke_key("okta")
    app.scimlite.mint_key("okta")
    with pytest.raises(ValueError):
        app.scimlite.mint_key("  ")


def test_last_used_is_recorded(app, scim):
    row = app.scimlite.models.ApiKey.get()
    assert row.last_used is None
    scim.get("/Users")
    assert app.scimlite.models.ApiKey.get().last_used is not None


def test_key_name_is_the_actor_of_events(app, scim):
    scim.create_user("someone")
    assert app.scimlite.events(type="user.created")[0]["actor"] == "tests"


def test_scim_disabled_is_403_and_reenabled_works(app, scim):
    app.scimlite.scim_enabled = False
    body = assert_scim_error(scim.get("/Users", status=403), 403)
    assert "disabled" in body["detail"]
    assert_scim_error(scim.post("/Users", {"userName": "x"}, status=403), 403)
    app.scimlite.scim_enabled = True
    assert scim.get("/Users").json["totalResults"] == 0


def test_scim_disabled_still_asks_for_a_key_first(app, anonymous):
    app.scimlite.scim_enabled = False
    assert_scim_error(anonymous.get("/Users", status=401), 401)


def test_secrets_never_reach_the_log(app, caplog):
    import logging
    caplog.set_level(logging.DEBUG)
    key = app.scimlite.mint_key("quiet")
    scim = SCIMClient(app, key)
    scim.create_user("p", password="hunter2-secret")
    scim.get("/Users")
    SCIMClient(app, key + "x").get("/Users", status=401)
    assert key not in caplog.text and "hunter2-secret" not in caplog.text


# --- probing: failed authentication is throttled and logged, a valid key never ---

def test_probing_with_wrong_keys_is_throttled_per_address_but_a_valid_key_is_not(app, caplog):
    caplog.set_level("WARNING", logger="scimlite")
    token = app.scimlite.mint_key("entra")
    prober = SCIMClient(app, None)
    prober.web.extra_environ["REMOTE_ADDR"] = "198.51.100.9"
    wrong = [f"scim_probe{i:03d}" + "x" * 40 for i in range(25)]
    answers = []
    for guess in wrong:
        prober.web.extra_environ["HTTP_AUTHORIZATION"] = f"Bearer {guess}"
        answers.append(prober.get("/Users", status="*"))
    assert [a.status_int for a in answers[:20]] == [401] * 20
    limited = answers[20]
    assert_scim_error(limited, 429)
    assert 1 <= int(limited.headers["Retry-After"]) <= 3
    # The IdP behind the same address (one proxy) is not slowed.
    prober.web.extra_environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    assert prober.get("/Users").status_int == 200
    other = SCIMClient(app, wrong[0])
    other.web.extra_environ["REMOTE_ADDR"] = "198.51.100.10"
    assert other.get("/Users", status=401)
    logged = [r.getMessage() for r in caplog.records if "authentication failed" in r.getMessage()]
    assert len(logged) == 2                     # one per address per minute
    assert "198.51.100.9" in logged[0] and "(key: scim_probe000...)" in logged[0]
    assert not any(guess in " ".join(logged) for guess in wrong)


def test_an_optional_rate_limit_per_key():
    app = scimlite.create_app({"db": ":memory:", "mailer": "memory",
                               "key_rate_per_minute": 3})
    busy = SCIMClient(app, app.scimlite.mint_key("busy"))
    calm = SCIMClient(app, app.scimlite.mint_key("calm"))
    assert [busy.get("/Users", status="*").status_int for _ in range(4)] == [200] * 3 + [429]
    assert "Retry-After" in busy.get("/Users", status=429).headers
    assert calm.get("/Users").status_int == 200
    app.scimlite.close()


# --- the key cache (AuthCache): no query to let a request in, no stale key ------------

@pytest.fixture
def file_app(tmp_path):
    app = scimlite.create_app({"db": str(tmp_path / "keys.db"), "mailer": "memory"})
    yield app
    app.scimlite.close()


def run_cli(*args):
    return subprocess.run([sys.executable, scimlite.__file__, *args],
                          capture_output=True, text=True, check=True)


def test_a_cached_key_revoked_by_another_process_is_refused_on_the_next_request(file_app):
    db = file_app.scimlite.settings["db"]
    client = SCIMClient(file_app, file_app.scimlite.mint_key("okta"))
    client.get("/Users")
    client.get("/Users")        # served from the cache
    run_cli("revoke-key", "okta", "--db", db)
    assert_scim_error(client.get("/Users", status=401), 401)


def test_scim_disabled_by_another_process_is_403_on_the_next_request(file_app):
    db = file_app.scimlite.settings["db"]
    client = SCIMClient(file_app, file_app.scimlite.mint_key("okta"))
    client.get("/Users")
    run_cli("scim", "disable", "--db", db)
    assert_scim_error(client.get("/Users", status=403), 403)
    run_cli("scim", "enable", "--db", db)
    client.get("/Users")


def test_a_key_expired_by_a_direct_edit_of_the_database_is_refused(file_app):
    """Whatever writes the database (sqlite3 by hand, say), the cache notices."""
    client = SCIMClient(file_app, file_app.scimlite.mint_key("okta"))
    client.get("/Users")
    with contextlib.closing(sqlite3.connect(file_app.scimlite.settings["db"])) as other:
        other.execute("UPDATE api_key SET expires = '2000-01-01T00:00:00.000Z'")
        other.commit()
    assert_scim_error(client.get("/Users", status=401), 401)


def test_a_cached_key_is_refused_once_it_expires(file_app):
    state = file_app.scimlite
    expires = scimlite.format_datetime(
        dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1))
    with state.changes.unit():
        token = scimlite.mint_api_key(state.models, "short-lived", expires)
    client = SCIMClient(file_app, token)
    client.get("/Users")
    client.get("/Users")        # cached, and nothing has been written since
    time.sleep(max(0.0, (scimlite.parse_datetime(expires) -
                         dt.datetime.now(dt.timezone.utc)).total_seconds()) + 0.05)
    assert_scim_error(client.get("/Users", status=401), 401)


def test_a_cached_key_answers_as_fast_as_it_is_let_in(file_app):
    """Once cached, a key's requests read no API key row and no option."""
    client = SCIMClient(file_app, file_app.scimlite.mint_key("okta"))
    client.get("/ServiceProviderConfig")    # writes the key's last_used ...
    client.get("/ServiceProviderConfig")    # ... so this one reads it again
    seen = []
    connection = file_app.scimlite.models.db.connection()
    connection.set_trace_callback(seen.append)
    try:
        client.get("/ServiceProviderConfig")
    finally:
        connection.set_trace_callback(None)
    assert seen == ["SELECT n FROM scimlite_auth_version"]


def test_writes_of_users_leave_the_key_cache_alone(file_app):
    """Only a change of keys or options empties the key cache: under a
    stream of writes, each request reads no key row and no option."""
    client = SCIMClient(file_app, file_app.scimlite.mint_key("okta"))
    client.get("/ServiceProviderConfig")
    client.get("/ServiceProviderConfig")
    user = client.create_user("cached")
    seen = []
    connection = file_app.scimlite.models.db.connection()
    connection.set_trace_callback(seen.append)
    try:
        client.get(f"/Users/{user['id']}")
    finally:
        connection.set_trace_callback(None)
    assert seen[0] == "SELECT n FROM scimlite_auth_version"
    assert not any("api_key" in sql or '"option"' in sql for sql in seen), seen


def test_a_key_revoked_by_a_hand_edit_in_sqlite3_is_refused_at_once(file_app, tmp_path):
    client = SCIMClient(file_app, file_app.scimlite.mint_key("okta"))
    client.get("/Users")
    path = file_app.scimlite.settings["db"]
    with sqlite3.connect(path) as hand:
        hand.execute("UPDATE api_key SET revoked = '2026-01-01T00:00:00Z'")
    assert_scim_error(client.get("/Users", status=401), 401)


def test_a_key_read_just_before_its_revocation_is_not_cached_after_it(file_app, monkeypatch):
    """Thread A reads the key row, then the key is revoked and thread B is
    refused; A's late fill must not let B in again (review of issue 12)."""
    state, token = file_app.scimlite, file_app.scimlite.mint_key("okta")
    read, go_on = threading.Event(), threading.Event()
    real_find = scimlite.find_api_key

    def find_then_pause(models, key):
        row = real_find(models, key)
        if threading.current_thread().name == "A":
            read.set()
            go_on.wait(10)
        return row
    monkeypatch.setattr(scimlite, "find_api_key", find_then_pause)
    b_seen, b_turn, b_done = [], threading.Semaphore(0), threading.Semaphore(0)

    def thread_b():             # a long-lived worker thread, as Waitress's are
        for _ in range(3):
            b_turn.acquire()
            b_seen.append(state.auth.admit(token)[0])
            b_done.release()
    a = threading.Thread(target=state.auth.admit, args=(token,), name="A")
    b = threading.Thread(target=thread_b, name="B")
    b.start()
    b_turn.release(), b_done.acquire()          # B let in, and its key cached
    a.start()
    assert read.wait(10)                        # A has read the row, still active
    with contextlib.closing(sqlite3.connect(state.settings["db"])) as other:
        other.execute("UPDATE api_key SET revoked = '2000-01-01T00:00:00.000Z'")
        other.commit()
    b_turn.release(), b_done.acquire()          # B sees the revocation
    go_on.set()
    a.join(10)                                  # A fills what it began with
    b_turn.release(), b_done.acquire()
    b.join(10)
    assert b_seen[0] is not None
    assert b_seen[1:] == [None, None]

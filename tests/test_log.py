"""The provisioning log: SCIM requests that changed something or failed,
kept with who, what and how long; reads counted; secrets redacted;
retention applied."""
import json
import time

import scimlite
from conftest import SCIMClient

P = scimlite.PATCH_URN


def entries(app):
    app.scimlite.log.flush()
    RequestLog = app.scimlite.models.RequestLog
    return list(RequestLog.select().order_by(RequestLog.pk).dicts())


def test_writes_and_failures_are_kept_reads_only_counted(app, scim):
    user = scim.create_user("logged", password="s3cret-pass")
    scim.get(f"/Users/{user['id']}")
    scim.get("/Users", filter='userName eq "logged"')
    scim.patch(f"/Users/{user['id']}", {"schemas": [P], "Operations": [
        {"op": "replace", "path": "title", "value": "Boss"}]})
    scim.post("/Users", {"userName": "logged"}, status=409)
    rows = entries(app)
    assert [(r["method"], r["status"]) for r in rows] == [
        ("POST", 201), ("PATCH", 200), ("POST", 409)]
    created, patched, clash = rows
    assert created["key_name"] == "tests" and created["resource_type"] == "User"
    assert created["resource_id"] == user["id"] and created["summary"].startswith("user.created")
    assert patched["summary"] == "user.updated (title)"
    assert clash["summary"] == "a User with this userName already exists"
    assert "s3cret-pass" not in json.dumps(rows)
    assert json.loads(created["request_body"])["password"] == scimlite.REDACTED
    reads = app.scimlite.models.ReadCount.select().dicts()
    assert [(r["key_name"], r["count"]) for r in reads] == [("tests", 2)]


def test_log_reads_keeps_reads_too(tmp_path):
    app = scimlite.create_app({"db": str(tmp_path / "r.db"), "log_reads": True})
    scim = SCIMClient(app, app.scimlite.mint_key("okta"))
    scim.get("/Users", filter='userName eq "x"')
    assert [(r["method"], r["path"]) for r in entries(app)] == [
        ("GET", "/scim/v2/Users?filter=userName+eq+%22x%22")]
    app.scimlite.close()


def test_unauthenticated_failures_are_kept_without_a_key(app, anonymous):
    anonymous.get("/Users", status=401)
    (row,) = entries(app)
    assert row["status"] == 401 and row["key_name"] is None


def test_a_password_in_a_patch_path_is_redacted():
    body = {"Operations": [{"op": "replace", "path": "password", "value": "hunter2"},
                           {"op": "replace", "value": {"password": "hunter3"}}]}
    text = scimlite.loggable_body(json.dumps(body))
    assert "hunter" not in text and text.count(scimlite.REDACTED) == 2


def test_retention_keeps_the_newest_rows_and_drops_old_ones(tmp_path):
    app = scimlite.create_app({"db": str(tmp_path / "k.db"), "log_max_rows": 3})
    scim = SCIMClient(app, app.scimlite.mint_key("k"))
    for i in range(5):
        scim.create_user(f"r{i}")
    RequestLog = app.scimlite.models.RequestLog
    RequestLog.insert(at="2000-01-01T00:00:00.000Z", method="GET", path="/old",
                      status=500, duration_ms=1, summary="ancient").execute()
    assert [r["summary"].split()[0] for r in entries(app)] == ["user.created"] * 3
    app.scimlite.close()


def test_a_failing_log_never_fails_the_scim_request(app, scim, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("log store unavailable")
    monkeypatch.setattr(app.scimlite.log, "note", broken)
    assert scim.create_user("still-created")["userName"] == "still-created"


def test_events_are_kept_for_their_retention_and_up_to_their_cap():
    app = scimlite.create_app({"db": ":memory:", "mailer": "memory",
                               "event_retention_days": 30, "event_max_rows": 5})
    state = app.scimlite
    scim = SCIMClient(app, state.mint_key("k"))
    old = scim.create_user("old@example.com", active=False)     # one event
    state.models.Event.update(at="2000-01-01T00:00:00.000Z").execute()
    for i in range(4):
        scim.create_user(f"u{i}@example.com", active=False)
    state.log.flush()
    events = state.events()
    assert old["id"] not in {e["resource_id"] for e in events}  # past 30 days
    assert len(events) == 4
    newest = [scim.create_user(f"u{i}@example.com", active=False)["id"] for i in range(4, 8)]
    state.log.flush()
    kept = [e["resource_id"] for e in state.events()]
    assert len(kept) == 5 and kept[1:] == newest            # the oldest went first
    app.scimlite.close()


def test_the_worker_applies_retention_at_most_once_a_minute(tmp_path):
    """Finding the cut reads log_max_rows keys while writers wait: the
    worker's flush does it once a minute, the admin page's every time."""
    app = scimlite.create_app({"db": str(tmp_path / "k.db"), "log_max_rows": 2,
                               "mailer": "memory"})
    log, scim = app.scimlite.log, SCIMClient(app, app.scimlite.mint_key("k"))
    RequestLog = app.scimlite.models.RequestLog

    def stored_after(flush, creates):
        for _ in range(creates):
            scim.create_user(f"u{RequestLog.select().count()}-{time.monotonic_ns()}")
        flush()
        return RequestLog.select().count()
    assert stored_after(log._scheduled_flush, 3) == 2          # the first applies it
    assert stored_after(log._scheduled_flush, 3) == 5          # within the minute: not
    assert stored_after(log.flush, 0) == 2                     # the page's flush does
    log._retained -= log.RETENTION_SECONDS
    assert stored_after(log._scheduled_flush, 1) == 2          # a minute on: again
    app.scimlite.close()

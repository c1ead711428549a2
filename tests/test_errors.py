"""Every failure on a SCIM route is a SCIM Error (RFC 7644 §3.12) with the
right status and scimType: never Bottle's HTML page, never a trace."""
import pytest

import scimlite
from conftest import SCIMClient, assert_scim_error


def test_malformed_json_is_400_invalid_syntax(scim):
    body = assert_scim_error(scim.post("/Users", b'{"userName": "a",', status=400),
                             400, "invalidSyntax")
    assert "line 1" in body["detail"]


@pytest.mark.parametrize("payload", [b"", b"   ", b"[1, 2]", b'"text"', b"NaN",
                                     b'{"userName": NaN}', b"\xff\xfe{}",
                                     b"[" * 100000 + b"]" * 100000])
@pytest.mark.sqlite_only      # refused before any SQL: one backend is enough
def test_unusable_bodies_are_400_invalid_syntax(scim, payload):
    assert_scim_error(scim.post("/Users", payload, status=400), 400, "invalidSyntax")


def test_application_json_is_accepted_too(scim):
    resp = scim.post("/Users", {"userName": "plainjson"},
                     headers={"Content-Type": "application/json"})
    assert resp.status_int == 201
    assert resp.content_type == "application/scim+json"


def test_body_over_the_limit_is_413(app, token):
    small = scimlite.create_app({"db": ":memory:", "max_body_bytes": 200})
    scim = SCIMClient(small, small.scimlite.mint_key("t"))
    big = {"userName": "big", "title": "x" * 300}
    assert_scim_error(scim.post("/Users", big, status=413), 413)
    assert scim.get("/Users").json["totalResults"] == 0
    assert scim.post("/Users", {"userName": "fits"}).status_int == 201


def test_unknown_id_is_404(scim):
    for method in ("GET", "PUT", "DELETE"):
        resp = scim.send(method, "/Users/0000", {"userName": "x"}, status=404)
        assert_scim_error(resp, 404)
        assert_scim_error(scim.send(method, "/Groups/0000", {"displayName": "x"},
                                    status=404), 404)


def test_wrong_method_is_405_as_scim_json(scim):
    resp = scim.send("DELETE", "/Users", {}, status=405)
    assert_scim_error(resp, 405)
    assert "GET" in resp.headers["Allow"]
    assert_scim_error(scim.send("POST", "/ServiceProviderConfig", {}, status=405), 405)


def test_unknown_endpoint_is_404_as_scim_json(scim):
    assert_scim_error(scim.get("/Widgets", status=404), 404)
    assert_scim_error(scim.get("/Users/a/b", status=404), 404)


def test_pages_outside_scim_keep_html_errors(scim):
    resp = scim.web.get("/no-such-page", status=404)
    assert resp.content_type == "text/html"


def test_a_bug_is_500_with_no_internals_and_is_logged(scim, app, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise KeyError("secret internal detail")
    monkeypatch.setattr(app.scimlite.resources, "search", broken)
    resp = scim.get("/Users", status=500)
    body = assert_scim_error(resp, 500)
    assert "secret internal detail" not in resp.text
    assert body["detail"] == "internal server error"
    assert "secret internal detail" in caplog.text and "Traceback" in caplog.text


def test_database_busy_is_503_not_500(scim, app, monkeypatch):
    import peewee

    def busy(*args, **kwargs):
        raise peewee.OperationalError("database is locked")
    monkeypatch.setattr(app.scimlite.resources, "create", busy)
    resp = scim.post("/Users", {"userName": "x"}, status=503)
    assert_scim_error(resp, 503)
    assert "locked" not in resp.text and resp.headers["Retry-After"] == "1"


def test_every_response_is_scim_json_with_charset(scim):
    user = scim.create_user()
    for resp in (scim.get("/Users"), scim.get(f"/Users/{user['id']}"),
                 scim.get("/ServiceProviderConfig"), scim.get("/Schemas"),
                 scim.get("/Users/none", status=404)):
        assert resp.headers["Content-Type"] == "application/scim+json; charset=utf-8"


def test_me_is_501(scim):
    """RFC 7644 §3.11: /Me needs an authenticated subject; an API key is none."""
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        assert_scim_error(scim.send(method, "/Me", {}, status=501), 501)


def test_a_failed_write_leaves_nothing_behind(scim, app):
    """One request, one transaction: a subscriber failing after the insert
    (say, a license that cannot be issued) rolls the whole write back."""
    def fail(work, event):
        raise RuntimeError("boom")
    app.scimlite.changes.subscribe("user.created", fail)
    scim.post("/Users", {"userName": "half", "emails": [{"value": "h@x"}]}, status=500)
    app.scimlite.changes.subscribers.clear()
    assert scim.get("/Users", filter='userName eq "half"').json["totalResults"] == 0
    assert app.scimlite.models.UserEmail.select().count() == 0
    assert app.scimlite.events() == []
    assert scim.create_user("half")["userName"] == "half"


@pytest.mark.parametrize("field", ["nickName", "userName"])
def test_unpaired_surrogate_escapes_are_400_and_store_nothing(scim, field):
    body = b'{"userName": "u", "' + field.encode() + b'": "\\udfff"}'
    if field == "userName":
        body = b'{"userName": "\\ud800"}'
    assert_scim_error(scim.post("/Users", body, status=400), 400, "invalidSyntax")
    assert scim.get("/Users").json["totalResults"] == 0
    resp = scim.get("/Users", filter='userName eq "\\ud800"', status=400)
    assert_scim_error(resp, 400, "invalidFilter")


def test_a_query_string_that_is_not_utf8_is_400_before_any_write(scim):
    resp = scim.web.get("/scim/v2/Users?x=%FF", status=400)
    assert_scim_error(resp, 400, "invalidSyntax")
    resp = scim.post("/Users?attributes=%FF", {"userName": "dave"}, status=400)
    assert_scim_error(resp, 400, "invalidSyntax")
    assert scim.get("/Users").json["totalResults"] == 0
    user = scim.create_user("erin", title="A")
    scim.put(f"/Users/{user['id']}?attributes=%FF", {"userName": "erin", "title": "B"},
             status=400)
    assert scim.get(f"/Users/{user['id']}").json["title"] == "A"


def test_nul_characters_are_refused(scim):
    assert_scim_error(scim.post("/Users", {"userName": "a", "title": "x\u0000y"},
                                status=400), 400, "invalidValue")
    assert_scim_error(scim.get("/Users", filter='title eq "\\u0000"', status=400),
                      400, "invalidFilter")


def test_an_attribute_named_twice_in_two_cases_is_invalid_syntax(scim):
    for body in ({"userName": "a", "emails": [{"value": "a@b"}], "EMAILS": None},
                 {"userName": "a", "name": {"givenName": "x", "GIVENNAME": "y"}}):
        assert_scim_error(scim.post("/Users", body, status=400), 400, "invalidSyntax")


def test_schemas_is_checked_in_any_case(scim):
    resp = scim.post("/Users", {"SCHEMAS": ["urn:bad"], "userName": "s1"}, status=400)
    assert_scim_error(resp, 400, "invalidSyntax")


def test_headers_that_are_not_utf8_match_nothing(scim, app):
    """Found by fuzzing: Bottle's get_header() raised on such bytes (a 500)."""
    user = scim.create_user("h")
    environ = {"HTTP_IF_NONE_MATCH": "\x84\xda!2"}
    resp = scim.web.get(f"/scim/v2/Users/{user['id']}", extra_environ=environ, status=200)
    assert resp.json["id"] == user["id"]
    resp = scim.web.put(f"/scim/v2/Users/{user['id']}", b'{"userName": "h2"}',
                        content_type="application/scim+json",
                        extra_environ={"HTTP_IF_MATCH": "\x8e\x84"}, status=412)
    assert_scim_error(resp, 412)
    anonymous = scim.web.get("/scim/v2/Users", extra_environ={
        "HTTP_AUTHORIZATION": "Bearer \xff\xfe"}, status=401)
    assert_scim_error(anonymous, 401)


def test_bodies_nested_past_the_depth_limit_are_400(scim):
    """MAX_JSON_DEPTH levels are read (the extra attribute is ignored);
    one more is refused as invalidSyntax, before anything is stored."""
    def nested(levels):
        return "[" * levels + "]" * levels
    limit = scimlite.MAX_JSON_DEPTH
    ok = f'{{"userName": "deep", "x": {nested(limit - 1)}}}'
    assert scim.post("/Users", ok).json["userName"] == "deep"
    too_deep = f'{{"userName": "deeper", "x": {nested(limit)}}}'
    error = assert_scim_error(scim.post("/Users", too_deep, status=400), 400, "invalidSyntax")
    assert "nested" in error["detail"]
    assert scim.get("/Users", filter='userName eq "deeper"').json["totalResults"] == 0


def test_a_long_id_is_not_echoed_back_whole(scim):
    long_id = "x" * 100_000
    body = assert_scim_error(scim.get(f"/Users/{long_id}", status=404), 404)
    assert len(body["detail"]) < 200 and "..." in body["detail"]


def test_a_new_database_file_is_readable_by_its_owner_only(tmp_path):
    import os
    import stat
    app = scimlite.create_app({"db": str(tmp_path / "private.db"), "mailer": "memory"})
    SCIMClient(app, app.scimlite.mint_key("k")).create_user("p@example.com")
    for name in ("private.db", "private.db-wal", "private.db-shm"):
        mode = stat.S_IMODE(os.stat(tmp_path / name).st_mode)
        assert mode & 0o077 == 0, (name, oct(mode))
    app.scimlite.close()


def test_the_command_line_never_logs_sql_values_or_queue_depth(tmp_path):
    import subprocess
    import sys
    from conftest import ROOT
    code = ("import logging, scimlite, webtest; scimlite.configure_logging("
            "scimlite.load_settings({'log_level': 'debug'})); "
            "app = scimlite.create_app({'db': ':memory:', 'mailer': 'memory'}); "
            "t = app.scimlite.mint_key('k'); "
            "w = webtest.TestApp(app, extra_environ={'HTTP_AUTHORIZATION': 'Bearer ' + t}); "
            "w.post_json('/scim/v2/Users', {'userName': 'secret-user@example.com'}); "
            "logging.getLogger('waitress.queue').warning('Task queue depth is 5'); "
            "scimlite.log.debug('debug is on'); "
            "app.scimlite.close()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "debug is on" in done.stderr              # debug is on...
    assert "secret-user@example.com" not in done.stderr      # ...but no SQL values
    assert "Task queue depth" not in done.stderr


def test_a_full_disk_is_a_507_with_retry_after_one_log_line_and_it_recovers(tmp_path, caplog):
    """SQLite's max_page_count stands in for a full disk: SQLITE_FULL."""
    app = scimlite.create_app({"db": str(tmp_path / "full.db"), "mailer": "memory"})
    scim = SCIMClient(app, app.scimlite.mint_key("k"))
    scim.create_user("before@example.com")
    db = app.scimlite.models.db
    pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
    db.execute_sql(f"PRAGMA max_page_count = {pages}")
    caplog.clear()
    bulky = {"schemas": [scimlite.USER_URN], "userName": "full@example.com",
             "displayName": "x" * 60000}
    body = assert_scim_error(scim.post("/Users", bulky, status=507), 507)
    assert "disk is full" in body["detail"]
    answer = scim.post("/Users", bulky, status=507)
    assert answer.headers["Retry-After"] == "60"
    lines = [r for r in caplog.records if r.name == "scimlite"]
    assert len(lines) == 2 and all(not r.exc_info for r in lines)
    assert scim.get("/Users").json["totalResults"] == 1          # nothing half-written
    db.execute_sql("PRAGMA max_page_count = 1073741823")        # space comes back
    scim.post("/Users", bulky)
    assert scim.get("/Users").json["totalResults"] == 2
    app.scimlite.close()


@pytest.mark.parametrize("path", ["/scim/v2/Users", "/api/licenses/verify"])
def test_a_malformed_content_length_is_a_400_not_a_500(app, path):
    """Waitress refuses it itself; an embedder's WSGI server may pass it on."""
    import io
    token = app.scimlite.mint_key("cl")
    statuses = []
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SERVER_NAME": "x",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "CONTENT_LENGTH": "abc",
               "CONTENT_TYPE": "application/scim+json", "wsgi.input": io.BytesIO(b"{}"),
               "wsgi.errors": io.StringIO(), "HTTP_AUTHORIZATION": f"Bearer {token}",
               "REMOTE_ADDR": "192.0.2.1"}
    body = b"".join(app(environ, lambda status, headers, *_: statuses.append(status)))
    assert statuses[0].startswith("400"), (statuses, body)

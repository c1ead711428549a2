"""One line per request (time, method, path, status, duration, key name,
request id; never a key, a body or the query string) and X-Request-Id."""
import json
import logging

import pytest
import webtest

import scimlite
from conftest import SCIMClient

# The access log is written by the HTTP layer: one backend is enough.
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def lines(caplog):
    caplog.set_level(logging.INFO, logger="scimlite.access")
    return lambda: [r for r in caplog.records if r.name == "scimlite.access"]


def test_each_request_is_one_line_with_its_id_and_key_name_and_no_secrets(app, lines):
    token = app.scimlite.mint_key("entra")
    scim = SCIMClient(app, token)
    created = scim.create_user("ann@example.com", password="Sekret-pass-1")
    found = scim.get("/Users", filter='userName eq "ann@example.com"')
    [post, get] = lines()[-2:]
    assert post.fields["method"] == "POST" and post.fields["path"] == "/scim/v2/Users"
    assert post.fields["status"] == 201 and post.fields["key"] == "entra"
    assert post.fields["duration_ms"] >= 0
    assert get.fields["request_id"] == found.headers["X-Request-Id"]
    text = " ".join(r.getMessage() for r in lines())
    for secret in (token, "Sekret-pass-1", "ann@example.com", created["id"][:0] + "filter"):
        assert secret not in text
    assert "POST /scim/v2/Users 201" in post.getMessage()


def test_every_answer_carries_a_request_id_even_errors_and_pages(app):
    web = webtest.TestApp(app)
    answers = [web.get("/scim/v2/Users", status=401), web.get("/nowhere", status=404),
               web.get("/admin/login"), web.get("/healthz"),
               web.post_json(scimlite.VERIFY_PATH, {"key": "x"})]
    ids = [a.headers["X-Request-Id"] for a in answers]
    assert len(set(ids)) == len(ids) and all(len(i) == 32 for i in ids)


def test_a_request_id_is_taken_only_from_a_trusted_proxy():
    app = scimlite.create_app({"db": ":memory:", "mailer": "memory",
                               "trusted_proxies": ["10.0.0.5"]})
    proxy = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "10.0.0.5"})
    stranger = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "203.0.113.7"})
    headers = {"X-Request-Id": "edge-42.abc"}
    assert proxy.get("/healthz", headers=headers).headers["X-Request-Id"] == "edge-42.abc"
    assert stranger.get("/healthz", headers=headers).headers["X-Request-Id"] != "edge-42.abc"
    bad = proxy.get("/healthz", headers={"X-Request-Id": "no spaces\\or slashes"})
    assert bad.headers["X-Request-Id"] != "no spaces\\or slashes"
    app.scimlite.close()


def test_json_log_lines_are_objects_with_the_request_fields(app, lines):
    webtest.TestApp(app).get("/healthz")
    line = json.loads(scimlite.JsonLogFormatter().format(lines()[-1]))
    assert line["logger"] == "scimlite.access" and line["level"] == "info"
    assert {"time", "method", "path", "status", "duration_ms", "request_id"} <= set(line)
    assert line["path"] == "/healthz" and line["status"] == 200
    with pytest.raises(ValueError, match="log_format"):
        scimlite.load_settings({"log_format": "xml"})


def test_the_command_line_logs_json_when_asked():
    import subprocess
    import sys
    from conftest import ROOT
    code = ("import scimlite; scimlite.configure_logging(scimlite.load_settings("
            "{'log_format': 'json'})); scimlite.log.warning('hello %s', 'there')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT)
    [line] = done.stderr.splitlines()
    assert json.loads(line)["message"] == "hello there"
    assert json.loads(line)["level"] == "warning"

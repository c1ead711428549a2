"""X-Forwarded-Proto and X-Forwarded-Host steer the URLs scimlite builds
(Location, meta.location, $ref, the admin cookie's secure flag) only when
they come from an address in `trusted_proxies`; `public_url` always wins.
Checked in process, as under any WSGI server, and over Waitress."""
import http.client
import json

import pytest
import webtest

import scimlite
from conftest import BASE

# The HTTP layer alone: one backend is enough.
pytestmark = pytest.mark.sqlite_only

SPOOFED = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
USER = {"schemas": [scimlite.USER_URN], "userName": "ann@example.com"}


def make_app(**settings):
    return scimlite.create_app({"db": ":memory:", "mailer": "memory", **settings})


def create_user(app, remote_addr, headers, user_name="ann@example.com"):
    token = app.scimlite.mint_key(f"k-{remote_addr}")
    web = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": remote_addr,
                                              "HTTP_AUTHORIZATION": f"Bearer {token}"})
    return web.post(BASE + "/Users", json.dumps({**USER, "userName": user_name}), headers={
        "Content-Type": "application/scim+json", "Host": "idm.internal:8080", **headers})


@pytest.mark.parametrize("address, origin", [
    ("203.0.113.7", "http://idm.internal:8080"),     # anyone: the headers change nothing
    ("10.0.0.5", "https://evil.example")])           # the trusted proxy: they are used
def test_forwarded_headers_count_only_from_a_trusted_proxy(address, origin):
    app = make_app(trusted_proxies=["10.0.0.5"])
    answer = create_user(app, address, SPOOFED)
    assert answer.headers["Location"].startswith(origin + "/scim/v2/Users/")
    assert answer.json["meta"]["location"] == answer.headers["Location"]
    app.scimlite.close()


def test_a_malformed_forwarded_host_is_ignored_even_from_a_trusted_proxy():
    app = make_app(trusted_proxies=["10.0.0.5"])
    answer = create_user(app, "10.0.0.5", {"X-Forwarded-Host": "a/b@evil",
                                           "X-Forwarded-Proto": "gopher"})
    assert answer.headers["Location"].startswith("http://idm.internal:8080/")
    app.scimlite.close()


def test_public_url_wins_over_forwarded_headers_from_anyone():
    app = make_app(trusted_proxies=["10.0.0.5"], public_url="https://idm.example.com")
    for address in ("10.0.0.5", "203.0.113.7"):
        answer = create_user(app, address, SPOOFED, f"{address}@example.com")
        assert answer.headers["Location"].startswith("https://idm.example.com/scim/v2/")
    app.scimlite.close()


@pytest.mark.parametrize("address, secure", [("203.0.113.7", False), ("10.0.0.5", True)])
def test_the_admin_cookie_is_secure_only_when_a_trusted_proxy_says_https(address, secure):
    app = make_app(trusted_proxies=["10.0.0.5"])
    scimlite.set_admin_password(app.scimlite, "correct horse battery", "test")
    web = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": address})
    form = web.get("/admin/login", headers=SPOOFED).forms[1]     # the password's
    form["password"] = "correct horse battery"
    answer = form.submit(headers=SPOOFED, status=303)
    cookie = next(v for k, v in answer.headerlist if k == "Set-Cookie"
                  and v.startswith(scimlite.SESSION_COOKIE))
    assert ("; secure" in cookie.lower()) is secure
    app.scimlite.close()


@pytest.mark.parametrize("trusted, expected", [
    ([], "http://127.0.0.1:{port}/scim/v2/Users/"),
    (["127.0.0.1"], "https://evil.example/scim/v2/Users/")])
def test_over_waitress_only_a_trusted_proxy_steers_location(trusted, expected):
    with scimlite.serve({"trusted_proxies": trusted}) as server:
        port = server.url.rsplit(":", 1)[1]
        connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
        connection.request("POST", "/scim/v2/Users", json.dumps(USER), headers={
            "Authorization": f"Bearer {server.token}",
            "Content-Type": "application/scim+json", **SPOOFED})
        answer = connection.getresponse()
        body = json.loads(answer.read())
        connection.close()
    assert answer.status == 201
    assert answer.getheader("Location").startswith(expected.format(port=port))
    assert body["meta"]["location"] == answer.getheader("Location")

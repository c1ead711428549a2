"""OAuth 2.0 client credentials (issue 24; RFC 6749 §4.4): the token
endpoint, its clients and secrets, scopes on every SCIM route, and the
ServiceProviderConfig that advertises it.  Entra's gallery (Microsoft's
app-gallery-user-provisioning-requirements) accepts only OAuth for new
provisioning apps; static API keys stay beside it."""
import base64
import http.client
import json
import logging
import urllib.parse

import pytest
import webtest

import scimlite
from conftest import SCIMClient, assert_scim_error

FORM = "application/x-www-form-urlencoded"
GRANT = {"grant_type": "client_credentials"}


@pytest.fixture
def oauth(store):
    app = scimlite.create_app({**store, "mailer": "memory", "deterministic": True})
    yield app
    app.scimlite.close()


def new_client(app, name="entra", scopes=None, org=None, days=None):
    state = app.scimlite
    with state.in_org(org), state.changes.unit():
        return scimlite.create_oauth_client(state.models, name, scopes, days,
                                            state.clock.now_text())


def post_token(app, fields=None, basic=None, status="*", content_type=FORM, raw=None):
    headers = {"Content-Type": content_type}
    if basic is not None:
        pair = ":".join(urllib.parse.quote_plus(part) for part in basic)
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    body = raw if raw is not None else urllib.parse.urlencode(fields or {})
    return webtest.TestApp(app).post("/oauth/token", body, headers=headers, status=status)


def token_of(app, client, secret, **fields):
    answer = post_token(app, {**GRANT, "client_id": client.client_id,
                              "client_secret": secret, **fields}, status=200)
    return answer.json["access_token"]


def assert_oauth_error(answer, status, error):
    """RFC 6749 §5.2: JSON with `error`, no cache, never a page or a trace."""
    assert answer.status_int == status, answer.text
    assert answer.content_type == "application/json"
    assert answer.json["error"] == error and answer.json["error_description"]
    assert answer.headers["Cache-Control"] == "no-store"
    assert "Traceback" not in answer.text
    if status == 401:
        assert answer.headers["WWW-Authenticate"].startswith("Basic")


# --- the token endpoint ------------------------------------------------------------------

def test_client_secret_basic_and_post_both_get_a_bearer_token(oauth):
    client, secret = new_client(oauth)
    for number, answer in enumerate((post_token(oauth, GRANT, basic=(client.client_id, secret), status=200),
                   post_token(oauth, {**GRANT, "client_id": client.client_id,
                                      "client_secret": secret}, status=200))):
        body = answer.json
        assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
        assert body["scope"] == "scim.read scim.write"
        assert answer.headers["Cache-Control"] == "no-store"
        scim = SCIMClient(oauth, body["access_token"])
        assert scim.create_user(f"u{number}@example.com")["id"]
    assert body["access_token"] not in json.dumps(scimlite.service_provider_config(
        oauth.scimlite.settings, ""))


@pytest.mark.parametrize("fields, basic, raw, content_type, status, error", [
    ({}, None, None, FORM, 400, "invalid_request"),                       # no grant_type
    ({"grant_type": "password"}, None, None, FORM, 400, "unsupported_grant_type"),
    ({"grant_type": "client_credentials"}, None, None, FORM, 401, "invalid_client"),
    (None, None, "grant_type=client_credentials&grant_type=client_credentials", FORM,
     400, "invalid_request"),                                             # doubled
    (GRANT, None, None, "application/json", 400, "invalid_request"),
    (None, None, "grant_type=client_credentials&x=" + "a" * 5000, FORM, 400,
     "invalid_request"),                                                  # oversized
    (None, None, b"grant_type=\xff\xfe", FORM, 400, "invalid_request"),  # not UTF-8
])
def test_malformed_requests_are_rfc_6749_errors(oauth, fields, basic, raw, content_type,
                                                status, error):
    answer = post_token(oauth, fields, basic, content_type=content_type, raw=raw)
    assert_oauth_error(answer, status, error)


def test_wrong_unknown_revoked_and_expired_credentials_are_one_invalid_client(oauth):
    client, secret = new_client(oauth, days=1)
    other, other_secret = new_client(oauth, "other")
    refusals = [
        post_token(oauth, GRANT, basic=(client.client_id, secret + "x")),
        post_token(oauth, GRANT, basic=(client.client_id, other_secret)),   # not its own
        post_token(oauth, GRANT, basic=("sc_nobody", secret)),
        post_token(oauth, GRANT, basic=(client.client_id, "")),
        post_token(oauth, {**GRANT, "client_id": client.client_id}),
        post_token(oauth, GRANT, basic=("", "")),
    ]
    webtest_app = webtest.TestApp(oauth)
    refusals.append(webtest_app.post("/oauth/token", urllib.parse.urlencode(GRANT), headers={
        "Content-Type": FORM, "Authorization": "Basic !!not-base64!!"}, status="*"))
    for answer in refusals:
        assert_oauth_error(answer, 401, "invalid_client")
    assert len({a.json["error_description"] for a in refusals[:5]}) == 1
    oauth.scimlite.clock.advance(2 * 86400)         # the secret worked one day
    assert_oauth_error(post_token(oauth, GRANT, basic=(client.client_id, secret)), 401,
                       "invalid_client")


def test_both_ways_at_once_and_unknown_scopes_are_refused(oauth):
    client, secret = new_client(oauth, scopes="scim.read")
    both = post_token(oauth, {**GRANT, "client_secret": secret},
                      basic=(client.client_id, secret))
    assert_oauth_error(both, 400, "invalid_request")
    for scope in ("scim.write", "scim.read admin", "openid"):
        answer = post_token(oauth, {**GRANT, "scope": scope}, basic=(client.client_id, secret))
        assert_oauth_error(answer, 400, "invalid_scope")
    granted = post_token(oauth, {**GRANT, "scope": "scim.read"},
                         basic=(client.client_id, secret), status=200)
    assert granted.json["scope"] == "scim.read"


def test_failed_client_authentication_is_throttled_per_address(oauth):
    client, _ = new_client(oauth)
    answers = [post_token(oauth, GRANT, basic=(client.client_id, "scs_wrongwrongwrong"))
               for _ in range(scimlite.AuthFailures.FREE_PER_MINUTE + 2)]
    assert answers[0].status_int == 401
    assert answers[-1].status_int == 429 and answers[-1].headers["Retry-After"]
    assert answers[-1].json["error"] == "invalid_client"


# --- tokens: lifetime, rotation, revocation ------------------------------------------------

def test_a_token_expires_with_its_lifetime_on_the_apps_clock(store):
    app = scimlite.create_app({**store, "mailer": "memory", "deterministic": True,
                               "oauth_token_minutes": 90})
    client, secret = new_client(app)
    answer = post_token(app, GRANT, basic=(client.client_id, secret), status=200)
    assert answer.json["expires_in"] == 5400
    scim = SCIMClient(app, answer.json["access_token"])
    scim.get("/Users")
    app.scimlite.clock.advance(5399)
    scim.get("/Users")
    app.scimlite.clock.advance(2)
    assert_scim_error(scim.get("/Users", status=401), 401)
    app.scimlite.close()


@pytest.mark.parametrize("minutes", [59, 361])
def test_the_token_lifetime_setting_stays_within_what_entra_asks(minutes):
    with pytest.raises(ValueError, match="oauth_token_minutes"):
        scimlite.load_settings({"db": ":memory:", "oauth_token_minutes": minutes})


def test_two_secrets_rotate_and_revoking_one_stops_only_its_tokens(oauth):
    state = oauth.scimlite
    client, first = new_client(oauth)
    now = state.clock.now_text()
    with state.changes.unit():
        second = scimlite.add_oauth_secret(state.models, client, now=now)
        with pytest.raises(ValueError, match="2 active secrets"):
            scimlite.add_oauth_secret(state.models, client, now=now)
    old, new = token_of(oauth, client, first), token_of(oauth, client, second)
    SCIMClient(oauth, old).get("/Users")
    with state.changes.unit():
        scimlite.revoke_oauth(state.models, first[:len("scs_") + 8])
    assert_scim_error(SCIMClient(oauth, old).get("/Users", status=401), 401)
    SCIMClient(oauth, new).get("/Users")
    assert_oauth_error(post_token(oauth, GRANT, basic=(client.client_id, first)), 401,
                       "invalid_client")


def test_revoking_a_client_stops_its_token_on_an_open_connection():
    with scimlite.serve({"deterministic": True}) as server:
        client, secret = new_client(server.app)
        token = token_of(server.app, client, secret)
        host = urllib.parse.urlsplit(server.url)
        connection = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
        headers = {"Authorization": f"Bearer {token}"}

        def status():
            connection.request("GET", "/scim/v2/Users", headers=headers)
            answer = connection.getresponse()
            answer.read()
            return answer.status
        assert status() == 200
        state = server.app.scimlite
        with state.changes.unit():
            assert scimlite.revoke_oauth(state.models, client.client_id) == "client 'entra'"
        assert status() == 401          # the same keep-alive connection
        connection.close()


# --- scopes on every route --------------------------------------------------------------

def test_a_read_token_reads_and_is_refused_every_write(oauth):
    writer = SCIMClient(oauth, oauth.scimlite.mint_key("k"))
    user = writer.create_user("kept@example.com")
    group = writer.create_group("Kept")
    client, secret = new_client(oauth, scopes="scim.read")
    reader = SCIMClient(oauth, token_of(oauth, client, secret))
    assert reader.get("/Users").json["totalResults"] == 1
    reader.get(f"/Users/{user['id']}")
    reader.post("/Users/.search", {"schemas": [scimlite.SEARCH_URN]}, status=200)
    reader.post("/.search", {"schemas": [scimlite.SEARCH_URN]}, status=200)
    reader.get("/ServiceProviderConfig")
    patch = {"schemas": [scimlite.PATCH_URN], "Operations": [
        {"op": "replace", "path": "displayName", "value": "x"}]}
    refused = [
        reader.post("/Users", {"schemas": [scimlite.USER_URN], "userName": "no"}, status=403),
        reader.put(f"/Users/{user['id']}", {"schemas": [scimlite.USER_URN],
                                            "userName": "no"}, status=403),
        reader.patch(f"/Groups/{group['id']}", patch, status=403),
        reader.delete(f"/Users/{user['id']}", status=403),
        reader.post("/Bulk", {"schemas": [scimlite.BULK_REQUEST_URN], "Operations": []},
                    status=403),
    ]
    for answer in refused:
        assert_scim_error(answer, 403)
        assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]
    assert writer.get(f"/Users/{user['id']}").json["userName"] == "kept@example.com"


# --- discovery, organizations, secrecy ------------------------------------------------------

def test_service_provider_config_lists_both_schemes(oauth):
    scim = SCIMClient(oauth, oauth.scimlite.mint_key("k"))
    schemes = {s["type"]: s for s in scim.get("/ServiceProviderConfig").json[
        "authenticationSchemes"]}
    assert set(schemes) == {"oauthbearertoken", "oauth2"}
    assert schemes["oauth2"]["specUri"] == "https://www.rfc-editor.org/rfc/rfc6749"
    assert schemes["oauth2"]["documentationUri"].endswith("docs/oauth.md")
    assert [s["type"] for s in scimlite.AUTHENTICATION_SCHEMES] == \
        [s["type"] for s in scim.get("/ServiceProviderConfig").json["authenticationSchemes"]]


def test_a_clients_token_acts_in_its_organization_only(oauth):
    state = oauth.scimlite
    state.create_organization("acme")
    SCIMClient(oauth, state.mint_key("k", org="default")).create_user("d@default.example")
    client, secret = new_client(oauth, org="acme")
    token = token_of(oauth, client, secret)
    scim = SCIMClient(oauth, token)
    scim.create_user("a@acme.example")
    assert [u["userName"] for u in scim.get("/Users").json["Resources"]] == ["a@acme.example"]
    assert webtest.TestApp(oauth).get("/o/acme/scim/v2/Users", headers={
        "Authorization": f"Bearer {token}"}).json["totalResults"] == 1
    refused = webtest.TestApp(oauth).get("/o/default/scim/v2/Users", status=401, headers={
        "Authorization": f"Bearer {token}"})
    assert_scim_error(refused, 401)


def test_secrets_and_tokens_are_never_logged_stored_or_echoed(oauth, caplog):
    caplog.set_level(logging.DEBUG)
    client, secret = new_client(oauth)
    token = token_of(oauth, client, secret)
    SCIMClient(oauth, token).create_user("quiet@example.com")
    for wrong in (secret + "x", token):
        answer = post_token(oauth, GRANT, basic=(client.client_id, wrong))
        assert wrong not in answer.text
    SCIMClient(oauth, token + "x").get("/Users", status=401)
    state = oauth.scimlite
    state.log.flush()
    assert secret not in caplog.text and token not in caplog.text
    with state.lock:
        stored = json.dumps([list(map(str, row)) for model in state.models.all
                             for row in model._meta.database.execute_sql(
                                 f'SELECT * FROM "{model._meta.table_name}"').fetchall()])
    assert secret not in stored and token not in stored
    assert secret[len("scs_") + 8:] not in stored and token[len("sat_") + 8:] not in stored


def test_the_connect_page_makes_rotates_and_revokes_clients(oauth):
    import re
    from test_admin import Admin, ADMIN
    admin = Admin(oauth)
    admin.setup()
    page = admin.web.get(f"{ADMIN}/connect")
    for field in ("Tenant URL", "Token Endpoint", "Client Identifier", "Client Secret"):
        assert field in page.text
    assert "http://localhost:80/oauth/token" in page.text
    made = admin.post("/oauth-clients", {"name": "entra-oauth"}, page=page).follow()
    secret = re.search(r'id="new-key"[^>]*>([^<]+)<', made.text).group(1)
    client_id = re.search(r"<code>(sc_[^<]+)</code>", made.text).group(1)
    token = token_of(oauth, types_client(client_id), secret)
    SCIMClient(oauth, token).create_user("via-oauth@example.com")
    again = admin.web.get(f"{ADMIN}/connect")
    assert secret not in again.text and "scim.read scim.write" in again.text
    second = admin.post(f"/oauth-clients/{client_id}/secret", {}).follow()
    new_secret = re.search(r'id="new-key"[^>]*>([^<]+)<', second.text).group(1)
    assert new_secret != secret
    assert_oauth_error(post_token(oauth, GRANT, basic=(client_id, "scs_x" * 10)), 401,
                       "invalid_client")
    admin.post(f"/oauth-clients/{client_id}/revoke", {})
    assert_scim_error(SCIMClient(oauth, token).get("/Users", status=401), 401)
    assert client_id not in admin.web.get(f"{ADMIN}/connect").text
    admin.post(f"/oauth-clients/{client_id}/revoke", {}, status=404)
    read_only = admin.post("/oauth-clients", {"name": "reader", "read_only": "on"}).follow()
    assert "scim.read</td>" in read_only.text


def types_client(client_id):
    import types
    return types.SimpleNamespace(client_id=client_id)

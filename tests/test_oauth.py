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
    # Entra's documents show scope=scim (and scim.readwrite): what the client may have
    for alias in ("scim", "scim.readwrite"):
        answer = post_token(oauth, {**GRANT, "scope": alias}, basic=(client.client_id, secret),
                            status=200)
        assert answer.json["scope"] == "scim.read"


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


# --- workload identity federation (RFC 7523 §2.2) ---------------------------------------

jwt = pytest.importorskip("jwt")
ISSUER = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0"
SUBJECT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
AUDIENCE = "api://scimlite-tests"


class KeyServer:
    """A JWKS over plain HTTP on loopback, with RSA keys the test makes."""

    def __init__(self):
        import http.server
        import threading
        from cryptography.hazmat.primitives.asymmetric import rsa
        self.keys = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)
                     for kid in ("k1", "k2")}
        self.published = ["k1"]
        self.fetches = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.fetches += 1
                body = json.dumps({"keys": [server.jwk(kid) for kid in server.published]})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass
        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/keys"

    def jwk(self, kid):
        key = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
        return {**key, "kid": kid, "use": "sig", "alg": "RS256"}

    def sign(self, kid="k1", algorithm="RS256", **claims):
        import time
        import uuid
        now = int(time.time())
        body = {"iss": ISSUER, "sub": SUBJECT, "aud": AUDIENCE, "iat": now, "nbf": now,
                "exp": now + 300, "jti": str(uuid.uuid4()), **claims}
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, self.keys[kid], algorithm=algorithm, headers={"kid": kid})

    def stop(self):
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def keys():
    server = KeyServer()
    yield server
    server.stop()


def federated(app, keys, **fields):
    state = app.scimlite
    with state.changes.unit():
        return scimlite.create_federated_client(
            state.models, "entra-wif", fields.get("issuer", ISSUER), SUBJECT, AUDIENCE,
            keys.url, fields.get("scopes"))


def assert_post(app, assertion, **extra):
    return post_token(app, {**GRANT, "client_assertion_type": scimlite.JWT_BEARER,
                            "client_assertion": assertion, **extra})


def unsigned(header, claims):
    part = lambda value: base64.urlsafe_b64encode(  # noqa: E731
        json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part(header)}.{part(claims)}"


def test_a_signed_assertion_gets_a_token_that_provisions(oauth, keys):
    client = federated(oauth, keys)
    answer = assert_post(oauth, keys.sign(), client_id=client.client_id)
    assert answer.status_int == 200, answer.text
    SCIMClient(oauth, answer.json["access_token"]).create_user("wif@example.com")
    without_id = assert_post(oauth, keys.sign())            # client_id is optional
    assert without_id.status_int == 200


@pytest.mark.parametrize("case, says", [
    ("wrong issuer", "no client"), ("wrong subject", "no client"),
    ("wrong audience", "not valid"), ("expired", "not valid"),
    ("not yet valid", "not valid"), ("alg none", "algorithm"),
    ("HS256 with the public key", "algorithm"), ("unknown kid", "key id"),
    ("garbage", "not a JWT"), ("another client's id", "no client"),
])
def test_bad_assertions_are_invalid_client_never_a_500(oauth, keys, case, says):
    import time
    client = federated(oauth, keys)
    now = int(time.time())
    public_pem = keys.keys["k1"].public_key().public_bytes(
        encoding=__import__("cryptography.hazmat.primitives.serialization",
                            fromlist=["Encoding"]).Encoding.PEM,
        format=__import__("cryptography.hazmat.primitives.serialization",
                          fromlist=["PublicFormat"]).PublicFormat.SubjectPublicKeyInfo)
    claims = {"iss": ISSUER, "sub": SUBJECT, "aud": AUDIENCE, "iat": now, "exp": now + 300,
              "jti": "j-" + case}
    extra = {}
    if case == "wrong issuer":
        assertion = keys.sign(iss="https://evil.example/v2.0")
    elif case == "wrong subject":
        assertion = keys.sign(sub="someone-else")
    elif case == "wrong audience":
        assertion = keys.sign(aud="api://another-app")
    elif case == "expired":
        assertion = keys.sign(iat=now - 3600, nbf=now - 3600, exp=now - 600)
    elif case == "not yet valid":
        assertion = keys.sign(nbf=now + 600, iat=now + 600, exp=now + 1200)
    elif case == "alg none":
        assertion = unsigned({"alg": "none", "kid": "k1"}, claims) + "."
    elif case == "HS256 with the public key":
        import hmac as hmac_
        import hashlib as hashlib_
        signing_input = unsigned({"alg": "HS256", "kid": "k1", "typ": "JWT"}, claims)
        mac = hmac_.new(public_pem, signing_input.encode(), hashlib_.sha256).digest()
        assertion = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    elif case == "unknown kid":
        assertion = keys.sign(kid="k2")             # k2 is not published
    elif case == "garbage":
        assertion = "not.a.jwt!"
    else:
        other, _ = new_client(oauth, "other")
        assertion, extra = keys.sign(), {"client_id": other.client_id}
    answer = assert_post(oauth, assertion, **extra)
    assert_oauth_error(answer, 401, "invalid_client")
    assert says in answer.json["error_description"], answer.json
    assert assertion not in answer.text
    assert client.client_id


def test_a_replayed_assertion_is_refused(oauth, keys):
    federated(oauth, keys)
    assertion = keys.sign()
    assert assert_post(oauth, assertion).status_int == 200
    replayed = assert_post(oauth, assertion)
    assert_oauth_error(replayed, 401, "invalid_client")
    assert "used before" in replayed.json["error_description"]


def test_a_new_key_in_the_key_set_is_fetched_once_and_a_dead_key_set_is_said(
        oauth, keys, caplog, monkeypatch):
    monkeypatch.setattr(scimlite, "KEY_SET_COOLDOWN", 0)     # else 30 s between refetches
    federated(oauth, keys)
    assert assert_post(oauth, keys.sign()).status_int == 200
    fetched = keys.fetches
    assert assert_post(oauth, keys.sign()).status_int == 200
    assert keys.fetches == fetched                    # kept
    keys.published.append("k2")                       # the issuer rotates its key
    assert assert_post(oauth, keys.sign(kid="k2")).status_int == 200
    assert keys.fetches == fetched + 1                # one refetch for the new kid
    # The kept set runs out at once; while the issuer is down, the key that
    # verified before still does (Microsoft's advice), and a key never seen
    # is refused with one log line.
    import time
    monkeypatch.setattr(scimlite, "KEY_SET_SECONDS", 0.001)
    oauth.scimlite.key_sets = scimlite.KeySets()
    assert assert_post(oauth, keys.sign()).status_int == 200
    keys.stop()
    time.sleep(0.01)
    caplog.set_level(logging.WARNING, logger="scimlite")
    assert assert_post(oauth, keys.sign()).status_int == 200
    assert any("as last fetched" in r.getMessage() for r in caplog.records)
    caplog.clear()
    oauth.scimlite.key_sets = scimlite.KeySets()      # nothing seen: it must fetch
    down = assert_post(oauth, keys.sign())
    assert_oauth_error(down, 401, "invalid_client")
    assert "could not be fetched" in down.json["error_description"]
    assert len([r for r in caplog.records if "key set" in r.getMessage()]) == 1


def test_assertion_and_secret_at_once_or_a_wrong_assertion_type_are_invalid_request(
        oauth, keys):
    client = federated(oauth, keys)
    both = assert_post(oauth, keys.sign(), client_id=client.client_id, client_secret="scs_x")
    assert_oauth_error(both, 400, "invalid_request")
    wrong = post_token(oauth, {**GRANT, "client_assertion_type": "urn:other",
                               "client_assertion": keys.sign()})
    assert_oauth_error(wrong, 400, "invalid_request")


def test_assertions_are_never_logged_stored_or_echoed(oauth, keys, caplog):
    caplog.set_level(logging.DEBUG)
    federated(oauth, keys)
    good, bad = keys.sign(), keys.sign(aud="api://elsewhere")
    token = assert_post(oauth, good).json["access_token"]
    assert good not in assert_post(oauth, good).text            # the replay's refusal
    assert bad not in assert_post(oauth, bad).text
    SCIMClient(oauth, token).create_user("wif-quiet@example.com")
    state = oauth.scimlite
    state.log.flush()
    for secret in (good, bad, token):
        assert secret not in caplog.text
        for part in secret.split(".")[1:]:                      # nor its claims or signature
            assert part not in caplog.text
    with state.lock:
        stored = json.dumps([list(map(str, row)) for model in state.models.all
                             for row in model._meta.database.execute_sql(
                                 f'SELECT * FROM "{model._meta.table_name}"').fetchall()])
    assert good not in stored and good.split(".")[2] not in stored


def test_an_install_client_acts_in_the_organization_its_tenant_url_names(oauth):
    """Okta's one OAuth client for every tenant: made by the operator for
    the install (--install), its tokens work on /o/{slug}/scim/v2 in that
    organization, and on the shared URL, which names none, not at all."""
    state = oauth.scimlite
    state.create_organization("acme")
    with state.scope.of(scimlite.NO_ORG), state.changes.unit():
        client, secret = scimlite.create_oauth_client(state.models, "okta-oin")
    token = token_of(oauth, client, secret)
    web = webtest.TestApp(oauth, extra_environ={"HTTP_AUTHORIZATION": f"Bearer {token}"})
    body = {"schemas": [scimlite.USER_URN], "userName": "ann@example.com"}
    for slug in ("acme", "default"):
        web.post_json(f"/o/{slug}/scim/v2/Users", body, status=201)
        assert web.get(f"/o/{slug}/scim/v2/Users").json["totalResults"] == 1
    assert_scim_error(web.get("/scim/v2/Users", status=401), 401)
    with state.in_org("acme"):
        assert state.keys() == [] and state.models.OAuthClient.select().count() == 0


def test_a_key_the_issuer_removes_is_no_longer_trusted_once_the_kept_set_runs_out(
        oauth, keys, monkeypatch):
    import time
    monkeypatch.setattr(scimlite, "KEY_SET_SECONDS", 0.05)
    oauth.scimlite.key_sets = scimlite.KeySets()
    federated(oauth, keys)
    assert assert_post(oauth, keys.sign()).status_int == 200
    keys.published = ["k2"]                 # k1 leaked: the issuer takes it out
    time.sleep(0.1)
    refused = assert_post(oauth, keys.sign(kid="k1"))
    assert_oauth_error(refused, 401, "invalid_client")
    assert assert_post(oauth, keys.sign(kid="k2")).status_int == 200


def test_two_organizations_may_trust_the_same_issuer_and_subject(oauth, keys):
    """Found in review: the client was looked up by issuer and subject
    alone, so the second organization's could never get a token."""
    state = oauth.scimlite
    first = federated(oauth, keys)
    state.create_organization("acme")
    with state.in_org("acme"), state.changes.unit():
        second = scimlite.create_federated_client(state.models, "wif", ISSUER, SUBJECT,
                                                  AUDIENCE, keys.url)
    for client, slug in ((first, "default"), (second, "acme")):
        answer = assert_post(oauth, keys.sign(), client_id=client.client_id)
        assert answer.status_int == 200, answer.text
        web = webtest.TestApp(oauth)
        web.get(f"/o/{slug}/scim/v2/Users", headers={
            "Authorization": f"Bearer {answer.json['access_token']}"})

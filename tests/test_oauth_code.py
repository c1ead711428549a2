"""OAuth 2.0 authorization code grant with refresh tokens (issue 24; RFC
6749 §4.1 and §6, PKCE RFC 7636): Okta's OAuth mode.  Okta's SCIM FAQ
says it supports only this grant for SCIM, with one client for every
customer tenant; its OIN guide lists the redirect URIs an app accepts.
An administrator signs in at /admin/oauth/authorize, chooses the
organization and allows it; Okta trades the code and refreshes."""
import io
import json
import logging
import re
import urllib.parse

import pytest
import webtest

import scimlite
from conftest import SCIMClient, assert_scim_error
from test_admin import PASSWORD, Admin, csrf_of
from test_oauth import assert_oauth_error, post_token

ADMIN = scimlite.ADMIN
OKTA = "https://system-admin.okta.com/admin/app/cpc/scimlite_1/oauth/callback"
EMEA = "https://system-admin.okta-emea.com/admin/app/cpc/scimlite_1/oauth/callback"


@pytest.fixture
def oauth(store):
    app = scimlite.create_app({**store, "mailer": "memory", "deterministic": True})
    yield app
    app.scimlite.close()


@pytest.fixture
def admin(oauth):
    client = Admin(oauth)
    client.setup()
    return client


def okta_client(app, org=None, uris=(OKTA, EMEA), scopes=None):
    state = app.scimlite
    scope = state.scope.of(scimlite.NO_ORG) if org == "install" else state.in_org(org)
    with scope, state.changes.unit():
        return scimlite.create_oauth_client(state.models, "okta", scopes, None,
                                            state.clock.now_text(), uris)


def authorize_query(client, **fields):
    return {"response_type": "code", "client_id": client.client_id, "redirect_uri": OKTA,
            "state": "st-42", **fields}


def consent(admin, client, decision="allow", org=None, **fields):
    """Open the authorization page signed in, then allow or deny: the
    redirect's query, as the client's redirect URI would receive it."""
    query = {k: v for k, v in authorize_query(client, **fields).items() if v is not None}
    page = admin.web.get(f"{ADMIN}/oauth/authorize", query)
    form = page.forms[1]
    if org is not None:
        form["org"] = str(org)
    answer = form.submit("decision", value=decision, status=303)
    location = urllib.parse.urlsplit(answer.location)
    return location, dict(urllib.parse.parse_qsl(location.query))


def trade(app, client, secret, code, status=200, **fields):
    return post_token(app, {"grant_type": "authorization_code", "code": code,
                            "redirect_uri": OKTA, "client_id": client.client_id,
                            "client_secret": secret, **fields}, status=status)


def refresh(app, client, secret, token, status=200, **fields):
    return post_token(app, {"grant_type": "refresh_token", "refresh_token": token,
                            "client_id": client.client_id, "client_secret": secret,
                            **fields}, status=status)


def tokens_for(app, admin, client, secret, **fields):
    _, answer = consent(admin, client, **fields)
    return trade(app, client, secret, answer["code"]).json


# --- the whole flow, as Okta runs it ----------------------------------------------------

def test_okta_signs_in_allows_trades_the_code_and_provisions(oauth):
    """Okta's Authenticate button: the browser lands on the authorization
    page without a session, signs in, comes back to the same request,
    allows it, and Okta's callback gets the code and the state."""
    client, secret = okta_client(oauth)
    admin = Admin(oauth)
    admin.setup()
    admin.web.post(f"{ADMIN}/logout", {"csrf": csrf_of(admin.web.get(ADMIN))})
    asked = f"{ADMIN}/oauth/authorize?" + urllib.parse.urlencode(authorize_query(client))
    to_login = admin.web.get(asked, status=303)
    login = to_login.follow()
    assert login.forms[0]["next"].value == asked          # the code's form, and
    login.forms[1]["password"] = PASSWORD                  # the password's
    back = login.forms[1].submit(status=303)
    assert back.location.endswith(asked)
    page = back.follow()
    assert "Allow ‘okta’ to provision?" in page.text and "system-admin.okta.com" in page.text
    answer = page.forms[1].submit("decision", value="allow", status=303)
    assert answer.location.startswith(OKTA + "?")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer.location).query))
    assert query["state"] == "st-42" and query["code"].startswith("sac_")
    body = trade(oauth, client, secret, query["code"]).json
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "refresh_token"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["refresh_token"].startswith("sar_")
    scim = SCIMClient(oauth, body["access_token"])
    assert scim.create_user("okta-made@example.com")["userName"] == "okta-made@example.com"
    actions = [row.action for row in oauth.scimlite.models.Audit.select()]
    assert "oauth.authorized" in actions


def test_one_install_client_serves_each_organization_its_admin_allows(oauth, admin):
    """Okta's OIN app has one client for every customer: each consent
    names an organization, and the tokens it gives act there only, on the
    shared Tenant URL and the organization's own, never on another's."""
    state = oauth.scimlite
    acme = state.create_organization("acme")
    client, secret = okta_client(oauth, "install")
    page = admin.web.get(f"{ADMIN}/oauth/authorize", authorize_query(client))
    options = re.findall(r'<option value="(\d+)"', page.text)
    assert sorted(options) == sorted(str(o.id) for o in scimlite.organizations(state.models))
    tokens = tokens_for(oauth, admin, client, secret, org=acme.id)
    web = webtest.TestApp(oauth, extra_environ={
        "HTTP_AUTHORIZATION": f"Bearer {tokens['access_token']}"})
    user = {"schemas": [scimlite.USER_URN], "userName": "ann@example.com"}
    web.post_json("/scim/v2/Users", user, status=201)
    assert web.get("/o/acme/scim/v2/Users").json["totalResults"] == 1
    assert_scim_error(web.get("/o/default/scim/v2/Users", status=401), 401)
    with state.in_org("default"):
        assert state.models.User.select().count() == 0
    grants = state.models.OAuthGrant.everywhere()
    assert [g.org for g in grants] == [acme.id]


def test_an_organizations_own_client_is_allowed_for_that_organization_only(oauth, admin):
    state = oauth.scimlite
    acme = state.create_organization("acme")
    client, secret = okta_client(oauth, "acme")
    page = admin.web.get(f"{ADMIN}/oauth/authorize", authorize_query(client))
    assert "<select" not in page.text and f'name="org" value="{acme.id}"' in page.text
    form = page.forms[1]
    form["org"].force_value(str(scimlite.DEFAULT_ORG))     # a forged choice
    assert form.submit("decision", value="allow", status=400)
    assert state.models.OAuthGrant.everywhere().count() == 0


# --- what the authorization page refuses ------------------------------------------------

@pytest.mark.parametrize("change", [
    {"client_id": "sc_nobody"},
    {"redirect_uri": "https://evil.example/callback"},
    {"redirect_uri": OKTA + "/more"},
    {"redirect_uri": None},             # two registered: which one is not said
])
def test_an_unknown_client_or_redirect_uri_is_shown_never_followed(oauth, admin, change):
    """RFC 6749 §4.1.2.1: with no valid client or redirect URI, the error
    is for the person; sending it to that URI could send them anywhere."""
    client, _ = okta_client(oauth)
    query = {k: v for k, v in {**authorize_query(client), **change}.items() if v is not None}
    page = admin.web.get(f"{ADMIN}/oauth/authorize", query, status=400)
    assert "not valid" in page.text and "evil" not in page.headers.get("Location", "")


def test_a_client_without_redirect_uris_cannot_ask_for_codes(oauth, admin):
    client, _ = okta_client(oauth, uris=())
    page = admin.web.get(f"{ADMIN}/oauth/authorize", authorize_query(client), status=400)
    assert "redirect" in page.text


def test_the_one_registered_redirect_uri_is_used_when_none_is_named(oauth, admin):
    client, secret = okta_client(oauth, uris=(OKTA,))
    location, answer = consent(admin, client, redirect_uri=None)
    assert location.geturl().startswith(OKTA)
    # Not named in the request, so not needed in the token request (§4.1.3)...
    post_token(oauth, {"grant_type": "authorization_code", "code": answer["code"],
                       "client_id": client.client_id, "client_secret": secret}, status=200)
    # ...and if sent all the same, the registered one is accepted, another not.
    for sent, status in ((OKTA, 200), (EMEA, 400)):
        _, answer = consent(admin, client, redirect_uri=None)
        post_token(oauth, {"grant_type": "authorization_code", "code": answer["code"],
                           "redirect_uri": sent, "client_id": client.client_id,
                           "client_secret": secret}, status=status)


@pytest.mark.parametrize("change, error", [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": None}, "unsupported_response_type"),
    ({"scope": "scim.admin"}, "invalid_scope"),
    ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": "x" * 43}, "invalid_request"),
    ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
])
def test_other_errors_go_back_to_the_client_with_its_state(oauth, admin, change, error):
    client, _ = okta_client(oauth)
    query = {k: v for k, v in {**authorize_query(client), **change}.items() if v is not None}
    answer = admin.web.get(f"{ADMIN}/oauth/authorize", query, status=303)
    assert answer.location.startswith(OKTA + "?")
    sent = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer.location).query))
    assert sent["error"] == error and sent["state"] == "st-42" and "code" not in sent


def test_a_doubled_parameter_goes_back_as_invalid_request(oauth, admin):
    client, _ = okta_client(oauth)
    query = urllib.parse.urlencode(authorize_query(client)) + "&state=again"
    answer = admin.web.get(f"{ADMIN}/oauth/authorize?{query}", status=303)
    assert "error=invalid_request" in answer.location


def test_deny_sends_access_denied_and_makes_no_grant(oauth, admin):
    client, _ = okta_client(oauth)
    _, answer = consent(admin, client, decision="deny")
    assert answer == {"error": "access_denied", "state": "st-42",
                      "error_description": "the administrator denied the request"}
    assert oauth.scimlite.models.OAuthGrant.everywhere().count() == 0


def test_consent_needs_the_sessions_form_token(oauth, admin):
    """CSRF: a page elsewhere cannot post an Allow for the administrator."""
    client, _ = okta_client(oauth)
    fields = {**authorize_query(client), "decision": "allow", "org": "1"}
    admin.web.post(f"{ADMIN}/oauth/authorize", fields, status=403)
    admin.web.post(f"{ADMIN}/oauth/authorize", {**fields, "csrf": "forged"}, status=403)
    assert oauth.scimlite.models.OAuthGrant.everywhere().count() == 0


@pytest.mark.parametrize("target", ["https://evil.example/admin", "//evil.example/admin",
                                    "/\\evil.example", "/scim/v2/Users", "javascript:x",
                                    "/admin\r\nSet-Cookie: x=1"])
def test_sign_in_returns_only_to_an_admin_page_of_this_server(oauth, target):
    admin = Admin(oauth)
    admin.setup()
    admin.web.post(f"{ADMIN}/logout", {"csrf": csrf_of(admin.web.get(ADMIN))})
    page = admin.web.get(f"{ADMIN}/login", {"next": target})
    answer = admin.web.post(f"{ADMIN}/login", {"csrf": csrf_of(page), "password": PASSWORD,
                                               "next": target}, status=303)
    assert urllib.parse.urlsplit(answer.location).path == ADMIN
    assert "evil" not in answer.location


# --- the token endpoint: codes ----------------------------------------------------------

def test_a_code_works_once_and_a_second_use_revokes_what_it_gave(oauth, admin):
    """RFC 6749 §4.1.2: a code used twice is refused, and the tokens it
    gave SHOULD be revoked: someone else has it."""
    client, secret = okta_client(oauth)
    _, answer = consent(admin, client)
    body = trade(oauth, client, secret, answer["code"]).json
    scim = SCIMClient(oauth, body["access_token"])
    scim.get("/Users")
    assert_oauth_error(trade(oauth, client, secret, answer["code"], status="*"), 400,
                       "invalid_grant")
    scim.get("/Users", status=401)
    assert_oauth_error(refresh(oauth, client, secret, body["refresh_token"], status="*"), 400,
                       "invalid_grant")


def test_a_code_expires_after_ten_minutes(oauth, admin):
    client, secret = okta_client(oauth)
    _, answer = consent(admin, client)
    oauth.scimlite.clock.advance(10 * 60 + 1)
    assert "expired" in trade(oauth, client, secret, answer["code"], status=400).json[
        "error_description"]


@pytest.mark.parametrize("change", [
    {"redirect_uri": EMEA},             # registered, but not the one asked with
    {"redirect_uri": None},
    {"code": "sac_nothing-like-a-code-at-all-0000000000000000000"},
    {"code": "garbage"},
])
def test_a_code_with_the_wrong_redirect_uri_or_unknown_is_invalid_grant(oauth, admin, change):
    client, secret = okta_client(oauth)
    _, answer = consent(admin, client)
    fields = {"grant_type": "authorization_code", "code": answer["code"], "redirect_uri": OKTA,
              "client_id": client.client_id, "client_secret": secret, **change}
    sent = post_token(oauth, {k: v for k, v in fields.items() if v is not None})
    assert_oauth_error(sent, 400, "invalid_grant")
    # A refusal before the code is taken leaves it working.
    if change.get("code") is None:
        trade(oauth, client, secret, answer["code"])


def test_another_clients_code_and_a_wrong_secret_are_refused(oauth, admin):
    client, secret = okta_client(oauth)
    other, other_secret = okta_client(oauth)
    _, answer = consent(admin, client)
    assert_oauth_error(trade(oauth, other, other_secret, answer["code"], status="*"), 400,
                       "invalid_grant")
    assert_oauth_error(trade(oauth, client, secret + "x", answer["code"], status="*"), 401,
                       "invalid_client")
    assert_oauth_error(post_token(oauth, {"grant_type": "authorization_code",
                                          "client_id": client.client_id,
                                          "client_secret": secret}), 400, "invalid_request")
    trade(oauth, client, secret, answer["code"])


def test_pkce_s256_binds_the_code_to_its_verifier(oauth, admin):
    """RFC 7636 §4.6: with a code_challenge, only the matching verifier
    trades the code; the RFC's Appendix B pair is the example."""
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert scimlite.pkce_s256(verifier) == challenge
    client, secret = okta_client(oauth)
    for sent in (None, "x" * 43, verifier[:-1] + "l"):
        _, answer = consent(admin, client, code_challenge=challenge,
                            code_challenge_method="S256")
        fields = {"code_verifier": sent} if sent else {}
        assert_oauth_error(trade(oauth, client, secret, answer["code"], status="*", **fields),
                           400, "invalid_grant")
    _, answer = consent(admin, client, code_challenge=challenge, code_challenge_method="S256")
    trade(oauth, client, secret, answer["code"], code_verifier=verifier)
    _, answer = consent(admin, client)      # no challenge: a verifier is a downgrade
    assert_oauth_error(trade(oauth, client, secret, answer["code"], status="*",
                             code_verifier=verifier), 400, "invalid_grant")


# --- refresh tokens -----------------------------------------------------------------------

def test_a_refresh_rotates_and_a_replayed_refresh_token_revokes_the_grant(oauth, admin):
    """Rotation (OAuth 2.0 Security BCP §4.14.2): each refresh gives a new
    refresh token; the old one presented again means it leaked, so the
    whole grant stops, the newest access token with it."""
    client, secret = okta_client(oauth)
    first = tokens_for(oauth, admin, client, secret)
    second = refresh(oauth, client, secret, first["refresh_token"]).json
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    SCIMClient(oauth, first["access_token"]).get("/Users")       # lives out its hour
    third = refresh(oauth, client, secret, second["refresh_token"]).json
    SCIMClient(oauth, third["access_token"]).get("/Users")
    assert_oauth_error(refresh(oauth, client, secret, second["refresh_token"], status="*"),
                       400, "invalid_grant")
    for body in (first, second, third):
        SCIMClient(oauth, body["access_token"]).get("/Users", status=401)
    assert_oauth_error(refresh(oauth, client, secret, third["refresh_token"], status="*"),
                       400, "invalid_grant")


def test_a_refresh_may_narrow_the_scope_never_widen_it(oauth, admin):
    client, secret = okta_client(oauth)
    tokens = tokens_for(oauth, admin, client, secret, scope="scim.read")
    assert tokens["scope"] == "scim.read"
    assert_oauth_error(refresh(oauth, client, secret, tokens["refresh_token"], status="*",
                               scope="scim.write"), 400, "invalid_scope")
    read = refresh(oauth, client, secret, tokens["refresh_token"], scope="scim.read").json
    scim = SCIMClient(oauth, read["access_token"])
    scim.get("/Users")
    assert_scim_error(scim.post("/Users", {"schemas": [scimlite.USER_URN],
                                           "userName": "no@example.com"}, status=403), 403)


def test_an_unused_refresh_token_expires_and_another_clients_is_refused(oauth, admin):
    client, secret = okta_client(oauth)
    other, other_secret = okta_client(oauth)
    tokens = tokens_for(oauth, admin, client, secret)
    assert_oauth_error(refresh(oauth, other, other_secret, tokens["refresh_token"],
                               status="*"), 400, "invalid_grant")
    oauth.scimlite.clock.advance(scimlite.REFRESH_DAYS * 86400 + 1)
    assert_oauth_error(refresh(oauth, client, secret, tokens["refresh_token"], status="*"),
                       400, "invalid_grant")


def test_revoking_a_secret_stops_its_access_tokens_but_not_the_grant(oauth, admin):
    """A vendor rotating its OIN client secret must not make every
    customer authorize again: the grant refreshes with the new secret."""
    state = oauth.scimlite
    client, old = okta_client(oauth)
    tokens = tokens_for(oauth, admin, client, old)
    with state.changes.unit():
        new = scimlite.add_oauth_secret(state.models, client, None, state.clock.now_text())
        scimlite.revoke_oauth(state.models, old[:12])
    SCIMClient(oauth, tokens["access_token"]).get("/Users", status=401)
    fresh = refresh(oauth, client, new, tokens["refresh_token"]).json
    SCIMClient(oauth, fresh["access_token"]).get("/Users")


def test_revoking_the_client_or_the_grant_stops_everything_at_once(oauth, admin):
    state = oauth.scimlite
    client, secret = okta_client(oauth)
    kept = tokens_for(oauth, admin, client, secret)
    dropped = tokens_for(oauth, admin, client, secret)
    connect = admin.web.get(f"{ADMIN}/connect?idp=okta")
    grant_ids = re.findall(r"oauth-grants/(sag_[^/]+)/revoke", connect.text)
    assert len(grant_ids) == 2
    newest = grant_ids[0]           # newest first
    SCIMClient(oauth, dropped["access_token"]).get("/Users")     # in the key cache now
    admin.post(f"/oauth-grants/{newest}/revoke", {"back": "okta"}, page=connect)
    SCIMClient(oauth, dropped["access_token"]).get("/Users", status=401)
    assert_oauth_error(refresh(oauth, client, secret, dropped["refresh_token"], status="*"),
                       400, "invalid_grant")
    SCIMClient(oauth, kept["access_token"]).get("/Users")
    with state.changes.unit():
        scimlite.revoke_oauth(state.models, client.client_id)
    SCIMClient(oauth, kept["access_token"]).get("/Users", status=401)
    assert_oauth_error(refresh(oauth, client, secret, kept["refresh_token"], status="*"),
                       401, "invalid_client")
    assert "oauth.revoke" in [row.action for row in state.models.Audit.select()]


def test_another_organizations_grants_are_not_shown_or_revoked(oauth, admin):
    state = oauth.scimlite
    acme = state.create_organization("acme")
    client, secret = okta_client(oauth, "acme")
    tokens_for(oauth, admin, client, secret)
    grant = state.models.OAuthGrant.everywhere().get()
    assert grant.org == acme.id
    connect = admin.web.get(f"{ADMIN}/connect?idp=okta")       # the default organization
    assert "sag_" not in connect.text
    answer = admin.post(f"/oauth-grants/sag_{grant.public_id}/revoke", {}, status=404,
                        page=connect)
    assert "No such grant" in answer.text
    with state.in_org("default"), pytest.raises(LookupError):
        scimlite.revoke_oauth(state.models, f"sag_{grant.public_id}")
    assert state.models.OAuthGrant.everywhere().get().revoked is None


# --- secrets stay secret ------------------------------------------------------------------

def test_codes_and_refresh_tokens_are_never_logged_stored_or_echoed(oauth, admin, caplog):
    caplog.set_level(logging.DEBUG)
    client, secret = okta_client(oauth)
    _, answer = consent(admin, client)
    code = answer["code"]
    tokens = trade(oauth, client, secret, code).json
    again = refresh(oauth, client, secret, tokens["refresh_token"])
    for sent in (trade(oauth, client, secret, code, status="*"),
                 refresh(oauth, client, secret, tokens["refresh_token"], status="*")):
        assert code not in sent.text and tokens["refresh_token"] not in sent.text
    state = oauth.scimlite
    state.log.flush()
    secrets = (code, tokens["refresh_token"], again.json["refresh_token"],
               tokens["access_token"])
    with state.lock:
        stored = json.dumps([list(map(str, row)) for model in state.models.all
                             for row in model._meta.database.execute_sql(
                                 f'SELECT * FROM "{model._meta.table_name}"').fetchall()])
    for text in secrets:
        assert text not in caplog.text and text[12:] not in stored


def test_failed_code_and_refresh_guesses_are_throttled_per_address(oauth):
    client, secret = okta_client(oauth)
    statuses = [refresh(oauth, client, secret, f"sar_guess{n:040d}", status="*").status_int
                for n in range(40)]
    assert statuses[0] == 400 and statuses[-1] == 429


# --- the operator: command line and Connect page -------------------------------------------

def run(db, *argv, status=0):
    out = io.StringIO()
    assert scimlite.main([*argv, "--db", db], environ={}, out=out) == status
    return out.getvalue()


def test_the_cli_registers_oktas_redirect_uris_lists_grants_and_revokes_them(tmp_path):
    db = str(tmp_path / "s.db")
    made = run(db, "oauth-client", "create", "okta", "--install", "--okta-app", "scimlite_1")
    client_id = re.search(r"client id:\s+(\S+)", made).group(1)
    assert made.count("redirect URI:") == len(scimlite.OKTA_CALLBACK_HOSTS)
    assert OKTA in made and EMEA in made
    changed = run(db, "oauth-client", "redirect-uris", client_id, "--install",
                  "--redirect-uri", "http://localhost:9999/cb")
    assert "1 redirect URIs" in changed and OKTA not in changed
    app = scimlite.create_app({"db": db, "mailer": "memory"})
    try:
        state = app.scimlite
        client = state.models.OAuthClient.everywhere().get()
        request = {"client": client, "redirect_uri": "http://localhost:9999/cb", "given": True,
                   "state": None, "scopes": client.scopes, "challenge": None}
        with state.changes.unit():
            scimlite.grant_code(state.models, request, scimlite.DEFAULT_ORG, "test",
                                state.clock.now_text())
        grant = state.models.OAuthGrant.everywhere().get()
        with state.changes.unit():      # a grant is listed once it has a refresh token
            state.models.OAuthGrant.update_everywhere(
                refresh_expires="9999-12-31T00:00:00Z").execute()
    finally:
        state.close()
    listed = run(db, "oauth-client", "list", "--install")
    assert f"sag_{grant.public_id}" in listed and "http://localhost:9999/cb" in listed
    assert f"revoked grant sag_{grant.public_id}" in run(
        db, "oauth-client", "revoke", f"sag_{grant.public_id}", "--install")
    run(db, "oauth-client", "redirect-uris", client_id, "--install", "--redirect-uri",
        "http://evil.example/cb", status=1)


@pytest.mark.parametrize("uri", ["http://evil.example/cb", "https://x.example/cb#frag",
                                 "/relative", "https://", "https://a b.example/"])
def test_redirect_uris_are_https_or_loopback_and_without_fragment(uri):
    with pytest.raises(ValueError):
        scimlite.checked_redirect_uris([uri])


def test_the_connect_page_shows_oktas_fields_and_sets_redirect_uris(oauth, admin):
    page = admin.web.get(f"{ADMIN}/connect?idp=okta")
    for field in ("Authorize endpoint", "Token endpoint", "Client ID", "Client secret"):
        assert field in page.text
    assert f"http://localhost:80{ADMIN}/oauth/authorize" in page.text
    made = admin.post("/oauth-clients", {"name": "okta-oauth", "back": "okta"}, page=page)
    assert made.location.endswith("/connect?idp=okta#oauth")
    page = made.follow()
    client_id = re.search(r"<code>(sc_[^<]+)</code>", page.text).group(1)
    admin.post(f"/oauth-clients/{client_id}/redirects", {"okta_app": "scimlite_1",
                                                         "redirect_uris": "", "back": "okta"},
               page=page)
    client = oauth.scimlite.models.OAuthClient.everywhere().get()
    assert client.redirect_uris.split("\n") == scimlite.okta_redirect_uris("scimlite_1")
    bad = admin.post(f"/oauth-clients/{client_id}/redirects",
                     {"redirect_uris": "http://evil.example/cb"}, status=400, page=page)
    assert "not a redirect URI" in bad.text
